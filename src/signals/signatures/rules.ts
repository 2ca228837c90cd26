/**
 * The rules the signature miner decides by, as pure functions: when two differing tokens make two
 * events (two plain words, two keys) and when they do not (values, identifiers); how much two
 * messages must agree (how many distinct words make a position a variable is few-valued.ts); when one `<*>` may
 * cover a longer span; and the hash behind signature ids.
 */
import { distinctNeeded, isLetter, wordCore } from './few-valued.js';
import { isMessageCode } from './header.js';
import { WILDCARD as MASKED } from './mask.js';

/** The wildcard, as a module constant (hot loops compare against it). */
const WILDCARD: string = MASKED;

/**
 * `key=<*>` / `key:<*>` / `key="<*>"`: the key (without what is glued before it: `su(uid=` is
 * `uid=`), or null.
 */
function keyOf(token: string): string | null {
  let at = token.indexOf(WILDCARD);
  if (at <= 0) return null;
  const before = token.charCodeAt(at - 1);
  if ((before === 34 || before === 39) && at >= 2) at--;
  const sep = token.charCodeAt(at - 1);
  if (sep !== 61 && sep !== 58) return null;
  let from = at - 1;
  while (from > 0 && isKeyChar(token.charCodeAt(from - 1))) from--;
  return token.slice(from, at);
}

function isKeyChar(c: number): boolean {
  return isLetter(c) || (c >= 48 && c <= 57) || c === 95 || c === 45 || c === 46;
}

/** `failure` / `failures`: one word printed with a plural `%s` (`failure%s`, `file(s)`). */
function samePluralWord(a: string, b: string): boolean {
  const [short, long] = a.length <= b.length ? [a, b] : [b, a];
  const extra = long.length - short.length;
  if (short.length < 3 || extra < 1 || extra > 2 || !long.startsWith(short)) return false;
  const tail = long.slice(short.length);
  return tail === 's' || tail === 'es';
}

/**
 * Two differing tokens that say different things (two words, two keys): such a difference makes two
 * templates, unless enough templates differ in that position (see `cardinality`).
 */
export function isHardMismatch(a: string, b: string): boolean {
  if (a === WILDCARD || b === WILDCARD) return false;
  const wa = wordCore(a);
  if (wa !== null) {
    const wb = wordCore(b);
    return wb !== null && wa !== wb && !samePluralWord(wa, wb);
  }
  const ka = keyOf(a);
  if (ka !== null) {
    const kb = keyOf(b);
    return kb !== null && ka !== kb;
  }
  // two message codes (`AH01630:` / `AH01797:`) name two messages
  return isMessageCode(a) && isMessageCode(b);
}

/** Soft differences allowed for a message of n tokens. */
export function softAllowance(n: number): number {
  return Math.floor(n / 4);
}

/** Positions that agree (same token) needed for a message of n tokens. */
export function agreementNeeded(n: number): number {
  return n <= 2 ? n - (n === 2 ? 1 : 0) : Math.ceil(n * 0.5);
}

/** cyrb53: a fast 53-bit string hash, for signature ids. */
export function hash53(text: string, seed: number): number {
  let h1 = 0xdeadbeef ^ seed;
  let h2 = 0x41c6ce57 ^ seed;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

/** Longest extra span one `<*>` may cover when two templates differ in length. */
export const MAX_SPAN_EXTRA = 1;
/**
 * Longest extra span one `<*>` may cover when the span is a name of several words with its id
 * glued on (`Google Chrome Helper(37045)`, `exc handler[949]`): a process and its pid.
 */
export const MAX_NAME_EXTRA = 3;

/** A word with a value glued on in brackets: `Helper(<*>)`, `handler[<*>]`, `handler[<*>]:`. */
const NAME_WITH_ID = /^[A-Za-z][\w.-]*(?:\(<\*>\)|\[<\*>\])[:,]?$/;

/**
 * Where two templates of the same length differ, when they agree enough elsewhere: at most
 * `maxDiff` positions where both hold a different constant (a `<*>` already is a value there), at
 * least one constant token in common and at least half the tokens equal.
 */
export function diffPositions(a: readonly string[], b: readonly string[], maxDiff: number): number[] | null {
  let same = 0;
  let constSame = 0;
  let differ = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i] === b[i]) {
      same++;
      if (a[i] !== WILDCARD) constSame++;
    } else if (a[i] !== WILDCARD && b[i] !== WILDCARD && ++differ > maxDiff) return null;
  }
  if (same * 2 < a.length || constSame === 0) return null;
  const out: number[] = [];
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) out.push(i);
  return out;
}

