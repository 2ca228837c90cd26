/**
 * What a hook sees of its request and how it answers: headers, query parameters, the body (within
 * a limit) and a JSON reply. Two bindings, the same results:
 * - `nodeExchange(incoming, outgoing)`: Node's own request and response. The bot's server hands
 *   POST /hooks/* to the hooks this way, straight from node:http (server.ts `postDirect`): no WHATWG
 *   Request, Headers, Context or Response per request, no ArrayBuffer copy of the body. Hono's
 *   layer was a tenth, and those objects a third, of a webhook's CPU time (bench/ingest.bench.ts).
 * - `exchangeOf(c)`: a Hono Context, for the same hooks mounted on the Hono app. Under
 *   @hono/node-server it uses the Node objects the context carries (`c.env.incoming/outgoing`);
 *   elsewhere (Hono's `app.request()` in a test, another runtime) Hono's own API.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

export interface HookExchange {
  /** A request header (name in lower case), or undefined. Repeated headers are joined with ", ". */
  header(name: string): string | undefined;
  /** A query parameter (its first value, decoded), or undefined. */
  query(name: string): string | undefined;
  /**
   * The body's bytes, or null once they pass `limit` (the rest is left unread; the reply should
   * close the connection). The caller checks a declared Content-Length first.
   */
  body(limit: number): Promise<Uint8Array | null>;
  /** Answers `value` as JSON with `status` and `headers` (lower-case names). */
  json(value: unknown, status: ContentfulStatusCode, headers?: Readonly<Record<string, string>>): Response;
}

/** A hook: reads the exchange and answers on it (the Response is for Hono; direct routes ignore it). */
export type HookHandler = (x: HookExchange) => Response | Promise<Response>;

class NodeExchange implements HookExchange {
  private params: URLSearchParams | null = null;

  constructor(
    private readonly incoming: IncomingMessage,
    private readonly outgoing: ServerResponse,
  ) {}

  header(name: string): string | undefined {
    const value = this.incoming.headers[name];
    return Array.isArray(value) ? value.join(', ') : value;
  }

  query(name: string): string | undefined {
    if (this.params === null) {
      const url = this.incoming.url ?? '';
      const at = url.indexOf('?');
      this.params = new URLSearchParams(at < 0 ? '' : url.slice(at + 1));
    }
    return this.params.get(name) ?? undefined;
  }

  body(limit: number): Promise<Uint8Array | null> {
    return readIncoming(this.incoming, limit);
  }

  json(
    value: unknown,
    status: ContentfulStatusCode,
    headers: Readonly<Record<string, string>> = {},
  ): Response {
    const text = JSON.stringify(value);
    // Headers as a flat [name, value, ...] list: Node takes it as is (an object costs ~1.4 µs more).
    const list: string[] = [];
    for (const name in headers) {
      if (name !== 'content-type' && name !== 'content-length') list.push(name, headers[name] as string);
    }
    list.push('content-type', 'application/json', 'content-length', String(Buffer.byteLength(text)));
    this.outgoing.writeHead(status, list);
    this.outgoing.end(text);
    return RESPONSE_ALREADY_SENT;
  }
}

class FetchExchange implements HookExchange {
  constructor(private readonly c: Context) {}

  header(name: string): string | undefined {
    return this.c.req.header(name);
  }

  query(name: string): string | undefined {
    return this.c.req.query(name);
  }

  body(limit: number): Promise<Uint8Array | null> {
    const stream = this.c.req.raw.body;
    return stream === null ? Promise.resolve(new Uint8Array(0)) : readStream(stream, limit);
  }

  json(
    value: unknown,
    status: ContentfulStatusCode,
    headers: Readonly<Record<string, string>> = {},
  ): Response {
    return this.c.json(value, status, headers);
  }
}

/** The exchange on Node's own request and response. */
export function nodeExchange(incoming: IncomingMessage, outgoing: ServerResponse): HookExchange {
  return new NodeExchange(incoming, outgoing);
}

/** The exchange for a Hono context: on the Node objects it carries when there are any. */
export function exchangeOf(c: Context): HookExchange {
  const env = c.env as { incoming?: IncomingMessage; outgoing?: ServerResponse } | undefined;
  return env?.incoming !== undefined && env.outgoing !== undefined
    ? new NodeExchange(env.incoming, env.outgoing)
    : new FetchExchange(c);
}

function readIncoming(incoming: IncomingMessage, limit: number): Promise<Uint8Array | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const done = (value: Uint8Array | null) => {
      incoming.off('data', onData).off('end', onEnd).off('error', onError).off('aborted', onAborted);
      resolve(value);
    };
    const onData = (chunk: Buffer) => {
      total += chunk.length;
      if (total > limit) {
        incoming.pause();
        done(null);
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => done(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, total));
    const onError = (err: Error) => {
      incoming.off('data', onData).off('end', onEnd).off('aborted', onAborted);
      reject(err);
    };
    const onAborted = () =>
      onError(
        Object.assign(new Error('the client closed the connection before the body ended'), {
          code: 'ECONNRESET',
        }),
      );
    incoming.on('data', onData).on('end', onEnd).on('error', onError).on('aborted', onAborted);
  });
}

async function readStream(stream: ReadableStream<Uint8Array>, limit: number): Promise<Uint8Array | null> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel().catch(() => {});
      return null;
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0] as Uint8Array;
  return Buffer.concat(chunks, total);
}
