/**
 * The hooks' request and response I/O on Node's own objects. The bot serves Hono through
 * @hono/node-server, which hands every route the Node request and response (`c.env.incoming`,
 * `c.env.outgoing`). On the webhook hot path the hooks read headers and the body from the Node
 * request and write the reply to the Node response (then return node-server's
 * RESPONSE_ALREADY_SENT), instead of building a WHATWG Headers object, an ArrayBuffer copy of the
 * body and a Response per request: a third of a webhook's CPU time (bench/ingest.bench.ts).
 * Routing, 404/405 and errors stay Hono's.
 *
 * Anywhere else (Hono's `app.request()` in a test, another runtime) the same functions use Hono's
 * own API, with the same results.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

interface NodeBindings {
  readonly incoming: IncomingMessage;
  readonly outgoing: ServerResponse;
}

function nodeOf(c: Context): NodeBindings | null {
  const env = c.env as Partial<NodeBindings> | undefined;
  return env?.incoming !== undefined && env.outgoing !== undefined ? (env as NodeBindings) : null;
}

/** A request header (name in lower case), or undefined. Repeated headers are joined with ", ". */
export function headerOf(c: Context, name: string): string | undefined {
  const node = nodeOf(c);
  if (node === null) return c.req.header(name);
  const value = node.incoming.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/**
 * The body's bytes, or null once they pass `limit` (the rest is left unread; the reply should close
 * the connection). The caller checks a declared Content-Length first.
 */
export async function bodyBytes(c: Context, limit: number): Promise<Uint8Array | null> {
  const node = nodeOf(c);
  if (node === null) {
    const stream = c.req.raw.body;
    return stream === null ? new Uint8Array(0) : readStream(stream, limit);
  }
  const incoming = node.incoming;
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
    const onAborted = () => onError(new Error('the client closed the connection before the body ended'));
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

/** Answers `value` as JSON with `status` and `headers` (lower-case names). */
export function sendJson(
  c: Context,
  value: unknown,
  status: ContentfulStatusCode,
  headers: Readonly<Record<string, string>> = {},
): Response {
  const node = nodeOf(c);
  if (node === null) return c.json(value, status, headers);
  const text = JSON.stringify(value);
  node.outgoing.writeHead(status, {
    ...headers,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  node.outgoing.end(text);
  return RESPONSE_ALREADY_SENT;
}
