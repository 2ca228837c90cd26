/**
 * `/autonomy` and the buttons, on a Bolt app. Acknowledge first (Slack wants it within 3 s), then
 * look up groups, call the core, and answer ephemerally. Deny opens a modal asking for a reason;
 * its submission is the click. Every payload is parsed with zod; the core decides everything.
 * Redeliveries (same trigger_id) are answered once: the id is the core's delivery id too.
 */
import type { App } from '@slack/bolt';
import { z } from 'zod';
import type { ChatInbound, InboundClick } from '../../src/chat/adapter.js';
import { BUTTON_ACTIONS, type ChatMessage, message, SHORT_ID } from '../../src/chat/message.js';
import type { Logger } from '../../src/process/log.js';
import type { RenderedSlackMessage } from './render.js';

export interface HandlerDeps {
  readonly inbound: ChatInbound;
  readonly groupsOf: (userId: string) => Promise<string[]>;
  readonly render: (m: ChatMessage) => RenderedSlackMessage;
  readonly log: Pick<Logger, 'info' | 'warn' | 'error'>;
}

export const DENY_VIEW = 'autonomy:deny-reason';
const REMEMBERED = 2000;

const slackId = z.string().regex(/^[A-Z0-9]{2,30}$/);
const commandSchema = z.object({
  user_id: slackId,
  channel_id: slackId,
  text: z.string().max(4000).default(''),
  trigger_id: z.string().min(1).max(200),
});
const BUTTON_VALUE = /^([ai][1-9][0-9]{0,8}):([A-Za-z0-9_-]{8,64})(?::([1-9][0-9]{0,2}))?$/;
const buttonValue = z.string().regex(BUTTON_VALUE);
const actionSchema = z.object({
  action_id: z.string().regex(new RegExp(`^autonomy:(${BUTTON_ACTIONS.join('|')})(?::[0-9])?$`)),
  value: buttonValue,
});
const actionBodySchema = z.object({
  user: z.object({ id: slackId }),
  channel: z.object({ id: slackId }).optional(),
  container: z.object({ channel_id: slackId.optional() }).optional(),
  trigger_id: z.string().min(1).max(200),
});
const denyMetadata = z.strictObject({
  target: z.string().regex(SHORT_ID),
  nonce: z.string().min(8).max(64),
  channel: slackId,
});

