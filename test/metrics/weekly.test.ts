import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/connection.js';
import { approvals, incidents, modelUsage, proposals, runs, signals, skills } from '../../src/db/schema.js';
import { durationStats, percentile } from '../../src/metrics/percentile.js';
import { weeklyMetrics } from '../../src/metrics/weekly.js';
import { compare, formatDuration, formatWeekly } from '../../src/metrics/weekly-format.js';
import type { AgentName, SignalKind, Tier } from '../../src/policy/vocabulary.js';
import { previousWeek, weekContaining } from '../../src/time/zone.js';
import { type TempDatabase, tempDatabase } from '../helpers/db.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
/** Monday 2026-11-16 00:00 UTC: the week under test is [FROM, TO). */
const FROM = Date.UTC(2026, 10, 16);
const TO = Date.UTC(2026, 10, 23);
const LAST = FROM - 7 * 24 * HOUR;

let temp: TempDatabase;
let database: Database;
let n = 0;

beforeEach(() => {
  temp = tempDatabase('autonomy-weekly-');
  database = temp.database;
  n = 0;
});
afterEach(() => temp.cleanup());

function incident(o: {
  startedAt: number;
  detectedAfter: number;
  resolvedAfter?: number;
  acknowledgedAt?: number;
  first?: { source: string; kind: SignalKind };
}): string {
  n += 1;
  const id = `inc${n}`;
  const detectedAt = o.startedAt + o.detectedAfter;
  database.db
    .insert(incidents)
    .values({
      id,
      number: n,
      fingerprint: `fp-${n}`,
      title: `incident ${n}`,
      severity: 'warning',
      status: o.resolvedAfter === undefined ? 'open' : 'resolved',
      startedAt: o.startedAt,
      detectedAt,
      acknowledgedAt: o.acknowledgedAt ?? null,
      resolvedAt: o.resolvedAfter === undefined ? null : o.startedAt + o.resolvedAfter,
    })
    .run();
  const first = o.first ?? { source: 'alertmanager', kind: 'alert' };
  signal({ ...first, fingerprint: `fp-${n}`, at: detectedAt, incidentId: id });
  return id;
}

let s = 0;
function signal(o: {
  source: string;
  kind: SignalKind;
  fingerprint: string;
  at: number;
  incidentId?: string;
  title?: string;
}) {
  s += 1;
  database.db
    .insert(signals)
    .values({
      id: `sig${s}`,
      kind: o.kind,
      source: o.source,
      dedupeKey: `k${s}`,
      fingerprint: o.fingerprint,
      title: o.title ?? null,
      severity: 'warning',
      payload: {},
      receivedAt: o.at,
      incidentId: o.incidentId ?? null,
    })
    .run();
}

function run(
  id: string,
  o: { at: number; status: 'succeeded' | 'failed'; wallMs: number; actionId?: string | null },
) {
  database.db
    .insert(runs)
    .values({
      id,
      agent: 'sentinel',
      triggerSource: 'webhook',
      actionId: o.actionId === undefined ? 'silence-alert' : o.actionId,
      verdict: 'execute',
      startedAt: o.at,
      status: o.status,
      wallMs: o.wallMs,
    })
    .run();
}

function proposal(
  id: string,
  o: { at: number; tier: Tier; verdict?: 'execute' | 'suggest' | 'deny' | 'ask'; runId?: string },
) {
  database.db
    .insert(proposals)
    .values({
      id,
      agent: 'sentinel',
      actionId: 'silence-alert',
      params: { alert: 'X' },
      verdict: o.verdict ?? 'execute',
      code: 'allowlisted',
      reason: 'test',
      tier: o.tier,
      phase: 3,
      decidedAt: o.at,
      runId: o.runId ?? null,
    })
    .run();
}

let a = 0;
function approval(state: (typeof approvals.$inferInsert)['state'], decidedAt: number | null) {
  a += 1;
  database.db
    .insert(approvals)
    .values({
      id: `ap${a}`,
      number: a,
      proposalId: 'p5',
      agent: 'sentinel',
      actionId: 'restart-service',
      params: {},
      bindingHash: 'h',
      state,
      requestedAt: FROM,
      expiresAt: FROM + HOUR,
      decidedAt,
      updatedAt: FROM,
    })
    .run();
}

