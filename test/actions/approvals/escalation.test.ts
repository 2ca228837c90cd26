import { eq } from 'drizzle-orm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Escalation, type EscalationOptions } from '../../../src/actions/approvals/escalation.js';
import { screenText } from '../../../src/agents/runtime/screen.js';
import { postRedactor } from '../../../src/agents/runtime/secrets.js';
import { ButtonKey } from '../../../src/chat/button-key.js';
import { snooze } from '../../../src/chat/incident-snooze.js';
import type { ChatMessage } from '../../../src/chat/message.js';
import { incidents } from '../../../src/db/schema.js';
import type { Severity } from '../../../src/policy/vocabulary.js';
import { makePolicy } from '../../fixtures/policy.js';
import {
  APPROVER,
  decideNow,
  type Kit,
  makeKit,
  type Node,
  RESTART_WEB,
  SECRET,
  T0,
} from '../../helpers/approvals-kit.js';

const MIN = 60_000;
const LEAD = 'slack:user:U0LEAD';
const BOSS = 'slack:user:U0BOSS';

let kit: Kit;
let node: Node;

function policy() {
  return makePolicy({
    phase: 3,
    edit: (doc) => {
      doc.control.approvalTimeout = '60m';
      doc.control.escalation = [
        { after: '10m', mention: [LEAD] },
        { after: '25m', mention: [BOSS], channels: ['slack:C0MGMT'] },
      ];
    },
  });
}

function escalation(n: Node = node, extra: Partial<EscalationOptions> = {}): Escalation {
  return new Escalation({
    database: n.database,
    audit: n.audit,
    now: () => kit.clock,
    messages: n.sink,
    policy: () => kit.policy,
    approvalMessage: (id) => n.approvals.pendingMessage(id),
    ackNonce: (id) => new ButtonKey(SECRET).nonce('incident', id),
    ...extra,
  });
}

function openIncident(n: Node, number: number, severity: Severity = 'critical'): string {
  const id = `inc_${number}`;
  n.database.db
    .insert(incidents)
    .values({
      id,
      number,
      fingerprint: `fp-${number}`,
      title: 'web 5xx rate above 20%',
      severity,
      service: 'web',
      startedAt: T0 - MIN,
      detectedAt: T0,
    })
    .run();
  return id;
}

function at(minutes: number): number {
  kit.clock = T0 + minutes * MIN;
  return kit.clock;
}

function escalationPosts(): ChatMessage[] {
  return node.sink
    .posts()
    .filter((p) => p.dedupeKey.startsWith('escalation:'))
    .map((p) => p.message);
}

beforeEach(() => {
  kit = makeKit(policy());
  node = kit.connect();
});

afterEach(() => kit.cleanup());

describe('escalating a pending approval', () => {
  it("re-posts once per level, at each level's delay, mentioning that level's people", () => {
    node.approvals.request(RESTART_WEB, decideNow(kit.policy, RESTART_WEB, T0), { trigger: 'webhook' });
    const esc = escalation();
    expect(node.approvals.get('a1')?.escalationLevel).toBe(0);
    at(9);
    expect(esc.tick().approvals).toBe(0);
    at(10);
    expect(esc.tick().approvals).toBe(1);
    expect(esc.tick().approvals).toBe(0);
    at(24);
    expect(esc.tick().approvals).toBe(0);
    at(25);
    expect(esc.tick().approvals).toBe(1);
    at(40);
    expect(esc.tick().approvals).toBe(0);

    const posts = node.sink.posts().filter((p) => p.dedupeKey.startsWith('escalation:'));
    expect(posts.map((p) => [p.channel, p.message.mentions])).toEqual([
      ['slack:C0APPROVALS', [LEAD]],
      ['slack:C0APPROVALS', [BOSS]],
    ]);
    expect(posts[0]?.message.title).toBe(
      'Escalation 1: still pending after 10m: Approval a1: restart-service on web',
    );
    expect(posts[0]?.message.buttons.map((b) => b.action)).toEqual(['approve', 'deny']);
    const steps = node.audit.records({ kind: 'escalation.level' });
    expect(steps.map((s) => [s.at, (s.data as { level: number }).level])).toEqual([
      [T0 + 10 * MIN, 1],
      [T0 + 25 * MIN, 2],
    ]);
  });

  it('stops when the approval is decided, and the re-posts are updated with the rest', async () => {
    node.approvals.request(RESTART_WEB, decideNow(kit.policy, RESTART_WEB, T0), { trigger: 'webhook' });
    const esc = escalation();
    at(10);
    esc.tick();
    at(12);
    await node.approvals.decide('a1', { actor: APPROVER, verdict: 'deny', reason: 'not now' });
    at(30);
    expect(esc.tick().approvals).toBe(0);
    const repost = node.sink.posts().find((p) => p.dedupeKey.startsWith('escalation:'));
    const updated = node.sink.latestUpdate(repost?.id ?? -1)?.message;
    expect(updated?.buttons).toEqual([]);
    expect(updated?.body).toContain('Decision: denied by slack:user:U0APPROVER');
  });

  it('fires each level once across a restart', () => {
    node.approvals.request(RESTART_WEB, decideNow(kit.policy, RESTART_WEB, T0), { trigger: 'webhook' });
    at(11);
    expect(escalation().tick().approvals).toBe(1);
    node.database.close();
    node = kit.connect();
    expect(escalation().tick().approvals).toBe(0);
    at(26);
    expect(escalation().tick().approvals).toBe(1);
    expect(node.audit.records({ kind: 'escalation.level' })).toHaveLength(2);
  });
});

