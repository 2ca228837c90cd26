/**
 * Who may post to the hooks. Bearer token (the ingest token) for everything but /hooks/github,
 * which is signed with an HMAC instead. Both compare in constant time, and a rejection never says
 * which part was wrong.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import type { IngestCounters } from './counters.js';
import { exchangeOf, type HookExchange } from './exchange.js';
import { reject } from './reply.js';

const BEARER = /^Bearer[ \t]+([\x21-\x7e]+)[ \t]*$/i;
const SIGNATURE = /^sha256=([0-9a-fA-F]{64})$/;
const MAX_HEADER = 4096;

/**
 * True when `header` is `Bearer <token>` with exactly this token. The comparison takes the same
 * time whatever the bytes; a token of another length is compared with the expected one itself, so
 * only the (public) length of the token could be learned from timing.
 */
export function bearerMatches(header: string | null | undefined, expected: Buffer): boolean {
  if (typeof header !== 'string' || header.length > MAX_HEADER) return false;
  const m = BEARER.exec(header);
  const given = m ? Buffer.from(m[1] as string, 'utf8') : null;
  const same = given !== null && given.length === expected.length;
  return timingSafeEqual(same ? given : expected, expected) && same;
}

export interface BearerOptions {
  /** The ingest token (AUTONOMY_INGEST_TOKEN, or the generated `ingest-token` file). */
  readonly token: string;
  readonly counters: IngestCounters;
  /** The hook's name, for the counters: `alertmanager`, `logs`, `events`, `osv`. */
  readonly hook: string;
}

export const UNAUTHORIZED_MESSAGE =
  'unauthorized: send the ingest token as "Authorization: Bearer <token>" ' +
  '(AUTONOMY_INGEST_TOKEN, or the ingest-token file in the data folder)';

/** The 401 (counted as `unauthorized`) for a request without the bearer token, or null to go on. */
export function bearerCheck(options: BearerOptions): (x: HookExchange) => Response | null {
  if (options.token.length === 0) throw new Error('the bearer check needs a non-empty token');
  const expected = Buffer.from(options.token, 'utf8');
  return (x) =>
    bearerMatches(x.header('authorization'), expected)
      ? null
      : reject(x, options.counters, options.hook, 'unauthorized', 401, UNAUTHORIZED_MESSAGE, {
          headers: { 'www-authenticate': 'Bearer realm="autonomy"' },
        });
}

/** Hono middleware: 401 (counted as `unauthorized`) unless the request carries the bearer token. */
export function requireBearer(options: BearerOptions): MiddlewareHandler {
  const check = bearerCheck(options);
  return async (c, next) => {
    const refused = check(exchangeOf(c));
    if (refused !== null) return refused;
    await next();
  };
}

/**
 * GitHub's `X-Hub-Signature-256: sha256=<hex>`: HMAC-SHA256 of the raw body bytes with the
 * webhook secret, compared in constant time.
 */
export function githubSignatureMatches(
  secret: string,
  raw: Uint8Array,
  header: string | null | undefined,
): boolean {
  const m = typeof header === 'string' ? SIGNATURE.exec(header.trim()) : null;
  const expected = createHmac('sha256', secret).update(raw).digest();
  const given = m ? Buffer.from(m[1] as string, 'hex') : Buffer.alloc(expected.length);
  return timingSafeEqual(given, expected) && m !== null;
}
