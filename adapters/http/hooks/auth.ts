/**
 * Who may post to the hooks. Bearer token (the ingest token, Hono's `bearerAuth`) for everything
 * but /hooks/github, which is signed with an HMAC instead. Both compare in constant time, and a
 * rejection never says which part was wrong.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import { bearerAuth } from 'hono/bearer-auth';
import { TokenError } from '../../../src/process/tokens.js';
import type { IngestCounters } from './counters.js';
import { reject } from './reply.js';

const SIGNATURE = /^sha256=([0-9a-fA-F]{64})$/;
/** What a Bearer header can carry (RFC 6750 token68), as bearerAuth checks it. */
const TOKEN68 = /^[A-Za-z0-9._~+/-]+=*$/;

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

/**
 * True when `given` is the token. The comparison takes the same time whatever the bytes; a token
 * of another length is compared with the expected one itself, so only the (public) length of the
 * token could be learned from timing.
 */
function sameToken(given: string, expected: Buffer): boolean {
  const bytes = Buffer.from(given, 'utf8');
  const same = bytes.length === expected.length;
  return timingSafeEqual(same ? bytes : expected, expected) && same;
}

/**
 * Hono's bearerAuth for a hook: 401 (counted as `unauthorized`) unless the request carries the
 * ingest token; a missing, malformed or wrong header all get the same answer.
 */
export function ingestAuth(options: BearerOptions): MiddlewareHandler {
  if (!TOKEN68.test(options.token)) {
    throw new TokenError(
      'the ingest token has characters an "Authorization: Bearer" header cannot carry: ' +
        'use letters, digits and - . _ ~ + / (AUTONOMY_INGEST_TOKEN, or delete the ingest-token file to make a new one)',
    );
  }
  const expected = Buffer.from(options.token, 'utf8');
  const refused = { message: (c: Context) => unauthorized(c, options) };
  return bearerAuth({
    verifyToken: (given) => sameToken(given, expected),
    noAuthenticationHeader: refused,
    invalidAuthenticationHeader: refused,
    invalidToken: refused,
  });
}

function unauthorized(c: Context, o: BearerOptions): Response {
  return reject(c, o.counters, o.hook, 'unauthorized', 401, UNAUTHORIZED_MESSAGE, {
    headers: { 'www-authenticate': 'Bearer realm="autonomy"' },
  });
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
