/**
 * The contract every chat adapter passes: the same cases on the console, Slack and Discord, each
 * driven as that platform drives the real running bot (adapter -> core -> outbox -> adapter) and
 * checked by what a person sees there. Platform differences live in the drivers, said once as
 * capabilities (driver.ts); no case is left out on any platform. Each adapter keeps its own
 * platform tests in test/adapters/.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VERBS } from '../../src/chat/commands/grammar.js';
import { MESSAGE_KINDS, message } from '../../src/chat/message.js';
import { eventually } from '../helpers/bot.js';
import type { ChatDriver, Posted, Seen } from './driver.js';
import { consoleDriver } from './drivers/console.js';
import { discordDriver } from './drivers/discord.js';
import { slackDriver } from './drivers/slack.js';
import { deliveredWith, VERB_CASES } from './verb-cases.js';

const DRIVERS = [
  { platform: 'console', start: consoleDriver },
  { platform: 'slack', start: slackDriver },
  { platform: 'discord', start: discordDriver },
] as const;

/** A bot start takes seconds of CPU on a busy machine; a digest draws a chart. */
const START_MS = 60_000;
const CASE_MS = 30_000;

function expectShows(seen: Seen, phrases: readonly (string | RegExp)[]): void {
  for (const p of phrases) {
    if (typeof p === 'string') expect(seen.text).toContain(p);
    else expect(seen.text).toMatch(p);
  }
}

it('has a case for every /autonomy verb', () => {
  expect(new Set(VERB_CASES.map((c) => c.verb))).toEqual(new Set(VERBS.map((v) => v.verb)));
});

