/**
 * Alert storms fold, end to end through the running bot against the local stand-in of Slack and
 * the console: past `routing.storm.cardsPerMinute` new incidents in a minute, new incidents get no
 * card of their own but fold into one storm card per channel, updated in place; nothing about a
 * folded incident is posted but its approval requests; every signal is still stored and every
 * incident triaged. After `endsAfter` under the rate the storm card says the storm is over and new
 * incidents get their own cards again. The bot's clock is real time plus an offset the test moves.
 */
import { inArray, like } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import type { FeedItem } from '../../adapters/console/console-adapter.js';
import { agentJobs, incidents, outbox, signals } from '../../src/db/schema.js';
import { type Bot, startBot } from '../../src/main.js';
import { decide } from '../../src/policy/decide.js';
import type { Proposal } from '../../src/policy/types.js';
import type { SignalInput } from '../../src/signals/types.js';
import { type FakeSlackApi, startFakeSlackApi } from '../fakes/slack-api.js';
import { eventually, LogSink, type TempSetup, tempSetup } from '../helpers/bot.js';

let setup: TempSetup;
let bot: Bot | null = null;
let slack: FakeSlackApi | null = null;
let offset = 0;

afterEach(async () => {
  await bot?.stop();
  bot = null;
  await slack?.close();
  slack = null;
  setup?.cleanup();
  offset = 0;
});

function signal(i: number, severity: SignalInput['severity'] = 'warning'): SignalInput {
  // A service each: signals of one service join one incident.
  const service = `svc${i}`;
  return {
    kind: 'alert',
    source: 'alertmanager',
    dedupeKey: `am:storm:${i}`,
    fingerprint: `Storm${i}:${service}`,
    title: `Storm${i} on ${service}`,
    service,
    severity,
    payload: {},
  };
}

async function start(again = false): Promise<Bot> {
  if (!again) {
    slack = await startFakeSlackApi();
    setup = tempSetup();
    const text = setup
      .policyText()
      .replace(/warning: \[console:main\]/, 'warning: [console:main, slack:C0ALERTS]')
      .replace(/critical: \[console:main\]/, 'critical: [console:main, slack:C0ALERTS]')
      .replace(/cardsPerMinute: 10\n/, 'cardsPerMinute: 3\n')
      .replace(/endsAfter: 5m\n/, 'endsAfter: 2m\n');
    expect(text).toContain('cardsPerMinute: 3');
    setup.savePolicy(text);
  }
  return startBot({
    env: {
      ...setup.env,
      SLACK_BOT_TOKEN: 'xoxb-test-token',
      SLACK_SIGNING_SECRET: 'slack-signing-secret-for-tests',
      SLACK_API_URL: (slack as FakeSlackApi).url,
      AUTONOMY_PUBLIC_URL: 'https://autonomy.example.org',
    },
    now: () => Date.now() + offset,
    logDestination: new LogSink(),
    print: () => {},
    incidentUpdateIntervalMs: 0,
  });
}

/**
 * Top-level posts to the Slack channel (not thread replies), but for sentinel's one notice that it
 * works without a model (none runs here).
 */
function topLevel(s: FakeSlackApi) {
  return s
    .callsTo('chat.postMessage')
    .filter(
      (c) =>
        c.args.channel === 'C0ALERTS' &&
        !c.args.thread_ts &&
        !String(c.args.text).includes('works on rules alone'),
    );
}

/** Waits until every agent job (the triage) is done and the outbox is empty. */
async function settled(b: Bot): Promise<void> {
  await eventually(() => {
    const busy = b.database.db
      .select({ id: agentJobs.id })
      .from(agentJobs)
      .where(inArray(agentJobs.state, ['queued', 'running']))
      .all().length;
    return busy === 0 && b.core.outbox.backlog().pending === 0;
  }, 20_000);
}

/** The Slack ts the storm card landed as (its outbox row's platform ref). */
function stormTs(b: Bot): string {
  const row = b.database.db
    .select()
    .from(outbox)
    .where(like(outbox.dedupeKey, 'storm:slack:C0ALERTS:%'))
    .get();
  return String(row?.platformRef);
}

async function consoleFeed(b: Bot): Promise<FeedItem[]> {
  const token = new URL(b.consoleUrl as string).searchParams.get('token') ?? '';
  const res = await fetch(`${b.url}/api/messages?channel=console:main`, {
    headers: { authorization: `Bearer ${token}` },
  });
  return ((await res.json()) as { messages: FeedItem[] }).messages;
}

