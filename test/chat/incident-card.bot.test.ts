/**
 * The incident card's buttons end to end, through the running bot and the local stand-ins of
 * Slack (HTTP mode, signed interactions) and Discord (gateway interactions): the card shows the
 * incident's state and its source's links with their hosts; Acknowledge, Resolve, Mute 1 h and
 * Snooze 1 h work for an operator and refuse anyone else with the reason; the mute is announced
 * in the channel with its expiry.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { customId } from '../../adapters/discord/render.js';
import { type Bot, startBot } from '../../src/main.js';
import type { SignalInput } from '../../src/signals/types.js';
import { buttonClick, type FakeDiscord, startFakeDiscord } from '../fakes/discord.js';
import { type FakeSlackApi, slackSignedHeaders, startFakeSlackApi } from '../fakes/slack-api.js';
import { eventually, LogSink, type TempSetup, tempSetup } from '../helpers/bot.js';

const SECRET = 'slack-signing-secret-for-tests';
const DISCORD_CHANNEL = '700000000000000002';
let setup: TempSetup;
let bot: Bot | null = null;
let slack: FakeSlackApi | null = null;
let discord: FakeDiscord | null = null;
let trigger = 0;

afterEach(async () => {
  await bot?.stop();
  bot = null;
  await slack?.close();
  await discord?.close();
  slack = null;
  discord = null;
  setup?.cleanup();
});

type SlackButton = { action_id: string; value: string };

/** The test's bot env with Slack in HTTP mode against the stand-in at `apiUrl`. */
function slackEnv(apiUrl: string): Record<string, string | undefined> {
  return {
    ...setup.env,
    SLACK_BOT_TOKEN: 'xoxb-test-token',
    SLACK_SIGNING_SECRET: SECRET,
    SLACK_API_URL: apiUrl,
  };
}

/** A critical Alertmanager alert `name` on `service`, as the ingest stores it. */
function criticalAlert(dedupeKey: string, name: string, service: string, payload: object = {}): SignalInput {
  return {
    kind: 'alert',
    source: 'alertmanager',
    dedupeKey,
    fingerprint: `${name}:${service}`,
    title: `${name} on ${service}`,
    service,
    severity: 'critical',
    payload,
  };
}

function cardButtons(api: FakeSlackApi): SlackButton[] {
  const card = api
    .callsTo('chat.postMessage')
    .find((c) => c.args.channel === 'C0ALERTS' && !c.args.thread_ts);
  const blocks = (card?.args.blocks ?? []) as { type: string; elements?: SlackButton[] }[];
  return blocks.find((b) => b.type === 'actions')?.elements ?? [];
}

async function click(
  api: FakeSlackApi,
  url: string,
  user: string,
  b: SlackButton | undefined,
): Promise<string> {
  if (b === undefined) throw new Error('no such button on the card');
  const before = api.responses.length;
  const payload = {
    type: 'block_actions',
    team: { id: 'T1' },
    user: { id: user },
    channel: { id: 'C0ALERTS' },
    trigger_id: `trig.${++trigger}`,
    response_url: api.responseUrl(),
    actions: [{ type: 'button', action_id: b.action_id, block_id: 'b', value: b.value, action_ts: '1' }],
  };
  const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
  const res = await fetch(`${url}/slack/events`, {
    method: 'POST',
    headers: slackSignedHeaders(body, SECRET, Math.floor(Date.now() / 1000)),
    body,
  });
  expect(res.status).toBe(200);
  await eventually(() => api.responses.length > before, 5000);
  return JSON.stringify(api.responses[before]?.body);
}

