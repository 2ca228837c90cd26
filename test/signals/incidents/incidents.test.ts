import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditLog } from '../../../src/audit/log.js';
import { type Database, migrate, openDatabase } from '../../../src/db/connection.js';
import { randomId, sequentialIds } from '../../../src/process/ids.js';
import { IncidentCoalescer, type Notice } from '../../../src/signals/incidents/coalesce.js';
import { IncidentStore, parseIncidentRef } from '../../../src/signals/incidents/incidents.js';
import { SignalStore, type StoredSignal } from '../../../src/signals/incidents/store.js';
import { timeStamp } from '../../../src/signals/incidents/store-queries.js';
import { normaliseAlertmanager } from '../../../src/signals/normalise/alertmanager.js';
import type { IncidentChange, SignalInput } from '../../../src/signals/types.js';
import { alertmanagerPayload, T0 } from '../../helpers/ingest.js';

const MIN = 60_000;
/** One turn: listeners hear a group commit after its writers' own continuations have run. */
const afterListeners = () => new Promise<void>((resolve) => setImmediate(resolve));

interface Env {
  dir: string;
  database: Database;
  audit: AuditLog;
  store: SignalStore;
  incidents: IncidentStore;
  clock: number;
}

let env: Env;

function makeEnv(): Env {
  const dir = mkdtempSync(join(tmpdir(), 'autonomy-incidents-'));
  const database = openDatabase(join(dir, 'autonomy.db'));
  migrate(database);
  const e = { dir, database, clock: T0 } as Env;
  const now = () => e.clock;
  e.audit = new AuditLog(database, { now });
  e.store = new SignalStore(database, { now, newId: sequentialIds(), audit: e.audit });
  e.incidents = new IncidentStore(database, e.audit, { now });
  return e;
}

beforeEach(() => {
  env = makeEnv();
});
afterEach(() => {
  env.database.close();
  rmSync(env.dir, { recursive: true, force: true });
});

let seq = 0;
function signal(over: Partial<SignalInput> = {}): SignalInput {
  seq += 1;
  return {
    kind: 'failed_job',
    source: 'events',
    dedupeKey: `k-${seq}`,
    fingerprint: 'fp-backup',
    title: 'nightly backup failed',
    service: 'db',
    severity: 'warning',
    payload: { n: seq },
    ...over,
  };
}

function change(input: SignalInput): IncidentChange | null {
  const [outcome] = env.store.ingest([input]);
  if (outcome?.status !== 'stored') throw new Error(`expected stored, got ${JSON.stringify(outcome)}`);
  return outcome.incident;
}

