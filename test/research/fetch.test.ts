/**
 * web_fetch against a local site: allowlist, address guard (the default one, with hosts mapped to
 * blocked addresses by an injected resolver), pinned connections, redirects, caps, content types,
 * citations, and which tools an agent gets.
 */
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResearchTools } from '../../src/agents/runtime/types.js';
import { blockedRange } from '../../src/research/address-guard.js';
import { createResearch, type ResearchOptions } from '../../src/research/index.js';
import { makePolicy } from '../fixtures/policy.js';
import {
  html,
  type ResearchInput,
  researchPolicy,
  researchTools,
  type Site,
  startSite,
  testResolver,
} from '../helpers/research-site.js';

let site: Site;

beforeAll(async () => {
  site = await startSite();
  site.route(
    '/advisory',
    html(
      `<nav><a href="/home">Home</a></nav>
       <h1>GHSA-1234 in left-pad</h1>
       <script>var leaked = "script-body-text";</script><style>.x{color:red}</style>
       <p>Upgrade to <a href="/fixed">1.3.1</a>.</p><img src="/logo.png" alt="logo-alt-text">
       <table><tr><th>Package</th><th>Fixed in</th></tr><tr><td>left-pad</td><td>1.3.1</td></tr></table>`,
      'GHSA-1234 &amp; friends',
    ),
  );
  site.route('/plain', (_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('just text'));
  site.route('/json', (_req, res) =>
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"id":"OSV-1","affected":[1]}'),
  );
  site.route('/latin1', (_req, res) =>
    res
      .writeHead(200, { 'content-type': 'text/plain; charset=iso-8859-1' })
      .end(Buffer.from([0x63, 0x61, 0x66, 0xe9])),
  );
  site.route('/image', (_req, res) => res.writeHead(200, { 'content-type': 'image/png' }).end('PNG'));
  site.route('/big', (_req, res) =>
    res.writeHead(200, { 'content-type': 'text/plain' }).end('a'.repeat(50_000)),
  );
  site.route('/big-gzip', (_req, res) =>
    res
      .writeHead(200, { 'content-type': 'text/plain', 'content-encoding': 'gzip' })
      .end(gzipSync('b'.repeat(5_000_000))),
  );
  site.route('/hang', () => {
    // Never answers: the time cap has to end the call.
  });
  site.route('/trickle', (_req, res) => {
    // Starts the page, then stalls mid-body.
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('the first half');
  });
  site.route('/missing-page', (_req, res) => res.writeHead(404, { 'content-type': 'text/html' }).end('gone'));
  const redirect =
    (to: (url: URL) => string): Parameters<Site['route']>[1] =>
    (_req, res, url) =>
      res.writeHead(302, { location: to(url) }).end();
  site.route(
    '/to-advisory',
    redirect(() => '/advisory'),
  );
  site.route(
    '/to-wiki',
    redirect(() => site.url('ops.wiki.example.test', '/plain')),
  );
  site.route(
    '/to-evil',
    redirect(() => site.url('evil.example.test', '/plain')),
  );
  site.route(
    '/to-internal',
    redirect(() => site.url('internal.wiki.example.test', '/plain')),
  );
  site.route(
    '/to-file',
    redirect(() => 'file:///etc/passwd'),
  );
  site.route(
    '/loop',
    redirect((url) => `/loop?n=${Number(url.searchParams.get('n') ?? 0) + 1}`),
  );
});

afterAll(() => site.close());

function tools(research: Partial<ResearchInput> = {}, options: Partial<ResearchOptions> = {}): ResearchTools {
  return researchTools(null, research, options);
}

const DOCS = 'docs.example.test';

/** The requests the site saw for `path` (query ignored). */
function seenAt(path: string) {
  return site.seen.filter((r) => r.path.split('?')[0] === path);
}