function usage(agent: AgentName, prompt: number, completion: number, at: number) {
  database.db
    .insert(modelUsage)
    .values({ agent, model: 'm', provider: 'ollama', promptTokens: prompt, completionTokens: completion, at })
    .run();
}

/** A realistic week: see the hand-computed expectations in the test below. */
function seed() {
  const t = FROM + 24 * HOUR;
  // Last week's incident, resolved this week: in MTTR (100 min), not in MTTD.
  incident({
    startedAt: t - 90 * MIN - 24 * HOUR,
    detectedAfter: 6 * MIN,
    resolvedAfter: 24 * HOUR + 100 * MIN,
  });
  incident({ startedAt: t, detectedAfter: 1 * MIN, resolvedAfter: 10 * MIN }); // early
  const i2 = incident({
    startedAt: t + HOUR,
    detectedAfter: 2 * MIN,
    resolvedAfter: 20 * MIN,
    acknowledgedAt: t + HOUR + 5 * MIN,
  }); // early
  signal({ source: 'chat', kind: 'event', fingerprint: 'fp-3', at: t + HOUR + 4 * MIN, incidentId: i2 });
  incident({
    startedAt: t + 2 * HOUR,
    detectedAfter: 3 * MIN,
    resolvedAfter: 30 * MIN,
    first: { source: 'chat', kind: 'event' },
  });
  incident({ startedAt: t + 3 * HOUR, detectedAfter: 4 * MIN, acknowledgedAt: t + 3 * HOUR + 3 * MIN }); // a human acked first
  incident({
    startedAt: t + 4 * HOUR,
    detectedAfter: 5 * MIN,
    resolvedAfter: 40 * MIN,
    first: { source: 'events', kind: 'event' },
  });
  incident({ startedAt: TO + HOUR, detectedAfter: MIN, resolvedAfter: 2 * MIN }); // next week

  run('r1', { at: t, status: 'succeeded', wallMs: 3000 });
  run('r2', { at: t, status: 'failed', wallMs: 1000 });
  run('r4', { at: t, status: 'succeeded', wallMs: 500, actionId: 'collect-logs' });
  run('r-model', { at: t, status: 'succeeded', wallMs: 9999, actionId: null }); // not an executor run
  run('r-old', { at: LAST + HOUR, status: 'succeeded', wallMs: 7000 });
  proposal('p1', { at: t, tier: 2, runId: 'r1' }); // auto-resolved
  proposal('p2', { at: t, tier: 2, runId: 'r2' }); // ran, failed
  proposal('p3', { at: t, tier: 1, verdict: 'suggest' });
  proposal('p4', { at: t, tier: 0, runId: 'r4' }); // tier 0: not low-risk
  proposal('p5', { at: t, tier: 3, verdict: 'ask' }); // tier 3: not low-risk
  proposal('p6', { at: t, tier: 2, verdict: 'deny' }); // a cooldown
  proposal('p-old', { at: LAST + HOUR, tier: 2, runId: 'r-old' });

  usage('sentinel', 1000, 500, t);
  usage('sentinel', 200, 300, t + HOUR);
  usage('mentor', 4000, 0, t + 2 * HOUR);
  usage('builder', 7777, 0, LAST + HOUR);

  const skill = (id: string, promotedAt: number | null, title: string) =>
    database.db
      .insert(skills)
      .values({
        id,
        patternKey: `pk-${id}`,
        title,
        state: promotedAt === null ? 'draft' : 'promoted',
        createdAt: LAST,
        updatedAt: LAST,
        promotedAt,
      })
      .run();
  skill('k1', t, 'restart flapping worker');
  skill('k2', LAST + HOUR, 'old one');
  skill('k3', null, 'a draft');

  approval('approved', t);
  approval('succeeded', t + HOUR);
  approval('denied', t + 2 * HOUR);
  approval('expired', t + 3 * HOUR);
  approval('void', t + 3 * HOUR);
  approval('pending', null);
  approval('denied', LAST + HOUR);

  for (const [fp, count] of [
    ['sig-A', 3],
    ['sig-B', 1],
    ['sig-C', 2],
  ] as const) {
    for (let i = 0; i < count; i++)
      signal({
        source: 'logs',
        kind: 'error_signature',
        fingerprint: fp,
        at: t + i * MIN,
        title: `${fp} title ${i}`,
      });
  }
  signal({ source: 'logs', kind: 'error_signature', fingerprint: 'sig-B', at: LAST + HOUR });
  signal({ source: 'logs', kind: 'error_signature', fingerprint: 'sig-B', at: LAST + 2 * HOUR });
}

