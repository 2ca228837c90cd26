/**
 * Scheduled sweeps: each enabled agent's light and deep sweeps on the policy's cron schedules, in
 * the policy's time zone (`triggers.timezone`). Every tick is a row in `sweep_runs`:
 * - a killed agent's tick does not run: `skipped` (killed);
 * - a tick that comes while that agent's sweep of the same kind still runs: `skipped` (overlap);
 * - runs the schedule called for but that never happened (the bot was down or blocked) are found
 *   at start and on every tick, recorded once as `missed`, reported once through `onMissed` and
 *   raised as one `sweep_failure` signal (fingerprint `sweep:<agent>:<kind>:missed`, with how many
 *   runs were missed), so chat hears of it as an incident; the sweep's next success resolves it;
 * - `triggers.sweeps.failureThreshold` failures in a row raise one `sweep_failure` signal, and the
 *   next success resolves it.
 * The sweep bodies are injected per agent and kind; the health probes run in the light sweep of
 * `healthAgent` (sentinel). Timing comes from a `SweepScheduler` (node-cron in production), and a
 * test can call `tick()` directly with any scheduled time.
 */
import { and, desc, eq, inArray } from 'drizzle-orm';
import type { Database } from '../../db/connection.js';
import { type SweepKind, type SweepStatus, sweepRuns } from '../../db/schema.js';
import type { Policy } from '../../policy/types.js';
import { AGENTS, type AgentName } from '../../policy/vocabulary.js';
import type { NewId } from '../../process/ids.js';
import type { KillOrder, Service, ServiceHealth } from '../../service.js';
import { cronTimes } from '../../time/cron.js';
import { formatLocalMinute } from '../../time/zone.js';
import { type HealthSettings, healthSettings } from '../health/probes.js';
import { firingFingerprints } from '../incidents/members.js';
import type { SignalInput, SignalSink } from '../types.js';
import { cronScheduler, type SweepLog, type SweepSchedule, type SweepScheduler } from './scheduler.js';

export { cronScheduler, type SweepLog, type SweepSchedule, type SweepScheduler } from './scheduler.js';

export const SWEEP_KINDS_IN_ORDER: readonly SweepKind[] = ['light', 'deep'];

export interface SweepContext {
  readonly agent: AgentName;
  readonly kind: SweepKind;
  /** Aborted when the bot stops or the agent is killed: stop work and throw. */
  readonly signal: AbortSignal;
  readonly scheduledAt: number;
  readonly runId: string;
}

export type SweepBody = (ctx: SweepContext) => Promise<void>;
export type SweepBodies = Partial<Record<AgentName, Partial<Record<SweepKind, SweepBody>>>>;

/** Runs the schedule called for that did not happen, found on start or on a tick. */
export interface MissedSweep {
  readonly agent: AgentName;
  readonly kind: SweepKind;
  readonly count: number;
  /** The first and last slot missed. */
  readonly first: number;
  readonly last: number;
  /** The last recorded tick before them. */
  readonly previousAt: number;
  readonly message: string;
}

export type SweepOutcome =
  | { readonly status: 'succeeded'; readonly runId: string }
  | { readonly status: 'failed'; readonly runId: string; readonly error: string }
  | { readonly status: 'skipped'; readonly runId: string | null; readonly reason: string };

/** What the light sweep of `healthAgent` runs first (a HealthMonitor). */
export interface ProbeRunner {
  run(settings: HealthSettings, signal?: AbortSignal): Promise<unknown>;
}

export interface SweepsDeps {
  readonly database: Database;
  readonly sink: SignalSink;
  /** The policy in force now (read on every tick and on reload()). */
  readonly policy: () => Policy;
  readonly bodies: SweepBodies;
  readonly isKilled: (agent: AgentName) => boolean;
  readonly now: () => number;
  readonly newId: NewId;
  readonly scheduler?: SweepScheduler;
  readonly onMissed?: (missed: MissedSweep) => void;
  readonly probes?: ProbeRunner;
  /** Whose light sweep runs the probes (default sentinel). */
  readonly healthAgent?: AgentName;
  readonly log?: SweepLog;
  /** How late a tick may come before its slot counts as missed (default 30 s). */
  readonly toleranceMs?: number;
}

