/**
 * One case per `/autonomy` verb (the table in src/chat/commands/grammar.ts), as a person types it
 * on any platform: what to type (after arranging what it acts on), what the reply must show, and
 * the change a person would notice afterwards. chat.contract.test.ts runs them on every driver.
 */
import type { Verb } from '../../src/chat/commands/grammar.js';
import { eventually } from '../helpers/bot.js';
import type { ChatDriver } from './driver.js';

export interface VerbCase {
  readonly verb: Verb;
  /** What the case shows, for the test name. */
  readonly name: string;
  /** Sets up what the command acts on; returns the text typed after `/autonomy`. */
  readonly say: (d: ChatDriver, state: Map<string, string>) => string | Promise<string>;
  /** Phrases the reply must show (plain text, platform escaping read back). */
  readonly shows: (d: ChatDriver, state: Map<string, string>) => readonly (string | RegExp)[];
  /** What changed, as a person would see it afterwards. */
  readonly after?: (d: ChatDriver, state: Map<string, string>) => Promise<void> | void;
}

const get = (state: Map<string, string>, key: string) => {
  const v = state.get(key);
  if (v === undefined) throw new Error(`no ${key}: an earlier verb case set it up`);
  return v;
};

/** Waits until a message whose text matches `re` was delivered to the platform. */
export function deliveredWith(d: ChatDriver, re: RegExp, timeoutMs = 15_000) {
  return eventually(async () => (await d.posted()).find((p) => re.test(p.text)), timeoutMs);
}

