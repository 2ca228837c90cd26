import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadOrCreateButtonKey } from '../../../src/chat/button-key.js';
import type { ChatMessage } from '../../../src/chat/message.js';
import type { Proposal } from '../../../src/policy/types.js';
import { defaultActions, makePolicy } from '../../fixtures/policy.js';
import {
  APPROVER,
  decideNow,
  type Kit,
  makeKit,
  type Node,
  OPERATOR,
  RESTART_WEB,
  T0,
} from '../../helpers/approvals-kit.js';

const MIN = 60_000;
const ALERT_LINK = 'https://grafana.example.com/d/web?from=now-1h';

let kit: Kit;
let node: Node;

beforeEach(() => {
  kit = makeKit(makePolicy({ phase: 3 }));
  node = kit.connect();
});

afterEach(() => kit.cleanup());

function ask(n: Node = node, proposal: Proposal = RESTART_WEB, incidentId?: string) {
  const decision = decideNow(kit.policy, proposal, kit.clock);
  expect(decision.verdict).toBe('ask');
  return n.approvals.request(proposal, decision, {
    trigger: 'webhook',
    evidence: [ALERT_LINK, 'signal_42'],
    ...(incidentId ? { incidentId } : {}),
  });
}

function field(m: ChatMessage, label: string): string | undefined {
  return m.fields.find((f) => f.label === label)?.value;
}

function auditKinds(n: Node = node): string[] {
  return n.audit.records().map((r) => r.kind);
}

describe('a request', () => {
  it('posts exactly what will run, the target, tier and why, approvers, expiry and evidence', () => {
    const { shortId, created, approval } = ask();
    expect(shortId).toBe('a1');
    expect(created).toBe(true);
    expect(approval).toMatchObject({ state: 'pending', display: 'systemctl restart web', target: 'web' });
    const [post] = node.sink.posts();
    expect(post?.channel).toBe('slack:C0APPROVALS');
    const m = post?.message as ChatMessage;
    expect(m.kind).toBe('approval');
    expect(m.title).toBe('Approval a1: restart-service on web');
    expect(m.body).toContain('systemctl restart web');
    expect(m.body).toContain('Rationale, as written by the agent (unverified):');
    expect(m.body).toContain('web returns 502 since 08:55');
    expect(field(m, 'Runs')).toBe('systemctl restart web');
    expect(field(m, 'Target system')).toBe('web');
    expect(field(m, 'Tier')).toBe(
      '3: tier 2 in the catalog, lifted to 3: class service-affecting requires approval for sentinel',
    );
    expect(field(m, 'Who may approve')).toBe('slack:user:U0APPROVER, discord:role:123456789');
    expect(field(m, 'Expires')).toBe('2025-01-06 09:30:00Z (30 min after the request)');
    expect(field(m, 'Evidence')).toBe('signal_42');
    expect(m.links).toEqual([{ label: 'Evidence 1', url: ALERT_LINK }]);
    expect(m.buttons.map((b) => [b.action, b.label, b.target])).toEqual([
      ['approve', 'Approve', 'a1'],
      ['deny', 'Deny', 'a1'],
    ]);
    expect(m.buttons[0]?.nonce).toBe(node.key.nonce('approval', approval.id));
    expect(m.mentions).toEqual([]);
    expect(auditKinds()).toEqual(['approval.requested']);
  });

  it('shows an http action as METHOD URL, and the same pending request is not asked twice', () => {
    kit.policy = makePolicy({
      phase: 3,
      extraActions: [
        {
          id: 'flush-cdn',
          agent: 'sentinel',
          description: 'Purge the CDN cache of a service',
          tier: 3,
          class: 'service-affecting',
          target: '{service}',
          params: { service: { pattern: '[a-z]+', maxLength: 20 } },
          executor: { http: { method: 'POST', url: 'https://cdn.example.com/purge/{service}' } },
        },
      ],
    });
    const flush = { agent: 'sentinel', actionId: 'flush-cdn', params: { service: 'api' } } as const;
    expect(ask(node, flush).approval.display).toBe('POST https://cdn.example.com/purge/api');
    const again = ask(node, flush);
    expect(again).toMatchObject({ shortId: 'a1', created: false });
    expect(ask(node, { ...flush, params: { service: 'web' } }).shortId).toBe('a2');
    expect(node.sink.posts()).toHaveLength(2);
  });

  it('writes nothing when the request cannot be stored (one transaction)', () => {
    const decision = decideNow(kit.policy, RESTART_WEB, kit.clock);
    expect(() =>
      node.approvals.request(RESTART_WEB, decision, { trigger: 'webhook', incidentId: 'no-such-incident' }),
    ).toThrow(/FOREIGN KEY/);
    expect(node.approvals.list({ state: 'all' })).toEqual([]);
    expect(node.sink.all()).toEqual([]);
    expect(auditKinds()).toEqual([]);
  });
});