interface Job {
  readonly schedule: SweepSchedule;
  readonly handle: { stop(): void };
}

interface Running {
  readonly runId: string;
  readonly startedAt: number;
  readonly controller: AbortController;
  readonly done: Promise<unknown>;
}

const MAX_ERROR = 500;
/** Missed slots are counted up to this many (a long outage is "more than 1000"). */
const MISSED_COUNT_LIMIT = 1000;

export class Sweeps implements Service {
  readonly name = 'sweeps';
  readonly #jobs = new Map<string, Job>();
  readonly #running = new Map<string, Running>();
  /** Sweeps whose last run failed (not aborted by a kill or a stop), by `agent:kind`: health. */
  readonly #failing = new Map<string, string>();
  readonly #scheduler: SweepScheduler;
  readonly #tolerance: number;
  #stopped = false;

  constructor(private readonly deps: SweepsDeps) {
    this.#scheduler = deps.scheduler ?? cronScheduler(deps.log);
    this.#tolerance = deps.toleranceMs ?? 30_000;
  }

  /**
   * Marks sweeps a crash left `running` as failed, reports runs missed while the bot was down, and
   * schedules every sweep. Returns what was missed (also passed to onMissed).
   */
  start(): MissedSweep[] {
    const now = this.deps.now();
    this.deps.database.db
      .update(sweepRuns)
      .set({ status: 'failed', finishedAt: now, error: 'interrupted: the bot stopped while this sweep ran' })
      .where(eq(sweepRuns.status, 'running'))
      .run();
    const missed: MissedSweep[] = [];
    for (const { agent, kind } of this.#wanted().values()) {
      if (this.deps.isKilled(agent)) continue;
      const m = this.#checkMissed(agent, kind, now);
      if (m !== null) missed.push(m);
    }
    this.reload();
    return missed;
  }

  /** Re-reads the policy: schedules new sweeps, reschedules changed ones, stops removed ones. */
  reload(): void {
    if (this.#stopped) return;
    const wanted = this.#wanted();
    for (const [key, job] of this.#jobs) {
      const w = wanted.get(key);
      if (
        w === undefined ||
        w.expression !== job.schedule.expression ||
        w.timezone !== job.schedule.timezone
      ) {
        job.handle.stop();
        this.#jobs.delete(key);
      }
    }
    for (const [key, { agent, kind, expression, timezone }] of wanted) {
      if (this.#jobs.has(key)) continue;
      const schedule = { expression, timezone };
      const handle = this.#scheduler.schedule(schedule, (scheduledAt) => {
        this.tick(agent, kind, scheduledAt).catch((err: unknown) =>
          this.deps.log?.error({ err, agent, kind }, 'sweep tick failed'),
        );
      });
      this.#jobs.set(key, { schedule, handle });
    }
  }

  /** Which sweeps are scheduled now, as `agent:kind` keys. */
  scheduled(): string[] {
    return [...this.#jobs.keys()];
  }

  /** Which sweeps are running now, with their run ids. */
  running(): { agent: AgentName; kind: SweepKind; runId: string; startedAt: number }[] {
    return [...this.#running].map(([key, r]) => {
      const [agent, kind] = key.split(':') as [AgentName, SweepKind];
      return { agent, kind, runId: r.runId, startedAt: r.startedAt };
    });
  }

