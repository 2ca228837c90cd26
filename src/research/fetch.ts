/**
 * web_fetch: GET (or HEAD) one allowlisted page and return it as text. Every hop is checked by
 * `guardedGet`; the body stops at research.maxBytes (the page comes back marked truncated), the
 * whole call at research.timeout or the caller's signal. Error statuses and non-text replies
 * (images, archives, PDFs) are refused with a ResearchError that says so.
 */
import type { ResearchPage } from '../agents/runtime/types.js';
import type { AddressGuard } from './address-guard.js';
import type { Allowlist } from './allowlist.js';
import { startDeadline } from './deadline.js';
import { ResearchError, showUrl } from './errors.js';
import { guardedGet, MAX_REDIRECTS } from './guarded-get.js';
import { decodeBody, htmlTitle, htmlToText, jsonToText, textKind } from './html.js';

export interface FetchSettings {
  readonly agent: string;
  readonly allowlist: Allowlist;
  readonly guard: AddressGuard;
  readonly maxBytes: number;
  readonly timeoutMs: number;
  readonly userAgent: string;
}

const ACCEPT = 'text/html,application/xhtml+xml,text/plain;q=0.9,application/json;q=0.9,text/*;q=0.8';

export async function webFetch(
  settings: FetchSettings,
  url: string,
  options: { method?: 'GET' | 'HEAD'; signal?: AbortSignal } = {},
): Promise<ResearchPage> {
  const method = options.method ?? 'GET';
  if (method !== 'GET' && method !== 'HEAD') {
    throw new ResearchError('bad-method', `research only reads pages (GET or HEAD), not ${String(method)}`);
  }
  const deadline = startDeadline(settings.timeoutMs, options.signal);
  const res = await guardedGet(url, {
    method,
    agent: settings.agent,
    allowlist: settings.allowlist,
    guard: settings.guard,
    maxBytes: settings.maxBytes,
    maxRedirects: MAX_REDIRECTS,
    headers: { 'user-agent': settings.userAgent, accept: ACCEPT },
    signal: deadline.signal,
  }).catch((error: unknown) => {
    throw deadline.fail(error, `reading ${showUrl(url)}`);
  });
  const finalUrl = res.url.href;
  if (res.status < 200 || res.status > 299) {
    throw new ResearchError('http-status', `${showUrl(res.url)} answered HTTP ${res.status}`, {
      status: res.status,
    });
  }
  if (method === 'HEAD')
    return { url: finalUrl, status: res.status, title: null, text: '', truncated: false };
  const contentType = res.headers['content-type'];
  const kind = textKind(contentType);
  if (kind === null) {
    throw new ResearchError(
      'not-text',
      `${showUrl(res.url)} is not a text page (${contentType ?? 'no Content-Type'}); only HTML, JSON and text can be read`,
    );
  }
  const body = decodeBody(res.body, contentType);
  const title = kind === 'html' ? htmlTitle(body) : null;
  const text = kind === 'html' ? htmlToText(body, finalUrl) : kind === 'json' ? jsonToText(body) : body;
  return { url: finalUrl, status: res.status, title, text, truncated: res.truncated };
}
