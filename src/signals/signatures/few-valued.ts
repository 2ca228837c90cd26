/**
 * Few-valued words: when templates of one length differ only in plain words at a position, is that
 * word part of the message (`Accepted` / `Failed password`, `opened` / `closed`) or a value
 * (`user root` / `user alice`, `connections tcp` / `unix`)? Decided per position from what the lines
 * show, as the number of distinct words the position must take before it becomes `<*>`:
 *
 * 0. Never when every word seen there is a message code (`AH01630:` / `AH01797:`: two messages), or
 *    when every word seen there is a key before a value (`host: "x"` / `upstream: "x"`): two
 *    keys are two fields, and a message with an optional `key: value` part is the message without
 *    it (rules.ts, `optionalFits`), whichever optional parts a line carries.
 * 1. 2 in a naming slot: after a word that names a value (`user`, `host`, `interface`, `from`...).
 * 2. `cardinality` (5 by default) for the first word of the message: what happened (`Accepted` /
 *    `Failed password`, `Started` / `Stopping`), whatever its shape (`DHCPACK` / `DHCPOFFER`).
 * 3. 2 right after a key that is a word (`pending: X`, `reason: X`), or when every word seen there is written like an
 *    identifier: kebab-case (`file-read-data`), camelCase (`StatusBar`), capitals only, 4 letters or
 *    more (`SIGTERM`).
 * 4. 3 when every word seen there is wrapped in brackets or quotes (`(Debian)`, `'x'`), or after a
 *    preposition, a comma or another token ending in `:` / `=` (`for X`, `on X`, `, X`).
 * 5. `cardinality` when one of the words is verb-like (ends in `-ed` / `-ing`: `opened` / `closed`).
 * 6. 3 for the last word of a message of 5 or more tokens (a trailing argument: `connections tcp`),
 *    or anywhere in a message of 10 or more tokens whose other tokens agree: one differing word
 *    among many is more likely a value.
 * 7. `cardinality` elsewhere, so a handful of alternatives (`link up` / `link down`) stay apart.
 *
 * Besides the count, evidence across positions: when templates differ in two or more positions and
 * every combination of the words seen there has been seen (`authentication enabled; acls disabled`
 * in all four combinations), the positions vary independently: settings printed into one message,
 * values however few (rules.ts, `independent`). Two combinations only (`enabled/enabled`,
 * `disabled/disabled`) stay two messages.
 *
 * Counted among templates that agree everywhere else; once a position is a value, templates made
 * before that the merged template covers are absorbed into it (miner.ts).
 *
 * Digits, paths, addresses and `key=value` pairs never reach this rule: masking (mask.ts) has
 * already made them `<*>`, and tokens that are not plain words merge on similarity (rules.ts).
 */

import { isMessageCode } from './header.js';

/** Words after which a word is a value: `user root`, `from NEW`, `by admin`, `interface wan`. */
const NAMING_WORDS = new Set(
  (
    'user users username login account host hostname from by named state status mode uid owner group ' +
    'administrator admin client interface iface device dev'
  ).split(' '),
);
/** Tokens from which a message is long enough that one differing word is more likely a value. */
const LONG_MESSAGE = 10;
/** Tokens from which the last word of a message is more likely a trailing argument. */
const TRAILING_ARGUMENT = 5;
/** Words after which a word is often a value (`for root`, `of task`). */
const LEADING_WORDS = new Set(['for', 'of', 'on', 'at', 'with']);

/** A word: letters only (`closed`, `Failed`), around punctuation ignored; lower-cased, or null. */
export function wordCore(token: string): string | null {
  const span = coreSpan(token);
  return span === null ? null : token.slice(span[0], span[1]).toLowerCase();
}

/** Where the letters of a word token are (`(mpirun).` -> 1..7), or null when it is not a word. */
function coreSpan(token: string): [number, number] | null {
  let s = 0;
  let e = token.length;
  while (s < e && !isLetter(token.charCodeAt(s))) s++;
  while (e > s && !isLetter(token.charCodeAt(e - 1))) e--;
  if (s === e) return null;
  for (let i = s; i < e; i++) {
    const c = token.charCodeAt(i);
    if (!isLetter(c) && c !== 45 && c !== 39) return null;
  }
  for (let i = 0; i < s; i++) if (!isPunct(token.charCodeAt(i))) return null;
  for (let i = e; i < token.length; i++) if (!isPunct(token.charCodeAt(i))) return null;
  return [s, e];
}

export function isLetter(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c > 127;
}

