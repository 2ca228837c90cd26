/**
 * ChatMessage -> Slack Block Kit. All message text is data: it is escaped (&, <, >) so event text
 * can never mention anyone, link anywhere or ping a channel. Mentions come only from
 * `message.mentions`. The message is fitted to Slack's limits first (fitMessage), with a link to
 * the full text in the console when the public URL is known.
 */

import { linkLabel } from '../../src/chat/link-label.js';
import type { Button, ChatMessage } from '../../src/chat/message.js';
import { cutAt, fitMessage, type MessageLimits } from '../../src/chat/truncate.js';

/** A Block Kit block (kept loose: Slack's own types are wide, and we build a small subset). */
export type SlackBlock = Record<string, unknown>;

export interface RenderedSlackMessage {
  /** Notification / fallback text. */
  readonly text: string;
  readonly blocks: SlackBlock[];
}

/** Slack's limits: header 150, section text 3000, 10 fields per section of 2000 each. */
export const SLACK_LIMITS: MessageLimits = { title: 140, body: 9000, field: 1000, fields: 20 };
const SECTION_TEXT = 3000;
/** Sections the body may take (Slack allows 50 blocks in all). */
const BODY_SECTIONS = 4;
const FIELD_TEXT = 2000;
const HEADER_TEXT = 150;
const BUTTON_TEXT = 75;
const CONTEXT_TEXT = 2000;

const SEVERITY_MARK = { info: ':information_source:', warning: ':warning:', critical: ':rotating_light:' };
const SLACK_ID = /^[A-Z0-9]{2,30}$/;

/** Escapes text for Slack mrkdwn: the three characters Slack gives meaning to. */
export function escapeSlack(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** `text` escaped, cut (on a grapheme boundary, ending with "…") so the escaped form fits `max`. */
export function escapeWithin(text: string, max: number): string {
  let raw = text;
  let escaped = escapeSlack(raw);
  while (escaped.length > max && raw.length > 0) {
    raw = cutAt(raw, Math.max(0, raw.length - Math.max(1, escaped.length - max + 1)));
    escaped = `${escapeSlack(raw)}…`;
  }
  return escaped;
}

/** The length of the longest prefix of `text` whose escaped form fits `max`. */
function escapedPrefix(text: string, max: number): number {
  let cost = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    cost += c === '&' ? 5 : c === '<' || c === '>' ? 4 : 1;
    if (cost > max) return i;
  }
  return text.length;
}

/**
 * Splits `text` into escaped pieces of at most `max` characters each: never inside a character,
 * and at a line break or space when there is one in the second half of a piece (so links stay whole).
 */
export function escapedChunks(text: string, max: number): string[] {
  const out: string[] = [];
  let rest = text;
  while (rest.length > 0) {
    let piece = cutAt(rest, escapedPrefix(rest, max));
    if (piece.length === 0) piece = rest.slice(0, 1);
    if (piece.length < rest.length) {
      const at = Math.max(piece.lastIndexOf('\n'), piece.lastIndexOf(' '));
      if (at > piece.length / 2) piece = piece.slice(0, at + 1);
    }
    out.push(escapeSlack(piece));
    rest = rest.slice(piece.length);
  }
  return out;
}

/** `<@U123>` / `<!subteam^S123>` for Slack identities; nothing for other platforms' identities. */
export function slackMention(identity: string): string | null {
  const [platform, kind, id] = identity.split(':');
  if (platform !== 'slack' || id === undefined || !SLACK_ID.test(id)) return null;
  if (kind === 'user') return `<@${id}>`;
  if (kind === 'group') return `<!subteam^${id}>`;
  return null;
}

/** The button's Slack value: `<target>:<nonce>` (and `:<hours>` for grants). */
export function buttonValue(button: Button): string {
  return button.hours === undefined
    ? `${button.target}:${button.nonce}`
    : `${button.target}:${button.nonce}:${button.hours}`;
}

function linkText(label: string, url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return escapeSlack(label);
  }
  const shown = linkLabel(label, url);
  if (shown === null) return escapeSlack(`${label} (${url})`);
  const href = escapeSlack(parsed.href.replace(/\|/g, '%7C'));
  return `<${href}|${escapeSlack(shown)}>`;
}

