/**
 * The agents' light and deep sweeps, as the bodies the sweep scheduler (src/signals/sweeps/sweeps.ts)
 * runs. One sweep is one agent run (pipeline.ts, trigger `cron`, ref the sweep run's id): the
 * agent's own `light()` / `deep()` checks first, then the policy's `checks` entries of that sweep
 * kind whose action belongs to the agent, then any extra checks (the learning loop adds promoted
 * skills' checks), each proposed through decide() like any other proposal. A sweep with nothing to
 * do records nothing. A failed run throws, so the scheduler's failure streak counts it; the
 * sweep's abort signal (kill, shutdown) interrupts the run.
 */
import type { SweepKind } from '../../db/schema.js';
import type { Policy } from '../../policy/types.js';
import type { AgentName } from '../../policy/vocabulary.js';
import type { SweepBodies, SweepBody } from '../../signals/sweeps/sweeps.js';
import type { AgentPipeline } from './pipeline.js';
import type { Agent, AgentProposal } from './types.js';

export interface SweepCheck {
  readonly actionId: string;
  readonly params: Readonly<Record<string, string | number>>;
}

export interface SweepBodiesOptions {
  /** More checks for an agent's sweep (promoted skills); read at every sweep. */
  readonly extraChecks?: (agent: AgentName, kind: SweepKind) => readonly SweepCheck[];
}

/** The policy's checks for this agent and sweep kind (an action of another agent is not its check). */
export function policyChecks(policy: Policy, agent: AgentName, kind: SweepKind): SweepCheck[] {
  return policy.doc.checks
    .filter((c) => c.sweep === kind && policy.actions.get(c.action)?.agent === agent)
    .map((c) => ({ actionId: c.action, params: c.params }));
}

function bodyFor(
  pipeline: Pick<AgentPipeline, 'run'>,
  policy: () => Policy,
  agent: Agent,
  kind: SweepKind,
  options: SweepBodiesOptions,
): SweepBody {
  return async (sweep) => {
    const own = kind === 'light' ? agent.light : agent.deep;
    const checks = [
      ...policyChecks(policy(), agent.name, kind),
      ...(options.extraChecks?.(agent.name, kind) ?? []),
    ];
    if (own === undefined && checks.length === 0) return;
    const result = await pipeline.run(
      agent,
      { source: 'cron', ref: sweep.runId, kind },
      async (ctx) => {
        if (own !== undefined) await own.call(agent, ctx);
        for (const check of checks) {
          if (ctx.signal.aborted) return;
          const proposal: AgentProposal = {
            actionId: check.actionId,
            params: { ...check.params },
            rationale: `${kind} sweep check`,
          };
          await ctx.propose(proposal);
        }
      },
      sweep.signal,
    );
    if (result.status === 'failed' || result.status === 'interrupted') throw new Error(result.outcome);
  };
}

/** Light and deep bodies for every agent given (pass them to `new Sweeps({ bodies })`). */
export function sweepBodies(
  pipeline: Pick<AgentPipeline, 'run'>,
  policy: () => Policy,
  agents: readonly Agent[],
  options: SweepBodiesOptions = {},
): SweepBodies {
  const bodies: SweepBodies = {};
  for (const agent of agents) {
    bodies[agent.name] = {
      light: bodyFor(pipeline, policy, agent, 'light', options),
      deep: bodyFor(pipeline, policy, agent, 'deep', options),
    };
  }
  return bodies;
}
