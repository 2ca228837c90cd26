/**
 * One GET or HEAD over node:http(s), connected to an address the guard already checked: the
 * `lookup` hook answers with that address, so nothing resolves the host a second time, while the
 * URL's host name still goes out as the Host header and the TLS server name. The body is read up
 * to a byte cap (counted after decompression, so a compressed bomb stops at the cap too) and the
 * rest is dropped. Never sends a body, never follows a redirect (the caller re-checks each hop).
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import type { Readable } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import type { CheckedAddress } from './address-guard.js';
import { ResearchError, showUrl } from './errors.js';

export interface RawRequest {
  readonly url: URL;
  readonly method: 'GET' | 'HEAD';
  readonly headers: Readonly<Record<string, string>>;
  /** Connect to this address; null resolves the host normally (the operator's search endpoint). */
  readonly pin: CheckedAddress | null;
  /** Bytes of (decompressed) body kept; reading stops there. */
  readonly maxBytes: number;
  readonly signal: AbortSignal;
}

export interface RawResponse {
  readonly url: URL;
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** Empty for HEAD and for redirects. */
  readonly body: Buffer;
  readonly truncated: boolean;
}

export const REDIRECT_STATUSES: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);

function pinnedLookup(pin: CheckedAddress): LookupFunction {
  return (_host, options, callback) => {
    if ((options as { all?: boolean }).all === true) {
      (callback as unknown as (e: null, list: { address: string; family: number }[]) => void)(null, [
        { address: pin.address, family: pin.family },
      ]);
    } else {
      callback(null, pin.address, pin.family);
    }
  };
}

function decoded(res: IncomingMessage, url: URL): Readable {
  const encoding = (res.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  if (encoding === 'identity' || encoding === '') return res;
  if (encoding === 'gzip' || encoding === 'x-gzip') return res.pipe(createGunzip());
  if (encoding === 'deflate') return res.pipe(createInflate());
  if (encoding === 'br') return res.pipe(createBrotliDecompress());
  res.destroy();
  throw new ResearchError('not-text', `${showUrl(url)} is sent with an unknown encoding (${encoding})`);
}

/** Sends the request; rejects with the transport's error (the caller maps aborts and timeouts). */
export function httpGet(req: RawRequest): Promise<RawResponse> {
  return new Promise<RawResponse>((resolve, reject) => {
    const send = req.url.protocol === 'https:' ? httpsRequest : httpRequest;
    const client = send(req.url, {
      method: req.method,
      headers: { 'accept-encoding': 'gzip, deflate, br', ...req.headers },
      agent: false,
      signal: req.signal,
      ...(req.pin === null ? {} : { lookup: pinnedLookup(req.pin) }),
    });
    client.on('error', reject);
    client.on('response', (res) => {
      const status = res.statusCode ?? 0;
      const done = (body: Buffer, truncated: boolean) =>
        resolve({ url: req.url, status, headers: res.headers, body, truncated });
      if (req.method === 'HEAD' || (REDIRECT_STATUSES.has(status) && res.headers.location !== undefined)) {
        res.resume();
        res.on('error', () => {});
        done(Buffer.alloc(0), false);
        res.destroy();
        return;
      }
      let stream: Readable;
      try {
        stream = decoded(res, req.url);
      } catch (error) {
        reject(error);
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      let finished = false;
      stream.on('data', (chunk: Buffer) => {
        if (finished) return;
        const room = req.maxBytes - size;
        if (chunk.length > room) {
          // More than the cap was sent: keep the head, drop the rest.
          chunks.push(chunk.subarray(0, room));
          size += room;
          finished = true;
          done(Buffer.concat(chunks, size), true);
          res.destroy();
          if (stream !== res) stream.destroy();
          return;
        }
        chunks.push(chunk);
        size += chunk.length;
      });
      stream.on('end', () => {
        if (finished) return;
        finished = true;
        done(Buffer.concat(chunks, size), false);
      });
      stream.on('error', (error) => {
        if (!finished) reject(error);
      });
      res.on('error', (error) => {
        if (!finished) reject(error);
      });
    });
    client.end();
  });
}
