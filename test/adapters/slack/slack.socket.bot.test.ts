/**
 * Slack wired into the running bot in Socket Mode (SLACK_APP_TOKEN set, no signing secret): the
 * real Bolt SocketModeReceiver opens its connection through the fake Web API's
 * `apps.connections.open` and takes envelopes from a local stand-in of Slack's socket. A slash
 * command and a button click over the socket reach the core, are acked on the first delivery (so
 * Slack never redelivers them), and their replies come back through response_url.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type Bot, startBot } from '../../../src/main.js';
import { type FakeSlackApi, startFakeSlackApi } from '../../fakes/slack-api.js';
import {
  type FakeSlackSocket,
  type FakeSlackSocketOptions,
  startFakeSlackSocket,
} from '../../fakes/slack-socket.js';
import { eventually, LogSink, saveSlackOnCallPolicy, type TempSetup, tempSetup } from '../../helpers/bot.js';

const APP_TOKEN = 'xapp-1-A0FAKE-1-socket-test';
let setup: TempSetup;
let bot: Bot | null = null;
let api: FakeSlackApi | undefined;
let socket: FakeSlackSocket | undefined;

afterEach(async () => {
  await bot?.stop();
  bot = null;
  await socket?.close();
  await api?.close();
  setup?.cleanup();
});

async function startSocketBot(
  options: FakeSlackSocketOptions = {},
): Promise<{ bot: Bot; api: FakeSlackApi; socket: FakeSlackSocket }> {
  api = await startFakeSlackApi();
  socket = await startFakeSlackSocket(api, options);
  setup = tempSetup();
  saveSlackOnCallPolicy(setup);
  bot = await startBot({
    env: {
      ...setup.env,
      SLACK_BOT_TOKEN: 'xoxb-test-token',
      SLACK_APP_TOKEN: APP_TOKEN,
      SLACK_API_URL: api.url,
    },
    logDestination: new LogSink(),
    print: () => {},
  });
  await socket.connected();
  return { bot, api, socket };
}

const slash = (api: FakeSlackApi, text: string, trigger: string, user = 'UONCALL1') => ({
  command: '/autonomy',
  text,
  user_id: user,
  channel_id: 'C0OPS',
  team_id: 'T1',
  trigger_id: trigger,
  response_url: api.responseUrl(),
  token: 'legacy',
});

const repliesWith = (api: FakeSlackApi, words: string) =>
  api.responses.filter((r) => JSON.stringify(r.body).includes(words));

describe('Slack Socket Mode in the running bot', () => {
  it('connects with the app token and runs a slash command sent over the socket, acked at once', async () => {
    const { bot, api, socket } = await startSocketBot();
    expect(api.callsTo('apps.connections.open').map((c) => c.token)).toEqual([APP_TOKEN]);
    // No HTTP route in Socket Mode: nothing can be injected through /slack/events.
    expect((await fetch(`${bot.url}/slack/events`, { method: 'POST', body: 'x' })).status).toBe(404);

    const ack = await socket.deliver(
      'slash_commands',
      slash(api, 'kill guardian flapping deploys', 'trig.1'),
    );
    // Acked on the first delivery, inside Slack's 3 s: Slack never had to redeliver it.
    expect(ack.attempt).toBe(0);
    expect(ack.ms).toBeLessThan(3000);
    await eventually(() => bot.control.snapshot().killedAgents.has('guardian'), 5000);
    expect(bot.audit.records({ kind: 'control.kill' })).toEqual([
      expect.objectContaining({ actor: 'slack:user:UONCALL1' }),
    ]);
    const reply = await eventually(() => repliesWith(api, 'guardian killed')[0], 5000);
    expect(reply.body).toMatchObject({ response_type: 'ephemeral' });

    // Someone outside the operators is refused, with the reason, and nothing changes.
    await socket.deliver('slash_commands', slash(api, 'kill all', 'trig.2', 'UVISITOR9'));
    const refused = await eventually(() => api.responses[1], 5000);
    expect(JSON.stringify(refused.body)).toMatch(/operator/i);
    expect(bot.control.snapshot().killedAll).toBe(false);
  });

  it('takes a button click over the socket: Acknowledge on an alert card posted to Slack', async () => {
    const { bot, api, socket } = await startSocketBot();
    bot.core.signals.ingest([
      {
        kind: 'alert',
        source: 'alertmanager',
        dedupeKey: 'am:socket',
        fingerprint: 'HighErrorRate:api',
        title: 'HighErrorRate on api',
        service: 'api',
        severity: 'critical',
        payload: {},
      },
    ]);
    const card = await eventually(
      () => api.callsTo('chat.postMessage').find((c) => c.args.channel === 'C0ALERTS'),
      5000,
    );
    const blocks = card.args.blocks as {
      type: string;
      block_id?: string;
      elements?: Record<string, string>[];
    }[];
    const actions = blocks.find((b) => b.type === 'actions');
    const button = actions?.elements?.find((e) => String(e.action_id).startsWith('autonomy:ack'));
    expect(button?.value).toMatch(/^i1:/);

    const click = {
      type: 'block_actions',
      api_app_id: 'A0FAKE',
      token: 'legacy',
      team: { id: 'T1', domain: 'fake' },
      user: { id: 'UONCALL1', name: 'oncall' },
      channel: { id: 'C0ALERTS', name: 'alerts' },
      container: { type: 'message', channel_id: 'C0ALERTS', message_ts: card.result?.ts },
      message: { ts: card.result?.ts, type: 'message', text: '' },
      trigger_id: 'trig.click.1',
      response_url: api.responseUrl(),
      actions: [
        {
          type: 'button',
          action_id: button?.action_id,
          block_id: actions?.block_id ?? 'b1',
          value: button?.value,
          action_ts: String(Date.now() / 1000),
        },
      ],
    };
    const ack = await socket.deliver('interactive', click);
    expect(ack.attempt).toBe(0);
    expect(ack.ms).toBeLessThan(3000);
    await eventually(() => bot.core.incidents.get('i1')?.status === 'acknowledged', 5000);
    expect(bot.core.incidents.get('i1')?.acknowledgedBy).toBe('slack:user:UONCALL1');
    await eventually(() => repliesWith(api, 'acknowledged by slack:user:UONCALL1')[0], 5000);

    // The same button with a forged value is refused and acknowledges nothing else.
    await socket.deliver('interactive', {
      ...click,
      trigger_id: 'trig.click.2',
      response_url: api.responseUrl(),
      actions: [{ ...click.actions[0], value: 'i1:forged-nonce-000' }],
    });
    await eventually(() => api.responses.length >= 2, 5000);
    expect(JSON.stringify(api.responses.at(-1)?.body)).toContain(
      'This button is not valid (any more) for i1',
    );
  });

  it('runs a command once when Slack redelivers it because an ack was lost', async () => {
    const { bot, api, socket } = await startSocketBot({ loseAcks: 1, ackTimeoutMs: 1000 });
    const ack = await socket.deliver('slash_commands', slash(api, 'kill guardian lost ack', 'trig.9'));
    expect(ack.attempt).toBeGreaterThanOrEqual(1);
    await eventually(() => bot.control.snapshot().killedAgents.has('guardian'), 5000);
    await eventually(() => repliesWith(api, 'guardian killed')[0], 5000);
    await new Promise((r) => setTimeout(r, 300));
    expect(bot.audit.records({ kind: 'control.kill' })).toHaveLength(1);
    expect(repliesWith(api, 'guardian killed')).toHaveLength(1);
  });

  it('reconnects when Slack asks it to, and takes commands on the new connection', async () => {
    const { bot, api, socket } = await startSocketBot();
    socket.refresh();
    // Bolt's client waits its ping timeout (5 s) before it opens the new connection.
    await socket.connected(2, 20_000);
    expect(api.callsTo('apps.connections.open')).toHaveLength(2);
    expect(socket.connections).toBe(2);
    const ack = await socket.deliver('slash_commands', slash(api, 'kill mentor too noisy', 'trig.3'));
    expect(ack.attempt).toBe(0);
    await eventually(() => bot.control.snapshot().killedAgents.has('mentor'), 5000);
    expect(bot.health().checks['chat:slack']?.status).toBe('ok');
  }, 30_000);
});
