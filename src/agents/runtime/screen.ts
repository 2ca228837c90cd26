/**
 * The screen every agent post goes through before it is queued (DESIGN.md: model output and signal
 * text are data). A finding's text may hold what an attacker wrote into an alert, a log line, a page
 * or a model's reply, so the screen:
 * - redacts secrets (secrets.ts) from every text field and link;
 * - makes mass mentions inert: `@everyone`, `@here`, `@channel` get a zero-width space after the
 *   `@`, and `<@U…>`, `<@&…>`, `<#…>`, `<!here>`, `<!channel>`, `<!everyone>`, `<!subteam^…>` one
 *   after the `<` (chat messages mention people only through their `mentions` list, which agents
 *   cannot set);
 * - drops control and bidi-override characters (newlines and tabs stay), and cuts every field to
 *   the message model's limits (src/chat/message.ts);
 * - keeps only http(s) links, and only when redaction left them unchanged (a secret in a URL drops
 *   the link);
 * - applies the policy's citation rule: with `research.citations` on, a model-written finding whose
 *   `citations` name no fact of the run's evidence (a signal, the incident, a past incident, a run)
 *   and no page the run actually read is withheld (nothing is posted; the run's outcome
 *   says "uncited model claim withheld"). A rules-only note is not posted in its place: the rules
 *   part of an agent's work posts its own findings.
 */

import type { ChatMessageInput } from '../../chat/message.js';
import { cutAt } from '../../chat/truncate.js';
import { SEVERITIES, type Severity } from '../../policy/vocabulary.js';
import type { Redact } from './secrets.js';
import type { Finding } from './types.js';

/** The message model's limits (src/chat/message.ts), and a few of our own. */
export const LIMITS = {
  title: 300,
  body: 8000,
  fieldLabel: 80,
  fieldValue: 2000,
  fields: 20,
  linkLabel: 120,
  links: 10,
  url: 2000,
} as const;

export interface ScreenOptions {
  readonly redact: Redact;
  /** Pages the run read with its research tools (ResearchTools.cited()); empty without them. */
  readonly cited: readonly string[];
  /** The policy's `research.citations`. */
  readonly citationsRequired: boolean;
  readonly refs?: { readonly incident?: string; readonly approval?: string; readonly run?: string };
}

export type Screened =
  /** The message, checked against the message schema once, by the outbox that queues it. */
  | { readonly ok: true; readonly message: ChatMessageInput; readonly severity: Severity }
  | { readonly ok: false; readonly reason: string };

export const UNCITED = 'uncited model claim withheld';

const ELLIPSIS = '…';
const ZWSP = '\u200b';

/** Mass and direct mentions made inert; everything else kept. */
export function neutraliseMentions(text: string): string {
  return text.replace(/<(?=[@#!])/g, `<${ZWSP}`).replace(/@(?=(?:everyone|here|channel)\b)/gi, `@${ZWSP}`);
}

/** Drops C0/C1 controls (but newline and tab) and bidi embedding, override and isolate controls. */
export function dropControls(text: string): string {
  let out = '';
  let from = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const bad =
      (c < 0x20 && c !== 0x0a && c !== 0x09) ||
      (c >= 0x7f && c <= 0x9f) ||
      (c >= 0x202a && c <= 0x202e) ||
      (c >= 0x2066 && c <= 0x2069);
    if (bad) {
      out += text.slice(from, i);
      from = i + 1;
    }
  }
  return from === 0 ? text : out + text.slice(from);
}

/** Any value as safe chat text of at most `max` characters: redacted, inert, cut with "…". */
export function screenText(value: unknown, max: number, redact: Redact): string {
  const text = typeof value === 'string' ? value : value === undefined || value === null ? '' : String(value);
  // Cut a generous prefix first, so redaction and scanning cost is bounded by the limit.
  const clean = neutraliseMentions(
    redact(dropControls(text.length > max * 4 ? text.slice(0, max * 4) : text)),
  );
  if (clean.length <= max) return clean;
  return `${cutAt(clean, Math.max(0, max - ELLIPSIS.length))}${ELLIPSIS}`;
}

/** An http(s) URL that redaction leaves as it is, normalised; else null. */
export function safeUrl(value: unknown, redact: Redact): string | null {
  if (typeof value !== 'string' || value.length > LIMITS.url) return null;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  const href = url.href;
  if (redact(href) !== href || redact(value) !== value) return null;
  return href;
}

function normalised(url: string): string {
  try {
    return new URL(url).href;
  } catch {
    return url;
  }
}

/** true when the finding may be posted under the citation rule. */
export function citedEnough(
  finding: Finding,
  o: Pick<ScreenOptions, 'cited' | 'citationsRequired'>,
): boolean {
  if (finding.modelWritten !== true || !o.citationsRequired) return true;
  const read = new Set(o.cited.map(normalised));
  return (finding.citations ?? []).some((c) => typeof c === 'string' && read.has(normalised(c)));
}

/** The finding as a chat message that is safe to queue, or why it is not posted. */
export function screenFinding(finding: Finding, o: ScreenOptions): Screened {
  if (!citedEnough(finding, o)) return { ok: false, reason: UNCITED };
  const { redact } = o;
  const kind =
    finding.kind === 'alert' || finding.kind === 'suggestion' || finding.kind === 'notice'
      ? finding.kind
      : 'notice';
  const severity: Severity = (SEVERITIES as readonly unknown[]).includes(finding.severity)
    ? finding.severity
    : 'warning';
  const title = screenText(finding.title, LIMITS.title, redact).trim() || `${kind} without a title`;
  const fields: { label: string; value: string }[] = [];
  for (const f of Array.isArray(finding.fields) ? finding.fields.slice(0, LIMITS.fields) : []) {
    const label = screenText(f?.label, LIMITS.fieldLabel, redact).trim();
    if (label === '') continue;
    fields.push({ label, value: screenText(f?.value, LIMITS.fieldValue, redact) });
  }
  if (finding.modelWritten === true) {
    fields.push({ label: 'Written by', value: 'a model (untrusted text: check before acting on it)' });
  } else if (finding.rulesOnly === true) {
    fields.push({ label: 'Written by', value: 'rules (no model answered)' });
  }
  const links: { label: string; url: string }[] = [];
  const seen = new Set<string>();
  const addLink = (label: unknown, url: unknown): void => {
    const href = safeUrl(url, redact);
    if (href === null || seen.has(href) || links.length >= LIMITS.links) return;
    seen.add(href);
    links.push({ label: screenText(label, LIMITS.linkLabel, redact).trim() || 'link', url: href });
  };
  for (const l of Array.isArray(finding.links) ? finding.links : []) addLink(l?.label, l?.url);
  if (finding.modelWritten === true) {
    for (const c of finding.citations ?? [])
      if (o.cited.map(normalised).includes(normalised(c))) addLink('Source', c);
  }
  return {
    ok: true,
    severity,
    message: {
      kind,
      title,
      severity,
      body: screenText(finding.body, LIMITS.body, redact),
      fields,
      links,
      refs: { ...o.refs },
    },
  };
}
