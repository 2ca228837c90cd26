/**
 * Discord as Discord drives the bot: INTERACTION_CREATE on the local fake gateway for each slash
 * command, button click and submitted deny form, and what the bot sent back read from the fake REST
 * API (channel messages and their edits, interaction callbacks, deferred replies edited in). A
 * command's text becomes the subcommand and the typed options a person picks in Discord's client
 * (capability `commands: 'slash-options'`).
 */
import { VERB_OPTIONS } from '../../../adapters/discord/commands.js';
import { customId, parseCustomId } from '../../../adapters/discord/render.js';
import { tokenize } from '../../../src/chat/commands/grammar.js';
import { AGENTS } from '../../../src/policy/vocabulary.js';
import {
  buttonClick,
  type FakeDiscord,
  modalSubmit,
  type RestCall,
  slashCommand,
  startFakeDiscord,
} from '../../fakes/discord.js';
import { eventually } from '../../helpers/bot.js';
import { startContractBot } from '../contract-bot.js';
import type { ChatDriver, Posted, Seen, SeenButton } from '../driver.js';

const CHANNEL_ID = '600000000000000001';
const LEAD = 'discord:user:111111111111111111';
const OPERATOR = 'discord:user:222222222222222222';
/** Replies come within this; digest draws a chart first (seconds on a busy machine). */
const REPLY_MS = 15_000;
const EPHEMERAL = 64;

interface Embed {
  title?: string;
  description?: string;
  fields?: { name: string; value: string }[];
  footer?: { text: string };
}
interface Body {
  content?: string;
  embeds?: Embed[];
  components?: { components: { custom_id?: string; label?: string; url?: string }[] }[];
  allowed_mentions?: { parse?: string[]; users?: string[]; roles?: string[] };
  flags?: number;
}

/** Everything a person sees of a message body: content, then each embed's title, text, fields, footer. */
export function discordText(body: Body): string {
  const out = body.content ? [body.content] : [];
  for (const e of body.embeds ?? []) {
    out.push(e.title ?? '', e.description ?? '');
    for (const f of e.fields ?? []) out.push(`${f.name}: ${f.value}`);
    if (e.footer) out.push(e.footer.text);
  }
  // As Discord shows it: markdown escapes read back, the zero-width spaces that break mentions unseen.
  return out
    .filter(Boolean)
    .join('\n')
    .replace(/\\([^A-Za-z0-9\s])/g, '$1')
    .replace(/\u200b/g, '');
}

/**
 * The subcommand and options a person picks in Discord's client for `text`. Options are filled in
 * the grammar's order; an optional choice (an agent) is left out when the word is not one of its
 * choices. Text that Discord's client could not send (a word for an integer option) is a test error.
 */
export function slashOptions(text: string): { verb: string; options: Record<string, string | number> } {
  const [verb = 'help', ...words] = tokenize(text);
  const specs = (VERB_OPTIONS as Record<string, (typeof VERB_OPTIONS)['kill'] | undefined>)[verb] ?? [];
  const options: Record<string, string | number> = {};
  let i = 0;
  specs.forEach((o, k) => {
    const word = words[i];
    if (word === undefined) return;
    const choices =
      o.kind === 'agent'
        ? [...AGENTS]
        : o.kind === 'agent-or-all'
          ? ['all', ...AGENTS]
          : o.kind === 'mute-kind'
            ? ['agent', 'signature', 'service']
            : null;
    if (choices !== null) {
      if (choices.includes(word)) {
        options[o.name] = word;
        i++;
      } else if (o.required) throw new Error(`Discord offers no "${word}" for ${verb} ${o.name}`);
      return;
    }
    if (o.kind === 'integer') {
      if (!/^[0-9]+$/.test(word)) throw new Error(`Discord takes only a number for ${verb} ${o.name}`);
      options[o.name] = Number(word);
      i++;
      return;
    }
    const last = k === specs.length - 1;
    options[o.name] = last ? words.slice(i).join(' ') : word;
    i = last ? words.length : i + 1;
  });
  if (i < words.length)
    throw new Error(`Discord's options for ${verb} cannot hold "${words.slice(i).join(' ')}"`);
  return { verb, options };
}

