/**
 * `stripHeader(line)`: drop the timestamp / level / component prefix of a whole log line and keep
 * the message, so `autonomy signatures` accepts whole lines as well as bare messages.
 *
 * Handled: syslog (`Jun 14 15:16:01 host prog[pid]:`), ISO and other date-time stamps, bracketed
 * stamps (`[Sun Dec 04 04:47:44 2005] [notice]`, `[10.30 16:49:06] prog.exe -`), Java/log4j
 * (`2015-10-18 18:01:47,978 INFO [main] org.x.Y:`, `... - INFO  [thread:Class@12] -`), `[INFO]` and
 * `INFO:`, compact stamps with pids (`081109 203615 148 INFO dfs.DataNode$X:`), Android logcat
 * (`03-17 16:13:38.811  1702  2395 D Tag:`), Windows CBS (`2016-09-28 04:30:30, Info  CBS  `),
 * OpenStack (`file 2017-05-16 00:00:00.008 25746 INFO nova.x.y [req-...]`), supercomputer RAS
 * (`- 1117838570 2005.06.03 NODE ... RAS KERNEL INFO`), pipe-separated (`20171223-22:15:29:606|C|1|`).
 *
 * The rule that keeps bare messages intact: a header is a run of header-like tokens (stamps,
 * numbers, levels, brackets, host-like or component-like names) from the start of the line, and
 * only a run that holds a time stamp, an epoch or a level is dropped. A message starts with a word
 * almost always, which ends the run at once.
 */

import { isUnit } from './units.js';

enum Kind {
  Time, // 09:00:55, 2015-10-18T18:01:47Z, [Sun Dec 04 04:47:44 2005], 1117838570
  Level, // INFO, [notice], Warning
  ComponentEnd, // sshd[24200]:, dfs.DataNode$PacketResponder:, (com.apple.x):
  Dash, // -
  Bracket, // [main], [req-1 - - -]
  Name, // org.x.Y, unix.hw, chrome.exe (component-like, no colon)
  Caps, // RAS, KERNEL, CBS
  Headerish, // numbers, dates, month names, hosts with digits, <34>
  Word, // anything else: the message has started
}

interface Token {
  readonly start: number;
  readonly end: number;
  readonly text: string;
}

const MAX_HEADER_TOKENS = 16;
const LEVELS = new Set([
  'TRACE',
  'DEBUG',
  'INFO',
  'NOTICE',
  'WARN',
  'WARNING',
  'ERROR',
  'ERR',
  'FATAL',
  'CRITICAL',
  'CRIT',
  'SEVERE',
  'ALERT',
  'EMERG',
  'EMERGENCY',
  'FINE',
  'FINER',
  'FINEST',
  'VERBOSE',
  'FAILURE',
]);
const MONTHS_AND_DAYS = new Set(
  'Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec Mon Tue Wed Thu Fri Sat Sun'.split(' '),
);

const TIME = /^\d{1,2}:\d{2}(?::\d{2})?(?:[.,:]\d+)?,?$/;
const DATE_TIME = /^(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}[T_ -]?\d{1,2}[:.]\d{2}|\d{8}[-T_]\d{2}:?\d{2})/;
const EPOCH = /^\d{9,13}(?:\.\d+)?,?$/;
const NUMERIC = /^[\d.,:/-]+$/;
const PRI = /^<\d{1,3}>\d?$/;
const CAPS = /^[A-Z][A-Z0-9_]{1,15}$/;
const COMPONENT_END = /^[\w.$/\-@()[\]<>#*~+]+:$/;
const SOURCE_LOCATION = /^[\w.-]+:\d+\]$/; // klog: file.go:123]
const NAME = /^[\w$.\-/@()[\]<>#*~+:]+$/;
const PIPE_HEADER = /^([^\s|]*\d[^\s|]*)\|/;
/**
 * A message code that opens a message (`AH01630:`, `ORA-00942:`): 2-4 capitals, then 4-6 digits.
 * It names the message the program printed, so it starts the message rather than ending the header.
 * A device with a short number (`CPU0:`, `PSU001:`) is not one: its number stays a value.
 */
const MESSAGE_CODE = /^[A-Z]{2,4}-?\d{4,6}[A-Z]?:$/;

/** Is this token a message code (`AH01630:`)? Kept as it is by masking too (mask.ts). */
export function isMessageCode(token: string): boolean {
  const n = token.length;
  if (n < 5 || n > 13 || token.charCodeAt(n - 1) !== 58) return false;
  const c0 = token.charCodeAt(0);
  return c0 >= 65 && c0 <= 90 && MESSAGE_CODE.test(token);
}
/** Fixed layouts the token scan cannot see: `<id> <node> <component> <state> <epoch> <flag> message`. */
const LAYOUTS = [/^\d+ \S+ \S+ \S+ \d{10} \d+ /];

/** The tokens at the start of a line, split on demand; `[` ... `]` is one token even with spaces. */
class HeadTokens {
  private readonly tokens: Token[] = [];
  private pos = 0;

  constructor(private readonly line: string) {}

  get(k: number): Token | undefined {
    while (this.tokens.length <= k && this.tokens.length < MAX_HEADER_TOKENS) {
      if (!this.scan()) break;
    }
    return this.tokens[k];
  }

  private scan(): boolean {
    const line = this.line;
    const n = line.length;
    let i = this.pos;
    while (i < n && isSpace(line.charCodeAt(i))) i++;
    if (i >= n) return false;
    const start = i;
    if (line.charCodeAt(i) === 91) {
      let depth = 0;
      let j = i;
      for (; j < n && j - i < 300; j++) {
        const c = line.charCodeAt(j);
        if (c === 91) depth++;
        else if (c === 93 && --depth === 0) break;
      }
      if (depth === 0 && j < n) i = j + 1;
    }
    while (i < n && !isSpace(line.charCodeAt(i))) i++;
    this.pos = i;
    this.tokens.push({ start, end: i, text: line.slice(start, i) });
    return true;
  }
}

function isSpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13);
}

