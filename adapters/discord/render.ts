/**
 * Discord rendering: a platform-neutral ChatMessage as a message body for the Discord API (one
 * embed, action rows of buttons and link buttons, mentions only from `message.mentions`). Text is
 * data: markdown and mention syntax in it is escaped, and `allowed_mentions` lists exactly the
 * identities the message names, so nothing else can ping anyone.
 */
import { escapeMarkdown } from 'discord.js';
import { linkLabel } from '../../src/chat/link-label.js';
import type { Button, ButtonAction, ChatMessage } from '../../src/chat/message.js';
import { BUTTON_ACTIONS, SHORT_ID } from '../../src/chat/message.js';
import { fitMessage, type MessageLimits } from '../../src/chat/truncate.js';

/** Discord's embed limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits). */
export const DISCORD_LIMITS: MessageLimits = {
  title: 256,
  body: 4096,
  field: 1024,
  fields: 25,
  total: 6000,
};

export const SEVERITY_COLOURS = { info: 0x3b82f6, warning: 0xf59e0b, critical: 0xdc2626 } as const;
const NEUTRAL_COLOUR = 0x6b7280;

/** Discord component types and button styles (API v10). */
const ACTION_ROW = 1;
const BUTTON = 2;
const STYLE = { primary: 1, default: 2, danger: 4, link: 5 } as const;
const MAX_LINK_BUTTONS = 5;
/** Ephemeral message flag. */
export const EPHEMERAL = 64;

export interface DiscordEmbed {
  title: string;
  description?: string;
  color: number;
  fields?: { name: string; value: string; inline?: boolean }[];
  footer?: { text: string };
  image?: { url: string };
}

export interface DiscordButtonComponent {
  type: typeof BUTTON;
  style: number;
  label: string;
  custom_id?: string;
  url?: string;
}

export interface DiscordMessageBody {
  content: string;
  embeds: DiscordEmbed[];
  components: { type: typeof ACTION_ROW; components: DiscordButtonComponent[] }[];
  allowed_mentions: { parse: []; users: string[]; roles: string[] };
  flags?: number;
}

export interface RenderOptions {
  /** Link to the full text in the console, for what was cut (null: no link). */
  readonly fullTextUrl: string | null;
  /** Name of the attached image (`chart.png`) when the message carries one. */
  readonly imageName?: string;
}

/** The Discord message body for `message`. */
export function renderMessage(message: ChatMessage, options: RenderOptions): DiscordMessageBody {
  const links = message.links.slice(0, MAX_LINK_BUTTONS);
  const extraLinks = message.links.slice(MAX_LINK_BUTTONS);
  const withLinks: ChatMessage =
    extraLinks.length === 0
      ? message
      : {
          ...message,
          fields: [
            ...message.fields,
            { label: 'More links', value: extraLinks.map((l) => `${l.label}: ${l.url}`).join('\n') },
          ],
        };
  const fitted = fitMessage(escapeAll(withLinks), DISCORD_LIMITS, options.fullTextUrl);
  const embed: DiscordEmbed = {
    title: fitted.title,
    color: message.severity === undefined ? NEUTRAL_COLOUR : SEVERITY_COLOURS[message.severity],
  };
  if (fitted.body !== '') embed.description = fitted.body;
  if (fitted.fields.length > 0) {
    embed.fields = fitted.fields.map((f) => ({ name: f.label, value: f.value === '' ? '-' : f.value }));
  }
  const footer = footerText(message);
  if (footer !== '') embed.footer = { text: footer };
  if (message.image && options.imageName) embed.image = { url: `attachment://${options.imageName}` };

  const components: DiscordMessageBody['components'] = [];
  if (message.buttons.length > 0) {
    components.push({ type: ACTION_ROW, components: message.buttons.map(actionButton) });
  }
  if (links.length > 0) {
    components.push({
      type: ACTION_ROW,
      components: links.map((l) => ({
        type: BUTTON,
        style: STYLE.link,
        label: linkLabel(l.label, l.url, 80) ?? l.label.slice(0, 80),
        url: l.url,
      })),
    });
  }
  const { users, roles } = mentionIds(message.mentions);
  const content = [...users.map((id) => `<@${id}>`), ...roles.map((id) => `<@&${id}>`)].join(' ');
  return { content, embeds: [embed], components, allowed_mentions: { parse: [], users, roles } };
}

