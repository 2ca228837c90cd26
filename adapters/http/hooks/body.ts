/**
 * Reading a request body safely, BEFORE anything parses it: the size limit first (a declared
 * Content-Length over it is refused unread; a chunked body is cut off as soon as it passes it:
 * 413), then UTF-8, then JSON with a nesting limit (deeper documents would overflow the stack
 * when stored). The raw bytes are kept for signature checks.
 *
 * Two layers: `readBodyChecked` / `readJsonChecked` return what was wrong as data
 * ({status, reason, message}); `readBody` / `readJsonBody` answer it (counted) and hand back the
 * Response. `bodyReader()` gives the `(x) => {ok, value} | {ok: false, status, error}` shape the
 * /hooks/osv route takes.
 */
import { isUtf8 } from 'node:buffer';
import type { IngestCounters, RejectReason } from './counters.js';
import type { HookExchange } from './exchange.js';
import { reject } from './reply.js';

export const KiB = 1024;
export const MiB = 1024 * KiB;
/** JSON nested deeper than this is refused (Alertmanager, GitHub and OSV payloads stay under 20). */
export const MAX_JSON_DEPTH = 64;

/** Why a body was refused: the status, the counter's reason, a message saying what to do. */
export interface BodyError {
  readonly status: 400 | 413 | 415;
  readonly reason: RejectReason;
  readonly message: string;
}

export type Checked<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: BodyError };
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

export interface BodyOptions {
  readonly counters: IngestCounters;
  readonly hook: string;
  /** Largest body accepted, in bytes. */
  readonly limit: number;
}

