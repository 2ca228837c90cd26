/**
 * The read-only browser: Debian's chromium driven by playwright-core renders a page that needs
 * JavaScript and returns its visible text. The browser itself reaches nothing: its resolver maps
 * every host to "not found", and every request it makes is intercepted and answered through
 * `guardedGet` (allowlist, address guard, pinned connection, redirects re-checked, size and time
 * caps). So only GETs to allowlisted hosts ever leave the machine; anything else (a form POST, a
 * fetch() or XHR with another method, a request to another host, a beacon) is aborted before it is
 * sent. WebSockets are closed, service workers blocked, downloads refused, pop-ups closed, dialogs
 * dismissed; images, media and fonts are not fetched (only the text matters). One browser per call,
 * closed whatever happens.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Browser, Page, Request, Route } from 'playwright-core';
import type { ResearchPage } from '../agents/runtime/types.js';
import { checkHost, parseWebUrl } from './allowlist.js';
import { type Deadline, startDeadline } from './deadline.js';
import { ResearchError, showUrl } from './errors.js';
import type { FetchSettings } from './fetch.js';
import { guardedGet, MAX_REDIRECTS } from './guarded-get.js';
import { textKind } from './html.js';

export const DEFAULT_CHROMIUM = '/usr/bin/chromium';
/** Requests one page may make (the document, scripts, styles, XHR). */
export const MAX_REQUESTS = 100;
/** Bytes one page may load in all, as a multiple of research.maxBytes. */
const TOTAL_BYTES_FACTOR = 5;
const LAUNCH_TIMEOUT_MS = 30_000;
/** How long to wait for scripts' requests to settle after the load event. */
const SETTLE_MS = 2_000;

/** Resource types never fetched: the text is all research needs (and an event stream never ends). */
const SKIPPED = new Set([
  'image',
  'media',
  'font',
  'manifest',
  'texttrack',
  'eventsource',
  'ping',
  'cspreport',
]);
/** Response headers not passed to the browser: framing we already undid, and state it may not keep. */
const DROPPED_HEADERS = new Set([
  'content-encoding',
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'location',
  'set-cookie',
  'set-cookie2',
  'alt-svc',
  'strict-transport-security',
]);

const ARGS = [
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-gpu',
  '--no-first-run',
  // Defence in depth: the browser's own resolver finds nothing, so a request that somehow escaped
  // interception could not reach any host (IP literals included).
  '--host-resolver-rules=MAP * ~NOTFOUND',
  '--force-webrtc-ip-handling-policy=disable_non_proxied_udp',
];

export interface BrowseSettings extends FetchSettings {
  readonly chromiumPath: string;
}

/** True when chromium is at `path` and playwright-core can be loaded. */
export function browserAvailable(path: string): boolean {
  if (!existsSync(path)) return false;
  try {
    createRequire(import.meta.url).resolve('playwright-core');
    return true;
  } catch {
    return false;
  }
}

async function launch(settings: BrowseSettings): Promise<Browser> {
  let chromium: typeof import('playwright-core').chromium;
  try {
    ({ chromium } = await import('playwright-core'));
  } catch (cause) {
    throw new ResearchError(
      'browser-unavailable',
      'the browser needs playwright-core: npm install playwright-core',
      {
        cause,
      },
    );
  }
  try {
    return await chromium.launch({
      executablePath: settings.chromiumPath,
      headless: true,
      timeout: LAUNCH_TIMEOUT_MS,
      // Chromium refuses to start its sandbox as root; anywhere else the sandbox stays on.
      args: process.getuid?.() === 0 ? ['--no-sandbox', ...ARGS] : ARGS,
    });
  } catch (cause) {
    throw new ResearchError(
      'browser-unavailable',
      `could not start ${settings.chromiumPath}: ${(cause as Error).message.split('\n')[0]} ` +
        '(install it with  apt-get install -y chromium)',
      { cause },
    );
  }
}

function passHeaders(headers: NodeJS.Dict<string | string[]>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || DROPPED_HEADERS.has(name)) continue;
    out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

/** Answers every request of one page through the guarded fetcher, or aborts it. */
class Interceptor {
  /** The main document as last fetched: its final URL and status. */
  main: { url: string; status: number; truncated: boolean } | null = null;
  /** Why the first navigation failed, when it did. */
  mainError: ResearchError | null = null;
  /** true once the first navigation is answered: later navigations (JS, downloads) may not fail the call. */
  loaded = false;
  private requests = 0;
  private bytes = 0;

  constructor(
    private readonly settings: BrowseSettings,
    private readonly deadline: Deadline,
  ) {}

  async handle(route: Route, request: Request): Promise<void> {
    const isMain = request.isNavigationRequest() && request.frame().parentFrame() === null;
    try {
      const res = await this.fetch(request);
      if (isMain) {
        const refusal = this.refuseDocument(res.url, res.status, res.headers);
        if (refusal !== null) throw refusal;
        this.main = { url: res.url.href, status: res.status, truncated: res.truncated };
        // Set before the page gets its document: what its scripts request next may not fail the call.
        this.loaded = true;
      }
      await route.fulfill({ status: res.status, headers: passHeaders(res.headers), body: res.body });
    } catch (error) {
      if (isMain && !this.loaded) {
        this.mainError ??= this.deadline.fail(error, `reading ${showUrl(request.url())}`);
        await route.abort('blockedbyclient').catch(() => {});
      } else if (request.isNavigationRequest()) {
        // A refused navigation after the page loaded (a form POST, a download): "204 No Content"
        // leaves the page as it was, where an abort would replace it with an error page.
        await route.fulfill({ status: 204 }).catch(() => {});
      } else {
        await route.abort('blockedbyclient').catch(() => {});
      }
    }
  }

