/**
 * One card and one thread per incident, end to end through the running bot against the local
 * stand-ins of Slack and Discord and the console: an incident with five updates is one card per
 * channel, edited in place five times, and everything else about it (the agents' posts, the
 * resolution with its time to resolve) is a reply in the card's thread.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { FeedItem } from '../../adapters/console/console-adapter.js';
import { type Bot, startBot } from '../../src/main.js';
import type { SignalInput } from '../../src/signals/types.js';
import { type FakeDiscord, startFakeDiscord } from '../fakes/discord.js';
import { type FakeSlackApi, startFakeSlackApi } from '../fakes/slack-api.js';
import { eventually, LogSink, type TempSetup, tempSetup } from '../helpers/bot.js';

const DISCORD_CHANNEL = '700000000000000001';
let setup: TempSetup;
let bot: Bot | null = null;
let slack: FakeSlackApi | null = null;
let discord: FakeDiscord | null = null;

afterEach(async () => {
  await bot?.stop();
  bot = null;
  await slack?.close();
  await discord?.close();
  slack = null;
  discord = null;
  setup?.cleanup();
});

function signal(i: number, resolves = false): SignalInput {
  return {
    kind: 'alert',
    source: 'alertmanager',
    dedupeKey: `am:thread:${i}`,
    fingerprint: 'HighErrorRate:checkout',
    title: 'HighErrorRate on checkout',
    service: 'checkout',
    severity: 'critical',
    payload: {},
    resolves,
  };
}

async function start(): Promise<Bot> {
  slack = await startFakeSlackApi();
  discord = await startFakeDiscord();
  setup = tempSetup();
  setup.savePolicy(
    setup
      .policyText()
      .replace(
        /critical: \[console:main\]/,
        `critical: [console:main, slack:C0ALERTS, discord:${DISCORD_CHANNEL}]`,
      ),
  );
  return startBot({
    env: {
      ...setup.env,
      SLACK_BOT_TOKEN: 'xoxb-test-token',
      SLACK_SIGNING_SECRET: 'slack-signing-secret-for-tests',
      SLACK_API_URL: slack.url,
      DISCORD_TOKEN: 'fake-discord-token-for-tests',
      DISCORD_API_URL: discord.apiUrl,
    },
    logDestination: new LogSink(),
    print: () => {},
    incidentUpdateIntervalMs: 0,
  });
}

describe('one card and one thread per incident', () => {
  it('posts one card per channel, edits it five times, and threads everything else under it', async () => {
    bot = await start();
    const b = bot;
    b.core.signals.ingest([signal(0)]);
    await eventually(() => (slack?.callsTo('chat.postMessage').length ?? 0) > 0, 5000);
    const s = slack as FakeSlackApi;
    // Five updates as an incident has them, each after the last reached the card: updates queued
    // while an earlier one still waits replace it (the outbox keeps only a card's latest, test/chat/outbox).
    for (let i = 1; i <= 5; i++) {
      b.core.signals.ingest([signal(i, i === 5)]);
      await eventually(() => s.callsTo('chat.update').length >= i, 8000);
      await eventually(() => (discord?.calls.filter((c) => c.method === 'PATCH').length ?? 0) >= i, 8000);
    }
    await eventually(
      () => s.callsTo('chat.postMessage').some((c) => String(c.args.text).includes('resolved')),
      8000,
    );

    // Slack: one top-level card, five edits of it, every other post a reply in its thread.
    const posts = s.callsTo('chat.postMessage').filter((c) => c.args.channel === 'C0ALERTS');
    const top = posts.filter((c) => c.args.thread_ts === undefined);
    expect(top).toHaveLength(1);
    const card = s.callsTo('chat.update')[0]?.args.ts as string;
    expect(s.callsTo('chat.update').map((c) => c.args.ts)).toEqual([card, card, card, card, card]);
    const replies = posts.filter((c) => c.args.thread_ts !== undefined);
    expect(replies.length).toBeGreaterThan(0);
    expect(replies.every((c) => c.args.thread_ts === card)).toBe(true);
    const resolved = replies.find((c) => String(c.args.text).includes('resolved'));
    expect(String(resolved?.args.text)).toMatch(/i1 resolved: .*resolved [\d.]+ (s|min|h) after it started/);

    // Discord: one card in the channel, edited five times; a thread started on it holds the rest.
    const d = discord as FakeDiscord;
    await eventually(() => d.calls.filter((c) => c.method === 'PATCH').length >= 5, 8000);
    await eventually(
      () => d.calls.some((c) => c.method === 'POST' && JSON.stringify(c.body).includes('resolved')),
      8000,
    );
    const channelPosts = d.calls.filter(
      (c) => c.method === 'POST' && c.path === `/channels/${DISCORD_CHANNEL}/messages`,
    );
    expect(channelPosts).toHaveLength(1);
    const patches = d.calls.filter((c) => c.method === 'PATCH');
    const cardId = patches[0]?.path.split('/').at(-1) as string;
    expect(patches.map((c) => c.path)).toEqual(
      Array(5).fill(`/channels/${DISCORD_CHANNEL}/messages/${cardId}`),
    );
    const threadStarts = d.calls.filter(
      (c) => c.path === `/channels/${DISCORD_CHANNEL}/messages/${cardId}/threads`,
    );
    expect(threadStarts.length).toBeGreaterThanOrEqual(1);
    expect(String((threadStarts[0]?.body as { name?: string } | undefined)?.name)).toMatch(/\bi1\b/);
    const inThread = d.calls.filter((c) => c.method === 'POST' && c.path === `/channels/${cardId}/messages`);
    expect(inThread.some((c) => JSON.stringify(c.body).includes('resolved'))).toBe(true);

    // Console: the card at top level, the rest folded under it.
    const token = new URL(b.consoleUrl as string).searchParams.get('token') ?? '';
    const res = await fetch(`${b.url}/api/messages?channel=console:main`, {
      headers: { authorization: `Bearer ${token}` },
    });
    const feed = ((await res.json()) as { messages: FeedItem[] }).messages;
    const cards = feed.filter((i) => i.thread === undefined && i.message.refs.incident === 'i1');
    expect(cards).toHaveLength(1);
    const thread = feed.filter((i) => i.thread !== undefined);
    expect(thread.length).toBeGreaterThan(0);
    expect(thread.every((i) => i.thread === cards[0]?.id)).toBe(true);
  });

  it("a burst of ten incidents: ten cards, and each incident's triage in its own card's thread", async () => {
    bot = await start();
    const b = bot;
    const s = slack as FakeSlackApi;
    // Ten at once: the channel's storm threshold, so each gets a card of its own.
    b.core.signals.ingest(
      Array.from({ length: 10 }, (_, i) => ({
        ...signal(100 + i),
        fingerprint: `DiskFull:svc-${i}`,
        title: `DiskFull on svc-${i}`,
        service: `svc-${i}`,
      })),
    );
    const posts = () => s.callsTo('chat.postMessage').filter((c) => c.args.channel === 'C0ALERTS');
    const cards = () => posts().filter((c) => c.args.thread_ts === undefined);
    await eventually(() => cards().length === 10, 8000);
    // sentinel's triage of each incident is a reply: wait for all ten
    await eventually(
      () => posts().filter((c) => /\bTriage i\d+:/.test(String(c.args.text))).length === 10,
      8000,
    );
    const cardTs = new Map<string, string>();
    for (const c of cards()) {
      const id = /\bi(\d+)\b/.exec(JSON.stringify(c.args.blocks))?.[0] as string;
      cardTs.set(id, String(c.result?.ts));
    }
    expect(cardTs.size).toBe(10);
    const triage = posts().flatMap((c) => {
      const about = /\bTriage (i\d+):/.exec(String(c.args.text))?.[1];
      return about === undefined ? [] : [{ about, thread: c.args.thread_ts }];
    });
    expect(triage.map((t) => t.thread)).toEqual(triage.map((t) => cardTs.get(t.about)));
    expect(new Set(triage.map((t) => t.about)).size).toBe(10);
  });
});