/** The Content-Type's media type, lower case, without parameters; null when absent. */
export function mediaType(x: HookExchange): string | null {
  const header = x.header('content-type');
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

function showBytes(n: number): string {
  return n >= MiB ? `${(n / MiB).toFixed(n % MiB === 0 ? 0 : 1)} MiB` : `${Math.ceil(n / KiB)} KiB`;
}

function failed(status: BodyError['status'], reason: RejectReason, message: string): Checked<never> {
  return { ok: false, error: { status, reason, message } };
}

function tooLarge(limit: number): Checked<never> {
  return failed(413, 'too_large', `body larger than ${showBytes(limit)}: send fewer items per request`);
}

/** What is wrong with the declared Content-Length (not a number, over `limit`), or null. */
function declaredSizeProblem(x: HookExchange, limit: number): Checked<never> | null {
  const declared = x.header('content-length');
  if (declared === undefined) return null;
  if (!/^\d{1,15}$/.test(declared.trim())) {
    return failed(400, 'bad_request', 'Content-Length is not a number of bytes');
  }
  return Number(declared) > limit ? tooLarge(limit) : null;
}

/** The bytes read (null: past `limit`) as bytes and UTF-8 text, or why not. */
function rawBodyOf(bytes: Uint8Array | null, limit: number): Checked<RawBody> {
  if (bytes === null) return tooLarge(limit);
  if (!isUtf8(bytes)) return failed(400, 'bad_encoding', 'body is not valid UTF-8 text');
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // A byte order mark is not part of the text.
  const bom = buffer.length >= 3 && buffer[0] === 0xef && buffer[1] === 0xbb && buffer[2] === 0xbf;
  return { ok: true, value: { bytes, text: buffer.toString('utf8', bom ? 3 : 0) } };
}

// The readers below check what they can before the body arrives, then wait for it ONCE (no
// chain of awaits per request: this is the webhook hot path).

/** The raw body within `limit` bytes, as bytes and UTF-8 text. */
export async function readBodyChecked(x: HookExchange, limit: number): Promise<Checked<RawBody>> {
  return declaredSizeProblem(x, limit) ?? rawBodyOf(await x.body(limit), limit);
}

/**
 * True when the text holds at most `max` of `{` and `[` in all (strings included), so it cannot
 * nest deeper than that: found with indexOf (native) instead of a scan in JS, the common case.
 */
function fewOpeners(json: string | Uint8Array, max: number): boolean {
  let count = 0;
  const within = (next: (from: number) => number): boolean => {
    for (let at = next(0); at !== -1; at = next(at + 1)) if (++count > max) return false;
    return true;
  };
  return typeof json === 'string'
    ? within((from) => json.indexOf('{', from)) && within((from) => json.indexOf('[', from))
    : within((from) => json.indexOf(0x7b, from)) && within((from) => json.indexOf(0x5b, from));
}

/**
 * True when the JSON nests arrays/objects deeper than `max`. Scans the UTF-8 bytes (or the text):
 * the structural characters are ASCII, and no byte of a multi-byte character is below 0x80.
 */
export function jsonTooDeep(json: string | Uint8Array, max = MAX_JSON_DEPTH): boolean {
  if (fewOpeners(json, max)) return false;
  let depth = 0;
  let inString = false;
  const bytes = typeof json === 'string' ? null : json;
  const text = typeof json === 'string' ? json : '';
  const n = bytes === null ? text.length : bytes.length;
  for (let i = 0; i < n; i++) {
    const ch = bytes === null ? text.charCodeAt(i) : (bytes[i] as number);
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

/** JSON text -> value, or why not (not JSON, nested too deep). `bytes`: the same text as UTF-8, if at hand. */
export function checkJson(text: string, bytes?: Uint8Array): Checked<unknown> {
  if (jsonTooDeep(bytes ?? text))
    return failed(400, 'bad_json', `JSON nested deeper than ${MAX_JSON_DEPTH} levels`);
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (err) {
    const why = (err as Error).message.slice(0, 200);
    return failed(400, 'bad_json', `body is not JSON (${why}): send one JSON document`);
  }
}

/** What is wrong with the Content-Type for a JSON body (415), or null. */
function jsonTypeProblem(x: HookExchange): Checked<never> | null {
  const type = mediaType(x);
  if (isJsonType(type)) return null;
  return failed(
    415,
    'unsupported_media_type',
    `unsupported Content-Type "${(type ?? '').slice(0, 100)}": send the body as application/json`,
  );
}

function jsonBodyOf(body: Checked<RawBody>): Checked<JsonBody> {
  if (!body.ok) return body;
  const json = checkJson(body.value.text, body.value.bytes);
  if (!json.ok) return json;
  return { ok: true, value: { ...body.value, json: json.value } };
}

/** Content-Type (JSON or absent, else 415), size (413), UTF-8 and JSON (400). */
export async function readJsonChecked(x: HookExchange, limit: number): Promise<Checked<JsonBody>> {
  return (
    jsonTypeProblem(x) ?? declaredSizeProblem(x, limit) ?? jsonBodyOf(rawBodyOf(await x.body(limit), limit))
  );
}

function answer<T>(x: HookExchange, o: Omit<BodyOptions, 'limit'>, checked: Checked<T>): Gate<T> {
  if (checked.ok) return checked;
  const { status, reason, message } = checked.error;
  return { ok: false, response: reject(x, o.counters, o.hook, reason, status, message) };
}

/** readBodyChecked, with a refusal answered (and counted). */
export async function readBody(x: HookExchange, o: BodyOptions): Promise<Gate<RawBody>> {
  return answer(x, o, await readBodyChecked(x, o.limit));
}

/** checkJson, with a refusal answered (and counted). */
export function parseJson(x: HookExchange, o: Omit<BodyOptions, 'limit'>, text: string): Gate<unknown> {
  return answer(x, o, checkJson(text));
}

/** readJsonChecked, with a refusal answered (and counted); written out, not awaited: the hot path. */
export async function readJsonBody(x: HookExchange, o: BodyOptions): Promise<Gate<JsonBody>> {
  const early = jsonTypeProblem(x) ?? declaredSizeProblem(x, o.limit);
  return answer(x, o, early ?? jsonBodyOf(rawBodyOf(await x.body(o.limit), o.limit)));
}

/** What `bodyReader()` gives: the parsed JSON, or the refusal to send (already counted). */
export type BodyResult =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly status: 400 | 413 | 415; readonly error: string };

/** A JSON body reader for routes that answer refusals themselves (e.g. /hooks/osv's `readBody`). */
export function bodyReader(o: BodyOptions): (x: HookExchange) => Promise<BodyResult> {
  return async (x) => {
    const checked = await readJsonChecked(x, o.limit);
    if (checked.ok) return { ok: true, value: checked.value.json };
    o.counters.rejected(o.hook, checked.error.reason);
    return { ok: false, status: checked.error.status, error: checked.error.message };
  };
}
