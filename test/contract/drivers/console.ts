/**
 * The console as its page uses it: the JSON API on the bot's own server with the console token
 * (POST /api/commands, POST /api/clicks, GET /api/messages). The console has one identity, the
 * policy's `control.consoleUser`: acting as someone else is an edit of that line (capability
 * `identity: 'policy'`), made here as an admin would make it, then waited for until it is loaded.
 */
import type { ChatMessage } from '../../../src/chat/message.js';
import { eventually } from '../../helpers/bot.js';
import { startContractBot } from '../contract-bot.js';
import type { ChatDriver, Posted, Seen } from '../driver.js';

const CHANNEL = 'console:main';
const LEAD = 'console:user:local';
const OPERATOR = 'console:user:night';

/** A message as the console page shows it: title, body, then each field. */
export function consoleText(m: ChatMessage): string {
  return [m.title, m.body, ...m.fields.map((f) => `${f.label}: ${f.value}`)].filter(Boolean).join('\n');
}

export async function consoleDriver(): Promise<ChatDriver> {
  const c = await startContractBot({ channel: CHANNEL, lead: LEAD, operator: OPERATOR });
  const { bot } = c;
  const token = new URL(bot.consoleUrl ?? '').searchParams.get('token') ?? '';
  const call = async (method: 'GET' | 'POST', path: string, body?: unknown) => {
    const res = await fetch(`${bot.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };
  const api = async (method: 'GET' | 'POST', path: string, body?: unknown) => {
    const { status, json } = await call(method, path, body);
    if (status !== 200) throw new Error(`console ${method} ${path}: ${status} ${JSON.stringify(json)}`);
    return json;
  };
  /** The console acts as the policy's consoleUser: switch it when another person acts. */
  const actAs = async (actor: string) => {
    if (bot.policy.current.doc.control.consoleUser === actor) return;
    const text = c.setup.policyText();
    c.setup.savePolicy(
      /consoleUser: \S+/.test(text)
        ? text.replace(/consoleUser: \S+/, `consoleUser: ${actor}`)
        : text.replace('  roles:\n', `  consoleUser: ${actor}\n  roles:\n`),
    );
    await eventually(() => bot.policy.current.doc.control.consoleUser === actor, 10_000);
  };
  const feed = async () =>
    (
      (await api('GET', '/api/messages')) as {
        messages: { id: string; channel: string; message: ChatMessage }[];
      }
    ).messages;
  /** A reply comes back in the HTTP answer to the one who asked (the page's reply pane), addressed to them, never in the feed. */
  const seen = async (actor: string, answer: Record<string, unknown>): Promise<Seen> => {
    const reply = answer.reply as ChatMessage;
    const inFeed = (await feed()).some((i) => i.message.kind === 'reply' && i.message.title === reply.title);
    return { text: consoleText(reply), private: reply.audience === actor && !inFeed };
  };
  return {
    platform: 'console',
    can: { identity: 'policy', commands: 'free-text' },
    world: c,
    channel: CHANNEL,
    people: { lead: LEAD, operator: OPERATOR },
    async command(actor, text) {
      await actAs(actor);
      return seen(actor, await api('POST', '/api/commands', { text: `/autonomy ${text}`, channel: CHANNEL }));
    },
    async click(actor, posted, action, options = {}) {
      await actAs(actor);
      const button = posted.buttons.find((b) => b.action === action);
      if (button === undefined) throw new Error(`no ${action} button on "${posted.text.slice(0, 80)}"`);
      const body = {
        target: options.target ?? button.target,
        action,
        nonce: options.nonce ?? button.nonce,
        channel: posted.channel,
        ...(options.reason ? { reason: options.reason } : {}),
      };
      const answer = await call('POST', '/api/clicks', body);
      // A click the API refuses (400): the page shows the error on that message, to that person only.
      if (answer.status === 400) return { text: String(answer.json.error), private: true };
      if (answer.status !== 200)
        throw new Error(`console click: ${answer.status} ${JSON.stringify(answer.json)}`);
      return seen(actor, answer.json);
    },
    async posted() {
      return (await feed()).map(
        (item): Posted => ({
          ref: item.id,
          channel: item.channel,
          text: consoleText(item.message),
          buttons: item.message.buttons.map((b) => ({
            action: b.action,
            label: b.label,
            target: b.target,
            nonce: b.nonce,
          })),
          links: item.message.links.map((l) => l.url),
          // The console notifies nobody; it names the mentioned identities.
          pings: item.message.mentions,
        }),
      );
    },
    stop: () => c.stop(),
  };
}