/** The Discord user and role ids among `mentions` (other platforms' identities are skipped). */
export function mentionIds(mentions: readonly string[]): { users: string[]; roles: string[] } {
  const users: string[] = [];
  const roles: string[] = [];
  for (const m of mentions) {
    const user = /^discord:user:(\d{1,25})$/.exec(m);
    const role = /^discord:role:(\d{1,25})$/.exec(m);
    if (user?.[1] && !users.includes(user[1])) users.push(user[1]);
    if (role?.[1] && !roles.includes(role[1])) roles.push(role[1]);
  }
  return { users, roles };
}

const CUSTOM_ID_PREFIX = 'autonomy';
/** A grant's hours in a custom id: a whole number 1-168, written without leading zeros. */
const GRANT_HOURS = /^[1-9][0-9]{0,2}$/;
const MAX_GRANT_HOURS = 168;

/**
 * `autonomy:<action>:<target>:<nonce>`, and `:<hours>` for a grant (never the command the action
 * runs). The hours ride in the id so the click grants what the button said; the core refuses a
 * click whose hours differ from what it offered.
 */
export function customId(button: Pick<Button, 'action' | 'target' | 'nonce' | 'hours'>): string {
  const id = `${CUSTOM_ID_PREFIX}:${button.action}:${button.target}:${button.nonce}`;
  return button.action === 'grant' && button.hours !== undefined ? `${id}:${button.hours}` : id;
}

export interface ParsedCustomId {
  readonly action: ButtonAction;
  readonly target: string;
  readonly nonce: string;
  /** For a grant: the hours its button offered (absent on buttons posted before ids carried them). */
  readonly hours?: number;
}

/** Reads a custom id made by `customId()`; null for anything else (forged, other bots, malformed). */
export function parseCustomId(id: string): ParsedCustomId | null {
  const parts = id.split(':');
  if (parts.length !== 4 && parts.length !== 5) return null;
  const [prefix, action, target, nonce, hours] = parts as [string, string, string, string, string?];
  if (prefix !== CUSTOM_ID_PREFIX) return null;
  if (!(BUTTON_ACTIONS as readonly string[]).includes(action)) return null;
  if (!SHORT_ID.test(target) || !/^[A-Za-z0-9_-]{8,64}$/.test(nonce)) return null;
  const parsed = { action: action as ButtonAction, target, nonce };
  if (hours === undefined) return parsed;
  if (action !== 'grant' || !GRANT_HOURS.test(hours) || Number(hours) > MAX_GRANT_HOURS) return null;
  return { ...parsed, hours: Number(hours) };
}

/** The label says how long a grant lasts, even when the core's label does not. */
function buttonLabel(button: Button): string {
  if (button.action !== 'grant' || button.hours === undefined) return button.label;
  const hours = `${button.hours}h`;
  if (new RegExp(`(^|\\D)${button.hours}\\s*h`).test(button.label)) return button.label;
  return `${button.label.slice(0, 80 - hours.length - 3)} (${hours})`;
}

function actionButton(button: Button): DiscordButtonComponent {
  return {
    type: BUTTON,
    style: STYLE[button.style],
    label: buttonLabel(button),
    custom_id: customId(button),
  };
}

function footerText(message: ChatMessage): string {
  const parts: string[] = [];
  if (message.refs.incident) parts.push(`incident ${message.refs.incident}`);
  if (message.refs.approval) parts.push(`approval ${message.refs.approval}`);
  if (message.refs.run) parts.push(`run ${message.refs.run}`);
  return parts.join(' · ').slice(0, 2048);
}

/** Markdown and mention syntax in untrusted text shown as typed. */
export function escapeText(text: string): string {
  // escapeMarkdown leaves masked links alone: `[good](http://evil.example.net)` would read "good".
  return escapeMarkdown(text)
    .replace(/[[\]]/g, '\\$&')
    .replace(/<([@#])/g, '<\u200b$1')
    .replace(/@(everyone|here)/gi, '@\u200b$1');
}

function escapeAll(message: ChatMessage): ChatMessage {
  return {
    ...message,
    title: escapeText(message.title),
    body: escapeText(message.body),
    fields: message.fields.map((f) => ({ label: escapeText(f.label), value: escapeText(f.value) })),
  };
}
