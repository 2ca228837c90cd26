/**
 * The checks promoted skills bring, as the sweeps run them: a catalog action of class `test-run` or
 * `evidence`, proposed by the agent that owns it in its light or deep sweep, through decide() like
 * any other proposal. A check is never free text: it names an action the policy's catalog has, with
 * params that pass the action's own rules (checkParams) and a target in scope; anything else is
 * left out, with the reason, so a hand-edited or outdated skill file cannot make a sweep run
 * something the catalog does not allow.
 */
import { checkParams, targetSystem } from '../policy/params.js';
import type { Params, Policy } from '../policy/types.js';
import type { AgentName } from '../policy/vocabulary.js';
import type { SkillCheck } from './skill-file.js';

/** Classes a skill's check may have: it runs unattended in sweeps, so it may only test or collect. */
export const CHECK_CLASSES: ReadonlySet<string> = new Set(['test-run', 'evidence']);

/** A check as the sweep bodies take it (src/agents/runtime/sweep-bodies.ts SweepCheck). */
export interface SkillSweepCheck {
  readonly actionId: string;
  readonly params: Readonly<Record<string, string | number>>;
  /** The skill that brings it. */
  readonly skill: string;
}

/** null when `check` may run under `policy`, else why not (a sentence). */
export function checkProblem(policy: Policy, check: SkillCheck): string | null {
  const action = policy.actions.get(check.action);
  if (action === undefined) return `${check.action} is not in the policy's action catalog`;
  if (!CHECK_CLASSES.has(action.class)) {
    return `${check.action} is of class ${action.class}; a skill's check must be test-run or evidence`;
  }
  const bad = checkParams(action, { ...check.params });
  if (bad !== null) return `${check.action}: ${bad}`;
  const why = policy.scope.check(targetSystem(action, check.params as Params));
  if (why !== null) return `${check.action}: ${why}`;
  return null;
}

/** The checks of `skills` that `agent` runs in its `sweep` sweep, valid under `policy`. */
export function sweepChecks(
  policy: Policy,
  agent: AgentName,
  sweep: 'light' | 'deep',
  skills: readonly { readonly id: string; readonly check: SkillCheck | null }[],
): SkillSweepCheck[] {
  const out: SkillSweepCheck[] = [];
  for (const s of skills) {
    const c = s.check;
    if (c === null || c.sweep !== sweep) continue;
    if (policy.actions.get(c.action)?.agent !== agent) continue;
    if (checkProblem(policy, c) !== null) continue;
    out.push({ actionId: c.action, params: { ...c.params }, skill: s.id });
  }
  return out;
}
