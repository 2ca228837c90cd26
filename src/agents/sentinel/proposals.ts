/**
 * What sentinel proposes for a signal, by rules: its catalog actions of class `evidence` (and, for
 * critical signals and health degradations, `service-affecting`) that act on a service, with the
 * signal's service as the target param. The service is the only text from a signal that ever goes
 * into params, and only when it passes the param's enum or pattern and the policy's scope.
 * decide() judges each proposal again (tier, phase, approval, cooldown): this only picks them.
 */

import type { Policy } from '../../policy/types.js';
import type { ActionClass } from '../../policy/vocabulary.js';
import { factsOf, fillFromFacts } from '../runtime/params.js';
import type { AgentProposal } from '../runtime/types.js';

export interface SentinelPlan {
  /** The signal's service (untrusted), or null. */
  readonly service: string | null;
  /** Also propose `service-affecting` actions (they become approval requests). */
  readonly serviceAffecting: boolean;
  /** Why, for the run record and approval message; built from checked facts only. */
  readonly rationale: string;
}

/** Evidence actions first, then service-affecting ones; in catalog order within each class. */
export function sentinelProposals(policy: Policy, plan: SentinelPlan): AgentProposal[] {
  const { service } = plan;
  if (service === null || service === '') return [];
  const classes: ActionClass[] = plan.serviceAffecting ? ['evidence', 'service-affecting'] : ['evidence'];
  const out: AgentProposal[] = [];
  for (const cls of classes) {
    for (const action of policy.actions.values()) {
      if (action.agent !== 'sentinel' || action.class !== cls || action.target.kind !== 'param') continue;
      const params = fillFromFacts(policy, action, factsOf([[[action.target.param], service]]));
      if (params !== null) out.push({ actionId: action.id, params, rationale: plan.rationale });
    }
  }
  return out;
}