describe('incident card buttons', () => {
  it('shows state and source links; buttons work for operators and refuse others with the reason', async () => {
    slack = await startFakeSlackApi();
    discord = await startFakeDiscord();
    setup = tempSetup();
    setup.savePolicy(
      setup
        .policyText()
        .replace(/operators: \[/, 'operators: [slack:user:UONCALL1, discord:user:111111111111111111, ')
        .replace(
          /critical: \[console:main\]/,
          `critical: [console:main, slack:C0ALERTS, discord:${DISCORD_CHANNEL}]`,
        ),
    );
    bot = await startBot({
      env: {
        ...slackEnv(slack.url),
        DISCORD_TOKEN: 'fake-discord-token-for-tests',
        DISCORD_API_URL: discord.apiUrl,
        AUTONOMY_PUBLIC_URL: 'https://autonomy.example.com',
      },
      logDestination: new LogSink(),
      print: () => {},
      incidentUpdateIntervalMs: 0,
    });
    const b = bot;
    const api = slack;
    b.core.signals.ingest([
      criticalAlert('am:card:1', 'HighLatency', 'checkout', {
        generatorURL: 'http://prometheus.internal:9090/graph?g0.expr=latency',
        annotations: {
          runbook_url: 'https://runbooks.example.org/checkout',
          dashboard: 'javascript:alert(1)',
        },
      }),
    ]);
    await eventually(() => cardButtons(api).length > 0, 5000);

    // The card: state, age, signals, the console and the source's links with their real hosts.
    const card = JSON.stringify(
      api.callsTo('chat.postMessage').find((c) => c.args.channel === 'C0ALERTS')?.args,
    );
    for (const shown of ['Status', 'open', 'Age', 'Signals', 'checkout', 'critical'])
      expect(card).toContain(shown);
    expect(card).toContain('Alert source (prometheus.internal:9090)');
    expect(card).toContain('Runbook (runbooks.example.org)');
    expect(card).toContain('Open in the console (autonomy.example.com)');
    expect(card).not.toContain('javascript:');
    expect(cardButtons(api).map((x) => x.action_id)).toEqual([
      'autonomy:ack',
      'autonomy:resolve',
      'autonomy:mute',
      'autonomy:snooze',
    ]);
    const button = (action: string) => cardButtons(api).find((x) => x.action_id === `autonomy:${action}`);

    // Someone without a role: refused, with the reason, and nothing changes.
    for (const action of ['ack', 'resolve', 'mute', 'snooze']) {
      expect(await click(api, b.url, 'USTRANGER', button(action))).toMatch(
        /Refused: [a-z' ]+ needs an operator, approver or admin.*You \(slack:user:USTRANGER\) have no role in the policy/,
      );
    }
    expect(b.core.incidents.get('i1')?.status).toBe('open');
    expect(b.audit.records({ kind: 'mute.set' })).toHaveLength(0);

    // An operator: snooze holds escalation; mute mutes checkout for an hour and says so in the channel.
    expect(await click(api, b.url, 'UONCALL1', button('snooze'))).toContain('i1 snoozed until');
    expect(await click(api, b.url, 'UONCALL1', button('mute'))).toContain('checkout');
    const muted = b.audit.records({ kind: 'mute.set' });
    expect(muted).toHaveLength(1);
    expect(muted[0]).toMatchObject({ actor: 'slack:user:UONCALL1' });
    expect(muted[0]?.outcome).toContain('checkout');
    expect(b.audit.records({ kind: 'incident.snoozed' })).toMatchObject([{ actor: 'slack:user:UONCALL1' }]);
    // The mute is announced in the channel the card is in, with its expiry and how to undo it.
    await eventually(
      () =>
        api
          .callsTo('chat.postMessage')
          .some(
            (c) =>
              c.args.channel === 'C0ALERTS' &&
              !c.args.thread_ts &&
              /slack:user:UONCALL1 muted service checkout for 1 h \(until /.test(String(c.args.text)) &&
              JSON.stringify(c.args.blocks).includes('/autonomy unmute service checkout'),
          ),
      5000,
    );
    // Acknowledge: the card is edited in place, says who, and loses its Acknowledge button.
    expect(await click(api, b.url, 'UONCALL1', button('ack'))).toContain('i1');
    await eventually(
      () => api.callsTo('chat.update').some((c) => JSON.stringify(c.args).includes('Acknowledged by')),
      5000,
    );
    const acked = api.callsTo('chat.update').find((c) => JSON.stringify(c.args).includes('Acknowledged by'));
    expect(JSON.stringify(acked?.args)).toContain('slack:user:UONCALL1');
    expect(JSON.stringify(acked?.args)).not.toContain('autonomy:ack');

    // Discord: a stranger is refused with the reason; the operator resolves it from the card there.
    const d = discord as FakeDiscord;
    await eventually(() => d.calls.some((c) => c.path === `/channels/${DISCORD_CHANNEL}/messages`), 5000);
    const dcard = d.calls.find((c) => c.path === `/channels/${DISCORD_CHANNEL}/messages`)?.body as {
      components?: { components: { custom_id: string }[] }[];
    };
    const resolveId = dcard.components?.[0]?.components.find((c) =>
      c.custom_id.includes(':resolve:'),
    )?.custom_id;
    expect(resolveId).toBe(
      customId({ action: 'resolve', target: 'i1', nonce: String(resolveId?.split(':').at(-1)) }),
    );
    d.dispatch(
      'INTERACTION_CREATE',
      buttonClick('5001', resolveId ?? '', { userId: '999999999999999999' }, DISCORD_CHANNEL),
    );
    await d.waitFor(
      (calls) =>
        calls.some(
          (c) => c.path.startsWith('/interactions/5001/') && JSON.stringify(c.body).includes('Refused'),
        ),
      5000,
    );
    expect(b.core.incidents.get('i1')?.status).not.toBe('resolved');
    d.dispatch(
      'INTERACTION_CREATE',
      buttonClick('5002', resolveId ?? '', { userId: '111111111111111111' }, DISCORD_CHANNEL),
    );
    await eventually(() => b.core.incidents.get('i1')?.status === 'resolved', 5000);
    await eventually(
      () =>
        api
          .callsTo('chat.postMessage')
          .some(
            (c) =>
              c.args.thread_ts && /i1 resolved by discord:user:111111111111111111/.test(String(c.args.text)),
          ),
      5000,
    );
  });

  it("goes out as soon as it is queued, not at the outbox worker's next look", async () => {
    slack = await startFakeSlackApi();
    setup = tempSetup();
    setup.savePolicy(
      setup
        .policyText()
        .replace(/critical: \[console:main\]/, 'critical: [console:main, slack:C0ALERTS]')
        // no agent posts (each one wakes the worker too): only the card's own wake-up is tested
        .replace(/\n {2}sentinel:\n/, '\n  sentinel:\n    enabled: false\n'),
    );
    bot = await startBot({
      env: slackEnv(slack.url),
      logDestination: new LogSink(),
      print: () => {},
      // its next look is ten minutes away: only a wake-up on enqueue sends the card in time
      outboxPollMs: 600_000,
    });
    const api = slack;
    bot.core.signals.ingest([criticalAlert('am:wake:1', 'DiskFull', 'ledger')]);
    await eventually(() => cardButtons(api).length > 0, 5000);
  });

  it("mutes the service of an older card's incident while many newer ones are open", async () => {
    slack = await startFakeSlackApi();
    setup = tempSetup();
    setup.savePolicy(
      setup
        .policyText()
        .replace(/operators: \[/, 'operators: [slack:user:UONCALL1, ')
        .replace(/critical: \[console:main\]/, 'critical: [console:main, slack:C0ALERTS]'),
    );
    bot = await startBot({ env: slackEnv(slack.url), logDestination: new LogSink(), print: () => {} });
    const b = bot;
    const api = slack;
    b.core.signals.ingest([criticalAlert('am:older:1', 'HighLatency', 'checkout')]);
    await eventually(() => cardButtons(api).length > 0, 5000);
    // A bad hour: 30 more incidents open after it (the first commands list shows the newest 20).
    b.core.signals.ingest(
      Array.from({ length: 30 }, (_, i) => criticalAlert(`am:newer:${i}`, 'DiskFull', `svc-${i}`)),
    );
    await eventually(() => b.core.incidents.get('i31') !== null, 5000);
    const mute = cardButtons(api).find((x) => x.action_id === 'autonomy:mute');
    expect(await click(api, b.url, 'UONCALL1', mute)).toContain('checkout');
    expect(b.audit.records({ kind: 'mute.set' })).toMatchObject([
      { actor: 'slack:user:UONCALL1', outcome: expect.stringContaining('checkout') },
    ]);
  });
});