/**
 * Does `short` match `long` when one of its wildcards covers extra tokens? Every other token must
 * be equal, and `short` must hold at least two constant tokens. The covered span is words (values
 * would have collapsed into one `<*>` already), at most `MAX_SPAN_EXTRA` more than one; or a name
 * of a few words with its id glued on (`Google Chrome Helper(<*>)` where other lines print
 * `mdworker_shared(<*>)`), at most `MAX_NAME_EXTRA` more: one process, whatever its name.
 */
export function spanFits(short: readonly string[], long: readonly string[]): boolean {
  const d = long.length - short.length;
  if (d <= 0 || d > Math.max(MAX_SPAN_EXTRA, MAX_NAME_EXTRA)) return false;
  let constants = 0;
  for (let i = 0; i < short.length; i++) {
    const tok = short[i] as string;
    if (tok !== WILDCARD) {
      if (tok !== long[i]) return false;
      constants++;
      continue;
    }
    // what follows the span first: most templates compared differ there, and it costs no regex
    let ok = true;
    let rest = 0;
    for (let j = i + 1; ok && j < short.length; j++) {
      const a = short[j] as string;
      if (a === WILDCARD) continue;
      if (a !== long[j + d]) ok = false;
      rest++;
    }
    if (!ok || constants + rest < 2) continue;
    const named = NAME_WITH_ID.test(long[i + d] as string);
    ok = d <= (named ? MAX_NAME_EXTRA : MAX_SPAN_EXTRA);
    for (let j = i; ok && j < i + (named ? d : d + 1); j++)
      if ((long[j] as string).includes(WILDCARD)) ok = false;
    if (ok) return true;
  }
  return false;
}

/** Most tokens an optional part may hold (`, host: "<*>", referrer: "<*>"`). */
export const MAX_OPTIONAL_TOKENS = 6;

/** Tokens equal but for a list separator after them (`<*>",` / `<*>"`). */
function sameButSeparator(a: string, b: string): boolean {
  if (a === b) return true;
  const la = a.length;
  const lb = b.length;
  if (la === lb + 1) return (a.endsWith(',') || a.endsWith(';')) && a.startsWith(b);
  if (lb === la + 1) return (b.endsWith(',') || b.endsWith(';')) && b.startsWith(a);
  return false;
}

/** A token of an optional `key=value` / `key: value` part: a key, or a value. */
function isOptionalPartToken(token: string): boolean {
  return token.includes(WILDCARD) || token.endsWith(':') || token.endsWith('=');
}

/**
 * A token that starts such a part: `host:`. Not `user=<*>`: `rhost=<*>` and `rhost=<*> user=<*>`
 * stay two events, as the public labelled logs count them (PAM names the user when it knows it).
 */
function startsOptionalPart(token: string): boolean {
  return token.length > 1 && token.endsWith(':') && wordCore(token) !== null;
}

/**
 * Is `long` the message `short` with an optional `key: value` part inserted (nginx's context:
 * `..., request: "<*>"` / `..., request: "<*>", host: "<*>"`)? The inserted tokens must be keys
 * and values, starting with a `key:`; everything else equal (a `<*>` of `short` matching anything)
 * but for a list separator before the part; `short` must hold at least three constant tokens.
 */
export function optionalFits(short: readonly string[], long: readonly string[]): boolean {
  const d = long.length - short.length;
  if (d <= 0 || d > MAX_OPTIONAL_TOKENS) return false;
  let i = 0;
  while (i < short.length && (short[i] === long[i] || short[i] === WILDCARD)) i++;
  // the part starts where they first differ, or one later when that token only gained a separator
  const here = startsOptionalPart(long[i] as string);
  const next =
    i < short.length &&
    sameButSeparator(short[i] as string, long[i] as string) &&
    startsOptionalPart(long[i + 1] as string);
  if (!here && !next) return false;
  let constants = 0;
  for (const tok of short) if (tok !== WILDCARD) constants++;
  if (constants < 3) return false;
  return (here && partAt(short, long, i)) || (next && partAt(short, long, i + 1));
}