describe('percentiles (nearest rank)', () => {
  it('picks observed samples: median is the lower middle, p90 of 1..10 is 9', () => {
    expect(percentile([10, 1, 9, 2, 8, 3, 7, 4, 6, 5], 50)).toBe(5);
    expect(percentile([10, 1, 9, 2, 8, 3, 7, 4, 6, 5], 90)).toBe(9);
    expect(percentile([42], 90)).toBe(42);
    expect(percentile([], 50)).toBeNull();
    expect(durationStats([])).toEqual({ count: 0, median: null, p90: null });
  });
});

describe('weeklyMetrics', () => {
  it('computes every metric of a seeded week as counted by hand', () => {
    seed();
    const m = weeklyMetrics(database, {
      from: FROM,
      to: TO,
      timezone: 'UTC',
      dailyBudgets: { sentinel: 1000 },
    });
    expect(m.incidents).toBe(5);
    expect(m.detectedEarly).toBe(2);
    expect(m.detectedEarlyShare).toBeCloseTo(0.4);
    expect(m.mttd).toEqual({ count: 5, median: 3 * MIN, p90: 5 * MIN });
    expect(m.resolved).toBe(5);
    expect(m.mttr).toEqual({ count: 5, median: 30 * MIN, p90: 24 * HOUR + 100 * MIN });
    expect(m.lowRisk).toEqual({ proposals: 4, autoResolved: 1, share: 0.25 });
    expect(m.tokens).toBe(6000);
    expect(m.tokensPerResolved).toBe(1200);
    expect(m.executorMs).toBe(4500);
    expect(m.executorMsPerResolved).toBe(900);
    expect(m.skillsPromoted).toBe(1);
    expect(m.skillTitles).toEqual(['restart flapping worker']);
    expect(m.approvals).toEqual({ given: 2, denied: 1, expired: 1 });
    expect(m.topSignatures).toEqual([
      { fingerprint: 'sig-A', title: 'sig-A title 2', count: 3 },
      { fingerprint: 'sig-C', title: 'sig-C title 1', count: 2 },
      { fingerprint: 'sig-B', title: 'sig-B title 0', count: 1 },
    ]);
    const sentinel = m.budgets.find((b) => b.agent === 'sentinel');
    expect(sentinel).toEqual({ agent: 'sentinel', tokens: 2000, calls: 2, budget: 7000, share: 2000 / 7000 });
    expect(m.budgets.find((b) => b.agent === 'mentor')).toMatchObject({
      tokens: 4000,
      budget: null,
      share: null,
    });
    expect(m.budgets.find((b) => b.agent === 'builder')).toMatchObject({ tokens: 0, calls: 0 });
  });

  it('compares with last week and prints each change', () => {
    seed();
    const week = { from: FROM, to: TO, timezone: 'UTC' };
    const last = previousWeek(week);
    expect(last.from).toBe(LAST);
    const now = weeklyMetrics(database, week);
    const before = weeklyMetrics(database, last);
    expect(before.incidents).toBe(1);
    expect(before.mttd.median).toBe(6 * MIN);
    const c = compare(now, before);
    expect(c.incidents).toMatchObject({ current: 5, previous: 1, delta: 4, relative: 4 });
    expect(c.mttdMedian.delta).toBe(-3 * MIN);
    expect(c.mttrMedian).toMatchObject({ previous: null, delta: null, relative: null });
    const text = formatWeekly(now, before);
    expect(text).toContain('Weekly metrics 2026-11-16 to 2026-11-22 (UTC)');
    expect(text).toMatch(/Incidents detected\s+5 \(\+4 vs 1, worse\)/);
    expect(text).toMatch(/MTTD median\s+3m 00s \(-3m 00s vs 6m 00s, better\)/);
    expect(text).toMatch(/MTTR median \(5 resolved\)\s+30m 00s \(last week n\/a\)/);
    expect(text).toMatch(/Low-risk actions auto-resolved\s+25% \(1 of 4\)/);
    expect(text).toMatch(/Approvals given \/ denied \/ expired\s+2 \/ 1 \/ 1/);
    expect(text).toContain('3x  sig-A title 2 [sig-A]');
    expect(text).not.toContain('NaN');
  });

  it('an empty database gives zeros and n/a, never NaN or a crash', () => {
    const m = weeklyMetrics(database, { from: FROM, to: TO, timezone: 'UTC' });
    expect(m.incidents).toBe(0);
    expect(m.detectedEarlyShare).toBeNull();
    expect(m.mttd).toEqual({ count: 0, median: null, p90: null });
    expect(m.mttr.median).toBeNull();
    expect(m.lowRisk.share).toBeNull();
    expect(m.tokensPerResolved).toBeNull();
    expect(m.executorMsPerResolved).toBeNull();
    const text = formatWeekly(
      m,
      weeklyMetrics(database, previousWeek({ from: FROM, to: TO, timezone: 'UTC' })),
    );
    expect(text).toMatch(/MTTD median\s+n\/a/);
    expect(text).toMatch(/Detected early \(before a human\)\s+n\/a \(0 of 0\)/);
    expect(text).toContain('none this week');
    expect(text).not.toMatch(/NaN|Infinity|undefined/);
  });

  it('a week with model use but no incidents: per-incident costs are n/a', () => {
    usage('guardian', 500, 500, FROM + HOUR);
    const m = weeklyMetrics(database, { from: FROM, to: TO, timezone: 'UTC' });
    expect(m.incidents).toBe(0);
    expect(m.tokens).toBe(1000);
    expect(m.tokensPerResolved).toBeNull();
    expect(formatWeekly(m)).toMatch(/Model tokens per resolved incident\s+n\/a/);
  });

  it('refuses a backwards range with a readable error', () => {
    expect(() => weeklyMetrics(database, { from: TO, to: FROM, timezone: 'UTC' })).toThrow(/from < to/);
  });
});