function isPunct(c: number): boolean {
  return (
    c === 40 ||
    c === 41 ||
    c === 91 ||
    c === 93 ||
    c === 44 ||
    c === 46 ||
    c === 58 ||
    c === 59 ||
    c === 34 ||
    c === 39 ||
    c === 33 ||
    c === 63 ||
    c === 123 ||
    c === 125
  );
}

/** Opening bracket or quote -> the closing one. */
const CLOSERS: Record<string, string> = { '(': ')', '[': ']', '{': '}', '"': '"', "'": "'" };

/** Is a word token wrapped in brackets or quotes (`(Debian)`, `[on]`, `'x'`)? */
function isBracketed(token: string): boolean {
  const span = coreSpan(token);
  if (span === null || span[0] === 0) return false;
  const close = CLOSERS[token[span[0] - 1] as string];
  return close !== undefined && token[span[1]] === close;
}

/**
 * Is a token written like an identifier rather than a word of prose: kebab-case
 * (`file-read-data`), camelCase (`StatusBar`, `isRelaunching`), or capitals only, 4 letters or more
 * (`SIGTERM`)? Not a token that is no plain word: two keys (`status=<*>` / `pod=<*>`) stay apart.
 */
export function looksLikeIdentifier(token: string): boolean {
  const span = coreSpan(token);
  if (span === null) return false;
  const core = token.slice(span[0], span[1]);
  const dash = core.indexOf('-');
  if (dash > 0 && dash < core.length - 1) return true;
  let upper = 0;
  for (let i = 0; i < core.length; i++) {
    const c = core.charCodeAt(i);
    if (c < 65 || c > 90) continue;
    upper++;
    const before = i > 0 ? core.charCodeAt(i - 1) : 0;
    if (before >= 97 && before <= 122) return true; // camelCase
  }
  return upper === core.length && upper >= 4;
}

/** After a key: `pending: X`, `reason= X` (a plain word then `:` or `=`). */
function isKeySlot(prev: string): boolean {
  if (prev.length < 2) return false;
  const last = prev.charCodeAt(prev.length - 1);
  return (last === 58 || last === 61) && wordCore(prev.slice(0, -1)) === prev.slice(0, -1);
}

/**
 * Keys before a value (`host: "<*>"` / `upstream: "<*>"`): every word seen is a key (`word:`) and a
 * value follows. Two keys are two fields, never one value, so an optional `key: value` part is
 * told from another (rules.ts, `optionalFits`).
 */
function namesField(words: Iterable<string>, next: string | undefined): boolean {
  if (next === undefined || !next.includes('<*>')) return false;
  for (const w of words) {
    if (w.length < 2 || !w.endsWith(':') || wordCore(w) === null) return false;
  }
  return true;
}

/** Message codes (`AH01630:` / `AH01797:`): each names its own message, never a value. */
function allMessageCodes(words: Iterable<string>): boolean {
  for (const w of words) if (!isMessageCode(w)) return false;
  return true;
}

/** A verb form: what happened (`Accepted`, `closed`, `Stopping`), so part of the message. */
function isVerbLike(token: string): boolean {
  const w = wordCore(token);
  return w !== null && w.length >= 5 && (w.endsWith('ed') || w.endsWith('ing'));
}

/**
 * Distinct words position `p` of a message (`tokens`) must have shown, across templates that agree
 * everywhere else, before it is taken as a value (`<*>`); `words` are the distinct tokens seen there.
 */
export function distinctNeeded(
  tokens: readonly string[],
  p: number,
  words: Iterable<string>,
  cardinality: number,
): number {
  const prev = p > 0 ? (tokens[p - 1] as string).toLowerCase() : '';
  if (namesField(words, tokens[p + 1]) || allMessageCodes(words)) return Number.POSITIVE_INFINITY;
  if (NAMING_WORDS.has(prev)) return 2;
  if (prev === 'to' && tokens.slice(0, p - 1).some((x) => x.toLowerCase() === 'from')) return 2;
  if (p === 0) return cardinality;
  let identifiers = true;
  let bracketed = true;
  let verbLike = false;
  for (const w of words) {
    if (!looksLikeIdentifier(w)) identifiers = false;
    if (!isBracketed(w)) bracketed = false;
    if (isVerbLike(w)) verbLike = true;
  }
  if (identifiers || isKeySlot(prev)) return 2;
  const few = Math.min(3, cardinality);
  if (bracketed) return few;
  if (LEADING_WORDS.has(prev) || prev.endsWith(':') || prev.endsWith('=') || prev.endsWith(',')) return few;
  if (verbLike) return cardinality;
  if (p === tokens.length - 1 && tokens.length >= TRAILING_ARGUMENT) return few;
  if (tokens.length >= LONG_MESSAGE) return few;
  return cardinality;
}
