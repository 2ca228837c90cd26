/**
 * The OSV advisory format (https://ossf.github.io/osv-schema/), as zod: what `/hooks/osv` accepts.
 * Fields the bot does not use are kept loose (unknown keys pass, e.g. `credits`, `upstream`), but
 * everything matching depends on is checked: ids, timestamps, affected packages, ranges and events.
 * A request carries one record, `{"vulns": [...]}` (the osv.dev query answer), or an array.
 */
import { z } from 'zod';

/** At most this many records in one request: a bigger feed is sent in pages. */
export const MAX_RECORDS = 1000;

const text = (max: number) => z.string().max(max);
const timestamp = z
  .string()
  .refine((s) => !Number.isNaN(Date.parse(s)), 'an RFC 3339 timestamp like 2024-02-01T12:00:00Z');

/** One range event: exactly one of introduced, fixed, last_affected, limit. */
const event = z
  .object({
    introduced: text(256).optional(),
    fixed: text(256).optional(),
    last_affected: text(256).optional(),
    limit: text(256).optional(),
  })
  .superRefine((e, ctx) => {
    const keys = (['introduced', 'fixed', 'last_affected', 'limit'] as const).filter(
      (k) => e[k] !== undefined,
    );
    if (keys.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        message: `an event has exactly one of introduced, fixed, last_affected or limit (found ${keys.length === 0 ? 'none' : keys.join(', ')})`,
      });
    }
  });

const range = z.object({
  type: z.enum(['SEMVER', 'ECOSYSTEM', 'GIT']),
  repo: text(2048).optional(),
  events: z.array(event).min(1).max(256),
  database_specific: z.record(z.string(), z.unknown()).optional(),
});

const severity = z.object({
  /** CVSS_V2, CVSS_V3, CVSS_V4, Ubuntu, ... (new types appear; unknown ones are ignored). */
  type: text(32),
  /** A CVSS vector (`CVSS:3.1/AV:N/...`), or the type's own score. */
  score: text(256),
});

const osvPackage = z.object({
  ecosystem: text(128),
  name: text(512),
  purl: text(1024).optional(),
});

const affected = z.object({
  package: osvPackage.optional(),
  severity: z.array(severity).max(16).optional(),
  ranges: z.array(range).max(256).optional(),
  versions: z.array(text(256)).max(10_000).optional(),
  ecosystem_specific: z.record(z.string(), z.unknown()).optional(),
  database_specific: z.record(z.string(), z.unknown()).optional(),
});

export const osvRecordSchema = z.object({
  schema_version: text(32).optional(),
  id: z.string().min(1).max(256),
  modified: timestamp,
  published: timestamp.optional(),
  withdrawn: timestamp.optional(),
  aliases: z.array(text(256)).max(256).optional(),
  related: z.array(text(256)).max(256).optional(),
  summary: text(1024).optional(),
  details: text(100_000).optional(),
  severity: z.array(severity).max(16).optional(),
  affected: z.array(affected).max(1000).optional(),
  references: z
    .array(z.object({ type: text(32), url: text(2048) }))
    .max(1000)
    .optional(),
  database_specific: z.record(z.string(), z.unknown()).optional(),
});

export type OsvRecord = z.output<typeof osvRecordSchema>;
export type OsvAffected = NonNullable<OsvRecord['affected']>[number];
export type OsvRange = NonNullable<OsvAffected['ranges']>[number];
export type OsvEvent = OsvRange['events'][number];

const records = z.array(osvRecordSchema).max(MAX_RECORDS, `at most ${MAX_RECORDS} records per request`);

export interface OsvBodyIssue {
  /** JSON path into the body, e.g. `vulns[0].affected[1].ranges[0].type`. */
  readonly path: string;
  readonly message: string;
}

export type OsvParse =
  | { readonly ok: true; readonly records: readonly OsvRecord[] }
  | { readonly ok: false; readonly issues: readonly OsvBodyIssue[] };

/**
 * Parses a request body. The shape is chosen by the body itself (an array, an object with `vulns`,
 * else one record), so the issues point at the right place instead of listing three alternatives.
 */
export function parseOsvBody(body: unknown): OsvParse {
  let result: { success: true; data: readonly OsvRecord[] } | { success: false; error: z.ZodError };
  if (Array.isArray(body)) {
    result = records.safeParse(body);
  } else if (typeof body === 'object' && body !== null && 'vulns' in body) {
    const r = z.object({ vulns: records }).safeParse(body);
    result = r.success ? { success: true, data: r.data.vulns } : r;
  } else {
    const r = osvRecordSchema.safeParse(body);
    result = r.success ? { success: true, data: [r.data] } : r;
  }
  if (result.success) return { ok: true, records: result.data };
  return {
    ok: false,
    issues: result.error.issues.slice(0, 20).map((i) => ({ path: jsonPath(i.path), message: i.message })),
  };
}

/** `['vulns', 0, 'affected']` -> `vulns[0].affected`; the root is `(root)`. */
export function jsonPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (typeof seg === 'string' && /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(seg))
      out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(String(seg))}]`;
  }
  return out === '' ? '(root)' : out;
}