describe('weeks in a time zone across DST', () => {
  it('Europe/Berlin, late October: 169 hours, and metrics count by local week', () => {
    const w = weekContaining(Date.UTC(2026, 9, 21, 12), 'Europe/Berlin');
    expect(w.from).toBe(Date.UTC(2026, 9, 18, 22)); // Mon 19 Oct 00:00 CEST
    expect(w.to).toBe(Date.UTC(2026, 9, 25, 23)); // Mon 26 Oct 00:00 CET
    expect((w.to - w.from) / HOUR).toBe(169);
    // Sunday 23:30 CET is in the week; Monday 00:30 CET is not (both are Sunday in UTC).
    incident({ startedAt: Date.UTC(2026, 9, 25, 22, 30) - MIN, detectedAfter: MIN });
    incident({ startedAt: Date.UTC(2026, 9, 25, 23, 30) - MIN, detectedAfter: MIN });
    const m = weeklyMetrics(database, w);
    expect(m.incidents).toBe(1);
    expect(formatWeekly(m)).toContain('Weekly metrics 2026-10-19 to 2026-10-25 (Europe/Berlin)');
  });

  it('an unknown time zone is refused with the setting to fix', () => {
    expect(() => weekContaining(FROM, 'Mars/Olympus')).toThrow(/unknown time zone.*IANA/);
  });
});

describe('formatDuration', () => {
  it('reads like a person would write it', () => {
    expect(formatDuration(null)).toBe('n/a');
    expect(formatDuration(850)).toBe('850ms');
    expect(formatDuration(4 * MIN + 10_000)).toBe('4m 10s');
    expect(formatDuration(HOUR + 5 * MIN)).toBe('1h 05m');
    expect(formatDuration(3 * 24 * HOUR + 2 * HOUR)).toBe('3d 02h');
  });
});
