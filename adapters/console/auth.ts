/**
 * Who may use the console, and from where. The console token (never loopback alone: a reverse
 * proxy on the same host makes every request look local) proves access once; the page then holds
 * a random session id in an HttpOnly cookie, mapped here to its expiry. State-changing requests
 * must come to an allowed Host (DNS rebinding) from the same Origin (CSRF).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../../src/process/ids.js';

export const SESSION_COOKIE = 'autonomy_console';

/** Compares a presented token with the real one in constant time (lengths included). */
export function tokenMatches(given: string, expected: string): boolean {
  if (expected.length === 0) return false;
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

/** The token of an `Authorization: Bearer <token>` header, or null. */
export function bearerToken(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^Bearer[ \t]+(\S+)\s*$/i.exec(header);
  return m?.[1] ?? null;
}

export interface SessionOptions {
  readonly now: Clock;
  /** How long a session lasts after login. Default 7 days. */
  readonly ttlMs?: number;
  /** Most sessions kept; the oldest go first. Default 200. */
  readonly max?: number;
}

/** Browser sessions: random ids mapped to their expiry, in memory (a restart asks for the URL again). */
export class ConsoleSessions {
  readonly ttlMs: number;
  readonly #max: number;
  readonly #now: Clock;
  readonly #expiry = new Map<string, number>();

  constructor(options: SessionOptions) {
    this.#now = options.now;
    this.ttlMs = options.ttlMs ?? 7 * 24 * 3600_000;
    this.#max = options.max ?? 200;
  }

  create(): string {
    const id = randomBytes(32).toString('base64url');
    const now = this.#now();
    for (const [k, exp] of this.#expiry) if (exp <= now) this.#expiry.delete(k);
    while (this.#expiry.size >= this.#max) {
      const oldest = this.#expiry.keys().next().value;
      if (oldest === undefined) break;
      this.#expiry.delete(oldest);
    }
    this.#expiry.set(id, now + this.ttlMs);
    return id;
  }

  valid(id: string | undefined): boolean {
    if (!id) return false;
    const exp = this.#expiry.get(id);
    if (exp === undefined) return false;
    if (exp <= this.#now()) {
      this.#expiry.delete(id);
      return false;
    }
    return true;
  }

  get size(): number {
    return this.#expiry.size;
  }
}

/** The hosts the console answers to: loopback on its port, and the public URL's host. */
export function defaultAllowedHosts(port: number, publicUrl: string | null): string[] {
  const hosts = [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`];
  if (publicUrl) hosts.push(new URL(publicUrl).host);
  return hosts;
}

/** Why the Host header is refused, or null when it is allowed. */
export function hostRefusal(host: string | undefined, allowed: readonly string[]): string | null {
  if (!host) return 'the request has no Host header';
  const h = host.toLowerCase();
  if (allowed.some((a) => a.toLowerCase() === h)) return null;
  return (
    `Host ${JSON.stringify(host)} is not one this console answers to (${allowed.join(', ')}); ` +
    'if people reach it under another name, set AUTONOMY_PUBLIC_URL to that address'
  );
}

/**
 * Why the Origin of a state-changing request is refused, or null. An Origin must name the same
 * host as the Host header (or be the public URL's origin, behind a proxy). A missing Origin is
 * only accepted from scripts that authenticate with the bearer token: browsers always send one.
 */
export function originRefusal(
  origin: string | undefined,
  host: string,
  publicUrl: string | null,
  auth: 'bearer' | 'cookie',
): string | null {
  if (origin === undefined || origin === '') {
    return auth === 'bearer'
      ? null
      : 'the request has no Origin header; the console page always sends one (scripts use Authorization: Bearer)';
  }
  const refused = `Origin ${JSON.stringify(origin)} is not this console (${host}); requests from other sites are refused`;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return refused;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return refused;
  if (url.host.toLowerCase() === host.toLowerCase()) return null;
  if (publicUrl && new URL(publicUrl).origin === url.origin) return null;
  return refused;
}