describe('correlation into incidents', () => {
  it('opens, updates (highest severity, earliest start), and numbers incidents max+1', () => {
    expect(change(signal({ occurredAt: T0 - 5 * MIN }))).toMatchObject({
      change: 'opened',
      shortId: 'i1',
      signalCount: 1,
    });
    env.clock += MIN;
    expect(change(signal({ severity: 'critical', occurredAt: T0 - 9 * MIN }))).toMatchObject({
      change: 'updated',
      shortId: 'i1',
      severity: 'critical',
      signalCount: 2,
    });
    expect(change(signal({ severity: 'info' }))).toMatchObject({ severity: 'critical', signalCount: 3 });
    expect(change(signal({ fingerprint: 'fp-other', service: 'web' }))).toMatchObject({
      change: 'opened',
      shortId: 'i2',
    });
    expect(env.incidents.get('i1')).toMatchObject({
      startedAt: T0 - 9 * MIN,
      detectedAt: T0,
      lastSignalAt: T0 + MIN,
      status: 'open',
    });
    // A duplicate delivery writes nothing.
    const dup = env.store.ingest([{ ...signal(), dedupeKey: 'k-1' }]);
    expect(dup[0]?.status).toBe('duplicate');
    expect(env.incidents.get('i1')?.signalCount).toBe(3);
    expect(env.audit.records({ kind: 'incident.opened' }).map((r) => r.actor)).toEqual([
      'source:events',
      'source:events',
    ]);
  });

  it('reopens within 10 minutes of resolution, opens a new one after, and never reopens on an older event', () => {
    change(signal());
    env.clock += MIN;
    expect(change(signal({ resolves: true }))).toMatchObject({ change: 'resolved', shortId: 'i1' });
    // Happened before the resolution (a late delivery): linked, nothing reopened.
    expect(change(signal({ occurredAt: T0 + 30_000 }))).toBeNull();
    expect(env.incidents.get('i1')?.status).toBe('resolved');
    env.clock += 5 * MIN;
    expect(change(signal())).toMatchObject({ change: 'reopened', shortId: 'i1' });
    expect(env.incidents.get('i1')).toMatchObject({ status: 'open', resolvedAt: null, resolvedBy: null });
    env.clock += MIN;
    change(signal({ resolves: true }));
    env.clock += 11 * MIN;
    expect(change(signal())).toMatchObject({ change: 'opened', shortId: 'i2' });
  });

  it('stores a resolution with nothing open without opening anything', () => {
    expect(change(signal({ resolves: true }))).toBeNull();
    expect(env.incidents.list({ status: 'all' })).toEqual([]);
  });

  it('closes an incident that went quiet for a day as stale and opens a new one', () => {
    change(signal());
    env.clock += 25 * 60 * MIN;
    expect(change(signal())).toMatchObject({ change: 'opened', shortId: 'i2' });
    expect(env.incidents.get('i1')).toMatchObject({
      status: 'resolved',
      resolvedBy: 'system:stale',
      resolvedAt: T0,
    });
  });

  it('rolls back a whole call when one input is bad', () => {
    expect(() => env.store.ingest([signal(), signal({ severity: 'urgent' as never })])).toThrow(
      /severity "urgent"/,
    );
    expect(env.incidents.list({ status: 'all' })).toEqual([]);
  });

  it('group commit: another unit in the batch sees the counts so far, and a failed unit leaves the rest whole', async () => {
    change(signal());
    const seen: number[] = [];
    const count = () => env.incidents.get('i1')?.signalCount ?? -1;
    const units = [
      env.store.ingestBatched([signal()]),
      env.store.ingestBatched([signal()]),
      env.store.commit(() => seen.push(count())),
      env.store.ingestBatched([signal()]),
    ];
    const failing = env.store.commit(() => {
      env.store.ingest([signal()]);
      throw new Error('later step failed');
    });
    await Promise.all(units);
    await expect(failing).rejects.toThrow('later step failed');
    // Seen in the batch (rolled back because of the failing unit), then in its retry alone.
    expect(seen).toEqual([3, 3]);
    expect(count()).toBe(4);
    const stored = env.database.sqlite.prepare('SELECT count(*) AS n FROM signals').get() as { n: number };
    expect(stored.n).toBe(4);
    expect(env.incidents.get('i1')?.lastSignalAt).toBe(T0);
  });

  it('tells listeners after the commit, and never about work that was rolled back', async () => {
    const heard: StoredSignal[] = [];
    env.store.onStored((batch) => heard.push(...batch));
    const ok = env.store.commit(() => env.store.ingest([signal()]));
    const failing = env.store.commit(() => {
      env.store.ingest([signal({ fingerprint: 'fp-never' })]);
      throw new Error('later step failed');
    });
    expect(heard).toHaveLength(0);
    await expect(ok).resolves.toHaveLength(1);
    await expect(failing).rejects.toThrow('later step failed');
    // Listeners hear a group commit on the turn after its writers' continuations (their 202s).
    await afterListeners();
    expect(heard.map((h) => h.input.fingerprint)).toEqual(['fp-backup']);
    expect(env.incidents.list({ status: 'all' }).map((i) => i.fingerprint)).toEqual(['fp-backup']);
  });

  it('holds group commits while asked (the checkpoint thread finishing), and commits them on release', async () => {
    const stored = () =>
      (env.database.sqlite.prepare('SELECT count(*) AS n FROM signals').get() as { n: number }).n;
    env.store.hold();
    let settled = 0;
    const units = [env.store.ingestBatched([signal()]), env.store.ingestBatched([signal()])];
    for (const unit of units) void unit.then(() => settled++);
    // Several turns of the event loop later: queued, nothing written, nobody answered.
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    expect([stored(), settled]).toEqual([0, 0]);
    // A direct (synchronous) ingest is not part of the group commit and is not held.
    env.store.ingest([signal()]);
    expect(stored()).toBe(1);
    env.store.release();
    const outcomes = await Promise.all(units);
    expect(outcomes.map((o) => o[0]?.status)).toEqual(['stored', 'stored']);
    expect([stored(), settled]).toEqual([3, 2]);
  });

  it('gives signals short ids that sort by receipt time: sig_<time>_<16 random hex digits>', () => {
    const store = new SignalStore(env.database, { now: () => env.clock, newId: randomId });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      env.clock += 1;
      const [outcome] = store.ingest([signal(), signal()]);
      ids.push(outcome?.signalId ?? '');
    }
    for (const id of ids) expect(id).toMatch(/^sig_[0-9a-z]{9}_[0-9a-f]{16}$/);
    expect(ids[2]?.slice(4, 13)).toBe(timeStamp(env.clock));
    expect([...ids].sort()).toEqual(ids);
    const all = env.database.sqlite
      .prepare('SELECT id FROM signals ORDER BY rowid')
      .pluck()
      .all() as string[];
    expect(new Set(all).size).toBe(6);
  });
});

