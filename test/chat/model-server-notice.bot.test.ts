/**
 * The channel hears when the model server goes away and when it is back, end to end: the running
 * bot, the real ollama client against the local stand-in of Ollama, the router's probes, the outbox
 * and the console feed. One notice each way; a server that flaps in between says nothing more.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { FeedItem } from '../../adapters/console/console-adapter.js';
import { type Bot, startBot } from '../../src/main.js';
import { type FakeOllama, startFakeOllama } from '../fakes/ollama-server.js';
import { eventually, LogSink, type TempSetup, tempSetup } from '../helpers/bot.js';

const T0 = Date.parse('2026-03-02T10:00:00Z');
const MIN = 60_000;

let setup: TempSetup | null = null;
let bot: Bot | null = null;
let ollama: FakeOllama | null = null;

afterEach(async () => {
  await bot?.stop();
  bot = null;
  await ollama?.close();
  ollama = null;
  setup?.cleanup();
  setup = null;
});

async function consoleFeed(b: Bot): Promise<FeedItem[]> {
  const token = new URL(b.consoleUrl as string).searchParams.get('token') ?? '';
  const res = await fetch(`${b.url}/api/messages?channel=console:main`, {
    headers: { authorization: `Bearer ${token}` },
  });
  return ((await res.json()) as { messages: FeedItem[] }).messages;
}

async function modelNotices(b: Bot): Promise<string[]> {
  return (await consoleFeed(b)).map((i) => i.message.title).filter((t) => t.startsWith('Model server'));
}

describe('model server notices in the channel', () => {
  it('one notice when the model server becomes unreachable, one when it is back, nothing while it flaps', async () => {
    ollama = await startFakeOllama();
    const fake = ollama;
    setup = tempSetup({ OLLAMA_HOST: fake.url });
    let clock = T0;
    bot = await startBot({
      env: setup.env,
      now: () => clock,
      logDestination: new LogSink(),
      print: () => {},
    });
    const b = bot;
    const server = `llama3.2:3b, qwen2.5:14b at ${fake.url}`;
    // Started with the server up: it was probed, and nothing is said.
    expect(fake.probes()).toBeGreaterThanOrEqual(1);
    expect(b.health().checks.model?.status).toBe('ok');

    // Down: one failed probe could be a blip; the second in a row is an outage.
    fake.setUp(false);
    clock += MIN / 2;
    await b.router.checkServers();
    expect(await modelNotices(b)).toEqual([]);
    clock += MIN / 2;
    await b.router.checkServers();
    await eventually(async () => (await modelNotices(b)).length > 0, 5000);
    const feed = await consoleFeed(b);
    const down = feed.find((i) => i.message.title.startsWith('Model server'));
    expect(down?.message).toMatchObject({
      kind: 'notice',
      severity: 'warning',
      title: `Model server unreachable: ${server}`,
    });
    expect(down?.message.body).toContain('The agents keep working on rules alone');
    expect(b.health().checks.model?.status).toBe('degraded');

    // It flaps for the next nine minutes: up, down, up, down ... nothing more is said.
    for (let i = 0; i < 9; i++) {
      fake.setUp(i % 2 === 0);
      clock += MIN;
      await b.router.checkServers();
      await b.router.checkServers();
    }
    fake.setUp(false);
    clock += MIN / 2;
    await b.router.checkServers();
    await b.router.checkServers();
    expect(await modelNotices(b)).toEqual([`Model server unreachable: ${server}`]);

    // Back, past the 10 minute gap: one notice, with how long it was gone.
    fake.setUp(true);
    clock += 5 * MIN;
    await b.router.checkServers();
    await eventually(async () => (await modelNotices(b)).length > 1, 5000);
    await b.router.checkServers();
    const titles = await modelNotices(b);
    expect(titles).toEqual([`Model server unreachable: ${server}`, `Model server back: ${server}`]);
    const back = (await consoleFeed(b)).find((i) => i.message.title.startsWith('Model server back'));
    expect(back?.message.severity).toBe('info');
    expect(back?.message.fields).toContainEqual({ label: 'Unreachable for', value: 'about 15 min' });
    expect(b.health().checks.model?.status).toBe('ok');
  });
});
