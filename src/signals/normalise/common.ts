/**
 * What the webhook normalisers share: problems with a JSON path (for 400 replies), times, hashes,
 * severity words. Pure.
 */
import { createHash } from 'node:crypto';
import type { z } from 'zod';
import type { Severity } from '../../policy/vocabulary.js';

/** One thing wrong with a request body: where (a JSON path like `$.alerts[0].startsAt`) and what. */
export interface Problem {
  readonly path: string;
  readonly message: string;
}

export type Normalised<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly problems: Problem[] };

/** At most this many problems are reported (the first ones). */
export const MAX_PROBLEMS = 10;

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** `['alerts', 0, 'startsAt']` -> `$.alerts[0].startsAt`. */
export function jsonPath(path: readonly PropertyKey[], root = '$'): string {
  let out = root;
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else {
      const key = String(part);
      out += IDENT.test(key) ? `.${key}` : `[${JSON.stringify(key.slice(0, 64))}]`;
    }
  }
  return out;
}

export function zodProblems(error: z.ZodError, root = '$'): Problem[] {
  return error.issues.slice(0, MAX_PROBLEMS).map((issue) => ({
    path: jsonPath(issue.path, root),
    message: issue.message,
  }));
}

export function fail<T>(path: string, message: string): Normalised<T> {
  return { ok: false, problems: [{ path, message }] };
}

/** Epoch ms from an RFC 3339 / ISO 8601 string; null when it is not one or lies before 1970 (Go's zero time). */
export function parseIsoTime(value: string | null | undefined): number | null {
  if (typeof value !== 'string' || value.length < 10 || value.length > 64) return null;
  if (!/^\d{4}-\d{2}-\d{2}/.test(value)) return null;
  const at = Date.parse(value);
  return Number.isFinite(at) && at >= 0 ? at : null;
}

/**
 * Epoch ms from a time a sender may write in several ways: an ISO string, or a number of seconds
 * (up to 1e11) or milliseconds. null when unreadable.
 */
export function parseAnyTime(value: unknown): number | null {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) return null;
    const at = value < 1e11 ? value * 1000 : value;
    return at <= 8.64e15 ? Math.trunc(at) : null;
  }
  if (typeof value === 'string') {
    const trimmed = value.trim();
    if (/^\d+(\.\d+)?$/.test(trimmed)) return parseAnyTime(Number(trimmed));
    return parseIsoTime(trimmed);
  }
  return null;
}

/** 16 hex characters of SHA-256: a short, stable id for a key. */
export function shortHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

/** A key kept short enough to store and index: beyond 256 characters, a prefix and a hash of the whole. */
export function boundedKey(key: string): string {
  return key.length <= 256 ? key : `${key.slice(0, 200)}#${shortHash(key)}`;
}

export function cut(text: string, length: number): string {
  return text.length <= length ? text : `${text.slice(0, length - 1)}…`;
}

const SEVERITY_WORDS: Record<string, Severity> = {
  critical: 'critical',
  crit: 'critical',
  page: 'critical',
  emergency: 'critical',
  emerg: 'critical',
  alert: 'critical',
  fatal: 'critical',
  disaster: 'critical',
  high: 'critical',
  error: 'critical',
  err: 'critical',
  major: 'critical',
  p1: 'critical',
  sev1: 'critical',
  warning: 'warning',
  warn: 'warning',
  medium: 'warning',
  moderate: 'warning',
  minor: 'warning',
  average: 'warning',
  p2: 'warning',
  p3: 'warning',
  sev2: 'warning',
  sev3: 'warning',
  info: 'info',
  informational: 'info',
  information: 'info',
  notice: 'info',
  low: 'info',
  none: 'info',
  debug: 'info',
  ok: 'info',
  p4: 'info',
  p5: 'info',
};

/** A sender's severity word (Alertmanager's `severity` label and the like) as ours; unknown -> fallback. */
export function severityOfWord(word: string | undefined | null, fallback: Severity = 'warning'): Severity {
  if (typeof word !== 'string') return fallback;
  return SEVERITY_WORDS[word.trim().toLowerCase()] ?? fallback;
}
