/**
 * Masking of the variable parts of a log message, before template mining: numbers, hex, ids, UUIDs,
 * IPv4/IPv6 (with ports), MAC addresses, paths, URLs, e-mail and `user@host`, quoted values,
 * timestamps and dates, `key=value` values, dotted names (hosts, Java classes), booleans, and
 * durations or sizes (`12ms`, `3.5MB`, `1.16 KB`). Each becomes `<*>`; the constant parts of a token
 * are kept (`blk_-42` -> `blk_<*>`, `uid=0` -> `uid=<*>`, `(1.16 KB)` -> `(<*>)`), and a run of
 * masked tokens collapses into one `<*>`, so a list of any length masks the same way. A value
 * written over several tokens is one value: a quoted value (`key="an error, with spaces"`), a list
 * or object printed by name (`Set(a, b)`, `Window{1a u0 x/.Y}`), a size in two units, a list of
 * items of a few tokens each (`node-0 0xfe <ok> node-1 0xfe <ok>`), an exception and its message,
 * a server banner (`Apache/2.4.58 (Unix) OpenSSL/3.0.11`). A boolean is a value also as a call's
 * argument (`setLightsOn(false)`); a message code that opens the message (`AH01630:`) is kept: it
 * names the message.
 *
 * Pure and allocation-light: it runs on every ingested line. `stripHeader` (the timestamp / level /
 * component prefix of a whole line) lives in header.ts and is re-exported here.
 */
import { isMessageCode } from './header.js';
import { isUnit } from './units.js';

export { stripHeader } from './header.js';

export const WILDCARD = '<*>';

/** Lines longer than this are cut before tokenising (the rest is treated as one variable). */
export const MAX_MESSAGE_CHARS = 4096;
/** At most this many tokens per message; beyond it the tail becomes one `<*>`. */
export const MAX_TOKENS = 96;
/** A token longer than this that no rule recognised is taken as a blob (base64, token, hash). */
const MAX_WORD_CHARS = 64;

// Character classes of ASCII codes, as bit flags in one table (the hot loop reads nothing else).
const DIGIT = 1;
const OPENER = 2; // ( [ { < " ' `
const CLOSER = 4; // ) ] } > " ' ` , ; : . ! ?
const QUOTE = 8;
const SPECIAL = 16; // / \ @ = and quotes: the token needs the full rules
const DOT = 32;
const CLASS = new Uint8Array(128);
function mark(chars: string, flag: number): void {
  for (const ch of chars) {
    const c = ch.charCodeAt(0);
    CLASS[c] = (CLASS[c] as number) | flag;
  }
}
mark('0123456789', DIGIT);
mark('([{<"\'`', OPENER);
mark(')]}>"\'`,;:.!?', CLOSER);
mark('"\'`', QUOTE | SPECIAL);
mark('/\\@=', SPECIAL);
mark('.', DOT);
mark(String.fromCharCode(...Array.from({ length: 32 }, (_, i) => i), 127), SPECIAL);

function classOf(c: number): number {
  return c < 128 ? (CLASS[c] as number) : SPECIAL;
}

function isOpener(c: number): boolean {
  return c < 128 && ((CLASS[c] as number) & OPENER) !== 0;
}

function isCloser(c: number): boolean {
  return c < 128 && ((CLASS[c] as number) & CLOSER) !== 0;
}

/** Words that are values, whatever the log. */
const VALUE_WORDS = new Set(['true', 'false', 'null', 'nil', 'undefined', 'none', 'nan']);
const VALUE_WORD_INITIALS = new Set([...'tfnuTFNU'].map((c) => c.charCodeAt(0)));

/** Month and weekday names, masked when they stand next to another masked token (a date). */
const DATE_WORDS = new Set(
  (
    'Jan Feb Mar Apr May Jun Jul Aug Sep Sept Oct Nov Dec January February March April June July August ' +
    'September October November December Mon Tue Wed Thu Fri Sat Sun Monday Tuesday Wednesday Thursday ' +
    'Friday Saturday Sunday AM PM UTC GMT CET CEST PST PDT EST EDT'
  ).split(' '),
);

/** File extensions that make `name.ext` a value (a file name). */
const FILE_EXTENSIONS = new Set(
  (
    'log txt xml json yaml yml conf cfg ini properties jar class java py js ts go rb so dll exe sys sh ' +
    'pid lock tmp gz tgz zip tar bz2 xz html htm php jsp db dat bin out err csv pem crt key img iso rpm deb'
  ).split(' '),
);