function levelOf(text: string, afterStamp: boolean): boolean {
  if (text.length > 11) return false;
  let core = text;
  const bracketed = core.startsWith('[') || core.startsWith('<');
  if (bracketed) core = core.slice(1, core.endsWith(']:') ? -2 : -1);
  else if (core.endsWith(':') || core.endsWith(',')) core = core.slice(0, -1);
  if (LEVELS.has(core)) return true;
  const upper = core.toUpperCase();
  if (!LEVELS.has(upper)) return false;
  if (bracketed) return true; // [notice], [error]
  return afterStamp && core.charCodeAt(0) <= 90; // Info, Warning after a stamp
}

function classify(text: string, afterStamp: boolean): Kind {
  const c0 = text.charCodeAt(0);
  if (c0 === 91) {
    if (/\d{1,2}:\d{2}/.test(text) && !/[=@]/.test(text)) return Kind.Time;
    if (levelOf(text, afterStamp)) return Kind.Level;
    if (text.endsWith(':')) return Kind.ComponentEnd;
    return Kind.Bracket;
  }
  if (text === '-') return Kind.Dash;
  if (c0 >= 48 && c0 <= 57) {
    if (text.length > 1 && text.endsWith(':') && !TIME.test(text)) return Kind.ComponentEnd; // 1.4.1:, 1234#0:
    if (TIME.test(text) || DATE_TIME.test(text) || EPOCH.test(text)) return Kind.Time;
    if (NUMERIC.test(text)) return Kind.Headerish;
  }
  let plain = true; // letters only
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (!((c >= 97 && c <= 122) || (c >= 65 && c <= 90))) {
      plain = false;
      break;
    }
  }
  if (plain) {
    if (c0 > 90) return Kind.Word; // lowercase: a word
    if (levelOf(text, afterStamp)) return Kind.Level;
    if (MONTHS_AND_DAYS.has(text)) return Kind.Headerish;
    return CAPS.test(text) ? Kind.Caps : Kind.Word;
  }
  if (levelOf(text, afterStamp)) return Kind.Level;
  if (PRI.test(text)) return Kind.Headerish;
  if (COMPONENT_END.test(text) && text.length > 1) return Kind.ComponentEnd;
  if (SOURCE_LOCATION.test(text)) return Kind.ComponentEnd;
  if (CAPS.test(text)) return Kind.Caps;
  if (NAME.test(text)) {
    if (/\d/.test(text)) return Kind.Headerish; // node-246, R02-M1-N0-C:J12-U11, dn228/dn228
    if (/[.$_[]/.test(text)) return Kind.Name; // org.x.Y, unix.hw, launchd[1]
  }
  return Kind.Word;
}

/** HealthApp-style `stamp|component|pid|message`: drop the leading fields without spaces. */
function stripPipeFields(line: string): string | null {
  const c0 = line.charCodeAt(0);
  if (!(c0 >= 48 && c0 <= 57)) return null;
  const bar = line.indexOf('|');
  if (bar < 0 || bar > 64) return null;
  const m = PIPE_HEADER.exec(line);
  if (m === null || !/\d[:-]\d|\d{8}/.test(m[1] as string)) return null;
  let rest = line;
  for (let k = 0; k < 4; k++) {
    const bar = rest.indexOf('|');
    if (bar < 0 || /\s/.test(rest.slice(0, bar)) || bar > 64) break;
    rest = rest.slice(bar + 1);
  }
  return rest;
}

