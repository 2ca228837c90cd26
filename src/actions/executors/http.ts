/**
 * The http executor: one request to the catalog's method and URL template, params percent-encoded
 * in the URL and JSON-escaped in the body, `${ENV}` secrets filled in headers only. Only http and
 * https, no redirects followed (a redirect is reported, never a request to a host the catalog does
 * not name), a timeout, and a capped response body. Header values never appear in results, errors
 * or logs: only their names.
 */
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { replacePlaceholders } from '../../policy/placeholders.js';
import type { CompiledAction, Params } from '../../policy/types.js';
import type { Env } from './command.js';
import { fillBody, fillHeader, fillUrl } from './template.js';

export const DEFAULT_BODY_CAP = 64 * 1024;

export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** A request ready to send. `headers` holds secrets: never log or show this object; use headerNames. */
export interface HttpSpec {
  readonly method: HttpMethod;
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly headerNames: readonly string[];
  readonly body: string | null;
  readonly timeoutMs: number;
}

export interface HttpOptions {
  readonly signal?: AbortSignal;
  /** Bytes of the response body kept (the head), default 64 KiB; the rest is not read. */
  readonly maxBodyBytes?: number;
  /** Injected for tests and proxies; default: the global fetch. */
  readonly fetch?: typeof fetch;
  /** Return what would be sent (method, URL, header names) and send nothing. */
  readonly dryRun?: boolean;
}

export interface HttpResult {
  readonly kind: 'http';
  /** True when nothing was sent (dry-run mode). */
  readonly dryRun: boolean;
  readonly method: HttpMethod;
  readonly url: string;
  /** Names of the headers sent (values hold secrets and are never returned). */
  readonly headerNames: readonly string[];
  /** The response status, or null when no response came (timeout, abort, connection error). */
  readonly status: number | null;
  readonly ok: boolean;
  readonly timedOut: boolean;
  readonly aborted: boolean;
  readonly error: string | null;
  /** The first maxBodyBytes of the response body, as UTF-8. */
  readonly body: string;
  readonly bodyBytes: number;
  readonly truncated: boolean;
  /** SHA-256 hex of the body bytes read. */
  readonly bodySha256: string;
  readonly wallMs: number;
}

/** The request as the catalog and params make it. Throws MissingEnvError before anything is sent. */
export function prepareHttp(action: CompiledAction, params: Params, env: Env): HttpSpec {
  const ex = action.doc.executor;
  if (!('http' in ex)) throw new TypeError(`action ${action.id} is not an http action`);
  const { method, url: urlTemplate, headers: headerTemplates, body: bodyTemplate } = ex.http;
  const url = fillUrl(urlTemplate, params);
  const parsed = new URL(url);
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new TypeError(`action ${action.id}: only http and https URLs are allowed, got ${parsed.protocol}`);
  }
  // The host comes from the catalog only (check-actions enforces it; this holds it at run time too).
  const fixed = new URL(replacePlaceholders(urlTemplate, () => 'x'));
  if (parsed.host !== fixed.host) {
    throw new TypeError(`action ${action.id}: params may not change the host of ${urlTemplate}`);
  }
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(headerTemplates)) {
    headers[name] = fillHeader(name, value, params, env);
  }
  let body: string | null = null;
  if (bodyTemplate !== undefined && method !== 'GET' && method !== 'HEAD') {
    body = fillBody(bodyTemplate, params);
    if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) {
      headers['content-type'] = 'application/json';
    }
  }
  return { method, url, headers, headerNames: Object.keys(headers), body, timeoutMs: action.timeoutMs };
}

function describeFailure(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  const cause = e.cause?.code ?? e.cause?.message;
  return cause ? `${e.message}: ${cause}` : String(e.message ?? err);
}

/** Sends a prepared request. Never throws for network failures: they are described in the result. */
export async function runHttp(spec: HttpSpec, options: HttpOptions = {}): Promise<HttpResult> {
  const cap = options.maxBodyBytes ?? DEFAULT_BODY_CAP;
  if (options.dryRun) return dryRunResult(spec);
  const doFetch = options.fetch ?? fetch;
  const started = performance.now();
  const controller = new AbortController();
  let timedOut = false;
  let aborted = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new Error(`timed out after ${spec.timeoutMs} ms`));
  }, spec.timeoutMs);
  timer.unref();
  const onAbort = (): void => {
    aborted = true;
    controller.abort(new Error('aborted'));
  };
  if (options.signal?.aborted) onAbort();
  else options.signal?.addEventListener('abort', onAbort, { once: true });

  const hash = createHash('sha256');
  const kept: Buffer[] = [];
  let bodyBytes = 0;
  let truncated = false;
  let status: number | null = null;
  let error: string | null = null;
  try {
    if (aborted) throw new Error('aborted before it started');
    const response = await doFetch(spec.url, {
      method: spec.method,
      headers: spec.headers,
      body: spec.body ?? undefined,
      redirect: 'manual',
      signal: controller.signal,
    });
    status = response.status;
    if (response.body) {
      const reader = response.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        const chunk = Buffer.from(value);
        const room = cap - bodyBytes;
        const part = chunk.length > room ? chunk.subarray(0, Math.max(0, room)) : chunk;
        kept.push(part);
        hash.update(part);
        bodyBytes += part.length;
        if (chunk.length > room) {
          truncated = true;
          await reader.cancel().catch(() => undefined);
          break;
        }
      }
    }
  } catch (err) {
    error = timedOut
      ? `no complete response within ${spec.timeoutMs} ms`
      : aborted
        ? 'aborted (kill switch or shutdown)'
        : describeFailure(err);
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
  }
  return {
    kind: 'http',
    dryRun: false,
    method: spec.method,
    url: spec.url,
    headerNames: spec.headerNames,
    status,
    ok: error === null && status !== null && status >= 200 && status < 300,
    timedOut,
    aborted,
    error,
    body: Buffer.concat(kept).toString('utf8'),
    bodyBytes,
    truncated,
    bodySha256: hash.digest('hex'),
    wallMs: Math.round(performance.now() - started),
  };
}

function dryRunResult(spec: HttpSpec): HttpResult {
  return {
    kind: 'http',
    dryRun: true,
    method: spec.method,
    url: spec.url,
    headerNames: spec.headerNames,
    status: null,
    ok: false,
    timedOut: false,
    aborted: false,
    error: null,
    body: '',
    bodyBytes: 0,
    truncated: false,
    bodySha256: createHash('sha256').digest('hex'),
    wallMs: 0,
  };
}
