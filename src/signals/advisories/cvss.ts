/**
 * CVSS scores from vectors, and the bot's severity for an advisory. OSV carries CVSS as a vector
 * (`CVSS:3.1/AV:N/AC:L/...`, `CVSS:4.0/AV:N/AC:L/AT:N/...`), not a number: v3.0, v3.1 and v4.0
 * vectors are scored by ae-cvss-calculator (FIRST's formulas and v4.0 lookup tables). v2 vectors
 * are not scored; an advisory with only those falls back to its database's own rating.
 */
import aeCvss from 'ae-cvss-calculator';
import type { Severity } from '../../policy/vocabulary.js';

const { Cvss3P0, Cvss3P1, Cvss4P0 } = aeCvss;
const VERSIONS = { '3.0': Cvss3P0, '3.1': Cvss3P1, '4.0': Cvss4P0 } as const;

/**
 * The score (0.0 - 10.0) of a complete CVSS v3.0, v3.1 or v4.0 vector as FIRST's calculator gives
 * it (v3: the base score; v4: the score of the metrics the vector holds, threat included), or null
 * when it is not one (another version, a base metric missing or unknown, a metric given twice).
 */
export function cvssScore(vector: string): number | null {
  const text = vector.trim();
  const version = /^CVSS:(3\.0|3\.1|4\.0)\//.exec(text)?.[1] as keyof typeof VERSIONS | undefined;
  if (version === undefined) return null;
  const names = text
    .split('/')
    .slice(1)
    .map((part) => part.split(':')[0]);
  if (new Set(names).size !== names.length) return null;
  try {
    const cvss = new VERSIONS[version](text);
    if (!cvss.isBaseFullyDefined()) return null;
    const score = cvss.calculateScores().base;
    return typeof score === 'number' && Number.isFinite(score) ? score : null;
  } catch {
    return null;
  }
}

/** critical >= 9.0, warning >= 4.0 (medium and high), else info. */
export function severityOfScore(score: number): Severity {
  if (score >= 9) return 'critical';
  if (score >= 4) return 'warning';
  return 'info';
}

/** GitHub's (and others') `database_specific.severity` words. */
const RATINGS: Record<string, Severity> = {
  CRITICAL: 'critical',
  HIGH: 'warning',
  MODERATE: 'warning',
  MEDIUM: 'warning',
  LOW: 'info',
  NEGLIGIBLE: 'info',
};

export function severityOfRating(rating: unknown): Severity | null {
  if (typeof rating !== 'string') return null;
  return RATINGS[rating.trim().toUpperCase()] ?? null;
}

export interface ScoredSeverity {
  readonly severity: Severity;
  /** The CVSS base score it came from, if any. */
  readonly score: number | null;
  /** How it was decided, for people: `CVSS 9.8`, `rating CRITICAL`, `unrated`. */
  readonly basis: string;
}

/**
 * The severity of an advisory: the highest CVSS (v3 or v4) score among its `severity` entries (a plain
 * number is taken as a score too), else its database's rating (`CRITICAL`, `HIGH`, `MODERATE`,
 * `LOW`; Ubuntu's words likewise), else `warning` (an unrated advisory that affects us is worth a look).
 */
export function advisorySeverity(
  severities: readonly { readonly type: string; readonly score: string }[],
  databaseRating: unknown,
): ScoredSeverity {
  let best: number | null = null;
  let rating: Severity | null = null;
  let ratingWord = '';
  for (const s of severities) {
    const asNumber = /^\d{1,2}(\.\d+)?$/.test(s.score.trim()) ? Number(s.score) : null;
    const score = cvssScore(s.score) ?? (asNumber !== null && asNumber <= 10 ? asNumber : null);
    if (score !== null) best = best === null ? score : Math.max(best, score);
    else if (rating === null) {
      rating = severityOfRating(s.score);
      ratingWord = s.score.trim().toUpperCase();
    }
  }
  if (best !== null)
    return { severity: severityOfScore(best), score: best, basis: `CVSS ${best.toFixed(1)}` };
  const db = severityOfRating(databaseRating);
  if (db !== null)
    return { severity: db, score: null, basis: `rating ${String(databaseRating).toUpperCase()}` };
  if (rating !== null) return { severity: rating, score: null, basis: `rating ${ratingWord}` };
  return { severity: 'warning', score: null, basis: 'unrated' };
}
