/**
 * The bot's three calendar jobs, each on a cron schedule in a time zone (node-cron through
 * SweepScheduler, so tests fire ticks by hand):
 *
 * - digest: `metrics.digest.schedule` in `metrics.digest.timezone`: the weekly digest (digest.ts)
 *   to the policy's digest channels and every subscribed channel;
 * - review: `evidence.review.cadence` in `triggers.timezone`: the review post (review.ts) to the
 *   review channels;
 * - retention: daily at 03:30 in `triggers.timezone`: purgeExpired() (retention.ts) with the
 *   policy's `evidence.retention`.
 *
 * Posts go through the outbox with one dedupe key per (week or slot, channel), so a double tick,
 * a restart or a catch-up posts each once. Missed while the bot was down: start() posts the digest
 * and the review of the latest slot that passed, if the bot already existed then (its first
 * policy version was loaded before the slot) and they were not posted yet, and runs the retention
 * purge once. Only the latest slot: a bot down for three weeks posts last week's digest, not three.
 */
import { asc } from 'drizzle-orm';
import type { AuditLog } from '../audit/log.js';
import type { ChatMessage } from '../chat/message.js';
import type { EnqueueOptions, EnqueueResult } from '../chat/outbox.js';
import { digestChannels, reviewChannels } from '../chat/routing.js';
import type { Database } from '../db/connection.js';
import { policyVersions } from '../db/schema.js';
import type { Millis, Policy } from '../policy/types.js';
import type { Clock } from '../process/ids.js';
import type { Service, ServiceHealth } from '../service.js';
import {
  cronScheduler,
  type SweepLog,
  type SweepSchedule,
  type SweepScheduler,
} from '../signals/sweeps/scheduler.js';
import { cronTimes } from '../time/cron.js';
import { lastCompleteWeek, localDateLabel } from '../time/zone.js';
import { buildDigest, digestDedupeKey } from './digest.js';
import { purgeExpired, type RetentionResult } from './retention.js';
import { buildReview, reviewDedupeKey } from './review.js';

/** When the retention purge runs, in `triggers.timezone`. */
export const RETENTION_SCHEDULE = '30 3 * * *';

export type JobName = 'digest' | 'review' | 'retention';

export interface SchedulesDeps {
  readonly database: Database;
  readonly audit: AuditLog;
  readonly outbox: {
    enqueue(channel: string, message: ChatMessage, options: EnqueueOptions): EnqueueResult;
    byKey(dedupeKey: string): unknown;
  };
  /** Channels subscribed to the digest (`/autonomy subscribe`). */
  readonly subscriptions: { list(): string[] };
  /** The policy in force now (read on every tick and on reload()). */
  readonly policy: () => Policy;
  readonly now: Clock;
  /** The data folder: digest charts go to `<dataDir>/digests/`. */
  readonly dataDir: string;
  /** AUTONOMY_PUBLIC_URL: the console link in the review. */
  readonly publicUrl: string | null;
  /** Default: node-cron. */
  readonly scheduler?: SweepScheduler;
  readonly log?: SweepLog;
  /** Wakes the outbox worker after posts were queued. */
  readonly onQueued?: () => void;
}

/** What a digest or review tick queued. */
export interface PostOutcome {
  /** The week (`2026-03-23`) or slot (ISO time) it was for. */
  readonly period: string;
  /** Channels it was queued for now (not already there under the same key). */
  readonly queued: readonly string[];
  /** Channels that already had it (a double tick, a restart). */
  readonly already: readonly string[];
  readonly warnings: readonly string[];
}

export interface StartReport {
  readonly digest: PostOutcome | null;
  readonly review: PostOutcome | null;
  readonly retention: RetentionResult | null;
}

interface Job {
  readonly schedule: SweepSchedule;
  readonly handle: { stop(): void };
}

export class Schedules implements Service {
  readonly name = 'schedules';
  readonly #jobs = new Map<JobName, Job>();
  readonly #scheduler: SweepScheduler;
  readonly #inFlight = new Set<Promise<unknown>>();
  #stopped = false;

  constructor(private readonly deps: SchedulesDeps) {
    this.#scheduler = deps.scheduler ?? cronScheduler(deps.log);
  }

