import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GrantRefusal } from '../../src/actions/grants.js';
import { decide } from '../../src/policy/decide.js';
import type { CompiledAction, Policy, Proposal } from '../../src/policy/types.js';
import { defaultActions, makePolicy, makeState } from '../fixtures/policy.js';
import { APPROVER, type Kit, makeKit, type Node, T0 } from '../helpers/approvals-kit.js';

const HOUR = 3_600_000;

let kit: Kit;
let node: Node;

function action(policy: Policy, id: string): CompiledAction {
  const a = policy.actions.get(id);
  if (a === undefined) throw new Error(`no action ${id}`);
  return a;
}

const restart = (service: string): Proposal => ({
  agent: 'sentinel',
  actionId: 'restart-service',
  params: { service },
});

beforeEach(() => {
  kit = makeKit(makePolicy({ phase: 4 }));
  node = kit.connect();
});

afterEach(() => kit.cleanup());

describe('standing grants', () => {
  it('exist only in phase 4', () => {
    kit.policy = makePolicy({ phase: 3 });
    const a = action(kit.policy, 'restart-service');
    expect(() =>
      node.grants.create({ action: a, params: { service: 'web' }, hours: 4, by: APPROVER }),
    ).toThrow(
      new GrantRefusal(
        'standing grants exist only in phase 4 (expand); sentinel is in phase 3. Approve the request on its own instead.',
      ),
    );
    // A runtime override to phase 4 counts: the phase in force decides.
    node.control.setPhase(4, 'sentinel', 'cli:user:admin', 'review');
    expect(
      node.grants.create({ action: a, params: { service: 'web' }, hours: 4, by: APPROVER }).actionId,
    ).toBe('restart-service');
    expect(node.audit.records({ kind: 'grant.created' })).toHaveLength(1);
  });

  it('cover exactly the approved params, and decide() executes with them in phase 4 only', () => {
    const a = action(kit.policy, 'restart-service');
    const grant = node.grants.create({
      action: a,
      params: { service: 'web' },
      hours: 4,
      by: APPROVER,
      reason: 'deploy week',
    });
    expect(grant.pattern).toEqual({ service: 'web' });
    const auth = node.grants.findMatching(a, { service: 'web' }, T0 + HOUR);
    expect(auth).toMatchObject({ kind: 'grant', id: grant.id, by: APPROVER, expiresAt: T0 + 4 * HOUR });
    expect(node.grants.findMatching(a, { service: 'webx' }, T0)).toBeNull();
    expect(node.grants.findMatching(a, { service: 'api' }, T0)).toBeNull();

    const granted = decide(
      kit.policy,
      makeState({ authorisation: auth ?? undefined }),
      restart('web'),
      T0 + HOUR,
    );
    expect(granted).toMatchObject({ verdict: 'execute', code: 'granted' });
    // Back in phase 3 the same grant no longer counts: decide() asks a human again.
    const phase3 = decide(
      kit.policy,
      makeState({ phaseOverride: 3, authorisation: auth ?? undefined }),
      restart('web'),
      T0 + HOUR,
    );
    expect(phase3).toMatchObject({ verdict: 'ask', code: 'needs-approval' });
  });

  it('take a pattern an approver names, for every param', () => {
    const a = action(kit.policy, 'scale-service');
    const grant = node.grants.create({
      action: a,
      pattern: { service: 'web|api', replicas: '[1-5]' },
      hours: 2,
      by: APPROVER,
    });
    expect(node.grants.findMatching(a, { service: 'api', replicas: 3 }, T0)?.id).toBe(grant.id);
    expect(node.grants.findMatching(a, { service: 'api', replicas: 8 }, T0)).toBeNull();
    expect(node.grants.findMatching(a, { service: 'worker', replicas: 3 }, T0)).toBeNull();
    expect(() =>
      node.grants.create({ action: a, pattern: { service: '.*' }, hours: 2, by: APPROVER }),
    ).toThrow("the grant needs a pattern for scale-service's param replicas (write .* to allow any value)");
    expect(() =>
      node.grants.create({ action: a, pattern: { service: '(', replicas: '.*' }, hours: 2, by: APPROVER }),
    ).toThrow(/not a regular expression/);
    expect(() =>
      node.grants.create({
        action: a,
        pattern: { host: '.*', service: '.*', replicas: '.*' },
        hours: 2,
        by: APPROVER,
      }),
    ).toThrow(/has no param "host"/);
    expect(() =>
      node.grants.create({ action: a, pattern: { service: '.*', replicas: '.*' }, hours: 500, by: APPROVER }),
    ).toThrow('a grant lasts 1 to 168 whole hours, not 500');
  });

  it('expire, and are listed only while in force', () => {
    const a = action(kit.policy, 'restart-service');
    const grant = node.grants.create({ action: a, params: { service: 'web' }, hours: 1, by: APPROVER });
    expect(node.grants.list(T0 + HOUR - 1).map((g) => g.id)).toEqual([grant.id]);
    expect(node.grants.findMatching(a, { service: 'web' }, T0 + HOUR - 1)).not.toBeNull();
    expect(node.grants.findMatching(a, { service: 'web' }, T0 + HOUR)).toBeNull();
    expect(node.grants.list(T0 + HOUR)).toEqual([]);
  });

  it('can be revoked, audited, and then cover nothing', () => {
    const a = action(kit.policy, 'restart-service');
    const grant = node.grants.create({ action: a, params: { service: 'web' }, hours: 4, by: APPROVER });
    kit.clock = T0 + HOUR;
    expect(node.grants.revoke(grant.id, 'slack:user:U0OPERATOR', 'incident over')).toBe(
      `grant ${grant.id} (restart-service, by ${APPROVER}) revoked: restart-service needs an approval again`,
    );
    expect(node.grants.findMatching(a, { service: 'web' }, T0 + HOUR)).toBeNull();
    expect(node.grants.list(T0 + HOUR)).toEqual([]);
    expect(() => node.grants.revoke(grant.id, APPROVER)).toThrow(
      /was already revoked by slack:user:U0OPERATOR/,
    );
    expect(() => node.grants.revoke('grant_nope', APPROVER)).toThrow(/no grant grant_nope/);
    const [record] = node.audit.records({ kind: 'grant.revoked' });
    expect(record).toMatchObject({
      actor: 'slack:user:U0OPERATOR',
      data: { grant: grant.id, reason: 'incident over' },
    });
  });

  it('audit every use', () => {
    const a = action(kit.policy, 'restart-service');
    const grant = node.grants.create({ action: a, params: { service: 'web' }, hours: 4, by: APPROVER });
    node.grants.recordUse(grant.id, { params: { service: 'web' }, runId: 'run_a' });
    kit.clock = T0 + 10 * 60_000;
    node.grants.recordUse(grant.id, { params: { service: 'web' }, runId: 'run_b' });
    expect(node.grants.get(grant.id)).toMatchObject({ uses: 2, lastUsedAt: T0 + 10 * 60_000 });
    const uses = node.audit.records({ kind: 'grant.used' });
    expect(uses.map((u) => u.evidence)).toEqual([['run_a'], ['run_b']]);
    expect(uses[1]?.outcome).toBe(`restart-service ran under grant ${grant.id} by ${APPROVER} (use 2)`);
  });

  it('become inert when their action changes in the policy', () => {
    const a = action(kit.policy, 'restart-service');
    node.grants.create({ action: a, params: { service: 'web' }, hours: 4, by: APPROVER });
    kit.policy = makePolicy({
      phase: 4,
      actions: defaultActions().map((x) => (x.id === 'restart-service' ? { ...x, cooldown: '30m' } : x)),
    });
    expect(
      node.grants.findMatching(action(kit.policy, 'restart-service'), { service: 'web' }, T0),
    ).toBeNull();
  });
});