export function registerHandlers(app: App, deps: HandlerDeps): void {
  const seen = new Set<string>();
  /** true the first time a delivery id is seen. */
  const first = (id: string): boolean => {
    if (seen.has(id)) return false;
    seen.add(id);
    if (seen.size > REMEMBERED) seen.delete(seen.values().next().value as string);
    return true;
  };
  const ephemeral = (m: ChatMessage) => ({
    response_type: 'ephemeral' as const,
    replace_original: false,
    ...deps.render(m),
  });

  app.command('/autonomy', async ({ ack, command, respond }) => {
    await ack();
    const parsed = commandSchema.safeParse(command);
    if (!parsed.success) {
      deps.log.warn({ issues: parsed.error.issues.length }, 'slack: malformed slash command ignored');
      return;
    }
    const c = parsed.data;
    if (!first(`cmd:${c.trigger_id}`)) return;
    try {
      const reply = await deps.inbound.command({
        platform: 'slack',
        actor: `slack:user:${c.user_id}`,
        actorGroups: await deps.groupsOf(c.user_id),
        channel: `slack:${c.channel_id}`,
        text: c.text.trim(),
        deliveryId: c.trigger_id,
      });
      await respond(ephemeral(reply));
    } catch (err) {
      deps.log.error({ err }, 'slack: /autonomy failed inside the bot');
      await respond({
        response_type: 'ephemeral',
        text: 'The bot could not run this command (see its log).',
      });
    }
  });

  app.action(/^autonomy:/, async ({ ack, body, action, respond, client }) => {
    await ack();
    const a = actionSchema.safeParse(action);
    const b = actionBodySchema.safeParse(body);
    if (!a.success || !b.success) {
      deps.log.warn({}, 'slack: malformed button click refused');
      // Said to the clicker, as the other platforms do: a click that does nothing silently reads as a hang.
      await respond(
        ephemeral(message({ kind: 'reply', title: 'This button is not one the bot knows.' })),
      ).catch((err: unknown) =>
        deps.log.warn({ err: String(err) }, 'slack: could not answer a malformed click'),
      );
      return;
    }
    const [, target, nonce, hours] = BUTTON_VALUE.exec(a.data.value) ?? [];
    const verb = (a.data.action_id.split(':')[1] ?? '') as InboundClick['action'];
    const channel = b.data.channel?.id ?? b.data.container?.channel_id;
    if (!target || !nonce || !channel) return;
    if (!first(`click:${b.data.trigger_id}`)) return;
    if (verb === 'deny') {
      try {
        await client.views.open({
          trigger_id: b.data.trigger_id,
          view: denyModal(target, JSON.stringify({ target, nonce, channel })),
        });
      } catch (err) {
        deps.log.warn({ err: String(err) }, 'slack: could not open the deny modal');
        await respond({
          response_type: 'ephemeral',
          replace_original: false,
          text: `Could not open the reason form; use \`/autonomy deny ${target} <reason>\`.`,
        });
      }
      return;
    }
    const reply = await click(deps, {
      platform: 'slack',
      actor: `slack:user:${b.data.user.id}`,
      channel: `slack:${channel}`,
      action: verb,
      target,
      nonce,
      ...(hours ? { hours: Number(hours) } : {}),
      deliveryId: b.data.trigger_id,
    });
    await respond(ephemeral(reply));
  });

  app.view(DENY_VIEW, async ({ ack, body, view, client }) => {
    await ack();
    const meta = safeJson(view.private_metadata);
    const m = denyMetadata.safeParse(meta);
    const user = slackId.safeParse(body.user?.id);
    if (!m.success || !user.success) {
      deps.log.warn({}, 'slack: malformed deny form ignored');
      return;
    }
    const delivery = `view:${view.id}:${view.hash ?? ''}`;
    if (!first(delivery)) return;
    const reasonValue = view.state.values.reason?.reason?.value;
    const reason = typeof reasonValue === 'string' ? reasonValue.trim().slice(0, 500) : '';
    const reply = await click(deps, {
      platform: 'slack',
      actor: `slack:user:${user.data}`,
      channel: `slack:${m.data.channel}`,
      action: 'deny',
      target: m.data.target,
      nonce: m.data.nonce,
      ...(reason ? { reason } : {}),
      deliveryId: delivery,
    });
    const rendered = deps.render(reply);
    try {
      await client.chat.postEphemeral({
        channel: m.data.channel,
        user: user.data,
        text: rendered.text,
        blocks: rendered.blocks as never,
      });
    } catch (err) {
      deps.log.warn({ err: String(err) }, 'slack: could not show the deny result to the approver');
    }
  });
}

async function click(deps: HandlerDeps, c: Omit<InboundClick, 'actorGroups'>): Promise<ChatMessage> {
  const userId = c.actor.slice('slack:user:'.length);
  return deps.inbound.click({ ...c, actorGroups: await deps.groupsOf(userId) });
}

function safeJson(text: string | undefined): unknown {
  try {
    return JSON.parse(text ?? '');
  } catch {
    return null;
  }
}

function denyModal(target: string, metadata: string) {
  return {
    type: 'modal' as const,
    callback_id: DENY_VIEW,
    private_metadata: metadata,
    title: { type: 'plain_text' as const, text: `Deny ${target}` },
    submit: { type: 'plain_text' as const, text: 'Deny' },
    close: { type: 'plain_text' as const, text: 'Cancel' },
    blocks: [
      {
        type: 'input' as const,
        block_id: 'reason',
        label: { type: 'plain_text' as const, text: 'Why deny it?' },
        element: {
          type: 'plain_text_input' as const,
          action_id: 'reason',
          multiline: true,
          max_length: 500,
        },
      },
    ],
  };
}
