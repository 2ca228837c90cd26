/**
 * The contract every benchmark in bench/ follows: measure the subject and its baseline in the
 * same run, on the same machine, and report the ratio (machines here are noisy, absolute numbers
 * are not comparable between runs). `bench/run.ts` prints every result.
 */
export interface BenchResult {
  /** What was measured, e.g. "audit append (hash chain) vs plain insert". */
  readonly name: string;
  /** The subject's figure, e.g. rows/s or microseconds. */
  readonly value: number;
  readonly unit: string;
  /** The baseline's figure in the same unit, measured beside it (null when the target is absolute). */
  readonly baseline: number | null;
  readonly baselineName?: string;
  /** A sentence: the target and whether it was met, e.g. "target >= 0.50 of baseline: met". */
  readonly target: string;
  readonly met: boolean;
}

export interface Bench {
  readonly name: string;
  run(): Promise<BenchResult[]>;
}

/** Nanosecond clock for tight loops. */
export function nowNs(): bigint {
  return process.hrtime.bigint();
}

/** Percentile of a sorted numeric array (p in 0..100). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] as number;
}