/** Are `long`'s tokens from `at` on keys and values, `short` going on after them? */
function partAt(short: readonly string[], long: readonly string[], at: number): boolean {
  const d = long.length - short.length;
  for (let j = at; j < at + d; j++) if (!isOptionalPartToken(long[j] as string)) return false;
  for (let k = at; k < short.length; k++) {
    const a = short[k] as string;
    if (a !== WILDCARD && !sameButSeparator(a, long[k + d] as string)) return false;
  }
  return true;
}

/** A token and the tokens `sameButSeparator` takes for it (`foo`, `foo,`, `foo;`; `foo,` and `foo`). */
function separatorVariants(token: string): string[] {
  const out = [token, `${token},`, `${token};`];
  if (token.endsWith(',') || token.endsWith(';')) out.push(token.slice(0, -1));
  return out;
}

/**
 * The first tokens, besides `<*>`, that a template `d` tokens shorter than `long` can open with when
 * `spanFits` or `optionalFits` holds for the two: `long`'s own first token (a span or an optional
 * part further on), or it with a list separator added or dropped (the part starts right after it);
 * and when `long` opens with an optional `key:` part, the token after that part (likewise). So the
 * shorter templates a template may merge into are looked up by first token, not scanned.
 */
export function shorterFirstTokens(long: readonly string[], d: number): string[] {
  if (d <= 0 || d >= long.length) return [];
  const first = long[0] as string;
  const out = separatorVariants(first);
  if (startsOptionalPart(first)) out.push(...separatorVariants(long[d] as string));
  return out;
}

/**
 * For a template `d` tokens shorter than `long` that opens with `<*>`: the second tokens, besides
 * `<*>`, it can have when `spanFits` or `optionalFits` holds for the two: `long`'s second token (a
 * span or part further on) or the one `d` after it (the opening `<*>` covers a span, or the part
 * starts right after it), either with a list separator added or dropped.
 */
export function shorterSecondTokens(long: readonly string[], d: number): string[] {
  if (d <= 0 || d + 1 >= long.length) return [];
  return [...separatorVariants(long[1] as string), ...separatorVariants(long[1 + d] as string)];
}

/** Compare a template with a message of the same length: a score, or -1 when they do not fit. */
export function fitScore(template: readonly string[], tokens: readonly string[], soft: number): number {
  const n = tokens.length;
  let same = 0;
  let constSame = 0;
  let softLeft = soft;
  for (let i = 0; i < n; i++) {
    const a = template[i] as string;
    const b = tokens[i] as string;
    if (a === b) {
      same++;
      if (a !== WILDCARD) constSame++;
    } else if (a !== WILDCARD) {
      if (isHardMismatch(a, b)) return -1;
      if (--softLeft < 0) return -1;
    }
  }
  if (same < agreementNeeded(n)) return -1;
  if (constSame === 0 && same < n) return -1;
  return same + constSame / (n + 1);
}

/** Anything with template tokens. */
export interface Shaped {
  readonly tokens: readonly string[];
}

/**
 * The templates of the same length a new one merges with, or null: one that fits it either way
 * (soft differences only), or all those that differ from it in the same few positions once each of
 * those positions has shown `distinctNeeded` distinct words. At most `scanLimit` peers are read.
 */
export function sameLengthMerge<T extends Shaped>(
  fresh: T,
  peers: Iterable<T>,
  cardinality: number,
  scanLimit: number,
): T[] | null {
  const n = fresh.tokens.length;
  if (n < 2) return null;
  const maxDiff = Math.max(1, Math.floor(n / 3));
  const soft = softAllowance(n);
  const groups = new Map<string, T[]>();
  let scanned = 0;
  const need = Math.min(agreementNeeded(n), Math.ceil(n / 2));
  for (const other of peers) {
    if (other === fresh) continue;
    if (++scanned > scanLimit) break;
    if (!agreesOn(fresh.tokens, other.tokens, need)) continue; // cheap: most peers share little
    if (fitScore(other.tokens, fresh.tokens, soft) >= 0 || fitScore(fresh.tokens, other.tokens, soft) >= 0) {
      return [fresh, other];
    }
    const diff = diffPositions(fresh.tokens, other.tokens, maxDiff);
    if (diff === null) continue;
    const key = diff.join(',');
    const group = groups.get(key);
    if (group === undefined) groups.set(key, [other]);
    else group.push(other);
  }
  for (const [key, group] of groups) {
    const positions = key.split(',').map(Number);
    // Templates differing in a subset of these positions belong to the same group.
    const members = [fresh, ...group];
    for (const [otherKey, otherGroup] of groups) {
      if (otherKey === key) continue;
      const sub = otherKey.split(',').map(Number);
      if (sub.every((p) => positions.includes(p))) members.push(...otherGroup);
    }
    if (positions.every((p) => variesEnough(members, p, cardinality))) return members;
    if (independent(members, positions)) return members;
  }
  return null;
}