describe.each(DRIVERS)('the chat contract on $platform', ({ start }) => {
  let d: ChatDriver;
  beforeAll(async () => {
    d = await start();
  }, START_MS);
  afterAll(async () => {
    await d?.stop();
  });

  /** The approval request for `shortId` as first posted on the platform, with its buttons. */
  const approvalPosted = (shortId: string): Promise<Posted> =>
    eventually(
      async () =>
        (await d.posted()).find((p) => p.text.includes(`Approval ${shortId}:`) && p.buttons.length > 0),
      15_000,
    );
  /** The same message once it was edited to say how it was decided (its buttons gone). */
  const decidedPosted = (request: Posted, words: RegExp): Promise<Posted> =>
    eventually(
      async () =>
        (await d.posted()).find((p) => p.ref === request.ref && p.buttons.length === 0 && words.test(p.text)),
      15_000,
    );

  describe('rendering', () => {
    it(
      'renders every message kind with its title, body, fields, links and buttons, and pings only the named person',
      async () => {
        const { bot } = d.world;
        for (const kind of MESSAGE_KINDS) {
          bot.core.outbox.enqueue(
            d.channel,
            message({
              kind,
              title: `Contract ${kind} @everyone <!channel>`,
              severity: 'warning',
              body: `body of ${kind}: *not bold* <@U0NIGHT> <@222222222222222222> @here`,
              fields: [{ label: 'Service', value: `web-${kind}` }],
              links: [{ label: 'Runbook', url: `https://runbooks.example.com/${kind}` }],
              buttons:
                kind === 'approval'
                  ? [
                      {
                        action: 'approve',
                        label: 'Approve',
                        style: 'primary',
                        target: 'a999',
                        nonce: 'contract-n0nce',
                      },
                      {
                        action: 'deny',
                        label: 'Deny',
                        style: 'danger',
                        target: 'a999',
                        nonce: 'contract-n0nce',
                      },
                    ]
                  : [],
              mentions: [d.people.lead],
            }),
            { dedupeKey: `contract:kind:${kind}` },
          );
        }
        bot.outboxWorker.poke();
        const shown = await eventually(async () => {
          const all = await d.posted();
          const found = MESSAGE_KINDS.map((k) => all.find((p) => p.text.includes(`Contract ${k}`)));
          return found.every((p) => p !== undefined) ? (found as Posted[]) : undefined;
        }, 15_000);
        shown.forEach((p, i) => {
          const kind = MESSAGE_KINDS[i];
          expect(p.text).toContain(`Contract ${kind} @everyone <!channel>`);
          expect(p.text).toContain(`body of ${kind}: *not bold* <@U0NIGHT> <@222222222222222222> @here`);
          expect(p.text).toContain('Service');
          expect(p.text).toContain(`web-${kind}`);
          expect(p.links).toContain(`https://runbooks.example.com/${kind}`);
          expect(p.buttons.map((b) => [b.action, b.label])).toEqual(
            kind === 'approval'
              ? [
                  ['approve', 'Approve'],
                  ['deny', 'Deny'],
                ]
              : [],
          );
          // Text is data: only the identity the message names is notified.
          expect(p.pings, kind).toEqual([d.people.lead]);
        });
      },
      CASE_MS,
    );
  });

  describe('approval buttons', () => {
    it(
      'approve runs the request once; a double click runs nothing more; the message says who approved',
      async () => {
        const id = d.world.askApproval('button-ok');
        const request = await approvalPosted(id);
        const clicks = await Promise.all([
          d.click(d.people.lead, request, 'approve'),
          d.click(d.people.lead, request, 'approve'),
        ]);
        const texts = clicks.map((c) => c.text);
        expect(
          texts.filter((t) => t.includes(`${id} approved`)),
          texts.join('\n---\n'),
        ).toHaveLength(1);
        expect(
          texts.filter((t) => t.includes(`${id} was already approved by ${d.people.lead}`)),
        ).toHaveLength(1);
        expect(texts.join('\n')).toContain('Nothing runs again');
        expect(clicks.every((c) => c.private)).toBe(true);
        await decidedPosted(request, new RegExp(`approved by ${d.people.lead}`));
        await eventually(() => d.world.ran().includes('button-ok'), 15_000);
        await d.world.bot.core.approvals.settled();
        expect(d.world.ran().filter((t) => t === 'button-ok')).toEqual(['button-ok']);
      },
      CASE_MS,
    );

    it(
      'deny asks for a reason and records it; nothing runs; the message says who denied and why',
      async () => {
        const id = d.world.askApproval('button-no');
        const request = await approvalPosted(id);
        const denied = await d.click(d.people.lead, request, 'deny', { reason: 'not during the sale' });
        expect(denied.text).toContain(`${id} denied; nothing runs`);
        expect(denied.text).toContain('Reason recorded: not during the sale');
        expect(denied.private).toBe(true);
        const decided = await decidedPosted(request, new RegExp(`denied by ${d.people.lead}`));
        expect(decided.text).toContain('not during the sale');
        expect(d.world.ran()).not.toContain('button-no');
      },
      CASE_MS,
    );

    it(
      'a stale button (the request was already decided) says who decided it, and runs nothing',
      async () => {
        const id = d.world.askApproval('stale');
        const request = await approvalPosted(id);
        expectShows(await d.command(d.people.lead, `deny ${id} changed my mind`), [`${id} denied`]);
        const late = await d.click(d.people.lead, request, 'approve');
        expect(late.text).toContain(`${id} was already denied by ${d.people.lead}`);
        expect(late.text).toContain('nothing ran');
        expect(late.private).toBe(true);
        await d.world.bot.core.approvals.settled();
        expect(d.world.ran()).not.toContain('stale');
      },
      CASE_MS,
    );

    it(
      'a forged button (wrong nonce, or another request id under this nonce) is refused and changes nothing',
      async () => {
        const id = d.world.askApproval('forged');
        const other = d.world.askApproval('forged-other');
        const request = await approvalPosted(id);
        const wrongNonce = await d.click(d.people.lead, request, 'approve', {
          nonce: 'forged-nonce-00000000',
        });
        expect(wrongNonce.text).toContain('Refused: stale or forged button');
        const tampered = await d.click(d.people.lead, request, 'approve', { target: other });
        expect(tampered.text).toContain('Refused: stale or forged button');
        expect(d.world.bot.core.approvals.get(id)?.state).toBe('pending');
        expect(d.world.bot.core.approvals.get(other)?.state).toBe('pending');
        expect(d.world.ran()).not.toContain('forged');
        expect(d.world.ran()).not.toContain('forged-other');
      },
      CASE_MS,
    );

    it(
      'a button the bot cannot read (its id tampered into no id at all) is answered, and changes nothing',
      async () => {
        const id = d.world.askApproval('unreadable');
        const request = await approvalPosted(id);
        const seen = await d.click(d.people.lead, request, 'approve', { target: 'z9' });
        // Slack and Discord: "This button is not one the bot knows."; the console API names the bad field.
        expect(seen.text).toMatch(/This button is not one the bot knows|target: a short id like a12 or i7/);
        expect(seen.private).toBe(true);
        expect(d.world.bot.core.approvals.get(id)?.state).toBe('pending');
        expectShows(await d.command(d.people.lead, `deny ${id} cleanup`), [`${id} denied`]);
      },
      CASE_MS,
    );

    it(
      'someone without the approver role is refused, to approve and to deny, and nothing changes',
      async () => {
        const id = d.world.askApproval('unauthorised');
        const request = await approvalPosted(id);
        const approve = await d.click(d.people.operator, request, 'approve');
        expect(approve.text).toContain('Refused: the approver role is needed');
        expect(approve.private).toBe(true);
        const deny = await d.click(d.people.operator, request, 'deny', { reason: 'I would rather not' });
        expect(deny.text).toContain('Refused: the approver role is needed');
        expect(d.world.bot.core.approvals.get(id)?.state).toBe('pending');
        // The person with the role still can: the request was left as it was.
        expectShows(await d.command(d.people.lead, `deny ${id} cleanup`), [`${id} denied`]);
      },
      CASE_MS,
    );
  });

  describe('incident card buttons', () => {
    it(
      'Acknowledge and Resolve act on the incident and the card shows it; a forged card button is refused',
      async () => {
        const id = d.world.openIncident('Contract card on web');
        const card = await eventually(
          async () =>
            (await d.posted()).find(
              (p) => p.text.includes('Contract card on web') && p.buttons.some((b) => b.action === 'ack'),
            ),
          15_000,
        );
        const forged = await d.click(d.people.lead, card, 'ack', { nonce: 'forged-nonce-00000000' });
        expect(forged.text).toContain(`This button is not valid (any more) for ${id}`);
        expect(d.world.bot.core.incidents.get(id)?.status).toBe('open');
        const ack = await d.click(d.people.lead, card, 'ack');
        expect(ack.text).toContain(`${id} acknowledged by ${d.people.lead}`);
        expect(ack.private).toBe(true);
        const resolved = await d.click(d.people.lead, card, 'resolve');
        expect(resolved.text).toContain(`${id} resolved by ${d.people.lead} (resolved from its card)`);
        // The card is edited in place: resolved, without buttons.
        await eventually(
          async () => (await d.posted()).find((p) => p.ref === card.ref && p.buttons.length === 0),
          15_000,
        );
      },
      CASE_MS,
    );
  });

  describe('every /autonomy verb', () => {
    const state = new Map<string, string>();
    it.each(VERB_CASES)(
      '$name',
      async (c) => {
        const text = await c.say(d, state);
        const seen = await d.command(d.people.lead, text);
        expectShows(seen, c.shows(d, state));
        expect(seen.private).toBe(true);
        expect(seen.text).not.toMatch(/unknown command|usage:|Refused/);
        await c.after?.(d, state);
      },
      CASE_MS,
    );
  });

  describe('errors', () => {
    it('an unknown verb is answered with a "did you mean"', async () => {
      const seen = await d.command(d.people.lead, 'stauts');
      expectShows(seen, ['unknown command "stauts": did you mean `status`?', '/autonomy help']);
      expect(seen.private).toBe(true);
    });

    it('bad arguments are answered with what is wrong and the usage, and change nothing', async () => {
      const mute = await d.command(d.people.lead, 'mute service checkout soon');
      expectShows(mute, [
        'for how long? a duration like 30m, 2h or 1d',
        'usage: /autonomy mute <agent|signature|service> <name> <duration> [reason]',
      ]);
      expect(d.world.bot.core.mutes.active(Date.now()).map((m) => m.target)).not.toContain('checkout');
      const approve = await d.command(d.people.lead, 'approve x12');
      expectShows(approve, ['"x12" is not an approval id like a12', 'usage: /autonomy approve <a12>']);
    });

    it('a verb outside the role of who typed it is refused, naming the role', async () => {
      await d.command(d.people.lead, 'kill validator contract drill');
      const refused = await d.command(d.people.operator, 'resume validator');
      expectShows(refused, [
        'Refused: `resume` needs',
        'admin',
        `You (${d.people.operator}) have the role(s) operator`,
      ]);
      expect(d.world.bot.control.snapshot().killedAgents.has('validator')).toBe(true);
      expectShows(await d.command(d.people.lead, 'resume validator'), ['validator resumed']);
    });
  });

  it('delivered what the cases above caused to the platform: the alert card, the notices, the digest', async () => {
    await deliveredWith(d, /Contract disk full on web/);
    await deliveredWith(d, new RegExp(`${d.people.lead} killed guardian`));
    await deliveredWith(d, new RegExp(`requested by ${d.people.lead}`));
    expect((await d.posted()).every((p) => p.channel.startsWith(`${d.platform}:`))).toBe(true);
  });
});
