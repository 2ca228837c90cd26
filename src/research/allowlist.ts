/**
 * Which URLs an agent may read: its `research.domains` list from the policy. `osv.dev` allows that
 * host only; `*.github.com` allows github.com and every subdomain (docs.github.com). Matching is on
 * the host the WHATWG URL parser produces (lower case, IDN as punycode, a trailing dot dropped), so
 * `HTTPS://Docs.GitHub.com./x` and `https://docs.github.com/x` are the same host. Only http and
 * https, and no credentials in the URL. Any port is allowed: the list names hosts, and the address
 * guard, not the port, is what keeps internal services out of reach.
 */
import { ResearchError, showUrl } from './errors.js';

export interface Allowlist {
  /** The domains as written in the policy, for messages. */
  readonly domains: readonly string[];
  allows(host: string): boolean;
}

export function createAllowlist(domains: readonly string[]): Allowlist {
  const exact = new Set<string>();
  const suffixes: string[] = [];
  for (const d of domains) {
    const name = d.toLowerCase();
    if (name.startsWith('*.')) {
      exact.add(name.slice(2));
      suffixes.push(name.slice(1)); // ".github.com"
    } else {
      exact.add(name);
    }
  }
  return {
    domains: [...domains],
    allows(host) {
      const h = normaliseHost(host);
      return exact.has(h) || suffixes.some((s) => h.endsWith(s));
    },
  };
}

/** Lower case, without a trailing dot. */
export function normaliseHost(host: string): string {
  const h = host.toLowerCase();
  return h.endsWith('.') ? h.slice(0, -1) : h;
}

/** Parses `text` as an http(s) URL without credentials, or throws a ResearchError saying why not. */
export function parseWebUrl(text: string, base?: URL): URL {
  let url: URL;
  try {
    url = new URL(text, base);
  } catch (cause) {
    throw new ResearchError('bad-url', `not a URL: ${JSON.stringify(text.slice(0, 200))}`, { cause });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ResearchError('bad-scheme', `only http and https pages can be read, not ${url.protocol} URLs`);
  }
  if (url.username !== '' || url.password !== '') {
    throw new ResearchError('bad-scheme', `URLs with a user name or password are refused: ${showUrl(url)}`);
  }
  url.hash = '';
  if (url.hostname.endsWith('.')) url.hostname = url.hostname.slice(0, -1);
  return url;
}

/** Throws `not-allowed-host` unless the allowlist allows the URL's host. */
export function checkHost(url: URL, allowlist: Allowlist, agent: string): void {
  if (allowlist.allows(url.hostname)) return;
  throw new ResearchError(
    'not-allowed-host',
    `${url.hostname} is not on ${agent}'s research allowlist (${allowlist.domains.join(', ') || 'empty'}); ` +
      `add it under research.domains.${agent} in the policy to allow it`,
  );
}