  /** Catches up on what was missed while the bot was down, then schedules the jobs. */
  async start(): Promise<StartReport> {
    this.reload();
    const t = this.deps.now();
    const since = this.#firstStart();
    const missed = (job: JobName): number | null => {
      const s = this.#wanted().get(job);
      if (s === undefined || since === null) return null;
      const slot = safe(() => cronTimes(s.expression, s.timezone).previous(t)) ?? null;
      return slot !== null && slot >= since ? slot : null;
    };
    const attempt = async <T>(job: JobName, fn: () => T | Promise<T>): Promise<T | null> => {
      try {
        return await this.#track(Promise.resolve().then(fn));
      } catch (err) {
        this.deps.log?.error({ err, job }, `the ${job} job failed at start; it runs again on its schedule`);
        return null;
      }
    };
    const digestSlot = missed('digest');
    const reviewSlot = missed('review');
    const report: StartReport = {
      digest:
        digestSlot === null
          ? null
          : await attempt('digest', () => this.digestTick(digestSlot, { onlyIfMissing: true })),
      review:
        reviewSlot === null
          ? null
          : await attempt('review', () => this.reviewTick(reviewSlot, { onlyIfMissing: true })),
      retention: await attempt('retention', () => this.retentionTick(t)),
    };
    for (const [job, r] of [
      ['digest', report.digest],
      ['review', report.review],
    ] as const) {
      if (r !== null && r.queued.length > 0) {
        this.deps.log?.info(
          { job, period: r.period, channels: r.queued },
          `the ${job} due while the bot was down was posted now`,
        );
      }
    }
    return report;
  }

