/**
 * The weekly metrics, computed from stored timestamps only (so they can be recomputed for any past
 * week). Definitions, for a week [from, to) in the digest's time zone:
 *
 * - Incidents of the week: incidents with `detected_at` in the week.
 * - Detected early: of those, the ones the bot detected before any human acknowledged them
 *   (`acknowledged_at` null or later than `detected_at`) and that no human reported. A human
 *   report is an incident whose first signal (earliest `received_at`) came from chat (source
 *   `chat`) or is a generic event of kind `event` posted to /hooks/events (source `events`): see
 *   `isHumanReport()`. Share = early / incidents of the week; null (n/a) without incidents.
 * - MTTD: `detected_at - started_at` of the incidents of the week; MTTR: `resolved_at - started_at`
 *   of incidents with `resolved_at` in the week. Both as median and p90, nearest rank (percentile.ts).
 * - Low-risk auto-resolved: low-risk = effective tier 1 or 2 (actions that change something but
 *   need no approval; tier 0 only reads, tier 3 needs a human). Share = proposals of tier 1-2
 *   decided in the week whose run (`proposals.run_id`) succeeded / all tier 1-2 proposals decided in
 *   the week (denied ones included: a cooldown or bad params is a proposal the bot did not resolve).
 * - Per resolved incident: all model tokens (prompt + completion, `model_usage.at` in the week) and
 *   all executor wall time (`runs.wall_ms` of action runs started in the week), each divided by the
 *   incidents resolved in the week; null without resolved incidents.
 * - Skills promoted: skills with `promoted_at` in the week.
 * - Approvals: decided in the week (`approvals.decided_at`, which an expiry sets to `expires_at`):
 *   given = approved and everything after it (executing, succeeded, failed, interrupted), denied,
 *   expired; void ones are not counted.
 * - Top recurring signatures: signals of kind `error_signature` received in the week, grouped by
 *   fingerprint, most first (ties by fingerprint).
 * - Budget use per agent: model tokens and calls in the week, against the daily budget times the
 *   week's 7 days when budgets are given.
 */
import { and, asc, count, desc, eq, gte, inArray, isNotNull, lt, sql } from 'drizzle-orm';
import type { Database } from '../db/connection.js';
import { approvals, incidents, modelUsage, proposals, runs, signals, skills } from '../db/schema.js';
import type { Millis } from '../policy/types.js';
import { AGENTS, type AgentName } from '../policy/vocabulary.js';
import { FIRST_SIGNAL, firstSignal } from '../signals/incidents/members.js';
import { type DurationStats, durationStats } from './percentile.js';

export interface WeeklyOptions {
  /** Monday 00:00 local, inclusive (see week.ts). */
  readonly from: Millis;
  /** The next Monday 00:00 local, exclusive. */
  readonly to: Millis;
  readonly timezone: string;
  /** Daily token budget per agent (the policy's budgets.perAgent / budgets.agents), if known. */
  readonly dailyBudgets?: Partial<Record<AgentName, number>>;
  /** How many recurring signatures to list (default 5). */
  readonly topSignatures?: number;
}

export interface SignatureCount {
  readonly fingerprint: string;
  readonly title: string | null;
  readonly count: number;
}

export interface AgentBudgetUse {
  readonly agent: AgentName;
  readonly tokens: number;
  readonly calls: number;
  /** Daily budget x 7, or null when no budget was given. */
  readonly budget: number | null;
  /** tokens / budget, or null (no budget, or a budget of 0). */
  readonly share: number | null;
}

export interface WeeklyMetrics {
  readonly from: Millis;
  readonly to: Millis;
  readonly timezone: string;
  readonly incidents: number;
  readonly resolved: number;
  readonly detectedEarly: number;
  /** detectedEarly / incidents, or null. */
  readonly detectedEarlyShare: number | null;
  readonly mttd: DurationStats;
  readonly mttr: DurationStats;
  readonly lowRisk: {
    readonly proposals: number;
    readonly autoResolved: number;
    readonly share: number | null;
  };
  readonly tokens: number;
  readonly executorMs: number;
  readonly tokensPerResolved: number | null;
  readonly executorMsPerResolved: number | null;
  readonly skillsPromoted: number;
  readonly skillTitles: readonly string[];
  readonly approvals: { readonly given: number; readonly denied: number; readonly expired: number };
  readonly topSignatures: readonly SignatureCount[];
  readonly budgets: readonly AgentBudgetUse[];
}

const GIVEN = new Set(['approved', 'executing', 'succeeded', 'failed', 'interrupted']);

/** A human reported it: the incident's first signal came from chat, or is a generic `event`. */
export function isHumanReport(first: { readonly source: string; readonly kind: string }): boolean {
  return first.source === 'chat' || (first.source === 'events' && first.kind === 'event');
}

function ratio(part: number, whole: number): number | null {
  return whole > 0 ? part / whole : null;
}