  private async fetch(request: Request) {
    if (request.method() !== 'GET') {
      throw new ResearchError(
        'bad-method',
        `the page tried a ${request.method()} request; research only reads`,
      );
    }
    if (SKIPPED.has(request.resourceType())) throw new ResearchError('not-text', 'not needed for text');
    this.requests += 1;
    if (this.requests > MAX_REQUESTS)
      throw new ResearchError('too-large', `more than ${MAX_REQUESTS} requests`);
    const budget = this.settings.maxBytes * TOTAL_BYTES_FACTOR - this.bytes;
    if (budget <= 0) throw new ResearchError('too-large', 'the page loads too much');
    const accept = request.headers().accept;
    const res = await guardedGet(request.url(), {
      method: 'GET',
      agent: this.settings.agent,
      allowlist: this.settings.allowlist,
      guard: this.settings.guard,
      maxBytes: Math.min(this.settings.maxBytes, budget),
      // Followed here, never handed to the browser: a redirect it followed itself would not be intercepted.
      maxRedirects: MAX_REDIRECTS,
      headers: { 'user-agent': this.settings.userAgent, accept: accept ?? '*/*' },
      signal: this.deadline.signal,
    });
    this.bytes += res.body.length;
    return res;
  }

  /** A main document that is an error, a download or not text is not rendered. */
  private refuseDocument(
    url: URL,
    status: number,
    headers: NodeJS.Dict<string | string[]>,
  ): ResearchError | null {
    if (status < 200 || status > 299) {
      return new ResearchError('http-status', `${showUrl(url)} answered HTTP ${status}`, { status });
    }
    const disposition = String(headers['content-disposition'] ?? '');
    const type = headers['content-type'] as string | undefined;
    if (/^\s*attachment/i.test(disposition) || textKind(type) === null) {
      return new ResearchError(
        'not-text',
        `${showUrl(url)} is a download or not a text page (${type ?? 'no type'})`,
      );
    }
    return null;
  }
}

async function render(page: Page, url: URL, interceptor: Interceptor, timeoutMs: number): Promise<void> {
  try {
    await page.goto(url.href, { waitUntil: 'domcontentloaded', timeout: timeoutMs });
  } catch (error) {
    throw interceptor.mainError ?? error;
  }
  if (interceptor.mainError !== null) throw interceptor.mainError;
  // Then give scripts a moment to fetch and build the text; a page that never settles is read as it is.
  const settle = { timeout: Math.min(SETTLE_MS, timeoutMs) };
  await page.waitForLoadState('load', settle).catch(() => {});
  await page.waitForLoadState('networkidle', settle).catch(() => {});
}

export async function browse(
  settings: BrowseSettings,
  target: string,
  options: { signal?: AbortSignal } = {},
): Promise<ResearchPage> {
  const url = parseWebUrl(target);
  checkHost(url, settings.allowlist, settings.agent);
  let deadline: Deadline | null = null;
  let browser: Browser | null = null;
  const closeOnAbort = () => void browser?.close().catch(() => {});
  try {
    options.signal?.throwIfAborted();
    // research.timeout is the page's time: it starts once the browser is up. A cold start on a
    // loaded host has its own cap (LAUNCH_TIMEOUT_MS) and says so when it fails.
    browser = await launch(settings);
    deadline = startDeadline(settings.timeoutMs, options.signal);
    deadline.signal.addEventListener('abort', closeOnAbort, { once: true });
    deadline.signal.throwIfAborted();
    const context = await browser.newContext({
      acceptDownloads: false,
      javaScriptEnabled: true,
      serviceWorkers: 'block',
      userAgent: settings.userAgent,
    });
    const interceptor = new Interceptor(settings, deadline);
    await context.routeWebSocket(/.*/, (ws) => ws.close({ code: 1008, reason: 'research is read-only' }));
    await context.route('**/*', (route, request) => interceptor.handle(route, request));
    const page = await context.newPage();
    context.on('page', (p) => {
      if (p !== page) void p.close().catch(() => {});
    });
    page.on('dialog', (d) => void d.dismiss().catch(() => {}));
    await render(page, url, interceptor, settings.timeoutMs);
    const title = (await page.title()).trim();
    const text = String(
      await page.evaluate('document.body ? document.body.innerText : document.documentElement.innerText'),
    ).trim();
    const main = interceptor.main ?? { url: url.href, status: 200, truncated: false };
    const cut = text.length > settings.maxBytes;
    return {
      url: main.url,
      status: main.status,
      title: title === '' ? null : title,
      text: cut ? text.slice(0, settings.maxBytes) : text,
      truncated: cut || main.truncated,
    };
  } catch (error) {
    const mapper = deadline ?? startDeadline(settings.timeoutMs, options.signal);
    throw mapper.fail(error, `rendering ${showUrl(url)}`);
  } finally {
    deadline?.signal.removeEventListener('abort', closeOnAbort);
    await (browser as Browser | null)?.close().catch(() => {});
  }
}