describe('no floods', () => {
  it('10,000 identical alerts in a minute: every signal stored, ONE incident, 1 post and a few updates', async () => {
    const coalescer = new IncidentCoalescer({ now: () => env.clock });
    const notices: Notice[] = [];
    env.store.onStored((batch) => {
      for (const s of batch) {
        if (s.incident === null) continue;
        const n = coalescer.push(s.incident);
        if (n) notices.push(n);
      }
    });
    const pending: Promise<unknown>[] = [];
    for (let i = 0; i < 10_000; i++) {
      env.clock = T0 + Math.floor((i * MIN) / 10_000);
      const startsAt = new Date(T0 - 3600_000 + i).toISOString();
      const normalised = normaliseAlertmanager(
        alertmanagerPayload([{ fingerprint: 'flood', startsAt }]),
        env.clock,
      );
      if (!normalised.ok) throw new Error('bad fixture');
      pending.push(env.store.ingestBatched(normalised.value));
      if (i % 500 === 499) {
        await Promise.all(pending.splice(0));
        await afterListeners();
        notices.push(...coalescer.due());
      }
    }
    await Promise.all(pending);
    await afterListeners();
    env.clock = T0 + MIN + 10_000;
    notices.push(...coalescer.due());
    const count = env.database.sqlite.prepare('SELECT count(*) AS n FROM signals').get() as { n: number };
    expect(count.n).toBe(10_000);
    expect(env.incidents.list({ status: 'all' })).toHaveLength(1);
    expect(env.incidents.get('i1')?.signalCount).toBe(10_000);
    expect(notices.filter((n) => n.kind === 'post')).toHaveLength(1);
    const updates = notices.filter((n) => n.kind === 'update');
    expect(updates.length).toBeGreaterThan(0);
    expect(updates.length).toBeLessThanOrEqual(7);
    expect(updates.at(-1)?.change.signalCount).toBe(10_000);
  });
});

describe('IncidentCoalescer', () => {
  const base = (over: Partial<IncidentChange>): IncidentChange => ({
    id: 'inc_1',
    shortId: 'i1',
    change: 'updated',
    fingerprint: 'fp',
    title: 't',
    severity: 'warning',
    service: null,
    signalCount: 1,
    ...over,
  });

  it('posts once, throttles updates to one per 10 s with the latest count, and sends resolutions at once', () => {
    let now = 0;
    const c = new IncidentCoalescer({ now: () => now });
    expect(c.push(base({ change: 'opened' }))).toMatchObject({ kind: 'post' });
    now = 1000;
    expect(c.push(base({ signalCount: 2 }))).toBeNull();
    expect(c.push(base({ signalCount: 3 }))).toBeNull();
    expect(c.nextDueAt()).toBe(10_000);
    now = 9_999;
    expect(c.due()).toEqual([]);
    now = 10_000;
    expect(c.due()).toEqual([{ kind: 'update', change: base({ signalCount: 3 }), folded: 1 }]);
    now = 12_000;
    expect(c.push(base({ signalCount: 4 }))).toBeNull();
    expect(c.push(base({ change: 'resolved', signalCount: 5 }))).toEqual({
      kind: 'update',
      change: base({ change: 'resolved', signalCount: 5 }),
      folded: 1,
    });
    expect(c.due()).toEqual([]);
    expect(c.waiting).toBe(0);
  });

  it('treats an incident it never saw (after a restart) as an update of the existing message', () => {
    const c = new IncidentCoalescer({ now: () => 0 });
    expect(c.push(base({ signalCount: 50 }))).toMatchObject({ kind: 'update' });
  });
});