describe('web_fetch', () => {
  it('reads an allowlisted page as text: no scripts, styles, images or navigation; links absolute', async () => {
    const research = tools();
    const page = await research.fetch(site.url(DOCS, '/advisory'));
    expect(page).toMatchObject({ url: site.url(DOCS, '/advisory'), status: 200, truncated: false });
    expect(page.title).toBe('GHSA-1234 & friends');
    expect(page.text).toContain('GHSA-1234 in left-pad');
    expect(page.text).toContain(`Upgrade to 1.3.1 [${site.url(DOCS, '/fixed')}]`);
    expect(page.text).toMatch(/Package +Fixed in\nleft-pad +1\.3\.1/);
    for (const hidden of ['script-body-text', 'color:red', 'logo-alt-text', 'Home']) {
      expect(page.text).not.toContain(hidden);
    }
    expect(research.cited()).toEqual([site.url(DOCS, '/advisory')]);
  });

  it('reads text and JSON (pretty printed) in the charset the server names', async () => {
    const research = tools();
    expect((await research.fetch(site.url(DOCS, '/plain'))).text).toBe('just text');
    expect((await research.fetch(site.url(DOCS, '/json'))).text).toBe(
      JSON.stringify({ id: 'OSV-1', affected: [1] }, null, 2),
    );
    expect((await research.fetch(site.url(DOCS, '/latin1'))).text).toBe('café');
  });

  it('sends HEAD when asked, and never a body', async () => {
    const research = tools();
    const page = await research.fetch(site.url(DOCS, '/plain'), { method: 'HEAD' });
    expect(page).toMatchObject({ status: 200, text: '', title: null });
    expect(seenAt('/plain').at(-1)?.method).toBe('HEAD');
  });

  it('refuses any other method, sending nothing', async () => {
    const research = tools();
    const before = site.seen.length;
    const post = { method: 'POST' } as unknown as { method: 'GET' };
    await expect(research.fetch(site.url(DOCS, '/plain?post'), post)).rejects.toMatchObject({
      code: 'bad-method',
    });
    expect(site.seen.length).toBe(before);
  });

  it('refuses hosts off the allowlist before sending anything', async () => {
    const research = tools();
    await expect(research.fetch(site.url('evil.example.test', '/plain'))).rejects.toMatchObject({
      code: 'not-allowed-host',
      message: expect.stringContaining('research.domains.guardian'),
    });
    // A plain entry allows that host only; `*.` allows the domain and its subdomains.
    await expect(research.fetch(site.url('api.docs.example.test', '/plain'))).rejects.toMatchObject({
      code: 'not-allowed-host',
    });
    // `*.wiki.example.test` matches on a label boundary only.
    await expect(research.fetch(site.url('evilwiki.example.test', '/plain'))).rejects.toMatchObject({
      code: 'not-allowed-host',
    });
    const refused = new Set(['evil.example.test', 'api.docs.example.test', 'evilwiki.example.test']);
    expect(site.seen.filter((r) => refused.has(r.host))).toEqual([]);
    expect((await research.fetch(site.url('ops.wiki.example.test', '/plain'))).text).toBe('just text');
    expect((await research.fetch(site.url('WIKI.Example.TEST.', '/plain'))).text).toBe('just text');
  });

  it('refuses other schemes, credentials in URLs and things that are not URLs', async () => {
    const research = tools();
    await expect(research.fetch('file:///etc/passwd')).rejects.toMatchObject({ code: 'bad-scheme' });
    await expect(research.fetch(`ftp://${DOCS}/x`)).rejects.toMatchObject({ code: 'bad-scheme' });
    await expect(research.fetch(site.url(`user:pw@${DOCS}`, '/plain'))).rejects.toMatchObject({
      code: 'bad-scheme',
    });
    await expect(research.fetch('not a url')).rejects.toMatchObject({ code: 'bad-url' });
  });

  it('follows redirects between allowlisted hosts and cites the final page', async () => {
    const research = tools();
    const page = await research.fetch(site.url(DOCS, '/to-wiki'));
    expect(page.url).toBe(site.url('ops.wiki.example.test', '/plain'));
    expect(page.text).toBe('just text');
    expect(research.cited()).toEqual([site.url('ops.wiki.example.test', '/plain')]);
  });

  it('checks every redirect hop: another host, another scheme, too many hops', async () => {
    const research = tools();
    await expect(research.fetch(site.url(DOCS, '/to-evil'))).rejects.toMatchObject({
      code: 'not-allowed-host',
      message: expect.stringContaining('redirects to a page research may not read'),
    });
    expect(site.seen.some((r) => r.host === 'evil.example.test')).toBe(false);
    await expect(research.fetch(site.url(DOCS, '/to-file'))).rejects.toMatchObject({ code: 'bad-scheme' });
    await expect(research.fetch(site.url(DOCS, '/loop'))).rejects.toMatchObject({
      code: 'too-many-redirects',
    });
    expect(seenAt('/loop')).toHaveLength(6);
    expect(research.cited()).toEqual([]);
  });

  it('refuses a redirect to a host on a private address', async () => {
    // Only the local site's address passes; internal.wiki.example.test resolves to 10.0.0.5.
    const research = tools(
      { allowPrivateAddresses: false },
      {
        resolve: testResolver({ 'internal.wiki.example.test': ['10.0.0.5'] }),
        checkAddress: (a) => (a === '127.0.0.1' ? null : blockedRange(a)),
      },
    );
    expect((await research.fetch(site.url(DOCS, '/plain'))).text).toBe('just text');
    await expect(research.fetch(site.url(DOCS, '/to-internal'))).rejects.toMatchObject({
      code: 'blocked-address',
      message: expect.stringContaining('10.0.0.5 (private)'),
    });
  });

  it('cuts a page at research.maxBytes and says so, compressed or not', async () => {
    const research = tools({ maxBytes: 4096 });
    const page = await research.fetch(site.url(DOCS, '/big'));
    expect(page.truncated).toBe(true);
    expect(page.text).toBe('a'.repeat(4096));
    const zipped = await research.fetch(site.url(DOCS, '/big-gzip'));
    expect(zipped).toMatchObject({ truncated: true, text: 'b'.repeat(4096) });
  });

  it('gives up at research.timeout, and when the caller aborts', async () => {
    const research = tools({ timeout: '1s' });
    await expect(research.fetch(site.url(DOCS, '/hang'))).rejects.toMatchObject({
      code: 'timeout',
      message: expect.stringContaining('research.timeout'),
    });
    await expect(research.fetch(site.url(DOCS, '/trickle'))).rejects.toMatchObject({ code: 'timeout' });
    const controller = new AbortController();
    const pending = tools().fetch(site.url(DOCS, '/hang'), { signal: controller.signal });
    controller.abort();
    await expect(pending).rejects.toMatchObject({ code: 'aborted' });
    // The run's signal (the agent killed, the bot stopping) ends calls too.
    const run = new AbortController();
    const inRun = tools({}, { signal: run.signal }).fetch(site.url(DOCS, '/hang'));
    run.abort();
    await expect(inRun).rejects.toMatchObject({ code: 'aborted' });
  });

  it('refuses error statuses and pages that are not text, and cites neither', async () => {
    const research = tools();
    await expect(research.fetch(site.url(DOCS, '/missing-page'))).rejects.toMatchObject({
      code: 'http-status',
      status: 404,
    });
    await expect(research.fetch(site.url(DOCS, '/image'))).rejects.toMatchObject({
      code: 'not-text',
      message: expect.stringContaining('image/png'),
    });
    expect(research.cited()).toEqual([]);
  });

  it('lists each page read once, in the order read', async () => {
    const research = tools();
    await research.fetch(site.url(DOCS, '/plain'));
    await research.fetch(site.url(DOCS, '/json'));
    await research.fetch(site.url(DOCS, '/plain'));
    await research.fetch(site.url(DOCS, '/to-advisory'));
    await expect(research.fetch(site.url('evil.example.test', '/plain'))).rejects.toThrow();
    expect(research.cited()).toEqual([
      site.url(DOCS, '/plain'),
      site.url(DOCS, '/json'),
      site.url(DOCS, '/advisory'),
    ]);
  });
});

