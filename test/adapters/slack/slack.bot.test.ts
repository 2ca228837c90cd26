/**
 * Slack wired into the real bot (HTTP mode): a signed `/autonomy kill guardian` from a policy
 * operator reaches the command set through POST /slack/events on the bot's one server, the kill
 * switch turns on, and an alert routed to a Slack channel is posted through the outbox to the
 * (local, fake) Slack Web API.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type Bot, startBot } from '../../../src/main.js';
import { type FakeSlackApi, slackSignedHeaders, startFakeSlackApi } from '../../fakes/slack-api.js';
import {
  eventually,
  getHealth,
  LogSink,
  saveSlackOnCallPolicy,
  type TempSetup,
  tempSetup,
} from '../../helpers/bot.js';

const SECRET = 'slack-signing-secret-for-tests';
let setup: TempSetup;
let bot: Bot | null = null;
let api: FakeSlackApi;

afterEach(async () => {
  await bot?.stop();
  bot = null;
  await api?.close();
  setup?.cleanup();
});

describe('Slack in the running bot', () => {
  it('takes a signed slash command on /slack/events and posts routed alerts to Slack', async () => {
    api = await startFakeSlackApi();
    setup = tempSetup();
    saveSlackOnCallPolicy(setup);
    bot = await startBot({
      env: {
        ...setup.env,
        SLACK_BOT_TOKEN: 'xoxb-test-token',
        SLACK_SIGNING_SECRET: SECRET,
        SLACK_API_URL: api.url,
      },
      logDestination: new LogSink(),
      print: () => {},
    });
    expect(bot.health().checks['chat:slack']).toBeDefined();

    const body = new URLSearchParams({
      command: '/autonomy',
      text: 'kill guardian flapping deploys',
      user_id: 'UONCALL1',
      channel_id: 'C0OPS',
      team_id: 'T1',
      trigger_id: 'trig.1',
      response_url: api.responseUrl(),
      token: 'legacy',
    }).toString();
    const res = await fetch(`${bot.url}/slack/events`, {
      method: 'POST',
      headers: slackSignedHeaders(body, SECRET, Math.floor(Date.now() / 1000)),
      body,
    });
    expect(res.status, await res.clone().text()).toBe(200);
    await eventually(() => bot?.control.snapshot().killedAgents.has('guardian'), 3000);
    expect(bot.audit.records({ kind: 'control.kill' }).at(-1)).toMatchObject({
      actor: 'slack:user:UONCALL1',
    });
    await eventually(
      () => api.responses.some((r) => JSON.stringify(r.body).includes('guardian killed')),
      3000,
    );

    // A forged request changes nothing.
    const forged = await fetch(`${bot.url}/slack/events`, {
      method: 'POST',
      headers: slackSignedHeaders(
        body.replace('guardian', 'all'),
        'wrong-secret',
        Math.floor(Date.now() / 1000),
      ),
      body: body.replace('guardian', 'all'),
    });
    expect(forged.status).toBe(401);
    expect(bot.control.snapshot().killedAll).toBe(false);

    // A critical alert is routed to the Slack channel and delivered by the outbox.
    bot.core.signals.ingest([
      {
        kind: 'alert',
        source: 'alertmanager',
        dedupeKey: 'am:1',
        fingerprint: 'HighErrorRate:api',
        title: 'HighErrorRate on api <!channel>',
        service: 'api',
        severity: 'critical',
        payload: {},
      },
    ]);
    const toAlerts = () => api.callsTo('chat.postMessage').find((c) => c.args.channel === 'C0ALERTS');
    await eventually(() => toAlerts() !== undefined, 5000);
    const posted = toAlerts();
    expect(JSON.stringify(posted?.args)).toContain('HighErrorRate on api');
    // The kill typed in C0OPS was announced there (who, what, how to undo), before the alert.
    const announced = api.callsTo('chat.postMessage').find((c) => c.args.channel === 'C0OPS');
    expect(JSON.stringify(announced?.args)).toContain('/autonomy resume');
    // Event text can never mention anyone: the <!channel> in the alert arrives escaped.
    expect(JSON.stringify(posted?.args)).not.toContain('<!channel>');
  });

  it('/healthz is degraded, with the reason, while Slack fails, and ok again once it answers', async () => {
    api = await startFakeSlackApi();
    setup = tempSetup();
    setup.savePolicy(
      setup.policyText().replace(/critical: \[console:main\]/, 'critical: [console:main, slack:C0ALERTS]'),
    );
    bot = await startBot({
      env: {
        ...setup.env,
        SLACK_BOT_TOKEN: 'xoxb-test-token',
        SLACK_SIGNING_SECRET: SECRET,
        SLACK_API_URL: api.url,
      },
      logDestination: new LogSink(),
      print: () => {},
    });
    const url = bot.url;
    // The model server is not running here (its check is degraded): look at the outbox and Slack.
    const mine = (h: Awaited<ReturnType<typeof getHealth>>) =>
      [h.checks.outbox?.status, h.checks['chat:slack']?.status].every((st) => st === 'ok');
    expect(mine(await getHealth(url))).toBe(true);
    api.fail('chat.postMessage', { status: 500 }, 3);
    bot.core.signals.ingest([
      {
        kind: 'alert',
        source: 'alertmanager',
        dedupeKey: 'am:down',
        fingerprint: 'HighErrorRate:api',
        title: 'HighErrorRate on api',
        service: 'api',
        severity: 'critical',
        payload: {},
      },
    ]);
    const degraded = await eventually(async () => {
      const h = await getHealth(url);
      return h.status === 'degraded' && h.checks.outbox?.status === 'degraded' ? h : undefined;
    }, 5000);
    expect(degraded.checks.outbox?.detail).toMatch(/slack failing for .*HTTP 500/);
    expect(degraded.checks['chat:slack']?.status).toBe('degraded');
    // Back: the probe (every 5 s) delivers it and both checks are ok again.
    await eventually(async () => mine(await getHealth(url)), 15_000, 100);
    expect(api.callsTo('chat.postMessage').length).toBeGreaterThanOrEqual(4);
  }, 30_000);
});
