/**
 * Scheduled sweeps with an injected scheduler and clock (ticks are fired directly), the real
 * SignalStore and a temp SQLite file: overlap is skipped, failure streaks raise one sweep_failure,
 * a killed agent does not sweep, runs missed during downtime are found once, schedules are computed
 * in the policy's time zone. One test runs real node-cron for a second to show the wiring.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Database, migrate, openDatabase } from '../../../src/db/connection.js';
import { incidents, signals, sweepRuns } from '../../../src/db/schema.js';
import type { Policy } from '../../../src/policy/types.js';
import type { AgentName } from '../../../src/policy/vocabulary.js';
import { sequentialIds } from '../../../src/process/ids.js';
import type { HealthSettings } from '../../../src/signals/health/probes.js';
import { SignalStore } from '../../../src/signals/incidents/store.js';
import {
  cronScheduler,
  type MissedSweep,
  type SweepBodies,
  type SweepContext,
  Sweeps,
} from '../../../src/signals/sweeps/sweeps.js';
import { FakeScheduler } from '../../fakes/scheduler.js';
import { makePolicy, type PolicyInput } from '../../fixtures/policy.js';

const BERLIN = 'Europe/Berlin';
/** 2025-01-10 10:00 in Berlin (CET, UTC+1). */
const T0 = Date.parse('2025-01-10T09:00:00Z');
const MIN = 60_000;

