/**
 * What the GitHub normalisers share (github.ts for CI, github-advisory.ts for advisories): the
 * outcome of a delivery, the context it is mapped in, and small helpers and schema parts. Pure.
 */
import { z } from 'zod';
import { advisorySeverity } from '../advisories/cvss.js';
import { buildInventory, type Inventory } from '../advisories/inventory.js';
import type { SignalInput } from '../types.js';
import { type Normalised, parseIsoTime, zodProblems } from './common.js';

/** What a delivery makes: its signals (`signal` is the first; most events make one), or why none. */
export type GithubOutcome =
  | { readonly signal: SignalInput; readonly signals: readonly SignalInput[]; readonly ignored: null }
  | { readonly signal: null; readonly signals: readonly []; readonly ignored: string };

export const str = (max: number) => z.string().max(max);
export const opt = (max: number) => z.string().max(max).nullish();
export const repository = z.looseObject({ full_name: str(300) });
export const pkg = z.looseObject({ ecosystem: opt(100), name: opt(300) });
export const cvss = z.looseObject({ vector_string: opt(300), score: z.number().nullish() }).nullish();

export const advisoryCore = {
  ghsa_id: str(100),
  summary: opt(2000),
  severity: opt(50),
  html_url: opt(2000),
  cvss,
  updated_at: opt(64),
};

export interface GithubCtx {
  readonly delivery: string;
  readonly now: number;
  /** The inventory advisories are matched against (read only for advisory events). */
  readonly inventory: () => Inventory;
}

export const NO_INVENTORY = buildInventory([]);

export function base(ctx: GithubCtx) {
  return { source: 'github', dedupeKey: `github:${ctx.delivery}` } as const;
}

export function occurred(value: string | null | undefined, now: number): number | null {
  const at = parseIsoTime(value);
  return at !== null && at <= now ? at : null;
}

export function ignore(reason: string): Normalised<GithubOutcome> {
  return { ok: true, value: { signal: null, signals: [], ignored: reason } };
}

export function emit(signal: SignalInput, ...more: SignalInput[]): Normalised<GithubOutcome> {
  return { ok: true, value: { signal, signals: [signal, ...more], ignored: null } };
}

export function parse<T extends z.ZodType>(schema: T, body: unknown): Normalised<z.output<T>> {
  const parsed = schema.safeParse(body);
  return parsed.success
    ? { ok: true, value: parsed.data }
    : { ok: false, problems: zodProblems(parsed.error) };
}

/** From the CVSS vector, else GitHub's CVSS score (0 means unscored), else its rating word. */
export function severityOf(a: {
  severity?: string | null;
  cvss?: { vector_string?: string | null; score?: number | null } | null;
}) {
  const vector = a.cvss?.vector_string;
  const score = a.cvss?.score;
  const scored = vector
    ? vector
    : typeof score === 'number' && score > 0 && score <= 10
      ? String(score)
      : null;
  return advisorySeverity(
    scored === null ? [] : [{ type: 'CVSS_V3', score: scored }],
    a.severity ?? undefined,
  );
}
