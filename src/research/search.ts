/**
 * web_search through the operator's search endpoint (AUTONOMY_SEARCH_URL), spoken to as SearXNG's
 * JSON API: `GET <endpoint>?q=<query>&format=json` answering `{ results: [{ url, title, content }] }`.
 * The endpoint is the operator's own choice, so it is exempt from the domain allowlist and the
 * address guard (it may well run on localhost or the office network); it still gets only GETs,
 * no redirects, the size cap and the time cap. Only hits on the agent's allowlisted hosts come
 * back, at most MAX_HITS. A hit is not a page read: it is cited only once it is fetched.
 */
import { z } from 'zod';
import type { ResearchHit } from '../agents/runtime/types.js';
import { type Allowlist, parseWebUrl } from './allowlist.js';
import { startDeadline } from './deadline.js';
import { ResearchError, showUrl } from './errors.js';
import { decodeBody } from './html.js';
import { httpGet } from './http-get.js';

export const MAX_HITS = 10;
export const MAX_QUERY_LENGTH = 400;

export interface SearchSettings {
  readonly searchUrl: URL;
  readonly allowlist: Allowlist;
  readonly maxBytes: number;
  readonly timeoutMs: number;
  readonly userAgent: string;
}

const reply = z.object({
  results: z.array(
    z.object({
      url: z.string(),
      title: z.string().optional().catch(undefined),
      content: z.string().nullish().catch(undefined),
    }),
  ),
});

/** The search endpoint as configured, checked once: an http(s) URL. */
export function parseSearchUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch (cause) {
    throw new ResearchError(
      'bad-url',
      'AUTONOMY_SEARCH_URL is not a URL (e.g. http://127.0.0.1:8888/search)',
      {
        cause,
      },
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ResearchError('bad-scheme', `AUTONOMY_SEARCH_URL must be http or https, not ${url.protocol}`);
  }
  return url;
}

function clip(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

export async function webSearch(
  settings: SearchSettings,
  query: string,
  options: { signal?: AbortSignal } = {},
): Promise<ResearchHit[]> {
  const q = typeof query === 'string' ? query.trim() : '';
  if (q === '' || q.length > MAX_QUERY_LENGTH) {
    throw new ResearchError('bad-query', `a search query is 1 to ${MAX_QUERY_LENGTH} characters of text`);
  }
  const url = new URL(settings.searchUrl);
  url.searchParams.set('q', q);
  url.searchParams.set('format', 'json');
  const where = `the search endpoint ${showUrl(url)}`;
  const deadline = startDeadline(settings.timeoutMs, options.signal);
  const res = await httpGet({
    url,
    method: 'GET',
    headers: { 'user-agent': settings.userAgent, accept: 'application/json' },
    pin: null,
    maxBytes: settings.maxBytes,
    signal: deadline.signal,
  }).catch((error: unknown) => {
    throw deadline.fail(error, `searching with ${where}`);
  });
  if (res.status !== 200) {
    throw new ResearchError('http-status', `${where} answered HTTP ${res.status}`, { status: res.status });
  }
  if (res.truncated) {
    throw new ResearchError(
      'too-large',
      `${where} answered more than research.maxBytes (${settings.maxBytes} bytes)`,
    );
  }
  let parsed: z.infer<typeof reply>;
  try {
    parsed = reply.parse(JSON.parse(decodeBody(res.body, res.headers['content-type'])));
  } catch (cause) {
    throw new ResearchError(
      'bad-search-reply',
      `${where} did not answer SearXNG JSON ({"results": [{"url", "title", "content"}]}); ` +
        'enable the json format in its settings (search.formats)',
      { cause },
    );
  }
  const hits: ResearchHit[] = [];
  const seen = new Set<string>();
  for (const r of parsed.results) {
    let hit: URL;
    try {
      hit = parseWebUrl(r.url);
    } catch {
      continue;
    }
    if (!settings.allowlist.allows(hit.hostname) || seen.has(hit.href)) continue;
    seen.add(hit.href);
    hits.push({ url: hit.href, title: clip(r.title ?? hit.href, 200), snippet: clip(r.content ?? '', 500) });
    if (hits.length >= MAX_HITS) break;
  }
  return hits;
}
