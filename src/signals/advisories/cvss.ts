/**
 * CVSS base scores from vectors, and the bot's severity for an advisory. OSV carries CVSS as a
 * vector (`CVSS:3.1/AV:N/AC:L/...`), not a number, so v3.0/v3.1 base scores are computed here with
 * the formula of the CVSS v3.1 specification (section 7). v2 and v4 vectors are not scored (v4 needs
 * the spec's lookup tables); an advisory with only those falls back to its database's own rating.
 */
import type { Severity } from '../../policy/vocabulary.js';

const AV: Record<string, number> = { N: 0.85, A: 0.62, L: 0.55, P: 0.2 };
const AC: Record<string, number> = { L: 0.77, H: 0.44 };
const UI: Record<string, number> = { N: 0.85, R: 0.62 };
const CIA: Record<string, number> = { H: 0.56, L: 0.22, N: 0 };
const PR_UNCHANGED: Record<string, number> = { N: 0.85, L: 0.62, H: 0.27 };
const PR_CHANGED: Record<string, number> = { N: 0.85, L: 0.68, H: 0.5 };

/** CVSS v3.1 "Roundup": the smallest number with one decimal that is >= x (float-safe). */
function roundUp(x: number): number {
  const i = Math.round(x * 100_000);
  return i % 10_000 === 0 ? i / 100_000 : (Math.floor(i / 10_000) + 1) / 10;
}

/** The base score (0.0 - 10.0) of a CVSS v3.x vector, or null when it is not one. */
export function cvss3BaseScore(vector: string): number | null {
  const parts = vector.trim().split('/');
  if (!/^CVSS:3\.[01]$/.test(parts[0] ?? '')) return null;
  const m = new Map<string, string>();
  for (const part of parts.slice(1)) {
    const [k, v] = part.split(':');
    if (k === undefined || v === undefined || m.has(k)) return null;
    m.set(k, v);
  }
  const get = (k: string, table: Record<string, number>): number | null => {
    const v = m.get(k);
    return v !== undefined && v in table ? (table[v] as number) : null;
  };
  const scope = m.get('S');
  if (scope !== 'U' && scope !== 'C') return null;
  const changed = scope === 'C';
  const av = get('AV', AV);
  const ac = get('AC', AC);
  const pr = get('PR', changed ? PR_CHANGED : PR_UNCHANGED);
  const ui = get('UI', UI);
  const c = get('C', CIA);
  const i = get('I', CIA);
  const a = get('A', CIA);
  if (av === null || ac === null || pr === null || ui === null || c === null || i === null || a === null) {
    return null;
  }
  const iss = 1 - (1 - c) * (1 - i) * (1 - a);
  const impact = changed ? 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02) ** 15 : 6.42 * iss;
  if (impact <= 0) return 0;
  const exploitability = 8.22 * av * ac * pr * ui;
  return changed
    ? roundUp(Math.min(1.08 * (impact + exploitability), 10))
    : roundUp(Math.min(impact + exploitability, 10));
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
 * The severity of an advisory: the highest CVSS v3 score among its `severity` entries (a plain
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
    const score = cvss3BaseScore(s.score) ?? (asNumber !== null && asNumber <= 10 ? asNumber : null);
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
