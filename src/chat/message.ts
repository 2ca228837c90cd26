/**
 * The one platform-neutral chat message. The core builds these; adapters (console, Slack,
 * Discord) only render them. Text in a message is data: adapters escape it for their platform
 * and never turn it into mentions, except the identities listed in `mentions`.
 */
import { z } from 'zod';
import { CHANNEL_PATTERN, IDENTITY_PATTERN, SEVERITIES } from '../policy/vocabulary.js';

export const MESSAGE_KINDS = [
  'alert',
  'suggestion',
  'approval',
  'decision',
  'digest',
  'notice',
  'reply',
] as const;
export type MessageKind = (typeof MESSAGE_KINDS)[number];

/** What a button does when clicked. The click is authorised and decided by the core, never the adapter. */
export const BUTTON_ACTIONS = ['approve', 'deny', 'grant', 'ack', 'resolve', 'mute', 'snooze'] as const;
export type ButtonAction = (typeof BUTTON_ACTIONS)[number];

/** Short ids people type: `a12` (approval), `i7` (incident). */
export const SHORT_ID = /^[ai][1-9][0-9]{0,8}$/;

export const buttonSchema = z.strictObject({
  action: z.enum(BUTTON_ACTIONS),
  label: z.string().min(1).max(40),
  style: z.enum(['primary', 'danger', 'default']).default('default'),
  /** The short id the button acts on (`a12`, `i7`). */
  target: z.string().regex(SHORT_ID),
  /** A per-message random value, so a forged or replayed button from another message is refused. */
  nonce: z.string().min(8).max(64),
  /** For `grant`: hours the standing grant lasts. */
  hours: z.int().min(1).max(168).optional(),
});
export type Button = z.output<typeof buttonSchema>;

export const messageSchema = z.strictObject({
  kind: z.enum(MESSAGE_KINDS),
  title: z.string().min(1).max(300),
  severity: z.enum(SEVERITIES).optional(),
  /** Plain text; newlines kept. Adapters truncate to their platform's limit and link to the console. */
  body: z.string().max(40_000).default(''),
  fields: z
    .array(z.strictObject({ label: z.string().min(1).max(80), value: z.string().max(2000) }))
    .default([]),
  links: z.array(z.strictObject({ label: z.string().min(1).max(120), url: z.url() })).default([]),
  buttons: z.array(buttonSchema).max(5).default([]),
  refs: z
    .strictObject({
      incident: z.string().optional(),
      approval: z.string().optional(),
      run: z.string().optional(),
    })
    .default({}),
  /** Identities to mention (escalation targets). Nothing else in a message may mention anyone. */
  mentions: z.array(z.string().regex(new RegExp(IDENTITY_PATTERN))).default([]),
  /** A PNG to attach where the platform allows (digest chart): a path in the data folder. */
  image: z.strictObject({ path: z.string().min(1), alt: z.string().max(300) }).optional(),
  /** For replies: only this identity should see it (ephemeral where the platform can). */
  audience: z.string().regex(new RegExp(IDENTITY_PATTERN)).optional(),
});
export type ChatMessage = z.output<typeof messageSchema>;
export type ChatMessageInput = z.input<typeof messageSchema>;

export const channelSchema = z.string().regex(new RegExp(CHANNEL_PATTERN));

/** Builds a message with defaults filled in; throws (a programming error) when it is malformed. */
export function message(input: ChatMessageInput): ChatMessage {
  return messageSchema.parse(input);
}