describe('approving', () => {
  it('runs the action once, then updates the request in place with who, when and the outcome', async () => {
    const { approval } = ask();
    kit.clock = T0 + 5 * MIN;
    const reply = await node.approvals.decide('a1', { actor: APPROVER, verdict: 'approve', wait: true });
    expect(reply.title).toBe('a1 approved and succeeded');
    expect(reply.audience).toBe(APPROVER);
    expect(node.executor.calls).toHaveLength(1);
    expect(node.executor.calls[0]?.decision).toMatchObject({ verdict: 'execute', code: 'approved' });
    expect(node.executor.calls[0]?.trigger).toEqual({ source: 'approval', ref: approval.id });
    expect(node.approvals.get('a1')).toMatchObject({
      state: 'succeeded',
      decidedBy: APPROVER,
      decidedAt: T0 + 5 * MIN,
      runId: `run_1_${approval.id}`,
      reason: 'exit 0',
    });
    const [post] = node.sink.posts();
    const updated = node.sink.latestUpdate(post?.id ?? -1)?.message as ChatMessage;
    expect(updated.buttons).toEqual([]);
    expect(updated.title).toBe('Approval a1: restart-service on web: approved, ran and succeeded');
    expect(updated.body).toContain(`Decision: approved by ${APPROVER} at 2025-01-06 09:05:00Z`);
    expect(updated.body).toContain(`Outcome: succeeded (run run_1_${approval.id}): exit 0`);
    expect(auditKinds()).toEqual(['approval.requested', 'approval.approved', 'approval.succeeded']);
  });

  it('answers a second click with who approved it and when, and runs nothing again', async () => {
    ask();
    kit.clock = T0 + 5 * MIN;
    await node.approvals.decide('a1', { actor: APPROVER, verdict: 'approve', wait: true });
    kit.clock = T0 + 6 * MIN;
    const again = await node.approvals.decide('a1', { actor: APPROVER, verdict: 'approve', wait: true });
    expect(again.title).toBe(
      `a1 was already approved by ${APPROVER} at 2025-01-06 09:05:00Z; it succeeded. Nothing runs again.`,
    );
    const deny = await node.approvals.decide('a1', {
      actor: 'discord:user:55555',
      actorGroups: ['discord:role:123456789'],
      verdict: 'deny',
    });
    expect(deny.title).toMatch(/^a1 was already approved by slack:user:U0APPROVER at /);
    expect(node.executor.calls).toHaveLength(1);
    expect(auditKinds().filter((k) => k === 'approval.stale')).toHaveLength(2);
  });

  it('runs once when two approvers on two connections click at the same moment', async () => {
    ask();
    const other = kit.connect();
    let inner: Promise<ChatMessage> | null = null;
    // A reads the pending approval, then (before A writes) B's whole click runs on its own connection.
    const first = kit.connect({
      isApprover: () => {
        inner ??= other.approvals.decide('a1', {
          actor: 'discord:user:77777',
          actorGroups: ['discord:role:123456789'],
          verdict: 'approve',
          wait: true,
        });
        return true;
      },
    });
    const a = await first.approvals.decide('a1', { actor: APPROVER, verdict: 'approve', wait: true });
    const b = await (inner as unknown as Promise<ChatMessage>);
    expect(b.title).toBe('a1 approved and succeeded');
    expect(a.title).toMatch(/^a1 was already approved by discord:user:77777 at 2025-01-06 09:00:00Z/);
    expect(first.executor.calls.length + other.executor.calls.length).toBe(1);
    expect(node.approvals.get('a1')?.decidedBy).toBe('discord:user:77777');
  });

  it('runs once under a burst of clicks from two processes', async () => {
    ask();
    const other = kit.connect();
    const clicks = Array.from({ length: 10 }, (_, i) =>
      (i % 2 ? other : node).approvals.decide('a1', { actor: APPROVER, verdict: 'approve', wait: true }),
    );
    const replies = await Promise.all(clicks);
    expect(replies.filter((r) => r.title.startsWith('a1 approved and'))).toHaveLength(1);
    expect(replies.filter((r) => r.title.startsWith('a1 was already approved by'))).toHaveLength(9);
    await other.approvals.settled();
    expect(node.executor.calls.length + other.executor.calls.length).toBe(1);
  });

  it('refuses someone who is not an approver, names the role, audits it, runs nothing', async () => {
    ask();
    const reply = await node.approvals.decide('a1', { actor: OPERATOR, verdict: 'approve' });
    expect(reply.title).toBe('Refused: the approver role is needed');
    expect(reply.body).toContain('does not have the approver role (policy control.roles.approvers)');
    const refused = node.audit.records({ kind: 'approval.refused' });
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({ actor: OPERATOR, data: { refused: 'not-approver', approval: 'a1' } });
    expect(node.approvals.get('a1')?.state).toBe('pending');
    expect(node.executor.calls).toHaveLength(0);
  });

  it('accepts a click only with the nonce of that approval', async () => {
    ask();
    const { approval: second } = ask(node, { ...RESTART_WEB, params: { service: 'api' } });
    const click = {
      platform: 'slack',
      actor: APPROVER,
      channel: 'slack:C0APPROVALS',
      action: 'approve',
      target: 'a1',
    } as const;
    const forged = await node.approvals.click({ ...click, nonce: node.key.nonce('approval', second.id) });
    expect(forged.title).toBe('Refused: stale or forged button');
    const missing = await node.approvals.decide('a1', { actor: APPROVER, verdict: 'approve', via: 'button' });
    expect(missing.title).toBe('Refused: stale or forged button');
    expect(
      node.audit.records({ kind: 'approval.refused' }).map((r) => (r.data as { refused: string }).refused),
    ).toEqual(['bad-nonce', 'bad-nonce']);
    expect(node.approvals.get('a1')?.state).toBe('pending');
    const nonce = node.sink.posts()[0]?.message.buttons[0]?.nonce ?? '';
    const ok = await node.approvals.click({ ...click, nonce });
    expect(ok.title).toBe('a1 approved: running restart-service on web');
    await node.approvals.settled();
    expect(node.executor.calls).toHaveLength(1);
  });

  it('voids the approval when the agent was killed between the request and the click', async () => {
    ask();
    node.control.kill('sentinel', OPERATOR, 'flapping');
    const reply = await node.approvals.decide('a1', { actor: APPROVER, verdict: 'approve', wait: true });
    expect(reply.title).toBe('a1 is void; nothing ran');
    expect(reply.body).toContain('sentinel is killed (kill switch)');
    expect(node.approvals.get('a1')?.state).toBe('void');
    expect(node.executor.calls).toHaveLength(0);
    const decision = node.sink.posts().find((p) => p.message.kind === 'decision');
    expect(decision?.message.title).toBe('a1 restart-service on web: void');
  });

  it('voids the approval when the action changed in the policy before the click', async () => {
    ask();
    kit.policy = makePolicy({
      phase: 3,
      edit: (doc) => {
        const a = doc.actions?.find((x) => x.id === 'restart-service');
        if (a && 'command' in a.executor) a.executor.command = ['systemctl', 'try-restart', '{service}'];
      },
    });
    const reply = await node.approvals.decide('a1', { actor: APPROVER, verdict: 'approve', wait: true });
    expect(reply.title).toBe('a1 is void; nothing ran');
    expect(reply.body).toContain('another version of the action');
    expect(node.executor.calls).toHaveLength(0);
  });
});