/** The metrics of one week. Read-only; an empty database gives zeros and nulls, never NaN. */
export function weeklyMetrics(database: Database, options: WeeklyOptions): WeeklyMetrics {
  const { from, to, timezone } = options;
  if (!(Number.isFinite(from) && Number.isFinite(to) && from < to)) {
    throw new RangeError(`weekly metrics need from < to (epoch ms), got from=${from} to=${to}`);
  }
  const db = database.db;
  // Each incident's first signal in the same read (members.ts FIRST_SIGNAL): a busy week holds
  // thousands of incidents, and a storm's incident thousands of signals, none read one by one.
  const detected = db
    .select({
      startedAt: incidents.startedAt,
      detectedAt: incidents.detectedAt,
      acknowledgedAt: incidents.acknowledgedAt,
      first: { source: firstSignal.source, kind: firstSignal.kind },
    })
    .from(incidents)
    .leftJoin(firstSignal, FIRST_SIGNAL)
    .where(and(gte(incidents.detectedAt, from), lt(incidents.detectedAt, to)))
    .all();
  const resolvedRows = db
    .select({ startedAt: incidents.startedAt, resolvedAt: incidents.resolvedAt })
    .from(incidents)
    .where(
      and(isNotNull(incidents.resolvedAt), gte(incidents.resolvedAt, from), lt(incidents.resolvedAt, to)),
    )
    .all();

  const early = detected.filter((i) => {
    if (i.first !== null && isHumanReport(i.first)) return false;
    return i.acknowledgedAt === null || i.acknowledgedAt > i.detectedAt;
  }).length;

  const lowRiskRows = db
    .select({ tier: proposals.tier, runStatus: runs.status })
    .from(proposals)
    .leftJoin(runs, eq(proposals.runId, runs.id))
    .where(and(gte(proposals.decidedAt, from), lt(proposals.decidedAt, to), inArray(proposals.tier, [1, 2])))
    .all();
  const autoResolved = lowRiskRows.filter((p) => p.runStatus === 'succeeded').length;

  // Summed by SQLite: a week holds tens of thousands of model calls.
  const usage = db
    .select({
      agent: modelUsage.agent,
      calls: count(),
      tokens: sql<number>`coalesce(sum(${modelUsage.promptTokens} + ${modelUsage.completionTokens}), 0)`,
    })
    .from(modelUsage)
    .where(and(gte(modelUsage.at, from), lt(modelUsage.at, to)))
    .groupBy(modelUsage.agent)
    .all();
  const tokens = usage.reduce((s, u) => s + u.tokens, 0);
  const executorMs = Number(
    db
      .select({ ms: sql<number>`coalesce(sum(${runs.wallMs}), 0)` })
      .from(runs)
      .where(and(gte(runs.startedAt, from), lt(runs.startedAt, to), isNotNull(runs.actionId)))
      .get()?.ms ?? 0,
  );

  const promoted = db
    .select()
    .from(skills)
    .where(and(isNotNull(skills.promotedAt), gte(skills.promotedAt, from), lt(skills.promotedAt, to)))
    .all()
    .sort((a, b) => (a.promotedAt ?? 0) - (b.promotedAt ?? 0));

  const decidedApprovals = db
    .select({ state: approvals.state })
    .from(approvals)
    .where(and(isNotNull(approvals.decidedAt), gte(approvals.decidedAt, from), lt(approvals.decidedAt, to)))
    .all();

  // Counted by SQLite (a storm week holds millions of signals); then each top one's latest title.
  const inWeek = and(
    eq(signals.kind, 'error_signature'),
    gte(signals.receivedAt, from),
    lt(signals.receivedAt, to),
  );
  const counted = count();
  const topSignatures = db
    .select({ fingerprint: signals.fingerprint, count: counted })
    .from(signals)
    .where(inWeek)
    .groupBy(signals.fingerprint)
    .orderBy(desc(counted), asc(signals.fingerprint))
    .limit(options.topSignatures ?? 5)
    .all()
    .map(({ fingerprint, count: n }) => {
      const latest = db
        .select({ title: signals.title })
        .from(signals)
        .where(and(inWeek, eq(signals.fingerprint, fingerprint), isNotNull(signals.title)))
        .orderBy(desc(signals.receivedAt), desc(signals.id))
        .limit(1)
        .get();
      return { fingerprint, title: latest?.title ?? null, count: n };
    });

  const budgets = AGENTS.map((agent): AgentBudgetUse => {
    const mine = usage.find((u) => u.agent === agent);
    const used = mine?.tokens ?? 0;
    const daily = options.dailyBudgets?.[agent];
    const budget = daily === undefined ? null : daily * 7;
    return {
      agent,
      tokens: used,
      calls: mine?.calls ?? 0,
      budget,
      share: budget === null ? null : ratio(used, budget),
    };
  });

  const resolved = resolvedRows.length;
  return {
    from,
    to,
    timezone,
    incidents: detected.length,
    resolved,
    detectedEarly: early,
    detectedEarlyShare: ratio(early, detected.length),
    mttd: durationStats(detected.map((i) => i.detectedAt - i.startedAt)),
    mttr: durationStats(resolvedRows.map((i) => (i.resolvedAt ?? i.startedAt) - i.startedAt)),
    lowRisk: { proposals: lowRiskRows.length, autoResolved, share: ratio(autoResolved, lowRiskRows.length) },
    tokens,
    executorMs,
    tokensPerResolved: ratio(tokens, resolved),
    executorMsPerResolved: ratio(executorMs, resolved),
    skillsPromoted: promoted.length,
    skillTitles: promoted.map((s) => s.title ?? s.patternKey),
    approvals: {
      given: decidedApprovals.filter((a) => GIVEN.has(a.state)).length,
      denied: decidedApprovals.filter((a) => a.state === 'denied').length,
      expired: decidedApprovals.filter((a) => a.state === 'expired').length,
    },
    topSignatures,
    budgets,
  };
}
