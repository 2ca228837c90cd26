/**
 * The chat adapters the bot runs, from its configuration: the console (the embedded default, unless
 * AUTONOMY_CONSOLE=off), then Slack and Discord when their tokens are set. Adapters given by the
 * caller (tests, embedders) take their platform's place.
 */
import type { ChatAdapter, Platform } from '../src/chat/adapter.js';
import type { Policy } from '../src/policy/types.js';
import type { Config } from '../src/process/config.js';
import { randomId } from '../src/process/ids.js';
import type { Logger } from '../src/process/log.js';
import { ConsoleAdapter } from './console/console-adapter.js';
import { DiscordAdapter } from './discord/discord-adapter.js';
import { SlackAdapter } from './slack/slack-adapter.js';

export interface ChatAdaptersDeps {
  readonly config: Config;
  readonly log: Logger;
  readonly now: () => number;
  readonly policy: () => Policy;
  readonly given?: readonly ChatAdapter[];
}

export function chatAdapters(d: ChatAdaptersDeps): Map<Platform, ChatAdapter> {
  const { config, log, now } = d;
  const adapters = new Map<Platform, ChatAdapter>();
  if (config.consoleEnabled) adapters.set('console', new ConsoleAdapter({ now, newId: randomId }));
  for (const a of d.given ?? []) adapters.set(a.platform, a);
  if (config.discord && !adapters.has('discord')) {
    adapters.set(
      'discord',
      new DiscordAdapter({
        token: config.discord.token,
        apiUrl: config.discord.apiUrl ?? undefined,
        fullTextUrl: config.publicUrl,
        dataDir: config.dataDir,
        logger: log.child({ chat: 'discord' }),
      }),
    );
  }
  if (config.slack && !adapters.has('slack')) {
    adapters.set(
      'slack',
      new SlackAdapter({
        botToken: config.slack.botToken,
        signingSecret: config.slack.signingSecret ?? undefined,
        appToken: config.slack.appToken ?? undefined,
        apiUrl: config.slack.apiUrl ?? undefined,
        now,
        publicUrl: config.publicUrl,
        log: log.child({ chat: 'slack' }),
        // Slack user groups named in the policy's roles: membership is looked up per actor.
        groups: () => {
          const r = d.policy().doc.control.roles;
          const ids = [...r.operators, ...r.approvers, ...r.admins];
          return [...new Set(ids.filter((i) => i.startsWith('slack:group:')))];
        },
        dataDir: config.dataDir,
      }),
    );
  }
  return adapters;
}