describe('denying, expiry and stale buttons', () => {
  it('records and shows a deny reason; later clicks are told who denied it', async () => {
    ask();
    kit.clock = T0 + 2 * MIN;
    const reply = await node.approvals.decide('a1', {
      actor: APPROVER,
      verdict: 'deny',
      reason: 'deploy in progress',
    });
    expect(reply.title).toBe('a1 denied; nothing runs');
    expect(reply.body).toBe('Reason recorded: deploy in progress');
    const [post] = node.sink.posts();
    const updated = node.sink.latestUpdate(post?.id ?? -1)?.message as ChatMessage;
    expect(updated.body).toContain(
      `Decision: denied by ${APPROVER} at 2025-01-06 09:02:00Z: deploy in progress`,
    );
    expect(updated.buttons).toEqual([]);
    const late = await node.approvals.decide('a1', { actor: APPROVER, verdict: 'approve' });
    expect(late.title).toBe(
      `a1 was already denied by ${APPROVER} at 2025-01-06 09:02:00Z (deploy in progress); nothing ran`,
    );
    expect(node.executor.calls).toHaveLength(0);
  });

  it('expires after the policy timeout, posts it, and a late click is told so', async () => {
    ask();
    kit.clock = T0 + 29 * MIN;
    expect(node.approvals.expireDue()).toBe(0);
    kit.clock = T0 + 30 * MIN;
    expect(node.approvals.expireDue()).toBe(1);
    expect(node.approvals.get('a1')).toMatchObject({ state: 'expired', decidedAt: T0 + 30 * MIN });
    const [post] = node.sink.posts();
    expect(node.sink.latestUpdate(post?.id ?? -1)?.message.title).toBe(
      'Approval a1: restart-service on web: expired unanswered (counts as a denial)',
    );
    const decision = node.sink.posts().find((p) => p.message.kind === 'decision');
    expect(decision?.message.body).toContain(
      'a1 expired at 2025-01-06 09:30:00Z with no decision (counts as a denial)',
    );
    const late = await node.approvals.decide('a1', { actor: APPROVER, verdict: 'approve' });
    expect(late.title).toMatch(/^a1 expired at 2025-01-06 09:30:00Z with no decision/);
    expect(auditKinds()).toContain('approval.expired');
  });

  it('asks anew when the same request comes after the last one ran out', () => {
    ask();
    kit.clock = T0 + 30 * MIN;
    expect(ask()).toMatchObject({ shortId: 'a2', created: true });
    expect(node.approvals.get('a1')?.state).toBe('expired');
  });

  it('expires at the click when the timer has not run yet', async () => {
    ask();
    kit.clock = T0 + 31 * MIN;
    const late = await node.approvals.decide('a1', { actor: APPROVER, verdict: 'approve' });
    expect(late.title).toMatch(/^a1 expired at/);
    expect(node.executor.calls).toHaveLength(0);
  });

  it("kill voids the agent's pending approvals and their buttons say so", async () => {
    ask();
    ask(node, { agent: 'guardian', actionId: 'rotate-credentials', params: { service: 'api' } });
    expect(node.approvals.voidForAgent('sentinel', 'flapping', OPERATOR)).toBe(1);
    expect(node.approvals.list().map((a) => a.shortId)).toEqual(['a2']);
    const [post] = node.sink.posts();
    const updated = node.sink.latestUpdate(post?.id ?? -1)?.message as ChatMessage;
    expect(updated.buttons).toEqual([]);
    expect(updated.body).toContain(
      'Decision: void since 2025-01-06 09:00:00Z: sentinel was killed (flapping)',
    );
    const late = await node.approvals.decide('a1', { actor: APPROVER, verdict: 'approve' });
    expect(late.title).toBe(
      'a1 is void since 2025-01-06 09:00:00Z: sentinel was killed (flapping); nothing ran',
    );
  });

  it('a policy reload voids approvals of a changed action only', async () => {
    ask();
    ask(node, { agent: 'guardian', actionId: 'rotate-credentials', params: { service: 'api' } });
    kit.policy = makePolicy({
      phase: 3,
      actions: defaultActions().map((a) =>
        a.id === 'rotate-credentials' ? { ...a, description: 'Rotate a service credential (vault)' } : a,
      ),
      edit: (doc) => {
        doc.purpose.outcomes.push('a comment-like edit elsewhere voids nothing');
      },
    });
    expect(node.approvals.voidChanged(kit.policy)).toBe(1);
    expect(node.approvals.get('a2')).toMatchObject({
      state: 'void',
      reason: 'the policy changed rotate-credentials (its entry or effective tier) since the request',
    });
    const ok = await node.approvals.decide('a1', { actor: APPROVER, verdict: 'approve', wait: true });
    expect(ok.title).toBe('a1 approved and succeeded');
  });

  it('a policy reload voids approvals of an action that vanished', () => {
    ask();
    kit.policy = makePolicy({
      phase: 3,
      actions: defaultActions().filter((a) => a.id !== 'restart-service'),
    });
    expect(node.approvals.voidChanged(kit.policy)).toBe(1);
    expect(node.approvals.get('a1')?.reason).toBe('the policy no longer has the action restart-service');
  });

  it('answers unknown and malformed ids plainly', async () => {
    expect((await node.approvals.decide('a9', { actor: APPROVER, verdict: 'approve' })).title).toBe(
      'There is no approval a9',
    );
    expect((await node.approvals.decide('i9', { actor: APPROVER, verdict: 'approve' })).title).toBe(
      '"i9" is not an approval id like a12',
    );
  });
});