describe('IncidentStore: what people do', () => {
  it('acknowledges and resolves by short id, audited, idempotent, with messages for chat', () => {
    change(signal());
    env.clock += MIN;
    const ack = env.incidents.acknowledge('i1', 'slack:user:U0ONCALL');
    expect(ack).toMatchObject({
      ok: true,
      changed: true,
      message: 'i1 acknowledged by slack:user:U0ONCALL: nightly backup failed',
    });
    expect(env.incidents.get('1')).toMatchObject({
      status: 'acknowledged',
      acknowledgedAt: T0 + MIN,
      acknowledgedBy: 'slack:user:U0ONCALL',
    });
    const again = env.incidents.acknowledge('I1', 'discord:user:12345');
    expect(again).toMatchObject({ ok: true, changed: false });
    if (again.ok)
      expect(again.message).toMatch(/already acknowledged by slack:user:U0ONCALL at 2025-01-01T12:01:00Z/);
    // A signal while acknowledged still updates it.
    expect(change(signal())).toMatchObject({ change: 'updated', shortId: 'i1' });
    env.clock += MIN;
    const resolved = env.incidents.resolve('#1', 'slack:user:U0ONCALL', 'restarted the backup agent');
    expect(resolved).toMatchObject({
      ok: true,
      changed: true,
      change: { change: 'resolved', shortId: 'i1' },
    });
    expect(env.incidents.get('i1')).toMatchObject({
      status: 'resolved',
      resolvedAt: T0 + 2 * MIN,
      resolvedBy: 'slack:user:U0ONCALL',
    });
    expect(env.incidents.acknowledge('i1', 'slack:user:U0OTHER')).toMatchObject({
      ok: false,
      code: 'already-resolved',
    });
    expect(env.incidents.resolve('i1', 'slack:user:U0OTHER')).toMatchObject({ ok: true, changed: false });
    const audited = env.audit.records().filter((r) => r.kind.startsWith('incident.'));
    expect(audited.map((r) => [r.kind, r.actor])).toEqual([
      ['incident.opened', 'source:events'],
      ['incident.acknowledged', 'slack:user:U0ONCALL'],
      ['incident.acknowledged', 'discord:user:12345'],
      ['incident.resolved', 'slack:user:U0ONCALL'],
      ['incident.resolved', 'slack:user:U0OTHER'],
    ]);
    expect(audited[3]?.data).toMatchObject({ note: 'restarted the backup agent', changed: true });
    expect(env.audit.verify().ok).toBe(true);
  });

  it('lists by status, newest first, and explains bad or unknown ids', () => {
    change(signal({ fingerprint: 'a', service: 'a' }));
    change(signal({ fingerprint: 'b', service: 'b' }));
    change(signal({ fingerprint: 'c', service: 'c' }));
    env.incidents.acknowledge('i2', 'cli:user:ops');
    env.incidents.resolve('i3', 'cli:user:ops');
    expect(env.incidents.list().map((i) => i.shortId)).toEqual(['i2', 'i1']);
    expect(env.incidents.list({ status: 'open' }).map((i) => i.shortId)).toEqual(['i1']);
    expect(env.incidents.list({ status: 'resolved' }).map((i) => i.shortId)).toEqual(['i3']);
    expect(env.incidents.list({ status: 'all', limit: 2 }).map((i) => i.shortId)).toEqual(['i3', 'i2']);
    expect(env.incidents.signals('i1')).toHaveLength(1);
    expect(env.incidents.acknowledge('i99', 'cli:user:ops')).toMatchObject({ ok: false, code: 'not-found' });
    expect(env.incidents.resolve('nope', 'cli:user:ops')).toMatchObject({ ok: false, code: 'bad-id' });
    expect(parseIncidentRef(' i12 ')).toBe(12);
    expect(parseIncidentRef('i0')).toBeNull();
    expect(env.audit.records({ kind: 'incident.acknowledged' })[0]?.trigger).toBe('cli');
  });
});
