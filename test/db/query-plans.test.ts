/**
 * The bot must not slow down as its history grows: a year of signals, runs, model calls and
 * proposals may not make an incident cost more than on the first day. This runs a real bot through
 * an incident's life (alerts in, agents at work with a model, a resolution), records every SQL
 * statement it prepares, and asks SQLite for each one's plan: a statement on that path may not
 * read a whole history table, nor sort all the rows a key matched to return the newest few. The
 * few that may, listed below, each say why.
 */
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type Bot, startBot } from '../../src/main.js';
import { type FakeOllama, startFakeOllama } from '../fakes/ollama-server.js';
import { eventually, LogSink, type TempSetup, tempSetup } from '../helpers/bot.js';
import { alertmanagerPayload } from '../helpers/ingest.js';

/** Tables that grow with every signal, run, model call or message (retention keeps months). */
const HISTORY = [
  'signals',
  'incidents',
  'runs',
  'proposals',
  'approvals',
  'model_usage',
  'audit_log',
  'outbox',
  'agent_jobs',
  'sweep_runs',
];

/** Partial indexes over what is open or waiting now: what they hold does not grow with history. */
const OPEN_ONLY = ['incidents_open_fingerprint_uq', 'incidents_open_service_idx', 'agent_jobs_waiting_idx'];

/** Statements that may read all of a history table, and why. Matched against the SQL. */
const ALLOWED: readonly (readonly [RegExp, string])[] = [
  [/^SELECT count\(\*\) AS n FROM /, 'the migrator checks tables once at start'],
  [/^delete from /, 'retention: runs once a day, and deleting old rows needs to find them'],
  [
    /^update "(agent_jobs|sweep_runs)" set .* where "\w+"\."(state|status)" = \?$/,
    'start: takes up what a crash left',
  ],
  [
    /^select "agent", sum\("prompt_tokens"\), sum\("completion_tokens"\) from "model_usage" where "model_usage"\."at" >= \? group by/,
    "the model router's budget totals: read once a day, then kept in memory",
  ],
  [
    /from "incidents" where "incidents"\."status" in \(\?, \?\) order by "incidents"\."number" desc$/,
    'every unresolved incident: what is open now',
  ],
  [
    /^select "agent", "kind", max\("scheduled_at"\) from "sweep_runs" group by/,
    'start: when each sweep last ran',
  ],
  [/from "outbox" where \("outbox"\."channel" like \?/, 'the console: its history, when a browser connects'],
];

let setup: TempSetup | null = null;
let bot: Bot | null = null;
let ollama: FakeOllama | null = null;

afterEach(async () => {
  vi.restoreAllMocks();
  await bot?.stop();
  await ollama?.close();
  setup?.cleanup();
  bot = null;
  ollama = null;
  setup = null;
});

interface PlanRow {
  readonly id: number;
  readonly parent: number;
  readonly detail: string;
}

function planOf(db: BetterSqlite3.Database, sql: string): PlanRow[] {
  const params = new Array((sql.match(/\?/g) ?? []).length).fill(null);
  return db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as PlanRow[];
}

/** True when `row` belongs to the query at `level` (under a MULTI-INDEX OR of it, not a subquery). */
function sameQuery(plan: readonly PlanRow[], row: PlanRow, level: number): boolean {
  let parent = row.parent;
  while (parent !== level) {
    const up = plan.find((r) => r.id === parent);
    if (up === undefined || /SUBQUERY/.test(up.detail)) return false;
    parent = up.parent;
  }
  return true;
}

/** Why the plan reads more than the rows asked for, or null. */
function problem(plan: readonly PlanRow[], sql: string): string | null {
  for (const row of plan) {
    const scan = /^SCAN (\w+)( USING (?:COVERING )?INDEX)?/.exec(row.detail);
    // Walking an index in the ORDER BY's order, unfiltered, stops at the LIMIT: the newest few.
    const firstFew =
      scan?.[2] !== undefined && /\border by\b.*\blimit\b/i.test(sql) && !/\bwhere\b/i.test(sql);
    if (scan !== null && HISTORY.includes(scan[1] as string) && !firstFew) return `reads all of ${scan[1]}`;
    // A sort of everything a key matched, to return the first few (a LIMIT): the sort belongs to
    // the search beside it in the plan (same parent).
    // (Or of its last terms: "FOR LAST 2 TERMS OF ORDER BY" still reads every match to sort them.)
    if (
      /^USE TEMP B-TREE FOR (?:LAST \d+ TERMS OF |RIGHT PART OF )?ORDER BY$/.test(row.detail) &&
      /\blimit\b/i.test(sql)
    ) {
      for (const other of plan) {
        const search = /^SEARCH (\w+) USING (?:COVERING )?INDEX (\w+) \(([^)]*)\)$/.exec(other.detail);
        if (search === null || !sameQuery(plan, other, row.parent)) continue;
        const [, table, index, key] = search as unknown as [string, string, string, string];
        if (!HISTORY.includes(table) || OPEN_ONLY.includes(index)) continue;
        // A range (a week, a day) holds what the window holds, not the whole history.
        if (/[<>]/.test(key)) continue;
        return `sorts every ${table} row with (${key}) to return the first few`;
      }
    }
  }
  return null;
}