  /** What a cron tick does: check for missed runs, then run the sweep unless killed or still running. */
  async tick(
    agent: AgentName,
    kind: SweepKind,
    scheduledAt: number = this.deps.now(),
  ): Promise<SweepOutcome> {
    const key = `${agent}:${kind}`;
    if (this.#stopped) return { status: 'skipped', runId: null, reason: 'the sweeps are stopped' };
    const body = this.#body(agent, kind);
    if (body === null) return { status: 'skipped', runId: null, reason: `${agent} has no ${kind} sweep` };
    if (this.deps.isKilled(agent)) {
      const reason = `${agent} is killed: its sweeps do not run until it is resumed`;
      return { status: 'skipped', runId: this.#record(agent, kind, scheduledAt, 'skipped', reason), reason };
    }
    this.#checkMissed(agent, kind, scheduledAt);
    const busy = this.#running.get(key);
    if (busy !== undefined) {
      const reason = `the previous ${kind} sweep (${busy.runId}, started ${new Date(busy.startedAt).toISOString()}) is still running`;
      this.deps.log?.warn({ agent, kind, runId: busy.runId }, `${agent} ${kind} sweep skipped: ${reason}`);
      return { status: 'skipped', runId: this.#record(agent, kind, scheduledAt, 'skipped', reason), reason };
    }

    const runId = this.deps.newId('sweep');
    const startedAt = this.deps.now();
    this.deps.database.db
      .insert(sweepRuns)
      .values({ id: runId, agent, kind, scheduledAt, startedAt, status: 'running' })
      .run();
    const controller = new AbortController();
    let done: Promise<void>;
    try {
      done = body({ agent, kind, signal: controller.signal, scheduledAt, runId });
    } catch (err) {
      done = Promise.reject(err); // a body that throws before its first await still finishes its row
    }
    this.#running.set(key, { runId, startedAt, controller, done });
    let error: string | null = null;
    try {
      await done;
    } catch (err) {
      error = describeError(err);
    } finally {
      this.#running.delete(key);
    }
    this.deps.database.db
      .update(sweepRuns)
      .set({ status: error === null ? 'succeeded' : 'failed', finishedAt: this.deps.now(), error })
      .where(eq(sweepRuns.id, runId))
      .run();
    if (error !== null) this.deps.log?.warn({ agent, kind, runId, error }, `${agent} ${kind} sweep failed`);
    if (error === null) this.#failing.delete(key);
    else if (!controller.signal.aborted) this.#failing.set(key, error);
    this.#afterRun(agent, kind, runId, error);
    return error === null ? { status: 'succeeded', runId } : { status: 'failed', runId, error };
  }

  /** Aborts an agent's running sweeps (it was killed); they end as failed with the reason. */
  abortAgent(agent: AgentName, reason: string): void {
    for (const kind of SWEEP_KINDS_IN_ORDER) {
      this.#running.get(`${agent}:${kind}`)?.controller.abort(new Error(reason));
    }
  }

  /** The kill switch: the target's running sweeps end at once (its schedules skip while killed). */
  onKill(order: KillOrder): undefined {
    for (const agent of order.target === 'all' ? AGENTS : [order.target]) {
      this.abortAgent(agent, `${agent} was killed`);
    }
    return undefined;
  }

  onPolicyChange(): void {
    this.reload();
  }

  /** Degraded, with the error, while the last run of any sweep failed (until it succeeds again). */
  health(): ServiceHealth {
    const detail = `${this.scheduled().length} sweep schedule(s)`;
    if (this.#failing.size === 0) return { status: 'ok', detail };
    const failing = [...this.#failing].map(([key, error]) => `${key.replace(':', ' ')} failed: ${error}`);
    return { status: 'degraded', detail: `${detail}; ${failing.join('; ')}` };
  }

  /**
   * Stops every schedule and aborts running sweeps; waits for them to end until `deadline` (epoch
   * ms; default 5 s from now).
   */
  async stop(deadline?: number): Promise<void> {
    const graceMs = deadline === undefined ? 5000 : Math.max(0, deadline - Date.now());
    this.#stopped = true;
    for (const job of this.#jobs.values()) job.handle.stop();
    this.#jobs.clear();
    const running = [...this.#running.values()];
    for (const r of running) r.controller.abort(new Error('the bot is stopping'));
    if (running.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
      timer.unref();
    });
    await Promise.race([Promise.allSettled(running.map((r) => r.done)), grace]);
    clearTimeout(timer);
  }

  // -------------------------------------------------------------------------------------------

  #body(agent: AgentName, kind: SweepKind): SweepBody | null {
    const policy = this.deps.policy();
    if (!policy.enabledAgents.has(agent)) return null;
    const own = this.deps.bodies[agent]?.[kind];
    const probes = this.deps.probes;
    const health = healthSettings(policy);
    const runsProbes =
      probes !== undefined &&
      kind === 'light' &&
      agent === (this.deps.healthAgent ?? 'sentinel') &&
      health.probes.length > 0;
    if (!runsProbes) return own ?? null;
    return async (ctx) => {
      await probes.run(health, ctx.signal);
      if (own) await own(ctx);
    };
  }

  /** Every sweep that should be scheduled under the policy in force. */
  #wanted(): Map<string, { agent: AgentName; kind: SweepKind; expression: string; timezone: string }> {
    const policy = this.deps.policy();
    const { sweeps, timezone } = policy.doc.triggers;
    const wanted = new Map<
      string,
      { agent: AgentName; kind: SweepKind; expression: string; timezone: string }
    >();
    for (const agent of policy.enabledAgents) {
      for (const kind of SWEEP_KINDS_IN_ORDER) {
        if (this.#body(agent, kind) === null) continue;
        wanted.set(`${agent}:${kind}`, { agent, kind, expression: sweeps[kind], timezone });
      }
    }
    return wanted;
  }

  #record(
    agent: AgentName,
    kind: SweepKind,
    scheduledAt: number,
    status: SweepStatus,
    error: string,
  ): string {
    const id = this.deps.newId('sweep');
    const at = this.deps.now();
    this.deps.database.db
      .insert(sweepRuns)
      .values({ id, agent, kind, scheduledAt, startedAt: null, finishedAt: at, status, error })
      .run();
    return id;
  }

  /**
   * Slots after the last recorded tick and before `until` (less the tolerance) with no row: recorded
   * as one `missed` row (at the last missed slot, so they are reported once) and passed to onMissed.
   */
  #checkMissed(agent: AgentName, kind: SweepKind, until: number): MissedSweep | null {
    const last = this.deps.database.db
      .select({ scheduledAt: sweepRuns.scheduledAt })
      .from(sweepRuns)
      .where(and(eq(sweepRuns.agent, agent), eq(sweepRuns.kind, kind)))
      .orderBy(desc(sweepRuns.scheduledAt))
      .limit(1)
      .get();
    if (last === undefined) return null; // never ran: nothing was expected yet
    const { sweeps, timezone } = this.deps.policy().doc.triggers;
    const times = cronTimes(sweeps[kind], timezone);
    const slots = times.between(last.scheduledAt, until - this.#tolerance, MISSED_COUNT_LIMIT);
    if (slots.length === 0) return null;
    const first = slots[0] as number;
    // Past the counting limit, the last missed slot is found directly, so the report stays single.
    const capped = slots.length >= MISSED_COUNT_LIMIT;
    const lastSlot = capped ? (times.previous(until - this.#tolerance) ?? first) : (slots.at(-1) as number);
    const count = slots.length;
    const local = (t: number) => formatLocalMinute(t, timezone);
    const message =
      count === 1
        ? `${agent}'s ${kind} sweep due at ${local(first)} (${timezone}) did not run (the bot was not running, or was blocked)`
        : `${capped ? 'more than ' : ''}${count} of ${agent}'s ${kind} sweeps, due from ${local(first)} to ${local(lastSlot)} (${timezone}), did not run (the bot was not running, or was blocked)`;
    this.#record(agent, kind, lastSlot, 'missed', message);
    const missed: MissedSweep = {
      agent,
      kind,
      count,
      first,
      last: lastSlot,
      previousAt: last.scheduledAt,
      message,
    };
    this.deps.log?.warn({ agent, kind, count }, message);
    this.deps.sink.ingest([
      {
        kind: 'sweep_failure',
        source: `sweep:${agent}`,
        dedupeKey: `sweep:${agent}:${kind}:missed:${lastSlot}`,
        fingerprint: missedFingerprint(agent, kind),
        service: null,
        title: message,
        severity: 'warning',
        occurredAt: this.deps.now(),
        payload: { agent, kind, missed: count, capped, first, last: lastSlot, previousAt: last.scheduledAt },
      },
    ]);
    this.deps.onMissed?.(missed);
    return missed;
  }

  /** Failure streaks: the threshold-th failure in a row raises a signal; the next success resolves it. */
  #afterRun(agent: AgentName, kind: SweepKind, runId: string, error: string | null): void {
    const threshold = this.deps.policy().doc.triggers.sweeps.failureThreshold;
    const rows = this.deps.database.db
      .select({ status: sweepRuns.status, error: sweepRuns.error })
      .from(sweepRuns)
      .where(
        and(
          eq(sweepRuns.agent, agent),
          eq(sweepRuns.kind, kind),
          inArray(sweepRuns.status, ['succeeded', 'failed']),
        ),
      )
      .orderBy(desc(sweepRuns.scheduledAt), desc(sweepRuns.startedAt))
      .limit(threshold + 1)
      .all();
    const streak = (from: number): number => {
      let n = 0;
      for (let i = from; i < rows.length && rows[i]?.status === 'failed'; i++) n++;
      return n;
    };
    const base = {
      kind: 'sweep_failure' as const,
      source: `sweep:${agent}`,
      dedupeKey: `sweep:${agent}:${kind}:${runId}`,
      fingerprint: `sweep:${agent}:${kind}`,
      service: null,
    };
    let signal: SignalInput | null = null;
    if (error !== null && streak(0) === threshold) {
      signal = {
        ...base,
        title: `${agent}'s ${kind} sweep failed ${threshold} times in a row: ${error.slice(0, 200)}`,
        severity: 'warning',
        occurredAt: this.deps.now(),
        payload: { agent, kind, failures: threshold, lastError: error, runId },
      };
    } else if (error === null && streak(1) >= threshold) {
      signal = {
        ...base,
        title: `${agent}'s ${kind} sweep succeeded again`,
        severity: 'info',
        occurredAt: this.deps.now(),
        payload: { agent, kind, runId },
        resolves: true,
      };
    }
    if (error === null && firingFingerprints(this.deps.database, missedFingerprint(agent, kind)).length > 0) {
      const at = this.deps.now();
      const timezone = this.deps.policy().doc.triggers.timezone;
      this.deps.sink.ingest([
        {
          ...base,
          dedupeKey: `sweep:${agent}:${kind}:missed:resolved:${runId}`,
          fingerprint: missedFingerprint(agent, kind),
          title: `${agent}'s ${kind} sweep runs again: it ran at ${formatLocalMinute(at, timezone)} (${timezone})`,
          severity: 'info',
          occurredAt: at,
          payload: { agent, kind, runId },
          resolves: true,
        },
      ]);
    }
    if (signal !== null) this.deps.sink.ingest([signal]);
  }
}

/** The fingerprint of "runs of this sweep were missed" (firing until the sweep runs again). */
function missedFingerprint(agent: AgentName, kind: SweepKind): string {
  return `sweep:${agent}:${kind}:missed`;
}

function describeError(err: unknown): string {
  const text = err instanceof Error ? err.message || err.name : String(err);
  return text.length > MAX_ERROR ? `${text.slice(0, MAX_ERROR - 1)}…` : text;
}
