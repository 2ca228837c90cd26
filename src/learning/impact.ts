/**
 * A promoted skill's impact: did its pattern come back less often, or get resolved faster, after
 * the skill was promoted?
 *
 * With W = the policy's `learning.validationWindow` and P = when the skill was promoted:
 * - before = incidents of the pattern detected in [P - W, P), after = detected in [P, P + W);
 * - recurrence = incidents per week in the window (count x 7 days / W);
 * - MTTR = the median (nearest rank, as the weekly digest) of `resolved_at - started_at` of the
 *   window's incidents that are resolved; null when none is.
 * Verdict: `insufficient` when neither window has an incident (nothing to compare: "not enough
 * data yet"); `improved` when at least one of recurrence and MTTR is lower after and neither is
 * higher; otherwise `not-improved` (the mentor then proposes a rollback with these numbers). An
 * MTTR that is null on either side counts as neither better nor worse.
 */
import type { Database } from '../db/connection.js';
import { percentile } from '../metrics/percentile.js';
import { incidentsOfPattern, type PatternMember, patternMemberOf } from './patterns.js';

const WEEK_MS = 7 * 24 * 3_600_000;

export interface WindowStats {
  readonly from: number;
  readonly to: number;
  readonly incidents: number;
  readonly resolved: number;
  /** Incidents per week. */
  readonly perWeek: number;
  /** Median time to resolve in ms, or null when no incident of the window is resolved. */
  readonly mttrMs: number | null;
}

export type ImpactVerdict = 'improved' | 'not-improved' | 'insufficient';

export interface Impact {
  readonly before: WindowStats;
  readonly after: WindowStats;
  readonly verdict: ImpactVerdict;
  /** One line: "recurrence 5/wk → 1/wk, MTTR 40m → 12m". */
  readonly summary: string;
}

function windowStats(
  database: Database,
  key: string,
  from: number,
  to: number,
  windowMs: number,
  member: PatternMember | undefined,
): WindowStats {
  const list = incidentsOfPattern(database, key, from, to, member);
  const durations = list
    .filter((i) => i.resolvedAt !== null)
    .map((i) => (i.resolvedAt as number) - i.startedAt);
  return {
    from,
    to,
    incidents: list.length,
    resolved: durations.length,
    perWeek: windowMs > 0 ? (list.length * WEEK_MS) / windowMs : 0,
    mttrMs: percentile(durations, 50),
  };
}

/** A duration for people: 45s, 12m, 3h20m, 2d4h. */
export function shortDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`;
  const d = Math.floor(h / 24);
  return h % 24 === 0 ? `${d}d` : `${d}d${h % 24}h`;
}

function rate(perWeek: number): string {
  const rounded = perWeek >= 10 ? Math.round(perWeek) : Math.round(perWeek * 10) / 10;
  return `${rounded}/wk`;
}

export function impactSummary(before: WindowStats, after: WindowStats): string {
  const mttr = (s: WindowStats) => (s.mttrMs === null ? 'n/a' : shortDuration(s.mttrMs));
  return `recurrence ${rate(before.perWeek)} → ${rate(after.perWeek)}, MTTR ${mttr(before)} → ${mttr(after)}`;
}

function compare(a: number | null, b: number | null): -1 | 0 | 1 | null {
  if (a === null || b === null) return null;
  return b < a ? -1 : b > a ? 1 : 0;
}

/** The verdict from the two windows (see the file comment). Pure. */
export function verdictOf(before: WindowStats, after: WindowStats): ImpactVerdict {
  if (before.incidents === 0 && after.incidents === 0) return 'insufficient';
  const recurrence = compare(before.perWeek, after.perWeek);
  const mttr = compare(before.mttrMs, after.mttrMs);
  const better = recurrence === -1 || mttr === -1;
  const worse = recurrence === 1 || mttr === 1;
  return better && !worse ? 'improved' : 'not-improved';
}

/**
 * Measures a skill's pattern around its promotion. Call once `promotedAt + windowMs <= now`. With
 * the skill's `evidence`, one of its incidents still stored narrows the reads to the incidents
 * that share its fingerprint or service (incidentsOfPattern), not the windows' every incident.
 */
export function measureImpact(
  database: Database,
  patternKey: string,
  promotedAt: number,
  windowMs: number,
  evidence: readonly string[] = [],
): Impact {
  const member = patternMemberOf(database, patternKey, evidence);
  const before = windowStats(database, patternKey, promotedAt - windowMs, promotedAt, windowMs, member);
  const after = windowStats(database, patternKey, promotedAt, promotedAt + windowMs, windowMs, member);
  const verdict = verdictOf(before, after);
  const summary =
    verdict === 'insufficient'
      ? 'not enough data yet: no incident of the pattern before or after promotion'
      : impactSummary(before, after);
  return { before, after, verdict, summary };
}

/** The impact as stored in the skill's frontmatter. */
export function impactRecord(impact: Impact, measuredAt: number) {
  const stats = (s: WindowStats) => ({
    from: new Date(s.from).toISOString(),
    to: new Date(s.to).toISOString(),
    incidents: s.incidents,
    perWeek: Math.round(s.perWeek * 100) / 100,
    resolved: s.resolved,
    mttrMinutes: s.mttrMs === null ? null : Math.round(s.mttrMs / 600) / 100,
  });
  return {
    measuredAt: new Date(measuredAt).toISOString(),
    verdict: impact.verdict,
    summary: impact.summary,
    before: stats(impact.before),
    after: stats(impact.after),
  };
}