describe('outcomes', () => {
  it('posts a failed run as a decision and shows it on the request', async () => {
    ask();
    node.executor.result = { status: 'failed', outcome: 'exit 1: unit web.service not found' };
    const reply = await node.approvals.decide('a1', { actor: APPROVER, verdict: 'approve', wait: true });
    expect(reply.title).toBe('a1 approved and failed');
    expect(reply.body).toContain('Outcome: exit 1: unit web.service not found');
    const report = node.sink.posts().find((p) => p.message.kind === 'decision');
    expect(report?.message).toMatchObject({
      severity: 'critical',
      title: 'a1 restart-service on web: approved, ran and failed',
    });
    expect(auditKinds()).toContain('approval.failed');
  });

  it('records a runner that throws as a failure, never as a success', async () => {
    ask();
    node.executor.execute = () => Promise.reject(new Error('spawn EACCES'));
    const reply = await node.approvals.decide('a1', { actor: APPROVER, verdict: 'approve', wait: true });
    expect(reply.title).toBe('a1 approved and failed');
    expect(node.approvals.get('a1')).toMatchObject({
      state: 'failed',
      reason: 'the action runner failed: spawn EACCES',
      runId: null,
    });
  });
});

describe('the button key', () => {
  it('is made once (mode 600), read back the same, and a damaged file says what to do', () => {
    const file = join(kit.dir, 'button-key');
    const first = loadOrCreateButtonKey(file);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const again = loadOrCreateButtonKey(file);
    expect(again.nonce('approval', 'x')).toBe(first.nonce('approval', 'x'));
    expect(again.verify('approval', 'x', first.nonce('approval', 'x'))).toBe(true);
    expect(again.verify('approval', 'y', first.nonce('approval', 'x'))).toBe(false);
    expect(again.verify('incident', 'x', first.nonce('approval', 'x'))).toBe(false);
    writeFileSync(file, 'not hex');
    expect(() => loadOrCreateButtonKey(file)).toThrow(/is damaged .* Delete it to make a new one/);
  });
});