describe('the address guard', () => {
  const blocked = [
    ['127.0.0.1', 'loopback'],
    ['10.1.2.3', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'linkLocal'],
    ['100.64.0.1', 'carrierGradeNat'],
    ['0.0.0.0', 'unspecified'],
    ['::1', 'loopback'],
    ['fd00::1', 'uniqueLocal'],
    ['fe80::1', 'linkLocal'],
    ['::ffff:10.0.0.1', 'ipv4Mapped private'],
    ['64:ff9b::a00:1', 'rfc6052 private'],
  ] as const;

  it.each(blocked)('blocks %s (%s) by default, sending nothing', async (address, range) => {
    const research = tools(
      { allowPrivateAddresses: false },
      { resolve: testResolver({ [DOCS]: [address] }) },
    );
    const before = site.seen.length;
    await expect(research.fetch(site.url(DOCS, '/plain'))).rejects.toMatchObject({
      code: 'blocked-address',
      message: expect.stringContaining(`${address} (${range})`),
    });
    expect(site.seen.length).toBe(before);
  });

  it('blocks a host when any of its addresses is private', async () => {
    const research = tools(
      { allowPrivateAddresses: false },
      { resolve: testResolver({ [DOCS]: ['93.184.215.14', '10.0.0.1'] }) },
    );
    await expect(research.fetch(site.url(DOCS, '/plain'))).rejects.toMatchObject({ code: 'blocked-address' });
  });

  it('lets public unicast addresses through', () => {
    for (const address of ['93.184.215.14', '2606:4700:4700::1111', '64:ff9b::808:808', '::ffff:8.8.8.8']) {
      expect(blockedRange(address)).toBeNull();
    }
  });

  it('connects to the address it checked and never resolves the host again', async () => {
    // The system resolver knows nothing of docs.example.test: only the checked address can be reached.
    const resolve = testResolver();
    const research = tools({}, { resolve });
    await research.fetch(site.url(DOCS, '/to-advisory'));
    expect(resolve.calls).toEqual([DOCS, DOCS]); // once per hop
  });

  it('says when a host does not resolve', async () => {
    const research = tools({}, { resolve: testResolver({ [DOCS]: [] }) });
    await expect(research.fetch(site.url(DOCS, '/plain'))).rejects.toMatchObject({ code: 'network' });
  });
});

