import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditLog, CHECKPOINT_KIND } from '../../src/audit/log.js';
import { message } from '../../src/chat/message.js';
import { Outbox } from '../../src/chat/outbox.js';
import { run as cli } from '../../src/cli.js';
import {
  approvals,
  auditLog,
  incidents,
  modelUsage,
  outbox as outboxTable,
  proposals,
  runs,
  signals,
  sweepRuns,
} from '../../src/db/schema.js';
import { purgeExpired } from '../../src/metrics/retention.js';
import { DEFAULT_POLICY } from '../helpers/bot.js';
import { type TempDatabase, tempDatabase } from '../helpers/db.js';

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 5, 1, 3, 30);
const OLD = NOW - 100 * DAY;
const RECENT = NOW - 10 * DAY;
const BEFORE = NOW - 90 * DAY;

let temp: TempDatabase;
let t = OLD;
let audit: AuditLog;

beforeEach(() => {
  temp = tempDatabase('autonomy-retention-');
  t = OLD;
  audit = new AuditLog(temp.database, { now: () => t });
});
afterEach(() => temp.cleanup());

const ids = (table: typeof runs | typeof proposals | typeof approvals | typeof signals) =>
  temp.database.db
    .select({ id: table.id })
    .from(table)
    .all()
    .map((r) => r.id)
    .sort();

function run(id: string, at: number, status: 'succeeded' | 'running' = 'succeeded'): void {
  temp.database.db
    .insert(runs)
    .values({ id, agent: 'sentinel', triggerSource: 'cron', startedAt: at, status, evidence: [`log:${id}`] })
    .run();
  audit.append({ kind: 'run', agent: 'sentinel', evidence: [`run:${id}`], outcome: `run ${id}` });
}

function proposal(id: string, at: number, runId: string | null): void {
  temp.database.db
    .insert(proposals)
    .values({
      id,
      agent: 'sentinel',
      actionId: 'restart-service',
      params: { service: 'web' },
      evidence: ['https://ci.example.com/1'],
      verdict: 'ask',
      code: 'needs-approval',
      reason: 'tier 3',
      tier: 3,
      decidedAt: at,
      runId,
    })
    .run();
}

function approval(
  id: string,
  proposalId: string,
  at: number,
  state: 'succeeded' | 'pending',
  runId: string | null,
) {
  temp.database.db
    .insert(approvals)
    .values({
      id,
      number: Number(id.replace(/\D/g, '')),
      proposalId,
      agent: 'sentinel',
      actionId: 'restart-service',
      params: { service: 'web' },
      bindingHash: 'h',
      state,
      requestedAt: at,
      expiresAt: at + DAY,
      runId,
      updatedAt: at,
    })
    .run();
}

function incident(id: string, status: 'open' | 'resolved'): void {
  temp.database.db
    .insert(incidents)
    .values({
      id,
      number: Number(id.replace(/\D/g, '')),
      fingerprint: id,
      title: id,
      severity: 'warning',
      status,
      startedAt: OLD,
      detectedAt: OLD,
      resolvedAt: status === 'resolved' ? OLD + DAY : null,
    })
    .run();
}

function signal(id: string, at: number, incidentId: string | null): void {
  temp.database.db
    .insert(signals)
    .values({
      id,
      kind: 'alert',
      source: 'alertmanager',
      dedupeKey: id,
      fingerprint: 'f',
      severity: 'warning',
      payload: { big: 'x'.repeat(100) },
      receivedAt: at,
      incidentId,
    })
    .run();
}

function seed(): void {
  incident('i1', 'resolved');
  incident('i2', 'open');
  // Old and finished: all of it goes.
  run('run_old', OLD);
  proposal('p_old', OLD, 'run_old');
  approval('a1', 'p_old', OLD, 'succeeded', 'run_old');
  temp.database.db
    .insert(modelUsage)
    .values({ agent: 'sentinel', runId: 'run_old', model: 'm', provider: 'ollama', promptTokens: 5, at: OLD })
    .run();
  signal('s_old', OLD, 'i1');
  signal('s_old_loose', OLD, null);
  // Old but still needed: a run still marked running, a pending approval and its proposal,
  // signals of an unresolved incident.
  run('run_stuck', OLD, 'running');
  proposal('p_pending', OLD, null);
  approval('a2', 'p_pending', OLD, 'pending', null);
  signal('s_open', OLD, 'i2');
  // An old run that a recent usage row still points at.
  run('run_long', OLD);
  t = RECENT;
  temp.database.db
    .insert(modelUsage)
    .values({
      agent: 'sentinel',
      runId: 'run_long',
      model: 'm',
      provider: 'ollama',
      promptTokens: 5,
      at: RECENT,
    })
    .run();
  // Recent: kept.
  run('run_new', RECENT);
  proposal('p_new', RECENT, 'run_new');
  signal('s_new', RECENT, 'i1');
  t = NOW;
}