describe('alert storms fold into one card per channel', () => {
  it('past the rate, folds new incidents into one storm card; approvals still post; cards resume after the storm', async () => {
    bot = await start();
    const b = bot;
    const s = slack as FakeSlackApi;
    for (let i = 0; i < 12; i++) b.core.signals.ingest([signal(i, i === 7 ? 'critical' : 'warning')]);
    await eventually(() => topLevel(s).length >= 4, 8000);
    await settled(b);

    // Stored and triaged as ever: 12 signals, 12 incidents.
    expect(b.database.db.select().from(signals).all()).toHaveLength(12);
    const stored = b.database.db.select().from(incidents).all();
    expect(stored).toHaveLength(12);

    // Slack: 3 incident cards, then ONE storm card; nothing about i4..i12 at the top level.
    const top = topLevel(s);
    expect(top).toHaveLength(4);
    expect(String(top[3]?.args.text)).toMatch(/Alert storm/);
    const storm = stormTs(b);
    for (const post of s.callsTo('chat.postMessage').filter((c) => c.args.channel === 'C0ALERTS')) {
      expect(JSON.stringify(post.args)).not.toMatch(/Storm(3|4|5|6|7|8|9|10|11) on/);
    }
    // Its card is edited in place: the last edit counts all nine, names the top five services (and
    // how many more) and the worst severity.
    await eventually(
      () =>
        s
          .callsTo('chat.update')
          .some((c) => c.args.ts === storm && String(c.args.text).includes('9 new incidents')),
      8000,
    );
    const edits = s.callsTo('chat.update').filter((c) => c.args.ts === storm);
    const latest = JSON.stringify(edits.at(-1)?.args);
    expect(latest).toMatch(/svc\d+ \(1\), .*and 4 more/);
    expect(latest).toContain('critical');
    expect(latest).toContain('https://autonomy.example.org');

    // The console folds the same way: one storm card, no card of a folded incident.
    const feed = await consoleFeed(b);
    const cards = feed.filter((i) => i.thread === undefined);
    expect(cards.filter((i) => /Alert storm/.test(i.message.title))).toHaveLength(1);
    expect(cards.some((i) => /Storm(3|4|5|6|7|8|9|10|11) on/.test(i.message.title))).toBe(false);

    // An approval request about a folded incident is still posted.
    const folded = stored.find((row) => row.number === 9);
    expect(folded?.messageRefs.every((r) => r.ref.startsWith('storm:'))).toBe(true);
    const proposal: Proposal = { agent: 'sentinel', actionId: 'restart-service', params: { service: 'web' } };
    const decision = decide(
      b.policy.current,
      { ...b.control.snapshot(), phaseOverride: 3 },
      proposal,
      Date.now(),
    );
    expect(decision.verdict).toBe('ask');
    const { shortId } = b.core.approvals.request(proposal, decision, {
      trigger: 'test',
      incidentId: folded?.id ?? null,
    });
    b.outboxWorker.poke();
    await eventually(
      async () =>
        (await consoleFeed(b)).some((i) => i.message.refs.approval === shortId && i.thread === undefined),
      8000,
    );

    // The rate stays under the limit for endsAfter: the card says the storm is over.
    offset += 3 * 60_000;
    await eventually(
      () =>
        s
          .callsTo('chat.update')
          .some((c) => c.args.ts === storm && String(c.args.text).includes('Alert storm over')),
      8000,
    );
    // And the next new incident has its own card again.
    b.core.signals.ingest([signal(100)]);
    await eventually(() => topLevel(s).some((c) => String(c.args.text).includes('Storm100 on')), 8000);
    expect(topLevel(s)).toHaveLength(5);

    // What the agents said about folded incidents (their triage) is kept in the outbox, never sent.
    const kept = b.database.db.select().from(outbox).where(like(outbox.platformRef, 'folded:%')).all();
    expect(kept.length).toBeGreaterThan(0);
    const foldedIds = new Set(
      stored.filter((row) => row.number > 3).flatMap((row) => [row.id, `i${row.number}`]),
    );
    for (const row of kept) {
      const refs = (row.message as { refs: { incident?: string; approval?: string } }).refs;
      expect(refs.approval).toBeUndefined();
      expect(foldedIds.has(String(refs.incident))).toBe(true);
    }
  }, 60_000);

  it('a storm card a stopped bot left raging says it was closed when the bot starts again', async () => {
    bot = await start();
    const s = slack as FakeSlackApi;
    for (let i = 0; i < 5; i++) bot.core.signals.ingest([signal(i)]);
    await eventually(() => topLevel(s).length >= 4, 8000);
    await settled(bot);
    const storm = stormTs(bot);
    await bot.stop();
    bot = null;

    bot = await start(true);
    await eventually(
      () =>
        s
          .callsTo('chat.update')
          .some((c) => c.args.ts === storm && String(c.args.text).includes('Alert storm card closed')),
      8000,
    );
    // The next new incident has its own card.
    bot.core.signals.ingest([signal(200)]);
    await eventually(() => topLevel(s).some((c) => String(c.args.text).includes('Storm200 on')), 8000);
  }, 60_000);
});