describe('escalating a critical incident', () => {
  it("re-posts to its routed channels plus the level's, once per level, until acknowledged", () => {
    const id = openIncident(node, 7);
    const esc = escalation();
    at(9);
    expect(esc.tick().incidents).toBe(0);
    at(10);
    expect(esc.tick().incidents).toBe(1);
    expect(esc.tick().incidents).toBe(0);
    const [first] = escalationPosts();
    expect(first).toMatchObject({
      kind: 'alert',
      severity: 'critical',
      title: 'Escalation 1: critical incident i7 not acknowledged: web 5xx rate above 20%',
      mentions: [LEAD],
      refs: { incident: 'i7' },
    });
    expect(first?.buttons.map((b) => [b.action, b.target])).toEqual([['ack', 'i7']]);
    expect(first?.buttons[0]?.nonce).toBe(new ButtonKey(SECRET).nonce('incident', id));
    at(25);
    expect(esc.tick().incidents).toBe(1);
    const channels = node.sink
      .posts()
      .filter((p) => p.dedupeKey.startsWith(`escalation:incident:${id}:2:`))
      .map((p) => p.channel);
    expect(channels).toEqual(['slack:C0ALERTS', 'slack:C0MGMT']);
    expect(node.audit.records({ kind: 'escalation.level' }).map((r) => r.outcome)).toEqual([
      `i7 not acknowledged after 10m: level 1 mentions ${LEAD} in slack:C0ALERTS`,
      `i7 not acknowledged after 25m: level 2 mentions ${BOSS} in slack:C0ALERTS, slack:C0MGMT`,
    ]);
  });

  it("posts at the channel's top level when the level says mentionIn: channel, in the card's thread by default", () => {
    kit.policy = makePolicy({
      phase: 3,
      edit: (doc) => {
        doc.control.escalation = [
          { after: '10m', mention: [LEAD], channels: [], mentionIn: 'thread' },
          { after: '25m', mention: [BOSS], channels: [], mentionIn: 'channel' },
        ];
      },
    });
    openIncident(node, 9);
    const esc = escalation();
    at(10);
    esc.tick();
    at(25);
    esc.tick();
    const [inThread, atTop] = escalationPosts();
    expect(inThread).toMatchObject({ mentions: [LEAD], refs: { incident: 'i9' } });
    expect(atTop?.mentions).toEqual([BOSS]);
    expect(atTop?.refs).toEqual({});
    // Still says which incident, and can acknowledge it from there.
    expect(atTop?.title).toContain('i9');
    expect(atTop?.buttons.map((b) => [b.action, b.target])).toEqual([['ack', 'i9']]);
  });

  it("re-posts the sender's title and service screened: no secret, no live mention", () => {
    const pat = `ghp_${'A1b2C3d4'.repeat(5)}`;
    const id = openIncident(node, 8);
    node.database.db
      .update(incidents)
      .set({ title: `disk full <!channel> token ${pat}`, service: 'web @here' })
      .where(eq(incidents.id, id))
      .run();
    const redact = postRedactor(kit.policy, {});
    const esc = escalation(node, { screen: (text, max) => screenText(text, max, redact) });
    at(10);
    expect(esc.tick().incidents).toBe(1);
    const [post] = escalationPosts();
    expect(post?.title).toBe(
      'Escalation 1: critical incident i8 not acknowledged: disk full <\u200b!channel> token [redacted github token]',
    );
    expect(post?.fields).toContainEqual({ label: 'Service', value: 'web @\u200bhere' });
    expect(JSON.stringify(post)).not.toContain(pat);
  });

  it('stops on acknowledgement', () => {
    const id = openIncident(node, 3);
    const esc = escalation();
    at(10);
    expect(esc.tick().incidents).toBe(1);
    node.database.db
      .update(incidents)
      .set({ status: 'acknowledged', acknowledgedAt: kit.clock, acknowledgedBy: 'slack:user:U0OPERATOR' })
      .where(eq(incidents.id, id))
      .run();
    at(30);
    expect(esc.tick().incidents).toBe(0);
    expect(escalationPosts()).toHaveLength(1);
  });

  it('holds a snoozed incident for the hour of its snooze, then escalates it', () => {
    const id = openIncident(node, 4);
    const esc = escalation();
    snooze(node.audit, { id, shortId: 'i4' }, 'slack:user:U0OPERATOR', 'slack', at(5));
    at(30);
    expect(esc.tick()).toEqual({ approvals: 0, incidents: 0, held: 1 });
    at(64);
    expect(esc.tick().incidents).toBe(0);
    at(66);
    expect(esc.tick().incidents).toBe(1);
  });

  it('leaves warnings alone and holds back what the injected predicate holds', () => {
    openIncident(node, 1, 'warning');
    const held = openIncident(node, 2);
    let holding = true;
    const esc = escalation(node, { isHeld: (inc) => holding && inc.id === held });
    at(30);
    expect(esc.tick()).toEqual({ approvals: 0, incidents: 0, held: 1 });
    holding = false;
    // Once released, the levels due fire one per tick, each once.
    expect(esc.tick().incidents).toBe(1);
    expect(esc.tick().incidents).toBe(1);
    expect(esc.tick().incidents).toBe(0);
    // Level 2 also goes to its own channel: two posts.
    expect(escalationPosts().map((m) => m.mentions)).toEqual([[LEAD], [BOSS], [BOSS]]);
  });

  it('does nothing without an escalation path', () => {
    kit.policy = makePolicy({ phase: 3 });
    openIncident(node, 1);
    at(120);
    expect(escalation().tick()).toEqual({ approvals: 0, incidents: 0, held: 0 });
  });
});
