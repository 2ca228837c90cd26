/**
 * Routing by service and team, end to end through the running bot and the local stand-in of Slack:
 * a team's service's incident reaches the team's channel only (not the default channel); a
 * service's own route beats its team's; a channel subscribed to a service gets that service's
 * incident cards and threads, until it unsubscribes; an unknown team is refused with the list.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { runCommand } from '../../src/chat/commands/execute.js';
import { outbox } from '../../src/db/schema.js';
import { type Bot, startBot } from '../../src/main.js';
import { type FakeSlackApi, startFakeSlackApi } from '../fakes/slack-api.js';
import { eventually, LogSink, type TempSetup, tempSetup } from '../helpers/bot.js';

let setup: TempSetup;
let bot: Bot | null = null;
let slack: FakeSlackApi | null = null;
let n = 0;

afterEach(async () => {
  await bot?.stop();
  bot = null;
  await slack?.close();
  slack = null;
  setup?.cleanup();
});

const TEAMS = `
teams:
  - name: checkout
    services: [checkout-*]
    channels: { critical: [slack:C0SHOP] }
  - name: payments
    services: [payments]
    channels: { critical: [slack:C0PAY] }
`;

function alert(b: Bot, service: string, title: string): void {
  n += 1;
  b.core.signals.ingest([
    {
      kind: 'alert',
      source: 'alertmanager',
      dedupeKey: `route:${n}`,
      fingerprint: `Route${n}:${service}`,
      title,
      service,
      severity: 'critical',
      payload: {},
    },
  ]);
}

/** The Slack channels a top-level post mentioning `title` went to. */
function slackChannels(api: FakeSlackApi, title: string): string[] {
  return api
    .callsTo('chat.postMessage')
    .filter((c) => !c.args.thread_ts && JSON.stringify(c.args).includes(title))
    .map((c) => String(c.args.channel))
    .sort();
}

/** The channels (any platform) the bot queued a message mentioning `title` for. */
function queuedTo(b: Bot, title: string): string[] {
  const rows = b.database.db.select({ channel: outbox.channel, message: outbox.message }).from(outbox).all();
  return [
    ...new Set(rows.filter((r) => JSON.stringify(r.message).includes(title)).map((r) => r.channel)),
  ].sort();
}

async function say(b: Bot, channel: string, text: string): Promise<string> {
  const reply = await runCommand(b.core.commands, {
    platform: 'console',
    actor: 'console:user:local',
    channel,
    text,
  });
  return `${reply.title}\n${reply.body ?? ''}`;
}

describe('routing by service and team', () => {
  it("a team's incident reaches its channel only; subscriptions add channels until unsubscribed", async () => {
    slack = await startFakeSlackApi();
    setup = tempSetup();
    setup.savePolicy(
      `${setup
        .policyText()
        .replace(/critical: \[console:main\]/, 'critical: [console:main, slack:C0MAIN]')
        .replace(
          /agents: \{\} # e\.g\./,
          'services: { payments: { critical: [slack:C0PAYOPS] } }\n  agents: {} # e.g.',
        )}${TEAMS}`,
    );
    bot = await startBot({
      env: {
        ...setup.env,
        SLACK_BOT_TOKEN: 'xoxb-test-token',
        SLACK_SIGNING_SECRET: 'slack-signing-secret-for-tests',
        SLACK_API_URL: slack.url,
      },
      logDestination: new LogSink(),
      print: () => {},
      incidentUpdateIntervalMs: 0,
    });
    const b = bot;
    const api = slack;

    // The checkout team's service: its channel only, not the default channels.
    alert(b, 'checkout-api', 'Checkout latency high');
    // payments has its own route in routing.services, which beats its team's channels.
    alert(b, 'payments', 'Payments queue stuck');
    // A service no team owns: the default route, as before.
    alert(b, 'billing', 'Billing cron failed');
    await eventually(() => slackChannels(api, 'Billing cron failed').length === 1, 8000);
    await eventually(() => slackChannels(api, 'Checkout latency high').length === 1, 8000);
    expect(slackChannels(api, 'Checkout latency high')).toEqual(['C0SHOP']);
    expect(queuedTo(b, 'Checkout latency high')).toEqual(['slack:C0SHOP']);
    expect(queuedTo(b, 'Payments queue stuck')).toEqual(['slack:C0PAYOPS']);
    expect(queuedTo(b, 'Billing cron failed')).toEqual(['console:main', 'slack:C0MAIN']);

    // A channel subscribes to the checkout services: it gets their cards (and threads) too.
    expect(await say(b, 'slack:C0WATCH', 'subscribe service checkout-*')).toContain(
      "slack:C0WATCH now gets service checkout-*'s incidents",
    );
    expect(await say(b, 'slack:C0WATCH', 'subscriptions')).toContain('service checkout-*');
    alert(b, 'checkout-web', 'Checkout web 500s');
    alert(b, 'billing', 'Billing export late');
    await eventually(() => slackChannels(api, 'Checkout web 500s').length === 2, 8000);
    expect(slackChannels(api, 'Checkout web 500s')).toEqual(['C0SHOP', 'C0WATCH']);
    expect(queuedTo(b, 'Billing export late')).not.toContain('slack:C0WATCH');
    const listed = await say(b, 'console:main', 'incidents team checkout');
    expect(listed).toContain('2 open incident(s) of team checkout');
    for (const title of ['Checkout latency high', 'Checkout web 500s']) expect(listed).toContain(title);
    expect(listed).not.toContain('Billing');

    // Unsubscribed: the next checkout incident goes to the team's channel only again.
    expect(await say(b, 'slack:C0WATCH', 'unsubscribe service checkout-*')).toContain(
      "slack:C0WATCH no longer gets service checkout-*'s incidents",
    );
    alert(b, 'checkout-db', 'Checkout db slow');
    await eventually(() => slackChannels(api, 'Checkout db slow').length === 1, 8000);
    expect(queuedTo(b, 'Checkout db slow')).toEqual(['slack:C0SHOP']);

    // A team the policy does not name: refused, with the closest name and the list; nothing changes.
    const refused = await say(b, 'slack:C0WATCH', 'subscribe team chekout');
    expect(refused).toContain('No team chekout. Did you mean checkout?');
    expect(refused).toContain("The policy's teams: checkout, payments");
    expect(await say(b, 'slack:C0WATCH', 'subscriptions')).toContain('has no subscriptions');
    expect(await say(b, 'slack:C0WATCH', 'subscribe servce web')).toContain('did you mean service?');
  }, 60_000);
});
