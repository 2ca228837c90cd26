/**
 * Builder against a fake agent context: its deep sweep proposes exactly the pre-approved
 * maintenance that needs no input (and is in scope, and not already a policy check), speaks up
 * when an executed one failed (exit code and the output's end), and is silent otherwise.
 */
import { describe, expect, it } from 'vitest';
import { builder } from '../../../src/agents/builder/agent.js';
import type { ProposalOutcome } from '../../../src/agents/runtime/types.js';
import type { Decision, Policy } from '../../../src/policy/types.js';
import { type FakeContext, fakeContext, SUGGESTED } from '../../fakes/agent-context.js';
import { type ActionInput, makePolicy } from '../../fixtures/policy.js';

const cmd = (...argv: string[]) => ({ command: argv });

function maintenance(id: string, target: string, params: ActionInput['params'] = {}): ActionInput {
  return {
    id,
    agent: 'builder',
    description: `Maintenance ${id}`,
    tier: 2,
    class: 'maintenance',
    target,
    params,
    executor: cmd('maint', id),
  };
}

/**
 * The fixture catalog has builder's rotate-logs (a service by pattern) and clear-cache (three
 * caches): neither is proposed without input. Added: two that need none, one whose only target
 * is out of scope, one the policy's checks already run, and an architecture change.
 */
function policy(): Policy {
  return makePolicy({
    extraActions: [
      maintenance('prune-docker-images', 'ci'),
      maintenance('vacuum-db', '{system}', { system: { enum: ['db-main'] } }),
      maintenance('vacuum-prod-db', '{system}', { system: { enum: ['db-prod-1'] } }),
      maintenance('renew-certificates', 'web'),
      {
        id: 'upgrade-runtime',
        agent: 'builder',
        description: 'Upgrade the Node runtime',
        tier: 3,
        class: 'architecture-change',
        target: 'ci',
        params: {},
        executor: cmd('upgrade', 'node'),
      },
    ],
    edit: (d) => {
      d.checks = [{ action: 'renew-certificates', params: {}, sweep: 'deep' }];
    },
  });
}

const EXECUTED: Decision = {
  verdict: 'execute',
  code: 'allowlisted',
  tier: 2,
  phase: 3,
  reason: 'phase 3: allowlisted tier 2 action runs by itself',
};

function executed(
  status: 'succeeded' | 'failed',
  exitCode: number | null,
  outputTail: string,
): ProposalOutcome {
  return {
    decision: EXECUTED,
    run: {
      runId: 'run-31',
      status,
      outcome: `${status} (exit ${exitCode})`,
      exitCode,
      wallMs: 4200,
      outputTail,
    },
  };
}

async function sweep(onPropose?: Parameters<typeof fakeContext>[0]['onPropose'], signal?: AbortSignal) {
  const ctx: FakeContext = fakeContext({
    agent: 'builder',
    policy: policy(),
    trigger: 'sweep:deep',
    onPropose,
    signal,
  });
  await (builder.deep as NonNullable<typeof builder.deep>)(ctx);
  return ctx;
}

describe('builder', () => {
  it('handles no signal kinds and works in its deep sweep only', () => {
    expect(builder.handles).toEqual([]);
    expect(builder.onSignal).toBeUndefined();
    expect(builder.light).toBeUndefined();
    expect(builder.deep).toBeTypeOf('function');
  });

  it('proposes its in-scope maintenance that needs no input, skipping what the checks already run', async () => {
    const ctx = await sweep();
    expect(ctx.proposals.map((p) => [p.actionId, p.params])).toEqual([
      ['prune-docker-images', {}],
      ['vacuum-db', { system: 'db-main' }],
    ]);
  });

  it('posts a notice with the exit code and the end of the output when an executed action failed', async () => {
    const output = `${'npm WARN noise line\n'.repeat(300)}Error: disk full while pruning layer sha256:abc\n`;
    const ctx = await sweep((p) =>
      p.actionId === 'vacuum-db' ? executed('failed', 2, output) : executed('succeeded', 0, 'done'),
    );
    expect(ctx.posts).toHaveLength(1);
    const post = ctx.posts[0] as NonNullable<(typeof ctx.posts)[0]>;
    expect(post.kind).toBe('notice');
    expect(post.severity).toBe('warning');
    expect(post.title).toBe('Maintenance failed: vacuum-db');
    expect(post.body).toContain('Maintenance vacuum-db: the run failed with exit code 2 after 4 s.');
    expect(post.body).toContain('Error: disk full while pruning layer sha256:abc');
    expect(post.body.length).toBeLessThan(2000);
    expect(post.fields).toEqual(expect.arrayContaining([{ label: 'Exit code', value: '2' }]));
    expect(ctx.evidenceRefs).toEqual(['run:run-31', 'run:run-31']);
  });

  it('stays silent when decide() observes, suggests or denies, and when a run succeeds', async () => {
    const verdicts: ProposalOutcome[] = [
      { decision: { ...SUGGESTED, verdict: 'observe', code: 'observe-phase', phase: 1, reason: 'phase 1' } },
      { decision: SUGGESTED },
      {
        decision: {
          verdict: 'deny',
          code: 'cooldown',
          tier: 2,
          phase: 3,
          reason: 'cooldown',
          retryAt: Date.parse('2026-12-01T11:00:00Z'),
        },
      },
      executed('succeeded', 0, 'pruned 12 images'),
    ];
    for (const outcome of verdicts) {
      const ctx = await sweep(() => outcome);
      expect(ctx.proposals).toHaveLength(2);
      expect(ctx.posts).toEqual([]);
    }
  });

  it('proposes nothing once the run is aborted', async () => {
    const ctx = await sweep(undefined, AbortSignal.abort());
    expect(ctx.proposals).toEqual([]);
  });
});
