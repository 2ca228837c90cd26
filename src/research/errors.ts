/**
 * Why a research call was refused or failed, as a code an agent can branch on and a sentence a
 * person can read (it says what was wrong and, where there is one, what to change). Messages name
 * URLs and hosts, never request headers; the original error is kept as `cause`.
 */
import { AutonomyError } from '../process/errors.js';

export type ResearchErrorCode =
  /** The policy does not give this agent the tool (research.tools, research.domains). */
  | 'tool-not-allowed'
  /** The host is not on this agent's research.domains allowlist. */
  | 'not-allowed-host'
  /** The host resolves to a private, loopback, link-local, ... address (research.allowPrivateAddresses). */
  | 'blocked-address'
  /** Not an http(s) URL, or a URL with credentials in it. */
  | 'bad-scheme'
  /** Anything but GET or HEAD (research never writes). */
  | 'bad-method'
  /** Not a URL at all. */
  | 'bad-url'
  /** An empty or over-long search query. */
  | 'bad-query'
  | 'too-many-redirects'
  /** A reply that cannot be cut short (a search answer) is over research.maxBytes. */
  | 'too-large'
  /** Over research.timeout. */
  | 'timeout'
  /** The caller's signal aborted the call (the agent was killed or the bot is stopping). */
  | 'aborted'
  /** The page is not text (an image, a download, ...). */
  | 'not-text'
  /** The server answered with an error status. */
  | 'http-status'
  /** DNS or connection failure. */
  | 'network'
  | 'browser-unavailable'
  | 'search-not-configured'
  /** The search endpoint's answer is not SearXNG JSON. */
  | 'bad-search-reply';

export class ResearchError extends AutonomyError<ResearchErrorCode> {
  /** The HTTP status, for `http-status`. */
  readonly status: number | null;

  constructor(code: ResearchErrorCode, message: string, options?: ErrorOptions & { status?: number }) {
    super(code, message, { cause: options?.cause });
    this.status = options?.status ?? null;
  }
}

/** The URL as shown in messages: no credentials, no query string or fragment (they may carry tokens). */
export function showUrl(url: URL | string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(not a URL)';
  }
}
