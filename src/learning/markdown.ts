/**
 * The markdown files of the learning loop (skills/ and runbooks/ in the data folder): YAML
 * frontmatter written with the `yaml` package (values are always escaped values, never keys or
 * structure), untrusted text quoted into the body, and atomic writes (a temp file renamed over the
 * old one, so a reader or a crash never sees half a file).
 *
 * Untrusted text (signal titles, log templates, fingerprints, model output) never reaches the
 * frontmatter as structure, and in the body it is put in code spans or blocks whose fence is
 * longer than any backtick run in it, so it cannot close the quote, start a heading, or pose as the
 * file's own frontmatter. The frontmatter is always the first block of the file and ends at its
 * first `---` line, so nothing after it can change it.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parse as yamlParse, stringify as yamlStringify } from 'yaml';
import { cutAt } from '../chat/truncate.js';

/**
 * One line of text: controls, line and paragraph separators and bidi controls become spaces, runs
 * of whitespace one space, cut to `max` characters (with an ellipsis).
 */
export function oneLine(text: string, max: number): string {
  // Bound the work before the regexes run.
  const head = text.length > max * 4 + 16 ? text.slice(0, max * 4 + 16) : text;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point
  const clean = head.replace(/[\u0000-\u001f\u007f-\u009f\u2028-\u202e\u2066-\u2069]/g, ' ');
  const squeezed = clean.replace(/\s+/g, ' ').trim();
  // cutAt never splits a character (a surrogate pair, a grapheme).
  return squeezed.length <= max ? squeezed : `${cutAt(squeezed, Math.max(0, max - 1))}…`;
}

function longestBacktickRun(text: string): number {
  let longest = 0;
  for (const m of text.matchAll(/`+/g)) longest = Math.max(longest, m[0].length);
  return longest;
}

/** Untrusted text as an inline code span (one line, at most `max` characters). */
export function inlineCode(text: string, max = 200): string {
  const line = oneLine(text, max);
  if (line === '') return '(empty)';
  const fence = '`'.repeat(longestBacktickRun(line) + 1);
  // A space on each side when the text starts or ends with a backtick (CommonMark strips one).
  const pad = line.startsWith('`') || line.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${line}${pad}${fence}`;
}

/** Untrusted multi-line text as a fenced code block (controls removed, at most `max` characters). */
export function codeBlock(text: string, max = 4000): string {
  const lines = text
    .slice(0, max)
    .split(/\r\n|\r|\n/)
    // biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point
    .map((l) => l.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028-\u202e\u2066-\u2069]/g, ' '));
  const body = lines.join('\n');
  const fence = '`'.repeat(Math.max(3, longestBacktickRun(body) + 1));
  return `${fence}text\n${body}${text.length > max ? '\n…' : ''}\n${fence}`;
}

/**
 * Model-written markdown, kept readable but defused: controls removed, `<` escaped (no HTML, no
 * comments that could hide text), at most `max` characters. Each line is prefixed by nothing: it
 * lives in the body, where it cannot change the frontmatter.
 */
export function modelMarkdown(text: string, max = 4000): string {
  const cut = text.length > max ? `${text.slice(0, max)}…` : text;
  return (
    cut
      // biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point
      .replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028-\u202e\u2066-\u2069]/g, ' ')
      .replaceAll('<', '&lt;')
      .replace(/\r\n|\r/g, '\n')
      .trim()
  );
}

/** A file of YAML frontmatter and a markdown body. */
export function withFrontmatter(data: Record<string, unknown>, body: string): string {
  const yaml = yamlStringify(data, { lineWidth: 0 }).trimEnd();
  return `---\n${yaml}\n---\n\n${body.trimEnd()}\n`;
}

export interface SplitFile {
  /** The parsed frontmatter (unchecked: validate it), or null when there is none or it is not YAML. */
  readonly data: unknown;
  readonly body: string;
}

/** Splits a file at its frontmatter: the first line must be `---`, it ends at the next `---` line. */
export function splitFrontmatter(text: string): SplitFile {
  const lines = text.split('\n');
  if (lines[0]?.trimEnd() !== '---') return { data: null, body: text };
  const end = lines.findIndex((l, i) => i > 0 && l.trimEnd() === '---');
  if (end === -1) return { data: null, body: text };
  let data: unknown = null;
  try {
    data = yamlParse(lines.slice(1, end).join('\n'), { maxAliasCount: 10 });
  } catch {
    data = null;
  }
  return {
    data,
    body: lines
      .slice(end + 1)
      .join('\n')
      .replace(/^\n+/, ''),
  };
}

/** The file's text, or null when it does not exist. */
export function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** Writes `text` to `path` atomically (temp file in the same folder, then rename), creating the folder. */
export function writeFileAtomic(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    writeFileSync(tmp, text, { mode: 0o644, flag: 'wx' });
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}