describe('restarts', () => {
  it('keeps pending approvals working and expiring after a restart', async () => {
    ask();
    node.database.close();
    const after = kit.connect();
    expect(after.approvals.list().map((a) => a.shortId)).toEqual(['a1']);
    kit.clock = T0 + 10 * MIN;
    const reply = await after.approvals.decide('a1', { actor: APPROVER, verdict: 'approve', wait: true });
    expect(reply.title).toBe('a1 approved and succeeded');
  });

  it('marks an approval that was executing when the process died as interrupted, and never re-runs it', async () => {
    ask();
    let release: () => void = () => {};
    node.executor.gate = new Promise<void>((r) => {
      release = r;
    });
    await node.approvals.decide('a1', { actor: APPROVER, verdict: 'approve' });
    await new Promise((r) => setTimeout(r, 10));
    expect(node.approvals.get('a1')?.state).toBe('executing');
    // The process dies here: its connection goes away with the run still open.
    node.database.close();
    const after = kit.connect();
    kit.clock = T0 + MIN;
    expect(after.approvals.recoverAfterRestart()).toBe(1);
    expect(after.approvals.get('a1')).toMatchObject({
      state: 'interrupted',
      reason: 'the bot stopped while this was running; it was not re-run',
    });
    const report = after.sink.posts().find((p) => p.message.kind === 'decision');
    expect(report?.message.title).toBe('a1 restart-service on web: approved, interrupted (not re-run)');
    expect(after.approvals.recoverAfterRestart()).toBe(0);
    expect(after.executor.calls).toHaveLength(0);
    const late = await after.approvals.decide('a1', { actor: APPROVER, verdict: 'approve' });
    expect(late.title).toMatch(/already approved by .* it was interrupted and not re-run/);
    release();
  });
});

