/**
 * POST /hooks/logs bodies -> log lines -> error signatures.
 *
 * Two formats: `text/plain` (one log line per line; the service and a default level may come from
 * the query: `?service=api&level=error`) and `application/x-ndjson` (one JSON object per line:
 * `message` | `msg` | `line`, optional `service`, `timestamp` | `ts` | `time` (ISO 8601 or epoch
 * seconds / ms), `level` (a word, or pino's numbers: 50 error, 60 fatal)).
 *
 * Every line goes through the signature miner (its templates are kept, never the lines). Lines at
 * error level or above (error, err, fatal, critical, crit, severe, alert, emerg, panic) are counted
 * per signature; when a signature repeats `threshold` times within the policy's window, ONE
 * `error_signature` signal is made (fingerprint = the signature, with the count), at most once per
 * cooldown: that is the RepeatCounter's job (src/signals/signatures/repeats.ts).
 */
import { z } from 'zod';
import { stripHeader } from '../signatures/header.js';
import type { SignalInput } from '../types.js';
import { cut, MAX_PROBLEMS, type Normalised, type Problem, parseAnyTime } from './common.js';

export type LogFormat = 'text' | 'ndjson';

export interface LogLine {
  /** 1-based line number in the body. */
  readonly lineNo: number;
  /** What the miner sees: the whole text line, or the NDJSON message. */
  readonly message: string;
  readonly service: string | null;
  readonly level: string | null;
  readonly error: boolean;
  /** Epoch ms: the line's own time, else the receipt. */
  readonly at: number;
}

export interface LogParseOptions {
  readonly format: LogFormat;
  readonly now: number;
  /** For lines that do not name one (text lines never do). */
  readonly service?: string | null;
  /** For lines whose level cannot be read (e.g. `error` for a feed of error lines). */
  readonly defaultLevel?: string | null;
}

/** What the miner returns per line (SignatureMiner.add). */
export interface MinedLine {
  readonly signature: string;
  readonly template: string;
  readonly isNew: boolean;
  readonly count: number;
}

export interface LineMiner {
  add(message: string, at?: number): MinedLine;
}

/** A signature that crossed the threshold (RepeatTracker.observe). */
export interface RepeatEvent {
  readonly signature: string;
  readonly count: number;
  readonly firstAt: number;
  readonly lastAt: number;
}

export interface RepeatSettings {
  readonly threshold: number;
  readonly windowMs: number;
  readonly cooldownMs: number;
}

export interface RepeatCounter {
  observe(signature: string, at: number): RepeatEvent | null;
}

export const MAX_LINES = 100_000;
export const MAX_LINE_CHARS = 65_536;
/** A line's time more than this far ahead of the receipt is taken as the receipt (a wrong clock). */
const MAX_SKEW_MS = 5 * 60_000;

const ERROR_LEVELS = new Set([
  'error',
  'err',
  'fatal',
  'critical',
  'crit',
  'severe',
  'alert',
  'emerg',
  'emergency',
  'panic',
]);
const CRITICAL_LEVELS = new Set(['fatal', 'emerg', 'emergency', 'panic', 'alert']);
const LEVEL_WORD =
  /(?:^|[\s[(<|:])(TRACE|DEBUG|INFO|NOTICE|WARN(?:ING)?|ERR(?:OR)?|FATAL|CRIT(?:ICAL)?|SEVERE|ALERT|EMERG(?:ENCY)?|PANIC)(?=$|[\s\]):>|,])/i;
const LEADING_LEVEL =
  /^[[(<]?(ERROR|ERR|FATAL|CRITICAL|CRIT|SEVERE|EMERG|EMERGENCY|PANIC|WARN|WARNING|INFO|DEBUG|TRACE|NOTICE)[\])>]?(?:[:\s]|$)/i;
