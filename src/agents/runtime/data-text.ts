/**
 * Untrusted text (alert titles and annotations, log lines, event details, command output) shown
 * in an agent's finding as data: control and bidi characters dropped, length bounded, and, for one
 * line of it, in quotes, so a reader sees where the sender's words begin and end. Pure helpers
 * shared by the agents; the pipeline's screen (screen.ts) still redacts and neutralises mentions.
 */
import { cutAt } from '../../chat/truncate.js';

const ELLIPSIS = '…';

/** C0/C1 controls, line and paragraph separators, bidi embedding/override/isolate controls. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: stripping control characters is the point
const CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028-\u202e\u2066-\u2069]/g;

function text(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return '';
}

function cut(s: string, max: number): string {
  return s.length <= max ? s : `${cutAt(s, Math.max(0, max - 1))}${ELLIPSIS}`;
}

/** One line of untrusted text, cleaned and cut to `max` characters, not quoted. */
export function oneLine(value: unknown, max = 200): string {
  const s = text(value);
  // Bound the work before the regexes run.
  const head = s.length > max * 4 ? s.slice(0, max * 4) : s;
  return cut(head.replace(CONTROLS, ' ').replace(/\s+/g, ' ').trim(), max);
}

/** One line of untrusted text as a quoted string (`"…"`, inner quotes escaped), at most `max` characters inside. */
export function quoted(value: unknown, max = 200): string {
  return JSON.stringify(oneLine(value, max));
}

const TOKEN = /^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,79}$/;

/** A plain name (service, alert name, label key) as it is; anything else quoted. */
export function token(value: unknown, max = 80): string {
  const s = text(value);
  return TOKEN.test(s) ? s : quoted(s, max);
}

/** true when `value` is a plain name that `token()` shows unquoted. */
export function isToken(value: unknown): value is string {
  return typeof value === 'string' && TOKEN.test(value);
}

/** The last `max` characters of multi-line untrusted text (command output): newlines kept, controls dropped. */
export function tail(value: unknown, max = 1500): string {
  const s = text(value).replace(/\r\n?/g, '\n');
  const end = s.length > max * 2 ? s.slice(-max * 2) : s;
  const clean = end
    .replace(CONTROLS, '')
    .replace(/[ \t]+$/gm, '')
    .trim();
  if (clean.length <= max) return clean;
  const from = clean.length - (max - 1);
  const nl = clean.indexOf('\n', from);
  return `${ELLIPSIS}${nl !== -1 && nl - from < 200 ? clean.slice(nl) : clean.slice(from)}`;
}

/** An http(s) URL without credentials, normalised; null for anything else (javascript:, file:, junk). */
export function httpUrl(value: unknown): string | null {
  if (typeof value !== 'string' || value.length > 2000) return null;
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  if (url.username !== '' || url.password !== '') return null;
  return url.href;
}

/** `2026-12-01T09:40:00Z`. */
export function isoSecond(t: number): string {
  return new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** `45 s`, `20 min`, `5 h`, `3 d`. */
export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172_800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86_400)} d`;
}