const DIGIT_RUN = /[-+]?[A-Za-z0-9]*[0-9][A-Za-z0-9]*/g;
const DOTTED_NAME = /(?:[A-Za-z0-9_$-]+\.){2,}[A-Za-z0-9_$-]+/g;
const UUID = /[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}/g;
const MAC = /^(?:[0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$/;
const IPV6 = /^[0-9a-fA-F]{0,4}(?::[0-9a-fA-F]{0,4}){2,7}(?:%\w+)?$/;
const COLLAPSE = /<\*>(?:[-.:_/,+#|~]*(?:[A-Za-z]{1,3}[-.:_/,+#|~]+)*<\*>)+/g;

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function isWordChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || isDigit(c) || c === 95;
}

/**
 * Mask one whitespace-free token. Returns the token itself when nothing in it is variable.
 */
export function maskToken(token: string): string {
  const n = token.length;
  let digits = 0;
  let dots = 0;
  let special = 0;
  let letters = 0;
  for (let i = 0; i < n; i++) {
    const c = token.charCodeAt(i);
    const k = classOf(c);
    if (k === 0) {
      if ((c >= 97 && c <= 122) || (c >= 65 && c <= 90)) letters++;
      continue;
    }
    if (k & DIGIT) digits++;
    else if (k & DOT) dots++;
    else if (k & SPECIAL) special++;
  }
  if (digits === 0 && special === 0 && dots === 0 && n <= MAX_WORD_CHARS) {
    const end = token.charCodeAt(n - 1);
    if (end === 41 || end === 93 || end === 44 || end === 59) {
      const bracketed = maskBracketedValueWord(token);
      if (bracketed !== null) return bracketed;
    }
    if (n < 3 || n > 10 || !VALUE_WORD_INITIALS.has(token.charCodeAt(0))) return token;
    const bare = stripTrailing(token);
    return VALUE_WORDS.has(bare.toLowerCase()) ? `${WILDCARD}${token.slice(bare.length)}` : token;
  }

  // Split off the punctuation around the value: `(`, `[`, quotes before; `)`, `,`, `:`, `.` after.
  let s = 0;
  let e = n;
  while (s < e && isOpener(token.charCodeAt(s))) s++;
  while (e > s && isCloser(token.charCodeAt(e - 1))) e--;
  if (s === e) return token;
  // Quoted text is one value whatever it holds: 'sparkDriver', "alt0", 'SSH-2.0-OpenSSH_9.6' (as
  // quoted text of several tokens is; see joinQuotedValues).
  if (isQuoted(token, s, e)) return `${token.slice(0, s)}${WILDCARD}${token.slice(e)}`;
  const core = s === 0 && e === n ? token : token.slice(s, e);
  // Numbers, addresses, times, dates, versions: digits and separators only.
  let masked =
    digits > 0 && letters === 0 && special === 0 ? WILDCARD : maskCore(core, digits > 0, special > 0);
  if (masked === core) return token;
  // `key="a value"`: its quotes stay around the masked value (`key="<*>"`), as around a quoted
  // value on its own; not a stray closing quote (`key=<*>"`).
  if (e < n && masked.endsWith(KEYED_VALUE)) {
    const quote = core.charCodeAt(core.indexOf('=') + 1);
    if ((classOf(quote) & QUOTE) !== 0 && token.charCodeAt(e) === quote)
      masked = `${masked.slice(0, -WILDCARD.length)}${String.fromCharCode(quote)}${WILDCARD}`;
  }
  let prefix = s === 0 ? '' : token.slice(0, s);
  // `<1`, `>5`, `~3`: the comparison belongs to the value.
  if (masked === WILDCARD && prefix !== '') prefix = prefix.replace(/[<>~]+$/, '');
  return e === n ? `${prefix}${masked}` : `${prefix}${masked}${token.slice(e)}`;
}

/** The text between `s` and `e` is quoted: the same quote opens right before it and closes right after. */
function isQuoted(token: string, s: number, e: number): boolean {
  if (s === 0 || e === token.length) return false;
  const open = token.charCodeAt(s - 1);
  return (classOf(open) & QUOTE) !== 0 && token.charCodeAt(e) === open;
}

/** A key and its masked value: `key=<*>`. */
const KEYED_VALUE = `=${WILDCARD}`;
/** A keyed quoted value as masking 9 to 14 left it: `key=<*>"` (today `key="<*>"`). */
const STRAY_QUOTE_KEYED = /^([^=]*=)<\*>(["'])/;

/** A stored template's token in today's shape of a keyed quoted value: `key=<*>"` -> `key="<*>"`. */
export function requoteKeyed(token: string): string {
  const keyed = STRAY_QUOTE_KEYED.exec(token);
  if (keyed === null) return token;
  const [whole, key, quote] = keyed as unknown as [string, string, string];
  return `${key}${quote}${WILDCARD}${quote}${token.slice(whole.length)}`;
}

/** A token holding `<*>` already (a stored template's), quoted text made one value as `maskToken` does. */
function reshapeMasked(token: string): string {
  const requoted = requoteKeyed(token);
  if (requoted !== token) return requoted;
  let s = 0;
  while (s < token.length && isOpener(token.charCodeAt(s)) && !token.startsWith(WILDCARD, s)) s++;
  const e = stripTrailing(token).length;
  if (e <= s || !isQuoted(token, s, e)) return token;
  return token.slice(s, e) === WILDCARD ? token : `${token.slice(0, s)}${WILDCARD}${token.slice(e)}`;
}

/**
 * `setLightsOn(false)`, `[null]`: a value word as a call's argument or in brackets is a value; null
 * when the token holds no bracket (the plain-word rules apply).
 */
function maskBracketedValueWord(token: string): string | null {
  const open = Math.max(token.lastIndexOf('('), token.lastIndexOf('['));
  if (open < 0) return null;
  let close = token.length;
  while (close > open + 1 && isCloser(token.charCodeAt(close - 1))) close--;
  if (close - open - 1 < 3 || !VALUE_WORDS.has(token.slice(open + 1, close).toLowerCase())) return token;
  return `${token.slice(0, open + 1)}${WILDCARD}${token.slice(close)}`;
}

function maskCore(core: string, hasDigit: boolean, hasSpecial: boolean): string {
  const n = core.length;
  if (hasSpecial) {
    const special = maskSpecial(core, hasDigit);
    if (special !== null) return special;
  }
  if (n > MAX_WORD_CHARS) return WILDCARD;
  let out = core;
  if (hasDigit) {
    const colon = core.indexOf(':');
    if (colon >= 0 && (MAC.test(out) || IPV6.test(out))) return WILDCARD;
    if (n >= 36) out = out.replace(UUID, WILDCARD);
  } else if (VALUE_WORDS.has(core.toLowerCase())) return WILDCARD;
  const firstDot = out.indexOf('.');
  if (firstDot >= 0 && out.indexOf('.', firstDot + 1) >= 0) out = out.replace(DOTTED_NAME, WILDCARD);
  else if (!hasDigit && firstDot > 0) {
    if (FILE_EXTENSIONS.has(out.slice(firstDot + 1).toLowerCase()) && isWordRun(out, 0, firstDot))
      return WILDCARD;
  }
  if (hasDigit) out = out.replace(DIGIT_RUN, WILDCARD);
  if (out === core) return out;
  // pkg/.Activity, HTTP/1.1, pts/0: a value anywhere in a slashed name makes it all a value
  if (hasSpecial && core.includes('/')) return WILDCARD;
  return out.replace(COLLAPSE, WILDCARD);
}

/** A plain key before `=`: letters, digits, `_`, `-`, `.`. */
const KEY = /^[A-Za-z_][\w.-]*$/;

/** A key as the template keeps it: numbered keys (r00=, r01=) are one key. */
function maskKey(key: string, hasDigit: boolean): string {
  return hasDigit ? key.replace(DIGIT_RUN, WILDCARD) : key;
}

/** The rules for tokens with `/ \ @ =`, quotes or control characters; null when none applies. */
function maskSpecial(core: string, hasDigit: boolean): string | null {
  const n = core.length;
  const c0 = core.charCodeAt(0);
  const eq = core.indexOf('=');
  // key=value first, whatever the value holds (`output="Get \"http://x\": timeout"`)
  if (eq > 0 && KEY.test(core.slice(0, eq))) return `${maskKey(core.slice(0, eq), hasDigit)}=${WILDCARD}`;
  if (c0 === 47 && n > 1) return WILDCARD; // /absolute/path, /10.0.0.1:50010
  if (core.includes('://')) return WILDCARD; // URL
  if (c0 === 126 && core.charCodeAt(1) === 47) return WILDCARD; // ~/path
  if (core.startsWith('./') || core.startsWith('../')) return WILDCARD;
  if (core.includes('\\')) return WILDCARD; // C:\Windows\..., \042alt0\042
  if (n > 2 && core.charCodeAt(1) === 58 && core.charCodeAt(2) === 47) return WILDCARD; // C:/path
  const at = core.indexOf('@');
  if (at > 0 && at < n - 1) return WILDCARD; // user@host, e-mail, Object@1a2b
  if (eq > 0) return `${maskKey(core.slice(0, eq), hasDigit)}=${WILDCARD}`; // key=value, key= (empty value)
  if (eq === 0 && n > 1) return `=${WILDCARD}`;
  for (let i = 0; i < n; i++) {
    const c = core.charCodeAt(i);
    if (c < 32 || c === 0xfffd || (c >= 0x7f && c <= 0x9f)) return WILDCARD; // binary junk
  }
  if (countChar(core, 47) >= 2) return WILDCARD; // relative/path/with/segments
  return null;
}

function countChar(s: string, code: number): number {
  let k = 0;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) === code) k++;
  return k;
}

function isWordRun(s: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (!isWordChar(c) && c !== 45) return false;
  }
  return to > from;
}

/** `key="two words"` / `key='a b'`: the quote opened right after `=` and closed a few tokens later. */
const QUOTED_VALUE_START = /^[\w.-]+=(["'])/;
/** `"two words"`, `('a b')`: a token that opens a quote (after brackets) without closing it. */
const QUOTE_START = /^[([{]*(["'])/;
const MAX_QUOTED_TOKENS = 24;
/** A `key="..."` value may be longer: a structured log's value holds a whole error message. */
const MAX_KEYED_QUOTED_TOKENS = 48;

/** The quote a token opens and does not close, or null. */
function openedQuote(token: string): string | null {
  const m = token.includes('=') ? QUOTED_VALUE_START.exec(token) : null;
  const q = m ?? QUOTE_START.exec(token);
  if (q === null) return null;
  const quote = q[1] as string;
  return closingQuoteAt(token, quote, q[0].length) < 0 ? quote : null;
}

/** Where a quote that is not escaped (`\"` is part of the value) is in a token from `from`, or -1. */
function closingQuoteAt(token: string, quote: string, from = 0): number {
  for (let at = token.indexOf(quote, from); at >= 0; at = token.indexOf(quote, at + 1))
    if (at === 0 || token.charCodeAt(at - 1) !== 92) return at;
  return -1;
}

/**
 * Join the tokens of a quoted value (`key="two words"`, `"Bye Bye"`, `'GET / HTTP/1.1'`) into one
 * token, so its length does not matter; the token is then masked as one quoted value. A request
 * line that stands as a request log's field keeps its method (see `quotedValue`). A quoted span
 * that opens the message is the message itself, not a value (`"Probe failed" pod="x"`, as
 * structured loggers print it), and an escaped quote (`\"`) does not close a value.
 */
function joinQuotedValues(tokens: string[]): string[] {
  let out: string[] | null = null;
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] as string;
    const c = token.charCodeAt(0);
    const quote =
      c === 34 || c === 39 || token.includes('=') || c === 40 || c === 91 ? openedQuote(token) : null;
    const keyed = quote !== null && QUOTED_VALUE_START.test(token);
    if (quote !== null && (keyed || i > 0)) {
      const max = keyed ? MAX_KEYED_QUOTED_TOKENS : MAX_QUOTED_TOKENS;
      const j = keyed ? keyedValueEnd(tokens, i, quote) : quoteEnd(tokens, i, quote, max);
      if (j >= 0) {
        out ??= tokens.slice(0, i);
        const span = tokens.slice(i, j + 1);
        if (keyed) {
          // masked as one key=value token: `key="v"` stands for the value, whatever it holds
          const last = tokens[j] as string;
          out.push(
            `${token.slice(0, token.indexOf('=') + 1)}${quote}v${last.slice(closingQuoteOf(last, quote))}`,
          );
        } else out.push(...quotedValue(span, tokens[i - 1] as string));
        i = j;
        continue;
      }
    }
    out?.push(token);
  }
  return out ?? tokens;
}

/** Where a quoted span opened at token `i` closes (the first closing quote within `max`), or -1. */
function quoteEnd(tokens: readonly string[], i: number, quote: string, max: number): number {
  for (let j = i + 1; j < tokens.length && j - i <= max; j++)
    if (closingQuoteAt(tokens[j] as string, quote) >= 0) return j;
  return -1;
}

/** `key=`: a token that starts a key=value pair. */
const KEY_START = /^[A-Za-z_][\w.-]*=/;

/**
 * Where a `key="...` value closes. A value may quote text itself without escaping it
 * (`err="Get "https://x": dial tcp: refused"`), so the value ends at a quote that ends a token where
 * the message ends or the next `key=` starts; failing that, at the first closing quote.
 */
function keyedValueEnd(tokens: readonly string[], i: number, quote: string): number {
  const first = quoteEnd(tokens, i, quote, MAX_KEYED_QUOTED_TOKENS);
  if (first < 0) return -1;
  for (let j = first; j < tokens.length && j - i <= MAX_KEYED_QUOTED_TOKENS; j++) {
    const token = tokens[j] as string;
    if (j > first && KEY_START.test(token)) break; // another pair began: the value closed before it
    const next = tokens[j + 1];
    if (endsWithQuote(token, quote) && (next === undefined || KEY_START.test(next))) return j;
  }
  return first;
}

/** A token whose last quote, before closing punctuation, ends it: `refused"`, `"pods"",`. */
function endsWithQuote(token: string, quote: string): boolean {
  return trailingQuoteAt(token, quote) >= 0;
}

/** Where the quote that ends a token (before a `,` / `;`) is, or -1. */
function trailingQuoteAt(token: string, quote: string): number {
  let e = token.length;
  while (e > 0 && (token.charCodeAt(e - 1) === 44 || token.charCodeAt(e - 1) === 59)) e--;
  return e > 0 && token[e - 1] === quote && (e < 2 || token.charCodeAt(e - 2) !== 92) ? e - 1 : -1;
}

/** The quote that closes a keyed value in its last token: the one ending it, else the first. */
function closingQuoteOf(token: string, quote: string): number {
  const end = trailingQuoteAt(token, quote);
  return end >= 0 ? end : closingQuoteAt(token, quote);
}

/** Most tokens a bracketed list or object may span (`Set(a, b, c)`, `Window{1a u0 x/.Y}`). */
const MAX_BRACKETED_TOKENS = 8;
const OPEN_BRACKETS = '([{';
const CLOSE_BRACKETS = ')]}';

/** Brackets a token leaves open (negative: it closes more than it opens). */
function bracketDepth(token: string): number {
  let depth = 0;
  for (let i = 0; i < token.length; i++) {
    const ch = token[i] as string;
    if (OPEN_BRACKETS.includes(ch)) depth++;
    else if (CLOSE_BRACKETS.includes(ch)) depth--;
  }
  return depth;
}

/**
 * Join a bracketed list or object that spans tokens, printed after a name, into one value so its
 * length does not matter: a comma-separated list (`Set(hdfs, yarn)`, `ids=[a, b, c]`: every token
 * but the last ends in `,`), or an object (`Window{1a2b u0 com.x/.Main}`); and a bracketed command
 * line, one holding a path (`CMD (/usr/lib/sa/sa1 1 1)`, `CMD (run-parts /etc/cron.hourly)`). The
 * name and the punctuation around stay (`Set(<*>);`, `Window{<*>}`). A bracketed phrase is not a
 * list (`(111: Connection refused)`, `(message format version),`), nor is a list without a name
 * (`handlers for [TERM, HUP, INT]`): their words stay.
 */
function joinBracketedValues(tokens: string[]): string[] {
  let out: string[] | null = null;
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] as string;
    const depth = token.includes(WILDCARD) ? 0 : bracketDepth(token);
    if (depth > 0) {
      const open = lastUnclosedOpener(token);
      // printed by name: `Set(`, `Window{`, `volumes=[` (a bare `[TERM, HUP, INT]` is words)
      const named = open > 0 && (isWordChar(token.charCodeAt(open - 1)) || token.charCodeAt(open - 1) === 61);
      const object = named && token.charAt(open) === '{';
      let list = named && token.endsWith(',');
      let path = holdsPath(token.slice(open + 1));
      let left = depth;
      let j = i + 1;
      for (; j < tokens.length && j - i <= MAX_BRACKETED_TOKENS; j++) {
        const next = tokens[j] as string;
        if (holdsPath(next)) path = true;
        left += bracketDepth(next);
        if (left <= 0) break;
        if (!next.endsWith(',')) list = false;
      }
      if (left <= 0 && j < tokens.length && (object || list || path)) {
        out ??= tokens.slice(0, i);
        const last = tokens[j] as string;
        out.push(`${token.slice(0, open + 1)}${WILDCARD}${last.slice(closerAt(last))}`);
        i = j;
        continue;
      }
    }
    out?.push(token);
  }
  return out ?? tokens;
}

/** A token that is an absolute or home-relative path (`/usr/lib/sa/sa1`, `~/x`): a command line's part. */
function holdsPath(token: string): boolean {
  const c = token.charCodeAt(0);
  return (c === 47 && token.length > 1 && token.charCodeAt(1) !== 47) || token.startsWith('~/');
}

/** Index of the opening bracket a token leaves unclosed (the outermost one). */
function lastUnclosedOpener(token: string): number {
  const stack: number[] = [];
  for (let i = 0; i < token.length; i++) {
    const ch = token[i] as string;
    if (OPEN_BRACKETS.includes(ch)) stack.push(i);
    else if (CLOSE_BRACKETS.includes(ch)) stack.pop();
  }
  return stack[0] ?? 0;
}

/** Index of the bracket that closes the span in its last token (the first unmatched closer). */
function closerAt(token: string): number {
  let depth = 0;
  let at = 0;
  for (let i = 0; i < token.length; i++) {
    const ch = token[i] as string;
    if (OPEN_BRACKETS.includes(ch)) depth++;
    else if (CLOSE_BRACKETS.includes(ch)) {
      depth--;
      if (depth < 0) at = i;
    }
  }
  return at;
}

const LEADING_CAPS = /^([^"']*["'])([A-Z]{2,})$/;

/**
 * A request line's target: a path (`/x`), a URL, or `*` (RFC 9112: method SP target SP version); or
 * a target a stored template already masked (`"GET <*>"` keeps its method when it is re-shaped).
 */
function isRequestTarget(token: string | undefined): boolean {
  return (
    token !== undefined &&
    (token.startsWith('/') || token.includes('://') || token === '*' || token.startsWith(WILDCARD))
  );
}

/** A word of a sentence: letters only, no punctuation that would make it a key (`request:`). */
const SENTENCE_WORD = /^[A-Za-z]+$/;

/**
 * The tokens for a quoted span: `"<*>"` (punctuation around kept), whatever it holds. A request line
 * (a method then a target) that stands as a field of a request log keeps its method (`"GET` `<*>"`),
 * which tells two requests apart: after a value or a key (`10.0.0.1 "GET /x HTTP/1.1" status: 200`,
 * `request: "GET /x HTTP/1.1"`). After a sentence's word it is that sentence's value like any
 * quoted text (`Bad protocol version identification 'GET / HTTP/1.1' from ...`: what a client sent).
 */
function quotedValue(span: readonly string[], before: string): string[] {
  const first = span[0] as string;
  const last = span[span.length - 1] as string;
  const quote = QUOTE_START.exec(first) ?? QUOTED_VALUE_START.exec(first);
  const open = quote === null ? first.slice(0, 1) : first.slice(0, quote.index + quote[0].length);
  const q = open.charAt(open.length - 1);
  const close = last.slice(last.lastIndexOf(q));
  const caps = isRequestTarget(span[1]) && !SENTENCE_WORD.test(before) ? LEADING_CAPS.exec(first) : null;
  return caps !== null ? [`${caps[1]}${caps[2]}`, `${WILDCARD}${close}`] : [`${open}${WILDCARD}${close}`];
}

/** Split on runs of whitespace (space, tab, CR, LF, VT, FF, NBSP). */
export function tokenize(message: string, maxTokens = MAX_TOKENS): string[] {
  const out: string[] = [];
  const text = message.length > MAX_MESSAGE_CHARS ? message.slice(0, MAX_MESSAGE_CHARS) : message;
  let start = -1;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 32;
    const space = c === 32 || (c >= 9 && c <= 13) || c === 160;
    if (space) {
      if (start >= 0) {
        if (out.length === maxTokens - 1) {
          out.push(WILDCARD);
          return out;
        }
        out.push(text.slice(start, i));
        start = -1;
      }
    } else if (start < 0) start = i;
  }
  if (message.length > MAX_MESSAGE_CHARS && out[out.length - 1] !== WILDCARD) out.push(WILDCARD);
  return joinBracketedValues(joinQuotedValues(out));
}

/** The token without its closing punctuation (never cutting into a `<*>`). */
function stripTrailing(token: string): string {
  let e = token.length;
  while (e > 0 && isCloser(token.charCodeAt(e - 1))) {
    if (token.charCodeAt(e - 1) === 62 && token.startsWith(WILDCARD, e - 3)) break;
    e--;
  }
  return token.slice(0, e);
}

/** `(<*>`, `<*>`, `[<*>`: a masked value with only openers before it and nothing after. */
function isOpenValue(token: string): boolean {
  if (!token.endsWith(WILDCARD)) return false;
  for (let i = 0; i < token.length - 3; i++) if (!isOpener(token.charCodeAt(i))) return false;
  return true;
}

/** `(<*>`, `[<*>,`: a bracket opened before a value, not closed, the value maybe a list's first item. */
function continuesValue(prev: string): boolean {
  const at = prev.indexOf(WILDCARD);
  if (at <= 0) return false;
  for (let i = 0; i < at; i++) if (!isOpener(prev.charCodeAt(i))) return false;
  const rest = prev.length - at - WILDCARD.length;
  return rest === 0 || (rest === 1 && (prev.endsWith(',') || prev.endsWith(';')));
}

/** `prev` is `m` without its closing punctuation, or `m` plus a list separator. */
function isSameValue(prev: string, m: string): boolean {
  if (prev === m) return true;
  const bare = stripTrailing(m);
  if (prev === bare) return true;
  return (prev.endsWith(',') || prev.endsWith(';')) && prev.slice(0, -1) === bare;
}

/** A masked value with any punctuation around it: `<*>`, `(<*>)`, `<*>,`. */
function isValueToken(token: string): boolean {
  const at = token.indexOf(WILDCARD);
  if (at < 0) return false;
  for (let i = 0; i < at; i++) if (!isOpener(token.charCodeAt(i))) return false;
  for (let i = at + 3; i < token.length; i++) if (!isCloser(token.charCodeAt(i))) return false;
  return true;
}

const PAREN_VALUE = `(${WILDCARD})`;
/**
 * `(1.16`, `(00:00:05)`, `(1.2KB)`, `(12%)`: a number, maybe with a short unit, in brackets (not an
 * address: `(42.67.242.211)` names a host).
 */
const NUMBER_IN_PARENS = /^\([<>~]?[0-9][0-9,:]*(?:\.[0-9]+)?(?:[A-Za-z%]{1,4}(?:\/s)?)?(?:\)|$)/;
/** An empty pair standing for a value that is absent: `()`, `[]`, `""`. */
const EMPTY_PAIR = /^(?:\(\)|\[\]|\{\}|""|'')[,;:.]?$/;

/** `<*> (<*>)` at the end of the list: the same value in another unit, folded into one. */
function foldAlternateUnit(masked: string[]): void {
  const n = masked.length;
  if (n < 2) return;
  const m = masked[n - 1] as string;
  const prev = masked[n - 2] as string;
  if (m.startsWith(PAREN_VALUE) && isOpenValue(prev)) {
    masked.pop();
    masked[n - 2] = `${prev}${m.slice(PAREN_VALUE.length)}`;
  }
}

/**
 * Mask a list of tokens: each token on its own, then the rules that look at neighbours (a unit after
 * a number, a month name next to a date, a run of values collapsing into one `<*>`). With
 * `keepMasked`, tokens already holding `<*>` are taken as masked (re-shaping a stored template).
 */
export function maskTokens(tokens: readonly string[], keepMasked = false): string[] {
  const masked: string[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] as string;
    if (i >= 2 && THROWABLE_WITH_MESSAGE.test(token)) {
      // `received exception java.io.IOException: Connection reset by peer`: the exception and its
      // message are one value of the message before them, whatever the message says
      if (masked[masked.length - 1] !== WILDCARD) masked.push(WILDCARD);
      break;
    }
    if (token.charCodeAt(0) === 40 && masked[masked.length - 1] === WILDCARD && i > 0) {
      // `Apache/2.4.58 (Unix) OpenSSL/3.0.11`: a comment after a product is part of the product
      // list (RFC 9110's Server / User-Agent grammar), one value however many parts it lists
      const end = productCommentEnd(tokens, i);
      if (end >= 0) {
        const close = tokens[end] as string;
        const after = close.slice(close.lastIndexOf(')') + 1);
        if (after !== '') masked[masked.length - 1] = `${WILDCARD}${after}`;
        i = end;
        continue;
      }
    }
    const m = maskAt(tokens, i, keepMasked);
    const last = masked.length - 1;
    if (last >= 0) {
      const prev = masked[last] as string;
      if (isOpenValue(prev)) {
        const bare = stripTrailing(token);
        if (isUnit(bare)) {
          masked[last] = `${prev}${token.slice(bare.length)}`;
          foldAlternateUnit(masked);
          continue;
        }
      }
      // the same size in another unit: `1190 bytes (1.16 KB)`, `5 s (00:00:05)` is one value; not
      // a name in brackets (`85216 (python3)`: a process and its name; `1.2.3.4 (host-1.x.net)`)
      if (
        isOpenValue(prev) &&
        m.startsWith(PAREN_VALUE) &&
        (NUMBER_IN_PARENS.test(token) || token.startsWith(PAREN_VALUE))
      ) {
        masked[last] = `${prev}${m.slice(PAREN_VALUE.length)}`;
        continue;
      }
      // a value that goes on in the next token: `(1.5 GB/5.2 GiB)`, `[0 1 2]`, `[1, 2, 3]`
      if (m.startsWith(WILDCARD) && isValueToken(m) && continuesValue(prev)) {
        masked[last] = `${prev.slice(0, prev.indexOf(WILDCARD))}${m}`;
        continue;
      }
      // a repeated bracketed marker is one marker, however often: `<ok> <ok> <ok>` (not a word:
      // `invalid user user` names the user `user`)
      if (m === prev && isOpener(m.charCodeAt(0)) && !m.includes(WILDCARD)) continue;
      // a run of values is one value: `1 2 3`, `blk_<*> blk_<*>`, `@<*> @<*>)`
      if (m.includes(WILDCARD) && isSameValue(prev, m)) {
        masked[last] = m;
        continue;
      }
      if (m === WILDCARD && DATE_WORDS.has(stripTrailing(prev))) {
        // `Sun Jul 3 23:15:38 2005`: the names before the first number belong to the date too.
        masked[last] = WILDCARD;
        while (masked.length >= 2) {
          const before = masked[masked.length - 2] as string;
          if (before !== WILDCARD && !DATE_WORDS.has(stripTrailing(before))) break;
          masked.pop();
          masked[masked.length - 1] = WILDCARD;
        }
        continue;
      }
      if (prev === WILDCARD && DATE_WORDS.has(stripTrailing(token))) continue;
    }
    masked.push(m);
  }
  return collapseRepeatedGroups(masked);
}

/** Token `i` masked on its own (what it makes with its neighbours is `maskTokens`'s). */
function maskAt(tokens: readonly string[], i: number, keepMasked: boolean): string {
  const token = tokens[i] as string;
  if (keepMasked && token.includes(WILDCARD)) {
    // a stored `Apache/<*> (Unix) OpenSSL/<*>`: the banner is one value, as in a line
    return maskedProductInList(tokens, i) ? WILDCARD : reshapeMasked(token);
  }
  if (i === 0 && isMessageCode(token)) return token; // `AH01630:` names the message
  if (EMPTY_PAIR.test(token)) return `${token.charAt(0)}${WILDCARD}${token.slice(1)}`;
  return maskToken(token);
}

/** A product and its version (`Apache/2.4.58`, `OpenSSL/3.0.11`, `Mozilla/5.0`). */
const PRODUCT = /^[A-Za-z][\w.+-]*\/v?\d+\.\d[\w.+-]*$/;
/** A product whose version older rules masked (`Apache/<*>`), in a stored template. */
const MASKED_PRODUCT = /^[A-Za-z][\w.+-]*\/v?<\*>$/;

const isProduct = (token: string): boolean => PRODUCT.test(token) || MASKED_PRODUCT.test(token);

/**
 * Token `i` of a stored template is a masked product in a product list: next to a comment or to
 * another product (`Apache/<*> (Unix) OpenSSL/<*>`). Alone, `name/<*>` may as well be a path.
 */
function maskedProductInList(tokens: readonly string[], i: number): boolean {
  if (!MASKED_PRODUCT.test(tokens[i] as string)) return false;
  const next = tokens[i + 1] ?? '';
  const prev = tokens[i - 1] ?? '';
  return next.startsWith('(') || isProduct(next) || prev.endsWith(')') || isProduct(prev);
}

/** Most tokens a product's comment may span (`(X11; Linux x86_64)`). */
const MAX_COMMENT_TOKENS = 8;

/**
 * When token `i` opens a comment that follows a product (`Apache/2.4.58 (Unix)`), or another
 * comment of one (`Mozilla/5.0 (X11; Linux x86_64) (KHTML, like Gecko)`): the index of the token
 * that closes it (only punctuation after its `)`); otherwise -1.
 */
function productCommentEnd(tokens: readonly string[], i: number): number {
  let p = i - 1;
  // skip back over comments of the same product list
  while (p >= 0 && (tokens[p] as string).endsWith(')') && !isProduct(tokens[p] as string)) {
    let q = p;
    while (q >= 0 && (tokens[q] as string).charCodeAt(0) !== 40) q--;
    if (q < 0 || p - q >= MAX_COMMENT_TOKENS) return -1;
    p = q - 1;
  }
  if (p < 0 || !isProduct(tokens[p] as string)) return -1;
  for (let j = i; j < tokens.length && j - i < MAX_COMMENT_TOKENS; j++) {
    const t = tokens[j] as string;
    const close = t.lastIndexOf(')');
    if (close < 0) continue;
    for (let k = close + 1; k < t.length; k++) if (!isCloser(t.charCodeAt(k))) return -1;
    return j;
  }
  return -1;
}

/** A Java exception or error class, then `:` and its message (`java.net.SocketTimeoutException:`). */
const THROWABLE_WITH_MESSAGE = /^[a-z][\w$]*(?:\.[\w$]+)+(?:Exception|Error):$/;

/** Longest group of tokens whose repetition is taken as one list item (`node-0 0xfffe <ok>`). */
const MAX_GROUP = 4;

/**
 * A group of tokens holding a value, repeated back to back, is a list of any length: one copy is
 * kept (`node<*> <*> <ok> node<*> <*> <ok>` -> `node<*> <*> <ok>`), as a run of single values
 * already collapses into one `<*>`.
 */
function collapseRepeatedGroups(masked: string[]): string[] {
  let out = masked;
  for (let k = 2; k <= MAX_GROUP; k++) {
    for (let i = 0; i + 2 * k <= out.length; i++) {
      let holdsValue = false;
      let same = true;
      for (let j = 0; same && j < k - 1; j++) {
        const a = out[i + j] as string;
        if (a !== out[i + k + j]) same = false;
        else if (a.includes(WILDCARD)) holdsValue = true;
      }
      // the last token of a group may carry the list's separator (`a <*>, a <*>`)
      const end = out[i + k - 1] as string;
      const next = out[i + 2 * k - 1] as string;
      const separated = end !== next && (end === `${next},` || end === `${next};`);
      if (same && (end === next || separated) && (holdsValue || end.includes(WILDCARD))) {
        if (out === masked) out = [...masked];
        // keep the copy whose last token has the list's last shape (no separator)
        out.splice(separated ? i : i + k, k);
        i--; // the next copy may follow
      }
    }
  }
  return out;
}

/** Tokenise and mask a message; the template of a message nobody has seen before. */
export function maskMessage(message: string): string {
  return maskTokens(tokenize(message)).join(' ');
}

export { isValueToken };