export const VERB_CASES: readonly VerbCase[] = [
  {
    verb: 'help',
    name: 'help lists every verb and the roles of who asks',
    say: () => 'help',
    shows: () => ['/autonomy commands', 'kill <agent|all> [reason]', 'Your roles:'],
  },
  {
    verb: 'help',
    name: 'help <verb> explains one verb',
    say: () => 'help mute',
    shows: () => ['/autonomy mute <agent|signature|service> <name> <duration> [reason]', 'example:'],
  },
  {
    verb: 'status',
    name: 'status shows the phase and the agents',
    say: () => 'status',
    shows: () => ['autonomy status: phase 3', 'Pending approvals', 'Open incidents'],
  },
  {
    verb: 'kill',
    name: 'kill stops an agent and announces it in the channel',
    say: () => 'kill guardian contract drill',
    shows: () => ['guardian killed (contract drill)', 'Resume with `/autonomy resume guardian`'],
    async after(d) {
      const audited = d.world.bot.audit.records({ kind: 'control.kill' }).at(-1);
      if (audited?.actor !== d.people.lead) throw new Error(`the kill was audited as ${audited?.actor}`);
      await deliveredWith(d, /\/autonomy resume guardian/);
      const status = await d.command(d.people.lead, 'status');
      if (!/KILLED/.test(status.text)) throw new Error(`status does not show the kill:\n${status.text}`);
    },
  },
  {
    verb: 'resume',
    name: 'resume lifts the kill switch',
    say: () => 'resume guardian drill over',
    shows: () => ['guardian resumed'],
    after(d) {
      if (d.world.bot.control.snapshot().killedAgents.has('guardian')) throw new Error('still killed');
    },
  },
  {
    verb: 'budget',
    name: 'budget shows the token budgets',
    say: () => 'budget',
    shows: () => ['Token budgets today', /mentor: \d+ used of \d+/, /sentinel: \d+ used of \d+/],
  },
  {
    verb: 'budget',
    name: "budget <agent> <tokens> sets an agent's daily tokens",
    say: () => 'budget mentor 50000',
    shows: () => ["mentor's daily token budget set to 50000 tokens"],
    async after(d) {
      const shown = await d.command(d.people.lead, 'budget mentor');
      if (!/mentor: \d+ used of 50000/.test(shown.text))
        throw new Error(`budget does not show it:\n${shown.text}`);
    },
  },
  {
    verb: 'approvals',
    name: 'approvals lists the pending requests',
    say: (d, state) => {
      state.set('listed', d.world.askApproval('listed'));
      return 'approvals';
    },
    shows: (_d, state) => [`${get(state, 'listed')}  sentinel/mark-deploy`, 'pending approval(s)'],
  },
  {
    verb: 'approve',
    name: 'approve (typed) runs the request once',
    say: (_d, state) => `approve ${get(state, 'listed')}`,
    shows: (_d, state) => [`${get(state, 'listed')} approved`],
    async after(d, state) {
      await eventually(() => d.world.ran().includes('listed'), 15_000);
      await d.world.bot.core.approvals.settled();
      const runId = d.world.bot.core.approvals.get(get(state, 'listed'))?.runId;
      if (!runId) throw new Error('the approved request has no run');
      state.set('run', runId);
    },
  },
  {
    verb: 'deny',
    name: 'deny (typed) with a reason; nothing runs',
    say: (d, state) => {
      state.set('typed-deny', d.world.askApproval('typed-deny'));
      return `deny ${get(state, 'typed-deny')} not during the sale`;
    },
    shows: (_d, state) => [`${get(state, 'typed-deny')} denied; nothing runs`, 'not during the sale'],
    after(d) {
      if (d.world.ran().includes('typed-deny')) throw new Error('a denied request ran');
    },
  },
  {
    verb: 'audit',
    name: "audit shows a run's trail",
    say: (_d, state) => `audit ${get(state, 'run')}`,
    shows: (_d, state) => [`Audit trail of ${get(state, 'run')}`, /mark-deploy/],
  },
  {
    verb: 'incidents',
    name: 'incidents lists the open ones',
    say: (d, state) => {
      state.set('incident', d.world.openIncident('Contract disk full on web'));
      return 'incidents';
    },
    shows: (_d, state) => [`${get(state, 'incident')}  [critical] Contract disk full on web`],
  },
  {
    verb: 'incidents',
    name: "incidents service <glob> lists one service's",
    say: () => 'incidents service we*',
    shows: (_d, state) => [
      '1 open incident(s) of service we*',
      `${get(state, 'incident')}  [critical] Contract disk full on web`,
    ],
  },
  {
    verb: 'ack',
    name: 'ack acknowledges an incident',
    say: (_d, state) => `ack ${get(state, 'incident')}`,
    shows: (d, state) => [`${get(state, 'incident')} acknowledged by ${d.people.lead}`],
  },
  {
    verb: 'resolve',
    name: 'resolve closes an incident with a note',
    say: (_d, state) => `resolve ${get(state, 'incident')} rolled back`,
    shows: (d, state) => [`${get(state, 'incident')} resolved by ${d.people.lead} (rolled back)`],
  },
  {
    verb: 'mute',
    name: 'mute holds back posts about a service and announces it',
    say: () => 'mute service web 2h deploy window',
    shows: () => ['service web muted until', 'posts about it are held back'],
    async after(d) {
      await deliveredWith(d, /muted service web until/);
    },
  },
  {
    verb: 'unmute',
    name: 'unmute lifts it',
    say: () => 'unmute service web',
    shows: () => ['service web unmuted: its posts go out again'],
    async after(d) {
      await deliveredWith(d, /unmuted service web/);
    },
  },
  {
    verb: 'phase',
    name: 'phase shows the rollout phase',
    say: () => 'phase',
    shows: () => ['Rollout phase', 'global: 3 auto low-risk'],
  },
  {
    verb: 'phase',
    name: 'phase <n> <agent> <reason> moves one agent',
    say: () => 'phase 2 builder contract review',
    shows: () => ['was 3 (auto low-risk), now 2 (suggest-only)'],
    async after(d) {
      const shown = await d.command(d.people.lead, 'phase');
      if (!/builder: 2 suggest-only/.test(shown.text))
        throw new Error(`phase does not show it:\n${shown.text}`);
    },
  },
  {
    verb: 'digest',
    name: 'digest posts the weekly digest to the channel',
    say: () => 'digest',
    shows: (d) => [`Digest posted to ${d.channel}`],
    async after(d) {
      await deliveredWith(d, new RegExp(`requested by ${d.people.lead}`));
    },
  },
  {
    verb: 'subscribe',
    name: 'subscribe sends the weekly digest here',
    say: () => 'subscribe',
    shows: (d) => [`${d.channel} now gets the weekly digest`],
  },
  {
    verb: 'unsubscribe',
    name: 'unsubscribe stops it',
    say: () => 'unsubscribe',
    shows: (d) => [`${d.channel} no longer gets the weekly digest`],
  },
  {
    verb: 'subscribe',
    name: "subscribe service <name> sends a service's incidents here too",
    say: () => 'subscribe service checkout-*',
    shows: (d) => [`${d.channel} now gets service checkout-*'s incidents`],
  },
  {
    verb: 'subscriptions',
    name: "subscriptions lists this channel's",
    say: () => 'subscriptions',
    shows: (d) => [`${d.channel} subscribes to 1`, 'service checkout-*'],
  },
  {
    verb: 'unsubscribe',
    name: 'unsubscribe service <name> stops it',
    say: () => 'unsubscribe service checkout-*',
    shows: (d) => [`${d.channel} no longer gets service checkout-*'s incidents by subscription`],
    async after(d) {
      const listed = await d.command(d.people.lead, 'subscriptions');
      if (!listed.text.includes('has no subscriptions')) throw new Error(`still listed:\n${listed.text}`);
    },
  },
  {
    verb: 'skills',
    name: 'skills lists learned skills',
    say: () => 'skills',
    shows: () => ['No skills yet'],
  },
];
