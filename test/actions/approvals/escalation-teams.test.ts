/**
 * Escalations of a team's incident (wired as the core wires them: routing.ts escalationChannels and
 * teamMentions): they go to the team's channel, not the default one, plus the channels subscribed
 * to the team, and mention the team's people at every level besides the level's own.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Escalation } from '../../../src/actions/approvals/escalation.js';
import { escalationChannels, type IncidentSubscription, teamMentions } from '../../../src/chat/routing.js';
import { incidents } from '../../../src/db/schema.js';
import { makePolicy } from '../../fixtures/policy.js';
import { type Kit, makeKit, type Node, T0 } from '../../helpers/approvals-kit.js';

const MIN = 60_000;
const LEAD = 'slack:user:U0LEAD';
const SHOP = 'slack:user:U0SHOP';

let kit: Kit;
let node: Node;

beforeEach(() => {
  kit = makeKit(
    makePolicy({
      phase: 3,
      edit: (doc) => {
        doc.control.escalation = [{ after: '10m', mention: [LEAD] }];
        Object.assign(doc, {
          teams: [
            {
              name: 'checkout',
              services: ['checkout-*'],
              channels: { critical: ['slack:C0SHOP'] },
              mention: [SHOP],
            },
          ],
        });
      },
    }),
  );
  node = kit.connect();
});
afterEach(() => kit.cleanup());

function open(number: number, service: string): void {
  node.database.db
    .insert(incidents)
    .values({
      id: `inc_${number}`,
      number,
      fingerprint: `fp-${number}`,
      title: `${service} down`,
      severity: 'critical',
      service,
      startedAt: T0 - MIN,
      detectedAt: T0,
      nextEscalationAt: T0 + 10 * MIN,
    })
    .run();
}

describe("a team's incident escalates where the team is", () => {
  it("posts to the team's channel and its subscribers, mentioning the team's people too", () => {
    const subs: IncidentSubscription[] = [{ channel: 'console:watch', scope: 'team', name: 'checkout' }];
    const esc = new Escalation({
      database: node.database,
      audit: node.audit,
      now: () => kit.clock,
      messages: node.sink,
      policy: () => kit.policy,
      approvalMessage: () => null,
      incidentChannels: (incident, policy) => escalationChannels(policy, incident, subs),
      incidentMentions: (incident, policy) => teamMentions(policy, incident.service),
    });
    open(1, 'checkout-api');
    open(2, 'billing');
    kit.clock = T0 + 10 * MIN;
    expect(esc.tick().incidents).toBe(2);
    const posts = node.sink.posts().filter((p) => p.dedupeKey.startsWith('escalation:incident:'));
    const of = (id: string) => posts.filter((p) => p.dedupeKey.includes(`:${id}:`));
    expect(of('inc_1').map((p) => p.channel)).toEqual(['slack:C0SHOP', 'console:watch']);
    expect(of('inc_1')[0]?.message.mentions).toEqual([LEAD, SHOP]);
    // A service no team owns: the default critical channels and the level's people, as before.
    expect(of('inc_2').map((p) => p.channel)).toEqual(['slack:C0ALERTS']);
    expect(of('inc_2')[0]?.message.mentions).toEqual([LEAD]);
  });
});
