/**
 * web_search through a local stand-in of a SearXNG endpoint: the query goes out as a GET with
 * format=json, only hits on the agent's allowlisted hosts come back (at most ten), and a missing,
 * broken or oversized endpoint is a clear error.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResearchTools } from '../../src/agents/runtime/types.js';
import { createResearch } from '../../src/research/index.js';
import {
  type ResearchInput,
  researchPolicy,
  type Site,
  startSite,
  testResolver,
} from '../helpers/research-site.js';

let site: Site;
/** What the fake endpoint answers next. */
let answer: { status: number; type: string; body: string };

function results(urls: string[]): string {
  return JSON.stringify({
    query: 'q',
    results: urls.map((url, i) => ({ url, title: `Result ${i}`, content: `  snippet\n${i}  ` })),
  });
}

beforeAll(async () => {
  site = await startSite();
  site.route('/search', (_req, res) =>
    res.writeHead(answer.status, { 'content-type': answer.type }).end(answer.body),
  );
});

afterAll(() => site.close());

function tools(research: Partial<ResearchInput> = {}): ResearchTools {
  const made = createResearch({
    policy: researchPolicy(research),
    agent: 'guardian',
    resolve: testResolver(),
    chromiumPath: null,
    // On loopback: the operator's endpoint is exempt from the allowlist and the address guard.
    searchUrl: `http://127.0.0.1:${site.port}/search?language=en`,
  });
  if (made === null) throw new Error('expected research tools');
  return made;
}

describe('web_search', () => {
  it('sends the query as a GET with format=json and keeps only allowlisted hits', async () => {
    answer = {
      status: 200,
      type: 'application/json',
      body: results([
        'https://docs.example.test/advisory/1',
        'https://evil.example.test/phish',
        'https://ops.wiki.example.test/runbook',
        'javascript:alert(1)',
        'https://docs.example.test/advisory/1',
        'https://example.org/other',
      ]),
    };
    // Private addresses off: the endpoint on 127.0.0.1 still answers (it is the operator's own).
    const research = tools({ allowPrivateAddresses: false });
    const hits = await research.search('  left-pad CVE  ');
    expect(hits).toEqual([
      { url: 'https://docs.example.test/advisory/1', title: 'Result 0', snippet: 'snippet 0' },
      { url: 'https://ops.wiki.example.test/runbook', title: 'Result 2', snippet: 'snippet 2' },
    ]);
    const request = site.seen.at(-1);
    expect(request?.method).toBe('GET');
    const sent = new URL(`http://x${request?.path}`);
    expect(Object.fromEntries(sent.searchParams)).toEqual({
      language: 'en',
      q: 'left-pad CVE',
      format: 'json',
    });
    // A hit is not a page read.
    expect(research.cited()).toEqual([]);
  });

  it('returns at most ten hits', async () => {
    answer = {
      status: 200,
      type: 'application/json',
      body: results(Array.from({ length: 25 }, (_, i) => `https://docs.example.test/p${i}`)),
    };
    const hits = await tools().search('many');
    expect(hits.map((h) => h.url)).toEqual(
      Array.from({ length: 10 }, (_, i) => `https://docs.example.test/p${i}`),
    );
  });

  it('is absent without a search endpoint, and says how to configure one', async () => {
    const research = createResearch({ policy: researchPolicy(), agent: 'guardian', chromiumPath: null });
    expect(research?.tools.has('web_search')).toBe(false);
    await expect(research?.search('anything')).rejects.toMatchObject({
      code: 'search-not-configured',
      message: expect.stringContaining('AUTONOMY_SEARCH_URL'),
    });
  });

  it('refuses an empty query without sending it', async () => {
    const before = site.seen.length;
    await expect(tools().search('   ')).rejects.toMatchObject({ code: 'bad-query' });
    expect(site.seen.length).toBe(before);
  });

  it('says what is wrong with an endpoint that answers an error, not JSON, or too much', async () => {
    answer = { status: 500, type: 'text/plain', body: 'boom' };
    await expect(tools().search('x')).rejects.toMatchObject({ code: 'http-status', status: 500 });
    answer = { status: 200, type: 'text/html', body: '<html>search page</html>' };
    await expect(tools().search('x')).rejects.toMatchObject({
      code: 'bad-search-reply',
      message: expect.stringContaining('json format'),
    });
    answer = {
      status: 200,
      type: 'application/json',
      body: results(Array.from({ length: 200 }, (_, i) => `https://docs.example.test/${'x'.repeat(40)}${i}`)),
    };
    await expect(tools({ maxBytes: 2048 }).search('x')).rejects.toMatchObject({ code: 'too-large' });
  });
});