function berlinPolicy(edit?: (d: PolicyInput) => void): Policy {
  return makePolicy({
    edit: (d) => {
      d.triggers.timezone = BERLIN;
      d.triggers.sweeps = { light: '*/5 * * * *', deep: '0 9 * * *', failureThreshold: 3 };
      edit?.(d);
    },
  });
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe('sweeps', () => {
  let dir = '';
  let database: Database;
  let store: SignalStore;
  let clock = T0;
  let policy: Policy;
  let killed: Set<AgentName>;
  let scheduler: FakeScheduler;
  let missed: MissedSweep[];
  let newId = sequentialIds();
  const calls: string[] = [];

  const make = (bodies: SweepBodies, extra: Partial<ConstructorParameters<typeof Sweeps>[0]> = {}) =>
    new Sweeps({
      database,
      sink: store,
      policy: () => policy,
      bodies,
      isKilled: (agent) => killed.has(agent),
      now: () => clock,
      newId,
      scheduler,
      onMissed: (m) => missed.push(m),
      ...extra,
    });
  const rows = (agent?: AgentName) =>
    database.db
      .select()
      .from(sweepRuns)
      .all()
      .filter((r) => agent === undefined || r.agent === agent)
      .sort((a, b) => a.scheduledAt - b.scheduledAt);
  const ok = (name: string) => async (ctx: SweepContext) => {
    calls.push(`${name} ${ctx.agent} ${ctx.kind} ${new Date(ctx.scheduledAt).toISOString()}`);
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'autonomy-sweeps-'));
    database = openDatabase(join(dir, 'autonomy.db'));
    migrate(database);
    clock = T0;
    store = new SignalStore(database, { now: () => clock, newId: sequentialIds() });
    policy = berlinPolicy();
    killed = new Set();
    scheduler = new FakeScheduler();
    missed = [];
    newId = sequentialIds();
    calls.length = 0;
  });
  afterEach(() => {
    database.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("schedules each enabled agent's sweeps in the policy's time zone, follows reloads, stops", async () => {
    const sweeps = make({
      sentinel: { light: ok('s') },
      guardian: { light: ok('g'), deep: ok('g') },
      builder: { deep: ok('b') },
    });
    sweeps.start();
    expect(sweeps.scheduled().sort()).toEqual([
      'builder:deep',
      'guardian:deep',
      'guardian:light',
      'sentinel:light',
    ]);
    expect(scheduler.active()).toContain(`*/5 * * * * ${BERLIN}`);
    expect(scheduler.active()).toContain(`0 9 * * * ${BERLIN}`);

    // builder disabled, the light schedule changed: builder's job stops, light jobs are rescheduled.
    policy = berlinPolicy((d) => {
      d.agents.builder.enabled = false;
      d.triggers.sweeps.light = '*/10 * * * *';
    });
    sweeps.reload();
    expect(sweeps.scheduled().sort()).toEqual(['guardian:deep', 'guardian:light', 'sentinel:light']);
    expect(scheduler.active().sort()).toEqual([
      `*/10 * * * * ${BERLIN}`,
      `*/10 * * * * ${BERLIN}`,
      `0 9 * * * ${BERLIN}`,
    ]);

    // A tick from the scheduler runs the body with the slot's time.
    const job = scheduler.jobs.find((j) => !j.stopped && j.schedule.expression === '0 9 * * *');
    job?.onTick(T0 - MIN * 60);
    await new Promise((r) => setImmediate(r));
    expect(calls).toEqual(['g guardian deep 2025-01-10T08:00:00.000Z']);

    await sweeps.stop();
    expect(scheduler.active()).toEqual([]);
    expect(await sweeps.tick('guardian', 'light')).toMatchObject({ status: 'skipped' });
  });

  it('records each run; a tick that comes while the sweep still runs is skipped with the reason', async () => {
    const gate = deferred();
    let seen: SweepContext | null = null;
    const sweeps = make({
      guardian: {
        light: async (ctx) => {
          seen = ctx;
          await gate.promise;
        },
      },
    });
    const first = sweeps.tick('guardian', 'light', T0);
    clock += 5 * MIN;
    const second = await sweeps.tick('guardian', 'light', T0 + 5 * MIN);
    expect(second).toMatchObject({
      status: 'skipped',
      reason: expect.stringMatching(/^the previous light sweep \(sweep_1, started .*\) is still running$/),
    });
    expect(sweeps.running()).toMatchObject([{ agent: 'guardian', kind: 'light', runId: 'sweep_1' }]);
    gate.resolve();
    expect(await first).toEqual({ status: 'succeeded', runId: 'sweep_1' });
    expect(seen).toMatchObject({ agent: 'guardian', kind: 'light', scheduledAt: T0, runId: 'sweep_1' });
    expect(rows().map((r) => [r.status, r.scheduledAt - T0, r.error])).toEqual([
      ['succeeded', 0, null],
      ['skipped', 5 * MIN, expect.stringContaining('still running')],
    ]);
    // The next tick after it finished runs normally.
    expect(await sweeps.tick('guardian', 'light', T0 + 10 * MIN)).toMatchObject({ status: 'succeeded' });
  });

  it('raises one sweep_failure after 3 failures in a row, and resolves it on the next success', async () => {
    // Daily at 10:00 Berlin, when the ticks below come (none missed).
    policy = berlinPolicy((d) => {
      d.triggers.sweeps.deep = '0 10 * * *';
    });
    let fail = true;
    const sweeps = make({
      validator: {
        deep: async () => {
          if (fail) throw new Error('cannot reach the CI API: 502 Bad Gateway');
        },
      },
    });
    const day = 24 * 60 * MIN;
    for (let i = 0; i < 5; i++) {
      clock = T0 + i * day;
      expect(await sweeps.tick('validator', 'deep', T0 + i * day)).toMatchObject({
        status: 'failed',
        error: 'cannot reach the CI API: 502 Bad Gateway',
      });
    }
    // Health says so from the first failure: honest before the streak raises a signal.
    expect(sweeps.health()).toEqual({
      status: 'degraded',
      detail: expect.stringContaining('validator deep failed: cannot reach the CI API: 502 Bad Gateway'),
    });
    const stored = () => database.db.select().from(signals).all();
    expect(stored()).toMatchObject([
      {
        kind: 'sweep_failure',
        source: 'sweep:validator',
        fingerprint: 'sweep:validator:deep',
        severity: 'warning',
        title: "validator's deep sweep failed 3 times in a row: cannot reach the CI API: 502 Bad Gateway",
      },
    ]);
    expect(database.db.select().from(incidents).all()).toMatchObject([{ status: 'open' }]);
    fail = false;
    clock = T0 + 5 * day;
    expect(await sweeps.tick('validator', 'deep', T0 + 5 * day)).toMatchObject({ status: 'succeeded' });
    expect(sweeps.health().status).toBe('ok');
    expect(stored()).toHaveLength(2);
    expect(database.db.select().from(incidents).all()).toMatchObject([{ status: 'resolved' }]);
  });

  it("a killed agent's sweeps do not run; the tick is recorded as skipped", async () => {
    const sweeps = make({ guardian: { light: ok('g') }, sentinel: { light: ok('s') } });
    killed.add('guardian');
    expect(await sweeps.tick('guardian', 'light', T0)).toMatchObject({
      status: 'skipped',
      reason: 'guardian is killed: its sweeps do not run until it is resumed',
    });
    expect(await sweeps.tick('sentinel', 'light', T0)).toMatchObject({ status: 'succeeded' });
    expect(calls).toEqual(['s sentinel light 2025-01-10T09:00:00.000Z']);
    expect(rows('guardian')).toMatchObject([{ status: 'skipped', startedAt: null }]);
  });

  it('finds runs missed during downtime once, at start and on a tick, in local time', async () => {
    const before = make({ guardian: { light: ok('g') } });
    before.start();
    await before.tick('guardian', 'light', T0);
    await before.tick('guardian', 'light', T0 + 5 * MIN);
    await before.stop();

    // Down from 10:07 to 10:32 Berlin time: 10:10 ... 10:30 never ran.
    clock = T0 + 32 * MIN;
    const after = make({ guardian: { light: ok('g') } });
    const found = after.start();
    expect(found).toEqual(missed);
    expect(missed).toEqual([
      {
        agent: 'guardian',
        kind: 'light',
        count: 5,
        first: T0 + 10 * MIN,
        last: T0 + 30 * MIN,
        previousAt: T0 + 5 * MIN,
        message:
          "5 of guardian's light sweeps, due from 2025-01-10 10:10 to 2025-01-10 10:30 (Europe/Berlin), did not run (the bot was not running, or was blocked)",
      },
    ]);
    expect(rows().filter((r) => r.status === 'missed')).toHaveLength(1);
    // Reported once: a second check finds nothing new.
    await after.stop();
    make({ guardian: { light: ok('g') } }).start();
    expect(missed).toHaveLength(1);

    // A tick that comes after a blocked stretch reports the slots in between.
    const ticking = make({ guardian: { light: ok('g') } });
    clock = T0 + 35 * MIN;
    await ticking.tick('guardian', 'light', T0 + 35 * MIN);
    clock = T0 + 50 * MIN;
    await ticking.tick('guardian', 'light', T0 + 50 * MIN);
    expect(missed.slice(1).map((m) => [m.count, m.first - T0, m.last - T0])).toEqual([
      [2, 40 * MIN, 45 * MIN],
    ]);
    expect(rows().map((r) => r.status)).toEqual([
      'succeeded',
      'succeeded',
      'missed',
      'succeeded',
      'missed',
      'succeeded',
    ]);
  });

  it('a long outage is reported once, as "more than 1000", up to the last slot before the restart', async () => {
    const sweeps = make({ guardian: { light: ok('g') } });
    await sweeps.tick('guardian', 'light', T0);
    clock = T0 + 5 * 24 * 60 * MIN + 2 * MIN; // five days later, 2 minutes after a slot
    const [report] = make({ guardian: { light: ok('g') } }).start();
    expect(report?.count).toBe(1000);
    expect(report?.last).toBe(clock - 2 * MIN);
    expect(report?.message).toMatch(
      /^more than 1000 of guardian's light sweeps, due from 2025-01-10 10:05 to 2025-01-15 10:00/,
    );
    clock += 3 * MIN;
    await make({ guardian: { light: ok('g') } }).tick('guardian', 'light', clock);
    expect(missed).toHaveLength(1);
  });

  it('marks a sweep a crash left running as failed (interrupted) at start', () => {
    database.db
      .insert(sweepRuns)
      .values({
        id: 'old',
        agent: 'mentor',
        kind: 'deep',
        scheduledAt: T0 - MIN,
        startedAt: T0 - MIN,
        status: 'running',
      })
      .run();
    make({}).start();
    expect(rows('mentor')).toMatchObject([
      { status: 'failed', error: expect.stringMatching(/^interrupted/) },
    ]);
  });

  it("runs the health probes in sentinel's light sweep, before sentinel's own light work", async () => {
    const order: string[] = [];
    const probes = {
      run: async (settings: HealthSettings) => {
        order.push(`probes ${settings.probes.map((p) => p.name).join(',')}`);
        return [];
      },
    };
    policy = berlinPolicy((d) => {
      d.health = {
        probes: [
          { name: 'api-health', url: 'http://127.0.0.1:9/', latencyObjective: '800ms', service: 'api' },
        ],
      };
    });
    const sweeps = make({ sentinel: { light: async () => void order.push('sentinel light') } }, { probes });
    sweeps.start();
    expect(sweeps.scheduled()).toEqual(['sentinel:light']);
    await sweeps.tick('sentinel', 'light', T0);
    expect(order).toEqual(['probes api-health', 'sentinel light']);
    // Probes alone are enough to schedule sentinel's light sweep.
    expect(make({}, { probes }).start()).toEqual([]);
  });

  it('stop() and abortAgent() abort running sweeps through their signal', async () => {
    // A body that honours its signal (checks it, then listens for it).
    const body = (ctx: SweepContext) =>
      new Promise<void>((_, reject) => {
        if (ctx.signal.aborted) reject(ctx.signal.reason);
        ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason));
      });
    const sweeps = make({ builder: { deep: body }, mentor: { deep: body } });
    const b = sweeps.tick('builder', 'deep', T0);
    const m = sweeps.tick('mentor', 'deep', T0);
    sweeps.abortAgent('builder', 'builder was killed by slack:user:U1');
    expect(await b).toMatchObject({ status: 'failed', error: 'builder was killed by slack:user:U1' });
    // A kill is no failure of the sweep: health stays ok.
    expect(sweeps.health().status).toBe('ok');
    await sweeps.stop();
    expect(await m).toMatchObject({ status: 'failed', error: 'the bot is stopping' });
  });
});

describe('the real node-cron scheduler', () => {
  it('real node-cron: ticks on schedule with the slot time, and stop() ends it', async () => {
    const ticks: number[] = [];
    const job = cronScheduler().schedule({ expression: '* * * * * *', timezone: BERLIN }, (at) =>
      ticks.push(at),
    );
    try {
      const until = Date.now() + 2500;
      while (ticks.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 25));
    } finally {
      job.stop();
    }
    expect(ticks.length).toBeGreaterThan(0);
    expect((ticks[0] as number) % 1000).toBe(0);
    const seen = ticks.length;
    await new Promise((r) => setTimeout(r, 1100));
    expect(ticks.length).toBe(seen);
  });
});
