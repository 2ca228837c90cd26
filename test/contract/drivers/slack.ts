/**
 * Slack as Slack drives the bot: signed slash commands and block_actions on POST /slack/events
 * (the bot's HTTP mode), the deny reason as a signed view_submission of the modal the bot opened,
 * and what the bot sent back read from the local fake Web API (chat.postMessage / chat.update, the
 * response_url for ephemeral replies, chat.postEphemeral for the deny form's answer).
 */
import type { ButtonAction } from '../../../src/chat/message.js';
import { type FakeSlackApi, slackSignedHeaders, startFakeSlackApi } from '../../fakes/slack-api.js';
import { eventually } from '../../helpers/bot.js';
import { startContractBot } from '../contract-bot.js';
import type { ChatDriver, Posted, Seen, SeenButton } from '../driver.js';

const SECRET = 'slack-signing-secret-for-contract';
const CHANNEL_ID = 'C0CONTRACT';
const LEAD = 'slack:user:U0LEAD';
const OPERATOR = 'slack:user:U0NIGHT';
/** Replies come within this; digest draws a chart first (seconds on a busy machine). */
const REPLY_MS = 15_000;

type Block = Record<string, unknown>;

/** Every text a person sees in Block Kit blocks, in order (Slack's escaping kept). */
export function slackText(blocks: readonly Block[]): string {
  const out: string[] = [];
  const text = (t: unknown) => {
    const s = (t as { text?: unknown } | undefined)?.text;
    if (typeof s === 'string') out.push(s);
  };
  for (const b of blocks) {
    text(b.text);
    for (const f of (b.fields as unknown[] | undefined) ?? []) text(f);
    if (b.type === 'context') for (const e of (b.elements as unknown[] | undefined) ?? []) text(e);
  }
  return out.join('\n');
}

/** The text as Slack shows it: its three escapes read back. */
export function slackShown(text: string): string {
  return text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/** Whom Slack notifies for this text: `<@U1>`, `<!subteam^S1>`, and `<!channel|here|everyone>`. */
export function slackPings(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/<@([A-Z0-9]+)>|<!subteam\^([A-Z0-9]+)>|<!(channel|here|everyone)\b/g)) {
    out.push(m[1] ? `slack:user:${m[1]}` : m[2] ? `slack:group:${m[2]}` : '@everyone');
  }
  return [...new Set(out)];
}

function buttonsOf(blocks: readonly Block[]): SeenButton[] {
  const actions = blocks.find((b) => b.type === 'actions');
  return ((actions?.elements as Block[] | undefined) ?? []).map((e) => {
    const [target = '', nonce = ''] = String(e.value).split(':');
    return {
      action: String(e.action_id).split(':')[1] as ButtonAction,
      label: String((e.text as { text?: string }).text),
      target,
      nonce,
    };
  });
}

function linksOf(blocks: readonly Block[]): string[] {
  return [...slackText(blocks).matchAll(/<(https?:[^|>]+)\|/g)].map((m) =>
    (m[1] ?? '').replace(/&amp;/g, '&'),
  );
}