  /** Re-reads the policy: reschedules what changed (call it when the policy changes). */
  reload(): void {
    if (this.#stopped) return;
    const wanted = this.#wanted();
    for (const [name, job] of this.#jobs) {
      const w = wanted.get(name);
      if (
        w === undefined ||
        w.expression !== job.schedule.expression ||
        w.timezone !== job.schedule.timezone
      ) {
        job.handle.stop();
        this.#jobs.delete(name);
      }
    }
    for (const [name, schedule] of wanted) {
      if (this.#jobs.has(name)) continue;
      try {
        const handle = this.#scheduler.schedule(schedule, (slot) => this.#fire(name, slot));
        this.#jobs.set(name, { schedule, handle });
      } catch (err) {
        this.deps.log?.error(
          { err, job: name, expression: schedule.expression, timezone: schedule.timezone },
          `the ${name} schedule could not be set; it does not run until the policy is fixed`,
        );
      }
    }
  }

  /** What is scheduled now: `name expression timezone`. */
  scheduled(): string[] {
    return [...this.#jobs].map(([name, j]) => `${name} ${j.schedule.expression} ${j.schedule.timezone}`);
  }

  /**
   * The digest of the last complete week before `slot`, queued for every digest channel once.
   * `onlyIfMissing`: draw nothing when every channel already has it (the catch-up at start).
   */
  async digestTick(
    slot: Millis = this.deps.now(),
    options: { onlyIfMissing?: boolean } = {},
  ): Promise<PostOutcome> {
    const policy = this.deps.policy();
    const tz = policy.doc.metrics.digest.timezone;
    const weekStart = localDateLabel(lastCompleteWeek(slot, tz).from, tz);
    const channels = digestChannels(policy, this.deps.subscriptions.list());
    const missing = channels.filter((c) => this.deps.outbox.byKey(digestDedupeKey(weekStart, c)) === null);
    if (this.#stopped || (options.onlyIfMissing && missing.length === 0) || channels.length === 0) {
      return { period: weekStart, queued: [], already: channels, warnings: [] };
    }
    const digest = await buildDigest({
      database: this.deps.database,
      policy,
      now: slot,
      dataDir: this.deps.dataDir,
    });
    for (const w of digest.warnings) this.deps.log?.warn({ week: digest.weekStart }, w);
    if (this.#stopped)
      return { period: digest.weekStart, queued: [], already: [], warnings: digest.warnings };
    return {
      ...this.#post(channels, digest.message, (c) => digestDedupeKey(digest.weekStart, c), digest.weekStart),
      warnings: digest.warnings,
    };
  }

  /** The review of the period that ends at `slot`, queued for every review channel once. */
  async reviewTick(
    slot: Millis = this.deps.now(),
    options: { onlyIfMissing?: boolean } = {},
  ): Promise<PostOutcome> {
    const policy = this.deps.policy();
    const channels = reviewChannels(policy);
    const period = new Date(slot).toISOString();
    const missing = channels.filter((c) => this.deps.outbox.byKey(reviewDedupeKey(slot, c)) === null);
    if (this.#stopped || (options.onlyIfMissing && missing.length === 0)) {
      return { period, queued: [], already: channels, warnings: [] };
    }
    const review = buildReview(this.deps.database, policy, slot, { publicUrl: this.deps.publicUrl });
    return { ...this.#post(channels, review.message, (c) => reviewDedupeKey(slot, c), period), warnings: [] };
  }

  /** Purges what is older than the policy's retention (measured from `at`). */
  retentionTick(at: Millis = this.deps.now()): RetentionResult | null {
    if (this.#stopped) return null;
    const policy = this.deps.policy();
    const result = purgeExpired({
      database: this.deps.database,
      audit: this.deps.audit,
      before: at - policy.retentionMs,
      now: this.deps.now(),
      dataDir: this.deps.dataDir,
    });
    if (result.runs + result.proposals + result.signals + result.audit.purged > 0) {
      this.deps.log?.info(
        {
          before: new Date(result.before).toISOString(),
          runs: result.runs,
          proposals: result.proposals,
          approvals: result.approvals,
          signals: result.signals,
          auditRecords: result.audit.purged,
        },
        'retention: expired runs and evidence purged; the audit chain keeps a checkpoint',
      );
    }
    return result;
  }

  /** Resolves when every tick in progress has finished. */
  async settled(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  onPolicyChange(): void {
    this.reload();
  }

  health(): ServiceHealth {
    return { status: 'ok', detail: `${this.scheduled().length} calendar job(s)` };
  }

  /** Stops the schedules and waits for ticks in progress (so the database is not closed under them). */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const job of this.#jobs.values()) job.handle.stop();
    this.#jobs.clear();
    await this.settled();
  }

  #fire(name: JobName, slot: number): void {
    if (this.#stopped) return;
    const run = async () => {
      if (name === 'digest') return this.digestTick(slot);
      if (name === 'review') return this.reviewTick(slot);
      return this.retentionTick(slot);
    };
    void this.#track(run()).catch((err: unknown) =>
      this.deps.log?.error({ err, job: name, slot: new Date(slot).toISOString() }, `the ${name} job failed`),
    );
  }

  #track<T>(p: Promise<T>): Promise<T> {
    this.#inFlight.add(p);
    const done = () => this.#inFlight.delete(p);
    p.then(done, done);
    return p;
  }

  #post(
    channels: readonly string[],
    msg: ChatMessage,
    key: (channel: string) => string,
    period: string,
  ): Omit<PostOutcome, 'warnings'> {
    const queued: string[] = [];
    const already: string[] = [];
    for (const channel of channels) {
      try {
        const r = this.deps.outbox.enqueue(channel, msg, { dedupeKey: key(channel) });
        (r.created ? queued : already).push(channel);
      } catch (err) {
        this.deps.log?.error({ err, channel }, `could not queue the post for ${channel}`);
      }
    }
    if (queued.length > 0) this.deps.onQueued?.();
    return { period, queued, already };
  }

  #wanted(): Map<JobName, SweepSchedule> {
    const doc = this.deps.policy().doc;
    return new Map<JobName, SweepSchedule>([
      ['digest', { expression: doc.metrics.digest.schedule, timezone: doc.metrics.digest.timezone }],
      ['review', { expression: doc.evidence.review.cadence, timezone: doc.triggers.timezone }],
      ['retention', { expression: RETENTION_SCHEDULE, timezone: doc.triggers.timezone }],
    ]);
  }

  /** When the bot first ran on this database (its first policy version), or null. */
  #firstStart(): Millis | null {
    const row = this.deps.database.db
      .select({ at: policyVersions.loadedAt })
      .from(policyVersions)
      .orderBy(asc(policyVersions.loadedAt))
      .limit(1)
      .get();
    return row?.at ?? null;
  }
}

function safe<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch {
    return undefined;
  }
}