describe('phase 4', () => {
  it('offers "Approve + allow 4h" only in phase 4, and the click makes a standing grant', async () => {
    ask();
    expect(node.sink.posts()[0]?.message.buttons.map((b) => b.action)).toEqual(['approve', 'deny']);
    const refused = await node.approvals.decide('a1', { actor: APPROVER, verdict: 'grant' });
    expect(refused.title).toBe('a1 is still pending: standing grants exist only in phase 4');
    expect(node.approvals.get('a1')?.state).toBe('pending');

    node.control.setPhase(4, null, 'cli:user:admin', 'weekly review');
    ask(node, { ...RESTART_WEB, params: { service: 'api' } });
    const buttons = node.sink.posts()[1]?.message.buttons ?? [];
    expect(buttons.map((b) => [b.action, b.label, b.hours])).toEqual([
      ['approve', 'Approve', undefined],
      ['deny', 'Deny', undefined],
      ['grant', 'Approve + allow 4h', 4],
    ]);
    const reply = await node.approvals.decide('a2', {
      actor: APPROVER,
      verdict: 'grant',
      hours: 4,
      wait: true,
    });
    expect(reply.body).toMatch(/Standing grant grant_\S+ allows the same for 4h/);
    const [grant] = node.grants.list(kit.clock);
    expect(grant).toMatchObject({
      actionId: 'restart-service',
      grantedBy: APPROVER,
      expiresAt: T0 + 4 * 3_600_000,
    });
    expect(grant?.pattern).toEqual({ service: 'api' });
  });

  it('refuses a grant click whose hours differ from what its button offered', async () => {
    node.control.setPhase(4, null, 'cli:user:admin', 'weekly review');
    ask();
    const button = node.sink.posts()[0]?.message.buttons.find((b) => b.action === 'grant');
    expect(button?.hours).toBe(4);
    const forged = await node.approvals.click({
      platform: 'discord',
      actor: APPROVER,
      channel: 'discord:500',
      action: 'grant',
      target: 'a1',
      nonce: button?.nonce ?? '',
      hours: 168,
      deliveryId: 'd1',
    });
    expect(forged.title).toBe('Refused: forged grant hours');
    expect(forged.body).toContain('offers 4h, not 168h');
    expect(node.approvals.get('a1')?.state).toBe('pending');
    expect(node.grants.list(kit.clock)).toEqual([]);
    expect(auditKinds()).toContain('approval.refused');
  });
});