async function post(alerts: Parameters<typeof alertmanagerPayload>[0]): Promise<void> {
  const res = await fetch(`${(bot as Bot).url}/hooks/alertmanager`, {
    method: 'POST',
    body: JSON.stringify(alertmanagerPayload(alerts)),
    headers: { authorization: `Bearer ${(bot as Bot).ingestToken}`, 'content-type': 'application/json' },
  });
  expect(res.status).toBe(202);
}

describe('statements on an incident path', () => {
  it('read what they need through an index, never a whole history table', async () => {
    const statements = new Set<string>();
    const prepare = BetterSqlite3.prototype.prepare;
    vi.spyOn(BetterSqlite3.prototype, 'prepare').mockImplementation(function (
      this: BetterSqlite3.Database,
      source: string,
    ) {
      if (!source.startsWith('EXPLAIN')) statements.add(source);
      return prepare.call(this, source);
    });
    ollama = await startFakeOllama();
    setup = tempSetup({ OLLAMA_HOST: ollama.url, LOG_LEVEL: 'error' });
    bot = await startBot({ env: setup.env, logDestination: new LogSink(), controlPollMs: 50 });
    const db = bot.database.sqlite;
    const jobsLeft = () =>
      (
        db.prepare(`SELECT count(*) AS n FROM agent_jobs WHERE state IN ('queued', 'running')`).get() as {
          n: number;
        }
      ).n;

    await post([{ name: 'HighLatency', service: 'api', fingerprint: 'fp-api' }]);
    await post([{ name: 'DiskFull', service: 'db', fingerprint: 'fp-db' }]);
    await post([
      { name: 'HighLatency', service: 'api', fingerprint: 'fp-api', startsAt: '2025-01-01T11:56:00Z' },
    ]);
    await post([{ name: 'ErrorRate', service: 'api', fingerprint: 'fp-api-errors' }]);
    await post([
      {
        status: 'resolved',
        name: 'DiskFull',
        service: 'db',
        fingerprint: 'fp-db',
        endsAt: '2025-01-01T12:30:00Z',
      },
    ]);
    await eventually(() => jobsLeft() === 0 && ollama !== null && ollama.requests.length > 0, 20_000);
    // What the on-call types meanwhile.
    for (const text of [
      'status',
      'incidents',
      'approvals',
      'ack i1',
      'resolve i3 fixed by hand',
      'digest',
      'skills',
    ]) {
      const reply = await bot.core.inbound.command({
        platform: 'console',
        actor: 'console:user:local',
        channel: 'console:main',
        text,
      });
      expect(reply.severity, `${text}: ${reply.title}`).not.toBe('error');
    }
    await eventually(() => jobsLeft() === 0, 20_000);
    await eventually(() => bot?.core.outbox.backlog().pending === 0, 10_000);

    const runs = db.prepare('SELECT count(*) AS n FROM runs').get() as { n: number };
    expect(runs.n).toBeGreaterThanOrEqual(3);
    const found: string[] = [];
    for (const sql of statements) {
      if (!/^\s*(select|update|delete|insert|with)\b/i.test(sql)) continue;
      if (ALLOWED.some(([re]) => re.test(sql))) continue;
      const why = problem(planOf(db, sql), sql);
      if (why !== null) found.push(`${why}: ${sql.slice(0, 300)}`);
    }
    expect(found).toEqual([]);
  }, 60_000);
});