const KEY_VALUE_LEVEL = /\b(?:level|lvl|severity)["']?\s*[=:]\s*["']?([A-Za-z]+)/i;
const KLOG = /^([IWEF])\d{4} \d{2}:\d{2}:\d{2}/;
const KLOG_LEVELS: Record<string, string> = { I: 'info', W: 'warning', E: 'error', F: 'fatal' };

/** The level a whole text line states (header word, `level=error`, klog's `E0102`), or null. */
export function detectLevel(line: string): string | null {
  const head = line.length > 512 ? line.slice(0, 512) : line;
  const klog = KLOG.exec(head);
  if (klog) return KLOG_LEVELS[klog[1] as string] ?? null;
  const message = stripHeader(head);
  const header =
    message !== head && head.endsWith(message) ? head.slice(0, head.length - message.length) : '';
  const inHeader = header === '' ? null : LEVEL_WORD.exec(header);
  if (inHeader) return (inHeader[1] as string).toLowerCase();
  const leading = LEADING_LEVEL.exec(message);
  if (leading) return (leading[1] as string).toLowerCase();
  const kv = KEY_VALUE_LEVEL.exec(head);
  return kv ? (kv[1] as string).toLowerCase() : null;
}

/** A level word (or pino / bunyan number) as text: 50 -> error, 60 -> fatal. */
export function levelName(level: string | number | null | undefined): string | null {
  if (level === null || level === undefined) return null;
  if (typeof level === 'number') {
    if (level >= 60) return 'fatal';
    if (level >= 50) return 'error';
    if (level >= 40) return 'warn';
    if (level >= 30) return 'info';
    return 'debug';
  }
  const word = level.trim().toLowerCase();
  return word === '' ? null : word;
}

export function isErrorLevel(level: string | null): boolean {
  return level !== null && ERROR_LEVELS.has(level);
}

const ndjsonLine = z.looseObject({
  message: z.string().optional(),
  msg: z.string().optional(),
  line: z.string().optional(),
  service: z.string().trim().min(1).max(200).optional(),
  timestamp: z.union([z.string().max(64), z.number()]).optional(),
  ts: z.union([z.string().max(64), z.number()]).optional(),
  time: z.union([z.string().max(64), z.number()]).optional(),
  level: z.union([z.string().max(32), z.number()]).optional(),
});

function clampTime(at: number | null, now: number): number {
  return at === null || at > now + MAX_SKEW_MS ? now : at;
}

/** Splits and checks a body; every problem names its line (`line 3`). Nothing is mined here. */
export function parseLogBody(text: string, options: LogParseOptions): Normalised<LogLine[]> {
  const { now } = options;
  const service = options.service ?? null;
  const fallbackLevel = levelName(options.defaultLevel);
  const raw = text.split('\n');
  const lines: LogLine[] = [];
  const problems: Problem[] = [];
  const add = (path: string, message: string) => {
    if (problems.length < MAX_PROBLEMS) problems.push({ path, message });
  };
  for (let i = 0; i < raw.length; i++) {
    let line = raw[i] as string;
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (line.trim() === '') continue;
    const lineNo = i + 1;
    if (lines.length >= MAX_LINES) {
      add(`line ${lineNo}`, `at most ${MAX_LINES} lines per request: send the rest in another request`);
      break;
    }
    if (options.format === 'text') {
      const level = detectLevel(line) ?? fallbackLevel;
      lines.push({
        lineNo,
        message: line.length > MAX_LINE_CHARS ? line.slice(0, MAX_LINE_CHARS) : line,
        service,
        level,
        error: isErrorLevel(level),
        at: now,
      });
      continue;
    }
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      add(`line ${lineNo}`, `not JSON (${(err as Error).message}): each line must be one JSON object`);
      continue;
    }
    const parsed = ndjsonLine.safeParse(value);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        add(`line ${lineNo} $${issue.path.map((p) => `.${String(p)}`).join('')}`, issue.message);
      }
      continue;
    }
    const d = parsed.data;
    const message = d.message ?? d.msg ?? d.line;
    if (message === undefined) {
      add(`line ${lineNo}`, 'missing the log text: give it as "message", "msg" or "line"');
      continue;
    }
    const rawTime = d.timestamp ?? d.ts ?? d.time;
    const at = rawTime === undefined ? null : parseAnyTime(rawTime);
    if (rawTime !== undefined && at === null) {
      add(`line ${lineNo} $.timestamp`, 'not a time: use ISO 8601, or epoch seconds or milliseconds');
      continue;
    }
    const level = levelName(d.level) ?? detectLevel(message) ?? fallbackLevel;
    lines.push({
      lineNo,
      message: message.length > MAX_LINE_CHARS ? message.slice(0, MAX_LINE_CHARS) : message,
      service: d.service ?? service,
      level,
      error: isErrorLevel(level),
      at: clampTime(at, now),
    });
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, value: lines };
}

function windowText(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return `${Math.round(ms / 1000)}s`;
}

/** The one error_signature signal for a repeat. */
export function repeatSignal(
  event: RepeatEvent,
  template: string,
  line: LogLine,
  settings: RepeatSettings,
): SignalInput {
  return {
    kind: 'error_signature',
    source: 'logs',
    dedupeKey: `logs:${event.signature}:${event.firstAt}`,
    fingerprint: event.signature,
    title: cut(`error repeated ${event.count}× in ${windowText(settings.windowMs)}: ${template}`, 300),
    service: line.service,
    severity: line.level !== null && CRITICAL_LEVELS.has(line.level) ? 'critical' : 'warning',
    payload: {
      signature: event.signature,
      template,
      count: event.count,
      firstAt: event.firstAt,
      lastAt: event.lastAt,
      threshold: settings.threshold,
      windowMs: settings.windowMs,
      example: cut(line.message, 2000),
      level: line.level,
    },
    occurredAt: event.firstAt,
  };
}

export interface MinedBatch {
  /** One per repeat that crossed the threshold. */
  readonly signals: SignalInput[];
  /** Distinct signatures seen in this batch. */
  readonly signatures: number;
  readonly newTemplates: number;
  readonly errorLines: number;
}

/** Runs the lines through the miner and counts error lines; returns the repeat signals. */
export function mineLines(
  lines: readonly LogLine[],
  miner: LineMiner,
  repeats: RepeatCounter,
  settings: RepeatSettings,
): MinedBatch {
  const signals: SignalInput[] = [];
  const seen = new Set<string>();
  let newTemplates = 0;
  let errorLines = 0;
  for (const line of lines) {
    const mined = miner.add(line.message, line.at);
    seen.add(mined.signature);
    if (mined.isNew) newTemplates++;
    if (!line.error) continue;
    errorLines++;
    const repeat = repeats.observe(mined.signature, line.at);
    if (repeat !== null) signals.push(repeatSignal(repeat, mined.template, line, settings));
  }
  return { signals, signatures: seen.size, newTemplates, errorLines };
}