describe('createResearch', () => {
  it('gives no tools to an agent without domains, or when the policy lists no tools', () => {
    const policy = researchPolicy();
    expect(createResearch({ policy, agent: 'mentor', chromiumPath: null })).toBeNull();
    expect(createResearch({ policy: researchPolicy({ tools: [] }), agent: 'guardian' })).toBeNull();
    expect(createResearch({ policy: makePolicy(), agent: 'guardian' })).toBeNull();
    // web_search alone, with no search endpoint configured, is no tool at all.
    expect(
      createResearch({ policy: researchPolicy({ tools: ['web_search'] }), agent: 'guardian' }),
    ).toBeNull();
  });

  it('offers the policy tools that can work here', () => {
    const policy = researchPolicy();
    const bare = createResearch({ policy, agent: 'guardian', chromiumPath: null });
    expect([...(bare?.tools ?? [])]).toEqual(['web_fetch']);
    const full = createResearch({
      policy,
      agent: 'guardian',
      searchUrl: 'http://127.0.0.1:9/search',
      chromiumPath: '/usr/bin/chromium',
    });
    expect([...(full?.tools ?? [])].sort()).toEqual(['browser', 'web_fetch', 'web_search']);
    const missing = createResearch({ policy, agent: 'guardian', chromiumPath: '/nonexistent/chromium' });
    expect(missing?.tools.has('browser')).toBe(false);
  });

  it('refuses a tool the policy does not list, and the browser when it is missing', async () => {
    const onlySearch = createResearch({
      policy: researchPolicy({ tools: ['web_search'] }),
      agent: 'guardian',
      searchUrl: 'http://127.0.0.1:9/search',
    });
    await expect(onlySearch?.fetch(site.url(DOCS, '/plain'))).rejects.toMatchObject({
      code: 'tool-not-allowed',
    });
    await expect(onlySearch?.browse(site.url(DOCS, '/plain'))).rejects.toMatchObject({
      code: 'tool-not-allowed',
    });
    const noBrowser = tools({}, { chromiumPath: '/nonexistent/chromium' });
    await expect(noBrowser.browse(site.url(DOCS, '/plain'))).rejects.toMatchObject({
      code: 'browser-unavailable',
      message: expect.stringContaining('apt-get install -y chromium'),
    });
  });

  it('refuses a search endpoint that is not an http(s) URL', () => {
    expect(() =>
      createResearch({ policy: researchPolicy(), agent: 'guardian', searchUrl: 'ftp://search.local/' }),
    ).toThrow(/AUTONOMY_SEARCH_URL must be http or https/);
  });
});
