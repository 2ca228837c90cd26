/**
 * Filling a catalog action's params from what a signal says (rules, not a model): each param takes
 * the first candidate value, found by the param's name, that passes the param's own rule (type,
 * enum, pattern, length) with the same check decide() applies (policy/params.ts). An action is
 * fillable only when every one of its params is; nothing is invented, and a value that does not fit
 * is skipped, never coerced beyond a plain number <-> digits conversion. An action whose target
 * would be out of the policy's scope is not fillable either (decide() would deny it). A param no
 * fact names takes its only allowed value (a single-value enum, or an integer with min === max), so a
 * rule that trusts one value (a signal's service name) passes just that one fact.
 *
 * Names are compared without case, `_` and `-`: a param `run_id` is filled from the fact `runId`.
 */
import { checkParams, targetSystem } from '../../policy/params.js';
import type { CompiledAction, CompiledParam, Params, ParamValue, Policy } from '../../policy/types.js';
import type { ActionClass, AgentName } from '../../policy/vocabulary.js';

export type Fact = string | number;

/** Candidate values per normalised param name, best first. */
export type Facts = ReadonlyMap<string, readonly Fact[]>;

/** `run_id`, `RunId`, `run-id` -> `runid`. */
export function factName(name: string): string {
  return name.toLowerCase().replace(/[_-]/g, '');
}

/**
 * Facts from `[aliases, value(s)]` pairs: every alias names the same values. Null, undefined and
 * empty strings are left out, so an unknown fact never fills a param.
 */
export function factsOf(
  pairs: readonly (readonly [
    readonly string[],
    Fact | null | undefined | readonly (Fact | null | undefined)[],
  ])[],
): Facts {
  const facts = new Map<string, Fact[]>();
  for (const [aliases, raw] of pairs) {
    const values = (Array.isArray(raw) ? raw : [raw]).filter(
      (v): v is Fact => (typeof v === 'string' && v !== '') || (typeof v === 'number' && Number.isFinite(v)),
    );
    if (values.length === 0) continue;
    for (const alias of aliases) {
      const key = factName(alias);
      const list = facts.get(key) ?? [];
      for (const v of values) if (!list.includes(v)) list.push(v);
      facts.set(key, list);
    }
  }
  return facts;
}

/** A fact as the param's type wants it, or null: digits fill an integer, a number fills a string. */
function asParam(rule: CompiledParam, value: Fact): ParamValue | null {
  if (rule.type === 'integer') {
    if (typeof value === 'number') return Number.isSafeInteger(value) ? value : null;
    return /^-?\d{1,15}$/.test(value) ? Number(value) : null;
  }
  return typeof value === 'string' ? value : String(value);
}

/** The one value a param can take: a single-value enum, or an integer with min === max. */
export function onlyValue(rule: CompiledParam): ParamValue | undefined {
  if (rule.type === 'integer') return rule.min !== null && rule.min === rule.max ? rule.min : undefined;
  if (rule.enum?.size === 1) return [...rule.enum][0];
  return undefined;
}

/**
 * The params for `action` from `facts`, or null when one of them cannot be filled with a valid
 * value or the target is out of scope. A param with candidate facts takes the first that fits (none
 * fits: null, never its only value instead); a param without any takes its only value.
 */
export function fillFromFacts(policy: Policy, action: CompiledAction, facts: Facts): Params | null {
  const params: Record<string, ParamValue> = {};
  for (const [name, rule] of action.params) {
    const alone: CompiledAction = { ...action, params: new Map([[name, rule]]) };
    const candidates = facts.get(factName(name)) ?? [];
    const only = candidates.length === 0 ? onlyValue(rule) : undefined;
    if (only !== undefined) {
      params[name] = only;
      continue;
    }
    let filled = false;
    for (const fact of candidates) {
      const value = asParam(rule, fact);
      if (value === null || checkParams(alone, Object.fromEntries([[name, value]])) !== null) continue;
      params[name] = value;
      filled = true;
      break;
    }
    if (!filled) return null;
  }
  if (checkParams(action, params) !== null) return null;
  return policy.scope.check(targetSystem(action, params)) === null ? params : null;
}

/** The agent's catalog actions of the given classes, in catalog order. */
export function actionsOf(
  policy: Policy,
  agent: AgentName,
  classes: readonly ActionClass[],
): CompiledAction[] {
  return [...policy.actions.values()].filter((a) => a.agent === agent && classes.includes(a.class));
}
