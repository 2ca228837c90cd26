/**
 * Control changes said out loud: a kill, resume, phase, budget or mute is announced in the
 * channel where it was made and in the approval channels, with who, what, why and how to undo it,
 * so the channel learns that guardian was stopped, by whom and why (not only the person who typed it).
 */

import { channelSchema, message } from '../message.js';
import { approvalChannels } from '../routing.js';
import type { CommandServices } from './services.js';

export interface ControlChange {
  readonly actor: string;
  /** `killed guardian`, `muted service checkout for 1 h (until …)`. */
  readonly what: string;
  /** The person's reason (their text: shown as text, never as a link or a mention). */
  readonly why: string | null;
  /** The command that undoes it, or null when there is none. */
  readonly undo: string | null;
  /** Unique per change (the outbox stores it once per channel). */
  readonly key: string;
}

/** Queues the announcement to the channel it was made in (when it is a chat channel) and the approval channels. */
export function announceControl(s: CommandServices, channel: string, change: ControlChange): void {
  if (s.announce === undefined) return;
  const channels = [...new Set([channel, ...approvalChannels(s.policy())])].filter(
    (c) => channelSchema.safeParse(c).success,
  );
  const msg = message({
    kind: 'notice',
    title: `${change.actor} ${change.what}`.slice(0, 300),
    severity: 'warning',
    fields: [
      { label: 'Who', value: change.actor },
      { label: 'What', value: change.what.slice(0, 2000) },
      { label: 'Why', value: (change.why ?? 'no reason given').slice(0, 2000) },
      ...(change.undo === null ? [] : [{ label: 'Undo', value: change.undo }]),
    ],
  });
  for (const c of channels) s.announce(c, msg, `control:${change.key}:${s.now()}:${c}`.slice(0, 200));
}
