/**
 * The channel hears when a model server the policy uses becomes unreachable, and when it is back:
 * one notice each way (the router decides when: src/llm/server-notices.ts), queued through the
 * outbox like the control announcements, to the channels botNoticeChannels() names.
 */
import type { ServerChange } from '../llm/server-notices.js';
import type { Policy } from '../policy/types.js';
import { type ChatMessage, channelSchema, message } from './message.js';
import { botNoticeChannels } from './routing.js';

export interface ModelNoticeDeps {
  readonly policy: () => Policy;
  /** Queues a message (the outbox stores it once per dedupe key). */
  readonly announce: (channel: string, message: ChatMessage, dedupeKey: string) => void;
  /** Makes text from outside (a probe's error) safe to post: secrets redacted, cut to `max`. */
  readonly screen: (text: string, max: number) => string;
}

function minutes(ms: number): string {
  const m = Math.max(1, Math.round(ms / 60_000));
  return m < 120 ? `${m} min` : `${Math.round(m / 60)} h`;
}

/** The notice for one change of a model server. */
export function modelServerNotice(change: ServerChange, screen: ModelNoticeDeps['screen']): ChatMessage {
  const what = `${change.models.join(', ')} at ${change.server}`.slice(0, 200);
  const detail = screen(change.detail, 500);
  if (!change.up) {
    return message({
      kind: 'notice',
      severity: 'warning',
      title: `Model server unreachable: ${what}`,
      body: [
        change.local
          ? 'The agents keep working on rules alone (their posts say "rules") until it answers again.'
          : 'Escalation to this model is off until it answers again; the local model still answers.',
        'One more notice comes when it is back.',
      ].join('\n'),
      fields: [{ label: 'Last probe', value: detail }],
    });
  }
  const down = change.downSince === null ? null : minutes(change.at - change.downSince);
  return message({
    kind: 'notice',
    severity: 'info',
    title: `Model server back: ${what}`,
    body: change.local
      ? 'It answers again: the agents use the model again.'
      : 'It answers again: escalation to this model works again.',
    fields: [
      { label: 'Answer', value: detail },
      ...(down === null ? [] : [{ label: 'Unreachable for', value: `about ${down}` }]),
    ],
  });
}

/** Queues the notice to each channel, once per change (the dedupe key names the change). */
export function announceModelServer(d: ModelNoticeDeps, change: ServerChange): void {
  const msg = modelServerNotice(change, d.screen);
  const state = change.up ? 'back' : 'down';
  for (const channel of botNoticeChannels(d.policy())) {
    if (!channelSchema.safeParse(channel).success) continue;
    d.announce(channel, msg, `model-server:${change.server}:${state}:${change.at}:${channel}`.slice(0, 200));
  }
}