/** What follows a level: a component, a thread, a request context, a separator. */
function afterLevel(tokens: HeadTokens, k: number): number {
  const level = tokens.get(k) as Token;
  const t1 = tokens.get(k + 1);
  const t2 = tokens.get(k + 2);
  if (t1 === undefined) return level.end;
  const k1 = classify(t1.text, true);
  const k2 = t2 === undefined ? Kind.Word : classify(t2.text, true);
  if (k1 === Kind.ComponentEnd || k1 === Kind.Dash) return t1.end;
  if (k1 === Kind.Bracket && (k2 === Kind.ComponentEnd || k2 === Kind.Dash)) return (t2 as Token).end;
  if ((k1 === Kind.Name || k1 === Kind.Word || k1 === Kind.Caps) && k2 === Kind.Dash)
    return (t2 as Token).end;
  if (k1 === Kind.Name && k2 === Kind.Bracket) return (t2 as Token).end; // nova.x.y [req-...]
  if (k1 === Kind.Caps && t2 !== undefined && t2.start - t1.end >= 2) return t1.end; // CBS    Loaded
  return level.end;
}

/**
 * The message part of a log line: the line without its leading timestamp / level / component
 * header. A line without a recognisable header is returned as it is (trimmed).
 */
export function stripHeader(line: string): string {
  const piped = stripPipeFields(line);
  if (piped !== null) return piped.trim();
  const c0 = line.charCodeAt(0);
  if (c0 >= 48 && c0 <= 57) {
    for (const layout of LAYOUTS) {
      const m = layout.exec(line);
      if (m !== null) return line.slice(m[0].length).trim();
    }
  }
  const tokens = new HeadTokens(line);
  let end = -1; // where the header ends so far
  let stamped = false; // a time stamp or epoch seen
  let hostSeen = false; // the one free word allowed after a stamp (syslog host)
  for (let k = 0; ; k++) {
    const t = tokens.get(k);
    if (t === undefined) break;
    // logcat: `<date> <time>  <pid>  <tid> D Tag: message`
    if (stamped && /^[VDIWEFA]$/.test(t.text) && /^\d+$/.test(tokens.get(k - 1)?.text ?? '')) {
      return line.slice(afterLevel(tokens, k)).trim();
    }
    const kind = classify(t.text, stamped);
    // A number as long as an epoch with a unit after it is a quantity that opens the message
    // (`1073741824 bytes (1.1 GB, 1.0 GiB) copied`), not a stamp.
    if (kind === Kind.Time && EPOCH.test(t.text) && isUnit(tokens.get(k + 1)?.text ?? '')) break;
    if (kind === Kind.Time) {
      stamped = true;
      end = t.end;
      // Numbers right after the stamp (pid, flags) belong to it.
      while (/^\d+$/.test(tokens.get(k + 1)?.text ?? '')) {
        const next = tokens.get(k + 2);
        if (next !== undefined && classify(next.text, true) !== Kind.Word) break;
        k++;
        end = (tokens.get(k) as Token).end;
        hostSeen = true; // syslog puts the host right after the stamp, not after a pid
      }
      continue;
    }
    if (kind === Kind.Level) return line.slice(afterLevel(tokens, k)).trim();
    if (kind === Kind.ComponentEnd) {
      // `[pid 1:tid 2] [client x] AH01630: client denied`: the code is the message's, the rest header
      if (stamped) end = isMessageCode(t.text) ? t.start : t.end;
      break;
    }
    if (kind === Kind.Dash) {
      const prev = k > 0 ? classify((tokens.get(k - 1) as Token).text, stamped) : Kind.Time;
      if (stamped && prev !== Kind.Time) {
        end = t.end;
        break;
      }
      continue;
    }
    if (kind === Kind.Word) {
      // One word after a stamp may be a host name (syslog); a second, only before `name 1.4.1:`.
      const next = tokens.get(k + 1);
      if (stamped && !hostSeen) {
        hostSeen = true;
        continue;
      }
      if (stamped && next !== undefined && /\d/.test(next.text) && next.text.endsWith(':')) continue;
      break;
    }
    // Bracket, Name, Caps, Headerish: header-like, keep scanning.
  }
  if (end < 0) return dropKernelStamp(line.trim());
  return dropKernelStamp(line.slice(end).trim());
}

/**
 * The kernel's own `[ 1234.567890]` after a syslog header (`kernel: [ 12.5] eth0: ...`); also its
 * masked form `[<*>]`, so a template stored before this rule existed takes today's shape.
 */
const KERNEL_STAMP = /^\[\s*(?:\d+\.\d+|<\*>)\]\s*/;

export function dropKernelStamp(message: string): string {
  if (message.charCodeAt(0) !== 91) return message;
  const m = KERNEL_STAMP.exec(message);
  return m === null ? message : message.slice(m[0].length);
}
