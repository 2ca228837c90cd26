/**
 * A GET or HEAD that only ever reaches allowlisted hosts on permitted addresses: the URL is checked
 * (http(s), no credentials, host on the agent's allowlist), the host resolved and its addresses
 * checked, the connection pinned to the checked address; a redirect is followed by hand, at most
 * `maxRedirects` times, each hop checked the same way before anything is sent to it.
 */
import type { AddressGuard, CheckedAddress } from './address-guard.js';
import { type Allowlist, checkHost, parseWebUrl } from './allowlist.js';
import { ResearchError, showUrl } from './errors.js';
import { httpGet, type RawResponse, REDIRECT_STATUSES } from './http-get.js';

export const MAX_REDIRECTS = 5;

export interface GuardedGetOptions {
  readonly method: 'GET' | 'HEAD';
  readonly agent: string;
  readonly allowlist: Allowlist;
  readonly guard: AddressGuard;
  readonly maxBytes: number;
  /** 0: a redirect comes back as the response. */
  readonly maxRedirects: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly signal: AbortSignal;
}

/** A refusal of a redirect's target, saying where the redirect came from. */
function redirectRefused(from: URL, error: unknown): unknown {
  if (!(error instanceof ResearchError)) return error;
  return new ResearchError(
    error.code,
    `${showUrl(from)} redirects to a page research may not read: ${error.message}`,
    {
      cause: error,
    },
  );
}

/** Rejects with a ResearchError for refusals; transport errors and aborts pass through unmapped. */
export async function guardedGet(start: string, options: GuardedGetOptions): Promise<RawResponse> {
  let url = parseWebUrl(start);
  let from: URL | null = null;
  for (let redirects = 0; ; redirects++) {
    let pin: CheckedAddress;
    try {
      checkHost(url, options.allowlist, options.agent);
      pin = await options.guard.check(url.hostname, options.signal);
    } catch (error) {
      throw from === null ? error : redirectRefused(from, error);
    }
    const res = await httpGet({
      url,
      method: options.method,
      headers: options.headers,
      pin,
      maxBytes: options.maxBytes,
      signal: options.signal,
    });
    const location = res.headers.location;
    if (!REDIRECT_STATUSES.has(res.status) || location === undefined || options.maxRedirects === 0)
      return res;
    if (redirects >= options.maxRedirects) {
      throw new ResearchError(
        'too-many-redirects',
        `${showUrl(start)} redirects more than ${options.maxRedirects} times; read the final page directly`,
      );
    }
    from = url;
    try {
      url = parseWebUrl(location, from);
    } catch (error) {
      throw redirectRefused(from, error);
    }
  }
}