export interface RenderOptions {
  /** The console page for this message (full text), when AUTONOMY_PUBLIC_URL is known. */
  readonly fullTextUrl: string | null;
}

/** Renders a message as Block Kit, fitted to Slack's limits. */
export function renderSlackMessage(input: ChatMessage, options: RenderOptions): RenderedSlackMessage {
  const m = fitEscaped(input, options.fullTextUrl);
  const blocks: SlackBlock[] = [];
  const mark = m.severity ? `${SEVERITY_MARK[m.severity]} ` : '';
  const severityWord = m.severity ? `${m.severity.toUpperCase()}: ` : '';
  // plain_text never parses mentions or links; escaped anyway (Slack reads &lt; back as <).
  blocks.push({
    type: 'header',
    text: { type: 'plain_text', text: escapeWithin(`${mark}${m.title}`, HEADER_TEXT - 1), emoji: true },
  });
  const mentions = m.mentions.map(slackMention).filter((x): x is string => x !== null);
  if (mentions.length > 0) {
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: mentions.join(' ') } });
  }
  for (const chunk of escapedChunks(m.body, SECTION_TEXT)) {
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: chunk } });
  }
  for (let i = 0; i < m.fields.length; i += 10) {
    const fields = m.fields.slice(i, i + 10).map((f) => ({
      type: 'mrkdwn',
      text: `*${escapeWithin(f.label, 200)}*\n${escapeWithin(f.value, FIELD_TEXT - 210)}`,
    }));
    blocks.push({ type: 'section', fields });
  }
  if (m.links.length > 0) {
    const text = m.links.map((l) => linkText(l.label, l.url)).join('  ·  ');
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: text.slice(0, SECTION_TEXT) } });
  }
  if (m.image) {
    blocks.push({
      type: 'context',
      elements: [{ type: 'mrkdwn', text: `:bar_chart: ${escapeWithin(m.image.alt || 'chart', 280)}` }],
    });
  }
  const context = contextLine(m);
  if (context !== '') {
    blocks.push({
      type: 'context',
      elements: [{ type: 'mrkdwn', text: escapeWithin(context, CONTEXT_TEXT) }],
    });
  }
  if (m.buttons.length > 0) blocks.push({ type: 'actions', elements: renderButtons(m.buttons) });
  const text = escapeWithin(`${severityWord}${m.title}`, 300);
  return { text: mentions.length > 0 ? `${mentions.join(' ')} ${text}` : text, blocks };
}

/** Fitted so the escaped body needs at most BODY_SECTIONS sections (escaping can quadruple it). */
function fitEscaped(input: ChatMessage, fullTextUrl: string | null): ChatMessage {
  let limits = SLACK_LIMITS;
  for (;;) {
    const m = fitMessage(input, limits, fullTextUrl);
    if (escapedChunks(m.body, SECTION_TEXT).length <= BODY_SECTIONS || limits.body < 200) return m;
    const escaped = escapeSlack(m.body).length;
    limits = { ...limits, body: Math.floor((limits.body * (BODY_SECTIONS * SECTION_TEXT - 300)) / escaped) };
  }
}

function contextLine(m: ChatMessage): string {
  const parts: string[] = [];
  if (m.severity) parts.push(`severity ${m.severity}`);
  if (m.refs.incident) parts.push(`incident ${m.refs.incident}`);
  if (m.refs.approval) parts.push(`approval ${m.refs.approval}`);
  if (m.refs.run) parts.push(`run ${m.refs.run}`);
  return parts.join(' · ');
}

function renderButtons(buttons: readonly Button[]): SlackBlock[] {
  const used = new Set<string>();
  return buttons.map((b, i) => {
    let actionId = `autonomy:${b.action}`;
    if (used.has(actionId)) actionId = `${actionId}:${i}`;
    used.add(actionId);
    const button: SlackBlock = {
      type: 'button',
      action_id: actionId,
      text: { type: 'plain_text', text: escapeWithin(b.label, BUTTON_TEXT), emoji: true },
      value: buttonValue(b),
    };
    if (b.style !== 'default') button.style = b.style;
    return button;
  });
}
