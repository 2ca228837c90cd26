/**
 * The research tools one agent run gets (`AgentContext.research`): read-only web access shaped by
 * the policy's `research` section. The tools are the policy's `research.tools` that can work here
 * (web_search needs AUTONOMY_SEARCH_URL, the browser needs chromium and playwright-core), and only
 * for an agent with a non-empty `research.domains` entry; otherwise there are none (null). Every
 * page read is remembered for the run's evidence: `cited()` lists them in the order they were read.
 * Nothing here can post, submit or sign in: only GET and HEAD exist, and no request carries a body.
 */
import type { ResearchHit, ResearchPage, ResearchTools } from '../agents/runtime/types.js';
import { durationMs } from '../policy/compile.js';
import type { Policy } from '../policy/types.js';
import type { AgentName } from '../policy/vocabulary.js';
import { type AddressCheck, createAddressGuard, type Resolve } from './address-guard.js';
import { createAllowlist } from './allowlist.js';
import { type BrowseSettings, browse, browserAvailable, DEFAULT_CHROMIUM } from './browser.js';
import { ResearchError } from './errors.js';
import { type FetchSettings, webFetch } from './fetch.js';
import { parseSearchUrl, webSearch } from './search.js';

export { ResearchError, type ResearchErrorCode } from './errors.js';

export type ResearchTool = 'web_fetch' | 'web_search' | 'browser';

export const DEFAULT_USER_AGENT = 'autonomy-research/0.1 (read-only)';

export interface ResearchOptions {
  readonly policy: Policy;
  readonly agent: AgentName;
  /** Aborts every call in flight (the run's signal). Each call may pass its own as well. */
  readonly signal?: AbortSignal;
  /** AUTONOMY_SEARCH_URL: a SearXNG-compatible endpoint; null or absent turns web_search off. */
  readonly searchUrl?: string | null;
  /** Where chromium is (default /usr/bin/chromium); null turns the browser off. */
  readonly chromiumPath?: string | null;
  /** DNS for the address guard (default: the system resolver). */
  readonly resolve?: Resolve;
  /**
   * Replaces the default address check (public unicast only) when the policy does not allow
   * private addresses. Tests use it to let exactly their loopback server through.
   */
  readonly checkAddress?: AddressCheck;
  readonly userAgent?: string;
}

/** The tools for this agent under this policy, or null when it has none. */
export function createResearch(options: ResearchOptions): ResearchTools | null {
  const section = options.policy.doc.research;
  const domains = section.domains[options.agent] ?? [];
  if (domains.length === 0) return null;
  const wanted = new Set<ResearchTool>(section.tools);
  const searchUrl = options.searchUrl ? parseSearchUrl(options.searchUrl) : null;
  const chromiumPath = options.chromiumPath === undefined ? DEFAULT_CHROMIUM : options.chromiumPath;
  const tools = new Set<ResearchTool>();
  if (wanted.has('web_fetch')) tools.add('web_fetch');
  if (wanted.has('web_search') && searchUrl !== null) tools.add('web_search');
  if (wanted.has('browser') && chromiumPath !== null && browserAvailable(chromiumPath)) tools.add('browser');
  if (tools.size === 0) return null;

  const agent = options.agent;
  const allowlist = createAllowlist(domains);
  const settings: FetchSettings = {
    agent,
    allowlist,
    guard: createAddressGuard({
      allowPrivate: section.allowPrivateAddresses,
      ...(options.resolve === undefined ? {} : { resolve: options.resolve }),
      ...(options.checkAddress === undefined ? {} : { checkAddress: options.checkAddress }),
    }),
    maxBytes: section.maxBytes,
    timeoutMs: durationMs(section.timeout),
    userAgent: options.userAgent ?? DEFAULT_USER_AGENT,
  };
  const cited: string[] = [];
  const cite = (page: ResearchPage): ResearchPage => {
    if (!cited.includes(page.url)) cited.push(page.url);
    return page;
  };
  const signalFor = (own?: AbortSignal): AbortSignal | undefined => {
    const all = [options.signal, own].filter((s): s is AbortSignal => s !== undefined);
    return all.length <= 1 ? all[0] : AbortSignal.any(all);
  };
  const requireTool = (tool: ResearchTool, why: string): void => {
    if (!tools.has(tool))
      throw new ResearchError(tool === 'browser' ? 'browser-unavailable' : 'tool-not-allowed', why);
  };

  return {
    tools,
    async fetch(url, opts = {}) {
      requireTool(
        'web_fetch',
        `web_fetch is not among research.tools in the policy, so ${agent} cannot read pages`,
      );
      return cite(
        await webFetch(settings, url, { method: opts.method ?? 'GET', signal: signalFor(opts.signal) }),
      );
    },
    async search(query, opts = {}): Promise<ResearchHit[]> {
      if (!wanted.has('web_search')) {
        throw new ResearchError('tool-not-allowed', 'web_search is not among research.tools in the policy');
      }
      if (searchUrl === null) {
        throw new ResearchError(
          'search-not-configured',
          'no search endpoint is configured: set AUTONOMY_SEARCH_URL to a SearXNG search URL',
        );
      }
      return webSearch({ ...settings, searchUrl }, query, { signal: signalFor(opts.signal) });
    },
    async browse(url, opts = {}) {
      if (!wanted.has('browser')) {
        throw new ResearchError('tool-not-allowed', 'browser is not among research.tools in the policy');
      }
      requireTool(
        'browser',
        `the browser is unavailable: ${chromiumPath ?? 'chromium'} or playwright-core is missing ` +
          '(apt-get install -y chromium)',
      );
      const browseSettings: BrowseSettings = { ...settings, chromiumPath: chromiumPath as string };
      return cite(await browse(browseSettings, url, { signal: signalFor(opts.signal) }));
    },
    cited: () => [...cited],
  };
}
