/**
 * Fitting a message into a platform's limits (Slack blocks, Discord embeds, ...). Adapters call
 * `fitMessage()` with their limits and a link to the full text in the console; whatever was cut
 * says so, with the link. Lengths are in UTF-16 code units (JavaScript string length), which is
 * never less than a platform's count of characters, and a cut never splits a character: not a
 * surrogate pair, and not a grapheme (an emoji with modifiers, a letter with its accents).
 */
import type { ChatMessage } from './message.js';

export interface MessageLimits {
  /** Longest title. */
  readonly title: number;
  /** Longest body, the truncation note included. */
  readonly body: number;
  /** Longest field label and longest field value. */
  readonly field: number;
  /** Most fields; the rest are dropped (and the note says the full text has them). */
  readonly fields: number;
  /** Longest title + body + every field label and value together (Discord embeds: 6000). */
  readonly total?: number;
}

const ELLIPSIS = '…';

/** The note appended to a body that was cut, or that stands for dropped fields. */
export function truncationNote(fullTextUrl: string | null): string {
  return fullTextUrl === null
    ? `${ELLIPSIS} (truncated)`
    : `${ELLIPSIS} (truncated: full text at ${fullTextUrl})`;
}

/**
 * A copy of `message` that fits `limits`. Nothing is changed when it already fits. When anything
 * is cut or dropped, the body ends with "… (truncated: full text at URL)" (or "… (truncated)"
 * without a URL); cut titles and field values end with "…".
 */
export function fitMessage(
  message: ChatMessage,
  limits: MessageLimits,
  fullTextUrl: string | null,
): ChatMessage {
  checkLimits(limits);
  const note = truncationNote(fullTextUrl);
  let cut = false;
  const title = shorten(message.title, limits.title);
  if (title !== message.title) cut = true;
  const fields = message.fields.slice(0, limits.fields).map((f) => {
    const label = shorten(f.label, limits.field);
    const value = shorten(f.value, limits.field);
    if (label !== f.label || value !== f.value) cut = true;
    return { label, value };
  });
  if (fields.length < message.fields.length) cut = true;

  let bodyLimit = limits.body;
  if (limits.total !== undefined) {
    const rest = title.length + fields.reduce((n, f) => n + f.label.length + f.value.length, 0);
    bodyLimit = Math.min(bodyLimit, limits.total - rest);
    if (bodyLimit < note.length && message.body.length > bodyLimit) {
      // Fields crowd out the body: shorten field values until the body has room for the note.
      shrinkFields(fields, rest - (limits.total - Math.min(limits.body, note.length + 80)));
      cut = true;
      const left = title.length + fields.reduce((n, f) => n + f.label.length + f.value.length, 0);
      bodyLimit = Math.min(limits.body, limits.total - left);
    }
  }
  let body = message.body;
  if (body.length > bodyLimit) {
    body = withNote(body, bodyLimit, note);
  } else if (cut) {
    const joined = body === '' ? note : `${body}\n${note}`;
    body = joined.length <= bodyLimit ? joined : withNote(body, bodyLimit, note);
  }
  return { ...message, title, body, fields };
}

/** `text` cut to `limit` and ended with the note (or hard cut when not even the note fits). */
function withNote(text: string, limit: number, note: string): string {
  if (limit <= 0) return '';
  if (note.length + 1 > limit) return shorten(text, limit);
  return `${cutAt(text, limit - note.length - 1).trimEnd()} ${note}`;
}

/** `text` if it fits, else cut to `limit` with "…" at the end. */
function shorten(text: string, limit: number): string {
  if (text.length <= limit) return text;
  if (limit < 1) return '';
  return `${cutAt(text, limit - ELLIPSIS.length)}${ELLIPSIS}`;
}

/** The longest prefix of `text` of at most `length` code units that ends on a grapheme boundary. */
export function cutAt(text: string, length: number): string {
  if (text.length <= length) return text;
  if (length <= 0) return '';
  let end = length;
  // Never split a surrogate pair.
  const code = text.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end -= 1;
  // Back off to the start of the grapheme that the cut falls in (looking at a short window only).
  const from = Math.max(0, end - 64);
  const window = text.slice(from, Math.min(text.length, end + 64));
  let boundary = from;
  for (const { index } of new Intl.Segmenter(undefined, { granularity: 'grapheme' }).segment(window)) {
    const at = from + index;
    if (at > end) break;
    boundary = at;
  }
  // A grapheme longer than the window (pathological): still never split a surrogate pair.
  const last = text.charCodeAt(boundary - 1);
  if (boundary > 0 && last >= 0xd800 && last <= 0xdbff) boundary -= 1;
  return text.slice(0, boundary);
}

/** Shortens the longest field values first until `excess` code units are gone. */
function shrinkFields(fields: { label: string; value: string }[], excess: number): void {
  let left = excess;
  while (left > 0) {
    let longest = -1;
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i] as { value: string };
      if (
        f.value.length > 1 &&
        (longest < 0 || f.value.length > (fields[longest] as { value: string }).value.length)
      )
        longest = i;
    }
    if (longest < 0) return;
    const f = fields[longest] as { label: string; value: string };
    const target = Math.max(1, f.value.length - left);
    const next = shorten(f.value, target);
    left -= f.value.length - next.length;
    if (next.length >= f.value.length) return;
    fields[longest] = { label: f.label, value: next };
  }
}

function checkLimits(limits: MessageLimits): void {
  for (const [name, value] of Object.entries(limits)) {
    if (value !== undefined && !(Number.isSafeInteger(value) && value >= 0)) {
      throw new RangeError(`message limit ${name} must be a whole number >= 0, got ${String(value)}`);
    }
  }
}
