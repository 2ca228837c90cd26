/**
 * Model usage: what budgets read and every call writes. The SQLite store writes each call to
 * `model_usage` and keeps running totals in memory (seeded from the table), so a budget check costs
 * no query: the bot is the only process that calls models.
 */
import { and, eq, gte, sql, sum } from 'drizzle-orm';
import { type Database, type FastStatement, fastStatement } from '../db/connection.js';
import { modelUsage } from '../db/schema.js';
import { AGENTS, type AgentName } from '../policy/vocabulary.js';
import type { Clock } from '../process/ids.js';

export interface UsageStore {
  tokensToday(agent: AgentName): number;
  tokensTodayAll(): number;
  callsLastHour(agent: AgentName): number;
  callsLastHourAll(): number;
  record(
    agent: AgentName,
    runId: string | null,
    model: string,
    provider: string,
    promptTokens: number,
    completionTokens: number,
    durationMs: number,
  ): void;
}

type InsertValues = {
  agent: string;
  runId: string | null;
  model: string;
  provider: string;
  prompt: number;
  completion: number;
  duration: number;
  at: number;
};

const HOUR = 3_600_000;
const DAY = 86_400_000;

/** Start of the UTC day that holds `at`. */
export function utcDayStart(at: number): number {
  return Math.floor(at / DAY) * DAY;
}

export interface SqliteUsageOptions {
  readonly now: Clock;
  /** Where "today" begins for `at` (default: UTC midnight). */
  readonly dayStart?: (at: number) => number;
}

export class SqliteUsage implements UsageStore {
  private readonly now: Clock;
  private readonly dayStart: (at: number) => number;
  private readonly insert: FastStatement<InsertValues>;
  private day = Number.NaN;
  private readonly tokens = new Map<AgentName, number>();
  private tokensAll = 0;
  /** Call times of the last hour, oldest first, per agent and all together. */
  private readonly calls = new Map<AgentName, number[]>();
  private readonly callsAll: number[] = [];

  constructor(
    private readonly database: Database,
    options: SqliteUsageOptions,
  ) {
    this.now = options.now;
    this.dayStart = options.dayStart ?? utcDayStart;
    const p = sql.placeholder;
    this.insert = fastStatement<InsertValues>(
      database,
      database.db.insert(modelUsage).values({
        agent: p('agent'),
        runId: p('runId'),
        model: p('model'),
        provider: p('provider'),
        promptTokens: p('prompt'),
        completionTokens: p('completion'),
        durationMs: p('duration'),
        at: p('at'),
      }),
    );
    this.seedCalls();
  }

  tokensToday(agent: AgentName): number {
    this.roll();
    return this.tokens.get(agent) ?? 0;
  }

  tokensTodayAll(): number {
    this.roll();
    return this.tokensAll;
  }

  callsLastHour(agent: AgentName): number {
    return trim(this.calls.get(agent) ?? [], this.now() - HOUR);
  }

  callsLastHourAll(): number {
    return trim(this.callsAll, this.now() - HOUR);
  }

  record(
    agent: AgentName,
    runId: string | null,
    model: string,
    provider: string,
    promptTokens: number,
    completionTokens: number,
    durationMs: number,
  ): void {
    const at = this.now();
    this.insert.run({
      agent,
      runId,
      model,
      provider,
      prompt: promptTokens,
      completion: completionTokens,
      duration: Math.round(durationMs),
      at,
    });
    this.roll();
    const used = promptTokens + completionTokens;
    this.tokens.set(agent, (this.tokens.get(agent) ?? 0) + used);
    this.tokensAll += used;
    let list = this.calls.get(agent);
    if (list === undefined) {
      list = [];
      this.calls.set(agent, list);
    }
    list.push(at);
    this.callsAll.push(at);
  }

  /** Re-reads today's token totals when the day changed (or on first use). */
  private roll(): void {
    const day = this.dayStart(this.now());
    if (day === this.day) return;
    this.day = day;
    const { db } = this.database;
    const rows = db
      .select({
        agent: modelUsage.agent,
        p: sum(modelUsage.promptTokens),
        c: sum(modelUsage.completionTokens),
      })
      .from(modelUsage)
      .where(gte(modelUsage.at, day))
      .groupBy(modelUsage.agent)
      .all();
    this.tokens.clear();
    this.tokensAll = 0;
    for (const row of rows) {
      const used = Number(row.p ?? 0) + Number(row.c ?? 0);
      this.tokens.set(row.agent, used);
      this.tokensAll += used;
    }
  }

  private seedCalls(): void {
    const since = this.now() - HOUR;
    const { db } = this.database;
    for (const agent of AGENTS) {
      const rows = db
        .select({ at: modelUsage.at })
        .from(modelUsage)
        .where(and(gte(modelUsage.at, since), eq(modelUsage.agent, agent)))
        .orderBy(modelUsage.at)
        .all();
      const list = rows.map((r) => r.at);
      if (list.length > 0) this.calls.set(agent, list);
      this.callsAll.push(...list);
    }
    this.callsAll.sort((a, b) => a - b);
  }
}

/** Drops times before `since` from the front of a sorted list; returns what is left. */
function trim(list: number[], since: number): number {
  let i = 0;
  while (i < list.length && (list[i] as number) < since) i++;
  if (i > 0) list.splice(0, i);
  return list.length;
}