/**
 * Words that vary independently are values, however few: when templates differ in two or more
 * positions and every combination of the words seen there has been seen (`authentication
 * enabled; acls disabled` with all four of enabled / disabled x enabled / disabled), each
 * position is a setting printed into one message, not a word that says what happened.
 */
function independent(members: readonly Shaped[], all: readonly number[]): boolean {
  // a position where some template has `<*>` is a value already (variesEnough)
  const positions = all.filter((p) => members.every((m) => m.tokens[p] !== WILDCARD));
  if (positions.length < 2) return false;
  const seen = positions.map(() => new Set<string>());
  const combos = new Set<string>();
  for (const m of members) {
    const words = positions.map((p) => m.tokens[p] as string);
    for (let k = 0; k < words.length; k++) (seen[k] as Set<string>).add(words[k] as string);
    combos.add(words.join(' '));
  }
  let product = 1;
  for (const values of seen) {
    if (values.size < 2) return false;
    product *= values.size;
  }
  return combos.size === product;
}

/**
 * The templates among `peers` (at most `scanLimit` read) that `general` covers: equal wherever
 * `general` is not `<*>`, and not `general` itself.
 */
export function coveredBy<T extends Shaped>(
  general: readonly string[],
  peers: Iterable<T>,
  scanLimit: number,
): T[] {
  const out: T[] = [];
  let scanned = 0;
  for (const other of peers) {
    if (++scanned > scanLimit) break;
    const t = other.tokens;
    if (t === general || t.length !== general.length) continue;
    let covered = true;
    for (let i = 0; covered && i < t.length; i++) {
      const g = general[i] as string;
      if (g !== WILDCARD && g !== t[i]) covered = false;
    }
    if (covered) out.push(other);
  }
  return out;
}

/**
 * The templates among `peers` (at most `scanLimit` read) that agree with `tokens` wherever neither
 * has `<*>`, where at least one of them does differ, and that share enough constant tokens with it
 * (`agreementNeeded`, at least one): one event, generalised in different places.
 */
export function compatibleWith<T extends Shaped>(
  tokens: readonly string[],
  peers: Iterable<T>,
  scanLimit: number,
): T[] {
  const n = tokens.length;
  const need = Math.max(1, agreementNeeded(n));
  const out: T[] = [];
  let scanned = 0;
  for (const other of peers) {
    if (++scanned > scanLimit) break;
    const t = other.tokens;
    if (t === tokens || t.length !== n) continue;
    let constSame = 0;
    let ok = true;
    for (let i = 0; ok && i < n; i++) {
      const a = tokens[i] as string;
      const b = t[i] as string;
      if (a === b) {
        if (a !== WILDCARD) constSame++;
      } else if (a !== WILDCARD && b !== WILDCARD) ok = false;
    }
    if (ok && constSame >= need) out.push(other);
  }
  return out;
}

/** Do two token lists of the same length hold the same token in at least `need` positions? */
function agreesOn(a: readonly string[], b: readonly string[], need: number): boolean {
  let same = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i] === b[i] && ++same >= need) return true;
    if (same + (a.length - i - 1) < need) return false;
  }
  return same >= need;
}

/** Has position p shown enough distinct values among these templates to be a variable? */
function variesEnough(members: readonly Shaped[], p: number, cardinality: number): boolean {
  const values = new Set<string>();
  for (const m of members) {
    const v = m.tokens[p] as string;
    if (v === WILDCARD) return true;
    values.add(v);
  }
  return values.size >= distinctNeeded((members[0] as Shaped).tokens, p, values, cardinality);
}
