/**
 * The hooks' one way to read a body, BEFORE anything parses it: the size limit first (Hono's
 * `bodyLimit`: a declared Content-Length over it is refused unread, a chunked body as soon as it
 * passes it: 413), then UTF-8, then, for JSON, a nesting limit (deeper documents would overflow
 * the stack when stored) and JSON.parse. The raw bytes are kept for signature checks. A refusal is
 * answered (and counted) here: the caller gets the value or the Response to return.
 */
import { isUtf8 } from 'node:buffer';
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { IngestCounters, RejectReason } from './counters.js';
import { reject } from './reply.js';

export const KiB = 1024;
export const MiB = 1024 * KiB;
/** JSON nested deeper than this is refused (Alertmanager, GitHub and OSV payloads stay under 20). */
export const MAX_JSON_DEPTH = 64;

/** The value, or the refusal already answered (and counted). */
export type Gate<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly response: Response };

export interface RawBody {
  readonly bytes: Uint8Array;
  /** The bytes as UTF-8 text (a leading BOM dropped). */
  readonly text: string;
}

export interface JsonBody extends RawBody {
  readonly json: unknown;
}

/** Who is reading: the counters and the hook's name they count under. */
export interface BodyOptions {
  readonly counters: IngestCounters;
  readonly hook: string;
}

function showBytes(n: number): string {
  return n >= MiB ? `${(n / MiB).toFixed(n % MiB === 0 ? 0 : 1)} MiB` : `${Math.ceil(n / KiB)} KiB`;
}

/**
 * Hono's bodyLimit with the hooks' 413 (counted as `too_large`; the connection is not kept). A
 * declared Content-Length is checked here first, as bodyLimit would, but without touching the
 * request's `body`: under @hono/node-server that builds a whole WHATWG Request and stream, which
 * the one body reader (`c.req.arrayBuffer()`, read straight from Node's request) does not need.
 */
export function sizeLimit(o: BodyOptions & { readonly limit: number }): MiddlewareHandler {
  const message = `body larger than ${showBytes(o.limit)}: send fewer items per request`;
  const tooLarge = (c: Context) => reject(c, o.counters, o.hook, 'too_large', 413, message);
  const streamed = bodyLimit({ maxSize: o.limit, onError: tooLarge });
  return (c, next) => {
    const declared = c.req.header('content-length');
    if (declared === undefined || c.req.header('transfer-encoding') !== undefined) return streamed(c, next);
    return Number(declared) > o.limit ? Promise.resolve(tooLarge(c)) : next();
  };
}

/** The Content-Type's media type, lower case, without parameters; null when absent. */
export function mediaType(c: Context): string | null {
  const header = c.req.header('content-type');
  if (header === undefined) return null;
  const type = (header.split(';')[0] ?? '').trim().toLowerCase();
  return type === '' ? null : type;
}

/**
 * application/json, anything `+json`, text/plain (what fetch sends for a string body) or no
 * Content-Type at all; not forms, multipart, binary or XML.
 */
export function isJsonType(type: string | null): boolean {
  return type === null || type === 'application/json' || type.endsWith('+json') || type === 'text/plain';
}

function refuse(
  c: Context,
  o: BodyOptions,
  status: 400 | 415,
  reason: RejectReason,
  message: string,
): Gate<never> {
  return { ok: false, response: reject(c, o.counters, o.hook, reason, status, message) };
}

/** The body (within the route's `sizeLimit`) as bytes and UTF-8 text. */
export async function readBody(c: Context, o: BodyOptions): Promise<Gate<RawBody>> {
  const bytes = new Uint8Array(await c.req.arrayBuffer());
  if (!isUtf8(bytes)) return refuse(c, o, 400, 'bad_encoding', 'body is not valid UTF-8 text');
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // A byte order mark is not part of the text.
  const bom = buffer.length >= 3 && buffer[0] === 0xef && buffer[1] === 0xbb && buffer[2] === 0xbf;
  return { ok: true, value: { bytes, text: buffer.toString('utf8', bom ? 3 : 0) } };
}

/** True when the text holds at most `max` of `{` and `[` in all (strings included): it cannot nest deeper. */
function fewOpeners(json: string, max: number): boolean {
  let count = 0;
  for (const opener of ['{', '[']) {
    for (let at = json.indexOf(opener); at !== -1; at = json.indexOf(opener, at + 1)) {
      if (++count > max) return false;
    }
  }
  return true;
}

/** True when the JSON text nests arrays/objects deeper than `max`. */
export function jsonTooDeep(json: string, max = MAX_JSON_DEPTH): boolean {
  if (fewOpeners(json, max)) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < json.length; i++) {
    const ch = json.charCodeAt(i);
    if (inString) {
      if (ch === 92)
        i++; // backslash: skip the escaped character
      else if (ch === 34) inString = false;
    } else if (ch === 34) inString = true;
    else if (ch === 91 || ch === 123) {
      if (++depth > max) return true;
    } else if (ch === 93 || ch === 125) depth--;
  }
  return false;
}

/** JSON text -> value, or the 400 (not JSON, nested too deep). */
export function parseJson(c: Context, o: BodyOptions, text: string): Gate<unknown> {
  if (jsonTooDeep(text))
    return refuse(c, o, 400, 'bad_json', `JSON nested deeper than ${MAX_JSON_DEPTH} levels`);
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (err) {
    const why = (err as Error).message.slice(0, 200);
    return refuse(c, o, 400, 'bad_json', `body is not JSON (${why}): send one JSON document`);
  }
}

/** A JSON body: Content-Type JSON or absent (else 415), then readBody and parseJson. */
export async function readJsonBody(c: Context, o: BodyOptions): Promise<Gate<JsonBody>> {
  const type = mediaType(c);
  if (!isJsonType(type)) {
    return refuse(
      c,
      o,
      415,
      'unsupported_media_type',
      `unsupported Content-Type "${(type ?? '').slice(0, 100)}": send the body as application/json`,
    );
  }
  const body = await readBody(c, o);
  if (!body.ok) return body;
  const json = parseJson(c, o, body.value.text);
  return json.ok ? { ok: true, value: { ...body.value, json: json.value } } : json;
}