function posted(call: RestCall, channel: string): Posted {
  const body = (call.body ?? {}) as Body;
  const buttons: SeenButton[] = [];
  const links: string[] = [];
  for (const row of body.components ?? []) {
    for (const c of row.components) {
      const parsed = c.custom_id ? parseCustomId(c.custom_id) : null;
      if (parsed) buttons.push({ ...parsed, label: c.label ?? '' });
      if (c.url) links.push(c.url);
    }
  }
  const allowed = body.allowed_mentions ?? {};
  return {
    ref: String(call.result?.id),
    channel: `discord:${channel}`,
    text: discordText(body),
    buttons,
    links,
    pings: [
      ...(allowed.users ?? []).map((u) => `discord:user:${u}`),
      ...(allowed.roles ?? []).map((r) => `discord:role:${r}`),
      ...((allowed.parse ?? []).includes('everyone') ? ['@everyone'] : []),
    ],
  };
}

export async function discordDriver(): Promise<ChatDriver> {
  const discord: FakeDiscord = await startFakeDiscord();
  const c = await startContractBot({
    channel: `discord:${CHANNEL_ID}`,
    lead: LEAD,
    operator: OPERATOR,
    env: {
      AUTONOMY_CONSOLE: 'off',
      DISCORD_TOKEN: 'discord-contract-token-0123456789',
      DISCORD_API_URL: discord.apiUrl,
    },
  }).catch(async (err: unknown) => {
    await discord.close();
    throw err;
  });
  let interaction = 7_000_000;
  const member = (actor: string) => ({ userId: actor.replace(/^discord:user:/, '') });
  const answers = (id: string) =>
    discord.calls.filter(
      (x) => x.path.startsWith(`/interactions/${id}/`) || x.path.includes(`/token-${id}/`),
    );
  /** The reply to interaction `id`: its callback, or (when the bot deferred) the edit of the reply. */
  const replyTo = async (id: string): Promise<Seen> => {
    const reply = await eventually(() => {
      const calls = answers(id);
      const first = calls[0]?.body as { type: number; data?: Body } | undefined;
      if (first?.type === 4 && first.data) return { body: first.data, flags: first.data.flags ?? 0 };
      const edit = calls.find((x) => x.path.endsWith('/messages/%40original'));
      if (first?.type === 5 && edit) return { body: edit.body as Body, flags: first.data?.flags ?? 0 };
      return undefined;
    }, REPLY_MS);
    return { text: discordText(reply.body), private: (reply.flags & EPHEMERAL) !== 0 };
  };

  return {
    platform: 'discord',
    can: { identity: 'per-request', commands: 'slash-options' },
    world: c,
    channel: `discord:${CHANNEL_ID}`,
    people: { lead: LEAD, operator: OPERATOR },
    async command(actor, text) {
      const { verb, options } = slashOptions(text);
      const id = String(++interaction);
      discord.dispatch('INTERACTION_CREATE', slashCommand(id, verb, options, member(actor), CHANNEL_ID));
      return replyTo(id);
    },
    async click(actor, message, action, options = {}) {
      const button = message.buttons.find((b) => b.action === action);
      if (button === undefined) throw new Error(`no ${action} button on "${message.text.slice(0, 80)}"`);
      const channel = message.channel.replace(/^discord:/, '');
      const custom = customId({
        action,
        target: options.target ?? button.target,
        nonce: options.nonce ?? button.nonce,
      });
      const id = String(++interaction);
      discord.dispatch('INTERACTION_CREATE', buttonClick(id, custom, member(actor), channel));
      if (action !== 'deny') return replyTo(id);
      // Deny answers with the reason form (a modal); its submission is the click.
      const modal = await eventually(() => {
        const body = answers(id)[0]?.body as { type: number; data: { custom_id: string } } | undefined;
        return body?.type === 9 ? body.data : undefined;
      }, REPLY_MS);
      const submit = String(++interaction);
      discord.dispatch(
        'INTERACTION_CREATE',
        modalSubmit(submit, modal.custom_id, options.reason ?? '', member(actor), channel),
      );
      return replyTo(submit);
    },
    async posted() {
      const byRef = new Map<string, Posted>();
      for (const call of discord.calls) {
        const m = /^\/channels\/(\d+)\/messages(?:\/(\d+))?$/.exec(call.path);
        if (m === null || call.result === undefined) continue;
        if (call.method === 'POST' && m[2] === undefined) {
          const p = posted(call, m[1] ?? '');
          byRef.set(p.ref, p);
        } else if (call.method === 'PATCH' && byRef.has(m[2] ?? '')) {
          byRef.set(m[2] ?? '', posted(call, m[1] ?? ''));
        }
      }
      return [...byRef.values()];
    },
    async stop() {
      await c.stop();
      await discord.close();
    },
  };
}
