/**
 * Filling a catalog action's params from values a rule trusts (a signal's service name, a param's
 * only allowed value), for agents that propose by rules. Whatever is filled must pass the
 * action's own param rules (the checks decide() runs, from src/policy/params.ts) and its target
 * must be in scope; otherwise nothing is proposed, so an agent never sends decide() junk.
 */
import { checkParams, targetSystem } from '../policy/params.js';
import type { CompiledAction, CompiledParam, Params, ParamValue, Policy } from '../policy/types.js';

/** The one value a param can take: a single-value enum, or an integer with min === max. */
export function onlyValue(rule: CompiledParam): ParamValue | undefined {
  if (rule.type === 'integer') return rule.min !== null && rule.min === rule.max ? rule.min : undefined;
  if (rule.enum?.size === 1) return [...rule.enum][0];
  return undefined;
}

/**
 * Params for `action`: `given` where it names a param, every other param at its only value.
 * null when a param cannot be filled, a given name is not a param, a value fails the action's
 * rules, or the target system is out of the policy's scope.
 */
export function fillParams(
  policy: Policy,
  action: CompiledAction,
  given: Readonly<Record<string, string>>,
): Params | null {
  const params: Record<string, ParamValue> = {};
  for (const name of Object.keys(given)) if (!action.params.has(name)) return null;
  for (const [name, rule] of action.params) {
    const value = Object.hasOwn(given, name) ? given[name] : onlyValue(rule);
    if (value === undefined) return null;
    params[name] = value;
  }
  if (checkParams(action, params) !== null) return null;
  return policy.scope.check(targetSystem(action, params)) === null ? params : null;
}
