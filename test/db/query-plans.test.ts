/**
 * The bot must not slow down as its history grows: a year of signals, runs, model calls and
 * proposals may not make an incident cost more than on the first day. This runs a real bot through
 * an incident's life (alerts in, agents at work with a model, a resolution), records every SQL
 * statement it prepares, and asks SQLite for each one's plan: a statement on that path may not
 * read a whole history table, nor sort all the rows a key matched to return the newest few. The
 * few that may, listed below, each say why. Then it runs the same life twice, on an empty database
 * and on one with two months of history of other services, and counts each statement's runs: a
 * read per past incident (each through an index, invisible to the plans) may not appear.
 */
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { migrate, openDatabase } from '../../src/db/connection.js';
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

async function post(b: Bot, alerts: Parameters<typeof alertmanagerPayload>[0]): Promise<void> {
  const res = await fetch(`${b.url}/hooks/alertmanager`, {
    method: 'POST',
    body: JSON.stringify(alertmanagerPayload(alerts)),
    headers: { authorization: `Bearer ${b.ingestToken}`, 'content-type': 'application/json' },
  });
  expect(res.status).toBe(202);
}

/** The short id of the open incident of alert `name`. */
function openIncident(b: Bot, name: string): string {
  const found = b.core.incidents.list().find((i) => i.title.startsWith(name));
  if (found === undefined) throw new Error(`no open incident of ${name}`);
  return `i${found.number}`;
}

/**
 * An incident's life with a model: alerts (a new incident, another, a repeat, a third on the same
 * service, a resolution), the agents at work, and what the on-call types meanwhile. Resolves when
 * every job and message is done.
 */
async function incidentLife(b: Bot, o: FakeOllama): Promise<void> {
  const db = b.database.sqlite;
  const jobsLeft = () =>
    (
      db.prepare(`SELECT count(*) AS n FROM agent_jobs WHERE state IN ('queued', 'running')`).get() as {
        n: number;
      }
    ).n;
  await post(b, [{ name: 'HighLatency', service: 'api', fingerprint: 'fp-api' }]);
  await post(b, [{ name: 'DiskFull', service: 'db', fingerprint: 'fp-db' }]);
  await post(b, [
    { name: 'HighLatency', service: 'api', fingerprint: 'fp-api', startsAt: '2025-01-01T11:56:00Z' },
  ]);
  await post(b, [{ name: 'ErrorRate', service: 'api', fingerprint: 'fp-api-errors' }]);
  await post(b, [
    {
      status: 'resolved',
      name: 'DiskFull',
      service: 'db',
      fingerprint: 'fp-db',
      endsAt: '2025-01-01T12:30:00Z',
    },
  ]);
  await eventually(() => jobsLeft() === 0 && o.requests.length > 0, 20_000);
  for (const text of [
    'status',
    'incidents',
    'approvals',
    `ack ${openIncident(b, 'HighLatency')}`,
    `resolve ${openIncident(b, 'HighLatency')} fixed by hand`,
    'digest',
    'skills',
  ]) {
    const reply = await b.core.inbound.command({
      platform: 'console',
      actor: 'console:user:local',
      channel: 'console:main',
      text,
    });
    expect(reply.severity, `${text}: ${reply.title}`).not.toBe('error');
  }
  await eventually(() => jobsLeft() === 0, 20_000);
  await eventually(() => b.core.outbox.backlog().pending === 0, 10_000);
}

/**
 * History of other services, within every window the bot looks back over (the runbooks' 60 days)
 * but older than the digest's week: resolved incidents, each with its signal and its triage run.
 */
function seedOtherHistory(file: string, count: number): void {
  const database = openDatabase(file);
  try {
    migrate(database);
    const db = database.sqlite;
    const now = Date.now();
    const incident = db.prepare(
      `INSERT INTO incidents (id, number, fingerprint, title, severity, service, status, started_at,
         detected_at, resolved_at, resolved_by, signal_count, last_signal_at, escalation_level, message_refs)
       VALUES (?, ?, ?, ?, 'warning', ?, 'resolved', ?, ?, ?, 'source', 1, ?, 0, '[]')`,
    );
    const signal = db.prepare(
      `INSERT INTO signals (id, kind, source, dedupe_key, fingerprint, title, service, severity, payload,
         occurred_at, received_at, incident_id)
       VALUES (?, 'alert', 'alertmanager', ?, ?, ?, ?, 'warning', ?, ?, ?, ?)`,
    );
    const run = db.prepare(
      `INSERT INTO runs (id, agent, trigger_source, trigger_ref, outcome, evidence, tokens, started_at,
         finished_at, status, incident_id)
       VALUES (?, 'sentinel', 'signal', ?, 'triaged', '[]', 0, ?, ?, 'succeeded', ?)`,
    );
    db.transaction(() => {
      for (let n = 1; n <= count; n++) {
        const at = now - (10 + (n % 40)) * 24 * 3600_000 - n * 1000;
        const service = `old-svc-${n % 40}`;
        const fingerprint = `fp-old-${n}`;
        const id = `inc_old${n}`;
        incident.run(id, n, fingerprint, `Old${n} on ${service}`, service, at, at, at + 600_000, at);
        const payload = JSON.stringify({ labels: { alertname: `Old${n % 25}`, service } });
        signal.run(`sig_old${n}`, `old:${n}`, fingerprint, `Old${n}`, service, payload, at, at, id);
        run.run(`run_old${n}`, `sig_old${n}`, at, at + 2000, id);
      }
    })();
  } finally {
    database.close();
  }
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
    await incidentLife(bot, ollama);

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

  it('run no more often on a database with months of history of other services than on an empty one', async () => {
    // Each statement's executions over an incident's life: a read per past incident (one query
    // each, every one through an index, so the test above cannot see it) shows here as thousands.
    const executions = async (history: number): Promise<Map<string, number>> => {
      const counts = new Map<string, number>();
      const statement = Object.getPrototypeOf(new BetterSqlite3(':memory:').prepare('SELECT 1'));
      for (const method of ['run', 'get', 'all', 'iterate'] as const) {
        const original = statement[method];
        vi.spyOn(statement, method).mockImplementation(function (
          this: { source: string },
          ...args: unknown[]
        ) {
          counts.set(this.source, (counts.get(this.source) ?? 0) + 1);
          return original.apply(this, args);
        });
      }
      const o = await startFakeOllama();
      const s = tempSetup({ OLLAMA_HOST: o.url, LOG_LEVEL: 'error' });
      try {
        if (history > 0) seedOtherHistory(s.dbFile, history);
        counts.clear();
        const b = await startBot({ env: s.env, logDestination: new LogSink(), controlPollMs: 50 });
        try {
          await incidentLife(b, o);
        } finally {
          await b.stop();
        }
      } finally {
        vi.restoreAllMocks();
        await o.close();
        s.cleanup();
      }
      return counts;
    };
    const HISTORY = 2000;
    const empty = await executions(0);
    const aged = await executions(HISTORY);
    // Pollers (control, outbox, agents' look) run a few times more or less with the clock.
    const grown = [...aged]
      .filter(([sql, n]) => n > (empty.get(sql) ?? 0) + 50)
      .map(([sql, n]) => `${empty.get(sql) ?? 0} -> ${n}: ${sql.slice(0, 200)}`);
    expect(grown).toEqual([]);
  }, 90_000);
});