describe('evidence retention', () => {
  it('purges expired runs and evidence, keeps what is recent or still needed, and the chain still verifies', async () => {
    seed();
    const auditBefore = temp.database.db.select().from(auditLog).all().length;
    const r = purgeExpired({ database: temp.database, audit, before: BEFORE, now: NOW, dataDir: null });
    expect(r).toMatchObject({ runs: 1, proposals: 1, approvals: 1, modelUsage: 1, signals: 2 });
    expect(ids(runs)).toEqual(['run_long', 'run_new', 'run_stuck']);
    expect(ids(proposals)).toEqual(['p_new', 'p_pending']);
    expect(ids(approvals)).toEqual(['a2']);
    expect(ids(signals)).toEqual(['s_new', 's_open']);
    // Incidents are kept (the metrics of past weeks need them).
    expect(temp.database.db.select().from(incidents).all()).toHaveLength(2);

    // The audit records of the three old runs are gone, a checkpoint vouches for them, and the chain verifies.
    expect(r.audit.purged).toBe(3);
    expect(r.audit.checkpoint?.kind).toBe(CHECKPOINT_KIND);
    const left = temp.database.db.select().from(auditLog).all();
    expect(left.map((a) => a.kind)).toEqual(['run', CHECKPOINT_KIND, 'retention.purge']);
    expect(left).toHaveLength(auditBefore - 3 + 2);
    expect(audit.verify()).toMatchObject({ ok: true, count: 3 });
    // `autonomy audit verify` agrees.
    const stdout = new PassThrough();
    let printed = '';
    stdout.on('data', (c: Buffer) => {
      printed += c.toString('utf8');
    });
    const code = await cli(['audit', 'verify'], {
      stdout,
      stderr: new PassThrough(),
      env: { AUTONOMY_DB: join(temp.dir, 'bot.db'), AUTONOMY_POLICY: DEFAULT_POLICY, USER: 'alice' },
      cwd: temp.dir,
      now: () => NOW,
    });
    expect(code).toBe(0);
    expect(printed).toContain('audit chain intact: 3 record(s)');

    // Run again: nothing more to do, nothing written.
    const again = purgeExpired({ database: temp.database, audit, before: BEFORE, now: NOW, dataDir: null });
    expect(again).toMatchObject({ runs: 0, proposals: 0, approvals: 0, signals: 0, audit: { purged: 0 } });
    expect(temp.database.db.select().from(auditLog).all()).toHaveLength(3);
  });

  it('keeps the highest-numbered approval, so a short id like a12 is never handed out again', () => {
    proposal('p1', OLD, null);
    approval('a1', 'p1', OLD, 'succeeded', null);
    proposal('p2', OLD, null);
    approval('a2', 'p2', OLD, 'succeeded', null);
    const r = purgeExpired({ database: temp.database, audit, before: BEFORE, now: NOW, dataDir: null });
    expect(r).toMatchObject({ approvals: 1, proposals: 1 });
    expect(ids(approvals)).toEqual(['a2']);
    expect(ids(proposals)).toEqual(['p2']);
  });

  it('keeps the newest sweep run of each agent and kind, and recent outbox rows whatever the retention', () => {
    const sweep = (id: string, at: number) =>
      temp.database.db
        .insert(sweepRuns)
        .values({ id, agent: 'guardian', kind: 'deep', scheduledAt: at, status: 'succeeded' })
        .run();
    sweep('sw1', OLD - DAY);
    sweep('sw2', OLD);
    const outbox = new Outbox(temp.database, audit, { now: () => t });
    t = NOW - 3 * DAY;
    const row = outbox.enqueue('console:main', message({ kind: 'notice', title: 'hi' }), { dedupeKey: 'k1' });
    outbox.markDelivered(row.id, 'ref');
    t = NOW;
    // A retention of one day: the sweep history keeps its newest row; the 3-day-old post stays (14 days at least).
    const r = purgeExpired({ database: temp.database, audit, before: NOW - DAY, now: NOW, dataDir: null });
    expect(r.sweepRuns).toBe(1);
    expect(temp.database.db.select({ id: sweepRuns.id }).from(sweepRuns).all()).toEqual([{ id: 'sw2' }]);
    expect(r.outbox).toBe(0);
    expect(temp.database.db.select().from(outboxTable).all()).toHaveLength(1);
  });

  it('deletes charts of expired weeks and nothing else in the folder', () => {
    const dir = join(temp.dir, 'digests');
    mkdirSync(dir);
    for (const name of ['2026-01-05.png', '2026-05-25.png', 'notes.txt']) writeFileSync(join(dir, name), 'x');
    const r = purgeExpired({ database: temp.database, audit, before: BEFORE, now: NOW, dataDir: temp.dir });
    expect(r.charts).toBe(1);
    expect(readdirSync(dir).sort()).toEqual(['2026-05-25.png', 'notes.txt']);
    expect(existsSync(join(temp.dir, 'bot.db'))).toBe(true);
  });
});
