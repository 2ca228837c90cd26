/**
 * Nearest-rank percentiles (no interpolation): the p-th percentile of n sorted samples is the
 * sample at rank ceil(p/100 * n), so it is always a value that was really observed. The median is
 * the 50th percentile by the same rule (the lower middle for an even count). No samples: null.
 */
export function percentile(samples: readonly number[], p: number): number | null {
  const values = samples.filter((v) => Number.isFinite(v));
  if (values.length === 0) return null;
  if (!(p > 0 && p <= 100)) throw new RangeError(`percentile must be in (0, 100], got ${p}`);
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] ?? null;
}

/** Median and p90 of durations (nearest rank), and how many samples they came from. */
export interface DurationStats {
  readonly count: number;
  readonly median: number | null;
  readonly p90: number | null;
}

export function durationStats(samples: readonly number[]): DurationStats {
  return { count: samples.length, median: percentile(samples, 50), p90: percentile(samples, 90) };
}
