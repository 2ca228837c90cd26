/**
 * The last N weeks of the key metrics, oldest first, ending with the last complete week (or the
 * week so far, for a digest asked for before any complete week has data): what the
 * digest's chart draws and its "last weeks" table lists. Each week comes from weeklyMetrics() (so
 * the definitions are the ones in weekly.ts). A week without data gives zeros for counts and null
 * ("n/a") for medians and shares, never NaN.
 */
import type { Database } from '../db/connection.js';
import type { Millis } from '../policy/types.js';
import { lastCompleteWeek, localDateLabel, previousWeek, type Week, weekContaining } from '../time/zone.js';
import { weeklyMetrics } from './weekly.js';
import { formatDuration } from './weekly-format.js';

/** One week of the trend. */
export interface TrendWeek {
  /** Monday 00:00 local, epoch ms. */
  readonly from: Millis;
  readonly to: Millis;
  /** `2026-03-23`: the local date of the week's Monday. */
  readonly label: string;
  readonly incidents: number;
  readonly resolved: number;
  readonly mttdMedianMs: number | null;
  readonly mttrMedianMs: number | null;
  /** Low-risk (tier 1-2) proposals auto-resolved, 0..1, or null without any. */
  readonly autoResolvedShare: number | null;
  readonly tokensPerResolved: number | null;
}

export interface TrendOptions {
  readonly now: Millis;
  readonly timezone: string;
  /** How many weeks (default 8). */
  readonly weeks?: number;
  /** End with the week `now` is in, from its Monday to `now` (labelled "so far"), not the last complete one. */
  readonly throughNow?: boolean;
}

export const DEFAULT_TREND_WEEKS = 8;

/** The last `weeks` complete weeks before `now` (or through the week so far), oldest first. */
export function weeklyTrend(database: Database, options: TrendOptions): TrendWeek[] {
  const count = options.weeks ?? DEFAULT_TREND_WEEKS;
  if (!Number.isInteger(count) || count < 1 || count > 104) {
    throw new RangeError(`a trend needs 1 to 104 weeks, got ${count}`);
  }
  const current = weekContaining(options.now, options.timezone);
  const list: Week[] = [
    options.throughNow
      ? { ...current, to: Math.max(options.now, current.from + 1) }
      : lastCompleteWeek(options.now, options.timezone),
  ];
  while (list.length < count) list.unshift(previousWeek(list[0] as Week));
  return list.map((week) => {
    const m = weeklyMetrics(database, week);
    const soFar = options.throughNow === true && week.from === current.from;
    return {
      from: week.from,
      to: week.to,
      label: `${localDateLabel(week.from, week.timezone)}${soFar ? ' (so far)' : ''}`,
      incidents: m.incidents,
      resolved: m.resolved,
      mttdMedianMs: m.mttd.median,
      mttrMedianMs: m.mttr.median,
      autoResolvedShare: m.lowRisk.share,
      tokensPerResolved: m.tokensPerResolved,
    };
  });
}

function share(v: number | null): string {
  return v === null ? 'n/a' : `${Math.round(v * 100)}%`;
}

function count(v: number | null): string {
  return v === null ? 'n/a' : Math.round(v).toLocaleString('en-US');
}

/** The trend as a text table, one line per week (the digest body; the chart's numbers in words). */
export function formatTrend(weeks: readonly TrendWeek[]): string {
  const head = ['week of', 'incidents', 'MTTD med', 'MTTR med', 'auto-resolved', 'tokens/resolved'];
  const rows = weeks.map((w) => [
    w.label,
    count(w.incidents),
    formatDuration(w.mttdMedianMs),
    formatDuration(w.mttrMedianMs),
    share(w.autoResolvedShare),
    count(w.tokensPerResolved),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    `  ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ')}`;
  return [`Last ${weeks.length} weeks`, line(head), ...rows.map(line)].join('\n');
}

/** Minutes with one decimal (for the chart's axis), or null. */
export function toMinutes(ms: number | null): number | null {
  return ms === null ? null : Math.round(ms / 6000) / 10;
}

/**
 * A short description of the chart that states its numbers (image alt text, at most `max`
 * characters): the series that fit, in order of importance, then where the rest is.
 */
export function trendAlt(weeks: readonly TrendWeek[], max = 300): string {
  const first = weeks[0];
  if (first === undefined) return 'Chart of the last weeks: no weeks to show.';
  const join = (values: readonly (number | null)[], f: (v: number | null) => string) =>
    values.map(f).join(', ');
  const head = `Chart of the last ${weeks.length} weeks from ${first.label}.`;
  const series = [
    `Incidents: ${join(
      weeks.map((w) => w.incidents),
      count,
    )}.`,
    `MTTR median (min): ${join(
      weeks.map((w) => toMinutes(w.mttrMedianMs)),
      (v) => (v === null ? 'n/a' : String(v)),
    )}.`,
    `MTTD median (min): ${join(
      weeks.map((w) => toMinutes(w.mttdMedianMs)),
      (v) => (v === null ? 'n/a' : String(v)),
    )}.`,
    `Auto-resolved: ${join(
      weeks.map((w) => w.autoResolvedShare),
      share,
    )}.`,
    `Tokens per resolved: ${join(
      weeks.map((w) => w.tokensPerResolved),
      count,
    )}.`,
  ];
  const rest = ' Full table in the digest text.';
  let text = head;
  for (const [i, s] of series.entries()) {
    const tail = i === series.length - 1 ? '' : rest;
    if (`${text} ${s}${tail}`.length > max) return `${text}${rest}`.slice(0, max);
    text = `${text} ${s}`;
  }
  return text.slice(0, max);
}