export async function slackDriver(): Promise<ChatDriver> {
  const api: FakeSlackApi = await startFakeSlackApi();
  const c = await startContractBot({
    channel: `slack:${CHANNEL_ID}`,
    lead: LEAD,
    operator: OPERATOR,
    env: {
      AUTONOMY_CONSOLE: 'off',
      SLACK_BOT_TOKEN: 'xoxb-contract-token',
      SLACK_SIGNING_SECRET: SECRET,
      SLACK_API_URL: api.url,
    },
  }).catch(async (err: unknown) => {
    await api.close();
    throw err;
  });
  const { bot } = c;
  let trigger = 0;
  const userId = (actor: string) => actor.replace(/^slack:user:/, '');
  const send = async (body: string) => {
    const res = await fetch(`${bot.url}/slack/events`, {
      method: 'POST',
      headers: slackSignedHeaders(body, SECRET, Math.floor(Date.now() / 1000)),
      body,
    });
    if (res.status !== 200) throw new Error(`slack: /slack/events answered ${res.status}`);
  };
  const payload = (p: unknown) => new URLSearchParams({ payload: JSON.stringify(p) }).toString();
  /** The reply sent to `responseUrl` (ephemeral unless Slack is told otherwise). */
  const responseTo = async (responseUrl: string): Promise<Seen> => {
    const path = new URL(responseUrl).pathname;
    const r = await eventually(() => api.responses.find((x) => x.path === path), REPLY_MS);
    return {
      text: slackShown(slackText((r.body.blocks as Block[] | undefined) ?? [])),
      private: r.body.response_type === 'ephemeral',
    };
  };

  return {
    platform: 'slack',
    can: { identity: 'per-request', commands: 'free-text' },
    world: c,
    channel: `slack:${CHANNEL_ID}`,
    people: { lead: LEAD, operator: OPERATOR },
    async command(actor, text) {
      const responseUrl = api.responseUrl();
      await send(
        new URLSearchParams({
          command: '/autonomy',
          text,
          user_id: userId(actor),
          channel_id: CHANNEL_ID,
          team_id: 'T1',
          trigger_id: `trig.contract.${++trigger}`,
          response_url: responseUrl,
          token: 'legacy',
        }).toString(),
      );
      return responseTo(responseUrl);
    },
    async click(actor, posted, action, options = {}) {
      const button = posted.buttons.find((b) => b.action === action);
      if (button === undefined) throw new Error(`no ${action} button on "${posted.text.slice(0, 80)}"`);
      const value = `${options.target ?? button.target}:${options.nonce ?? button.nonce}`;
      const responseUrl = api.responseUrl();
      const triggerId = `trig.contract.${++trigger}`;
      const opened = api.callsTo('views.open').length;
      await send(
        payload({
          type: 'block_actions',
          team: { id: 'T1' },
          user: { id: userId(actor) },
          channel: { id: posted.channel.replace(/^slack:/, '') },
          container: { type: 'message', message_ts: posted.ref, channel_id: CHANNEL_ID },
          trigger_id: triggerId,
          response_url: responseUrl,
          actions: [
            { type: 'button', action_id: `autonomy:${action}`, block_id: 'b', value, action_ts: '1' },
          ],
        }),
      );
      if (action !== 'deny') return responseTo(responseUrl);
      // Deny opens the reason form (a modal); its submission is the click, answered ephemerally.
      const modal = await eventually(() => api.callsTo('views.open')[opened], REPLY_MS);
      const view = modal.args.view as { callback_id: string; private_metadata: string };
      const answered = api.callsTo('chat.postEphemeral').length;
      await send(
        payload({
          type: 'view_submission',
          team: { id: 'T1' },
          user: { id: userId(actor) },
          trigger_id: `${triggerId}.view`,
          view: {
            id: `V${trigger}`,
            hash: `h${trigger}`,
            callback_id: view.callback_id,
            private_metadata: view.private_metadata,
            state: {
              values: { reason: { reason: { type: 'plain_text_input', value: options.reason ?? '' } } },
            },
          },
        }),
      );
      const shown = await eventually(() => api.callsTo('chat.postEphemeral')[answered], REPLY_MS);
      return {
        text: slackShown(slackText((shown.args.blocks as Block[] | undefined) ?? [])),
        private: shown.args.user === userId(actor),
      };
    },
    async posted() {
      const byRef = new Map<string, Posted>();
      for (const call of api.calls) {
        if (call.result?.ok !== true) continue;
        const blocks = (call.args.blocks as Block[] | undefined) ?? [];
        const ts = String(call.result.ts);
        if (call.method !== 'chat.postMessage' && !(call.method === 'chat.update' && byRef.has(ts))) continue;
        const text = slackText(blocks);
        byRef.set(ts, {
          ref: ts,
          channel: `slack:${String(call.args.channel)}`,
          text: slackShown(text),
          buttons: buttonsOf(blocks),
          links: linksOf(blocks),
          pings: slackPings(`${String(call.args.text ?? '')}\n${text}`),
        });
      }
      return [...byRef.values()];
    },
    async stop() {
      await c.stop();
      await api.close();
    },
  };
}
