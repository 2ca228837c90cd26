/**
 * Turns a validated policy document into the `Policy` the core uses: durations in milliseconds,
 * param patterns compiled once, effective tiers and entry hashes computed once per version, so
 * that `decide()` does only map lookups and comparisons.
 */
import { createHash } from 'node:crypto';
import { canonicalize } from 'json-canonicalize';
import ms from 'ms';
import { placeholderName } from './placeholders.js';
import type { ActionDoc, AgentDoc, ParamDoc, PolicyDoc } from './schema.js';
import type { CompiledAction, CompiledParam, Millis, Policy, ScopeMatcher } from './types.js';
import { type ActionClass, AGENTS, type AgentName, type Phase, type Tier } from './vocabulary.js';

/** Parses a policy duration (`30s`, `15m`, `14d`, `1w`); the schema has already checked the shape. */
export function durationMs(text: string): Millis {
  const value = ms(text as ms.StringValue);
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new Error(`not a duration: ${JSON.stringify(text)} (use e.g. 30s, 15m, 6h, 14d)`);
  }
  return value;
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The tier an action really has: class-requires-approval lifts it to 3. Never lowered. */
export function effectiveTier(doc: PolicyDoc, action: ActionDoc): { tier: Tier; reason: string } {
  const agent = doc.agents[action.agent];
  if (agent.requiresApproval.includes(action.class)) {
    return {
      tier: 3,
      reason:
        action.tier === 3
          ? `tier 3 in the catalog; class ${action.class} also requires approval for ${action.agent}`
          : `tier ${action.tier} in the catalog, lifted to 3: class ${action.class} requires approval for ${action.agent}`,
    };
  }
  return { tier: action.tier, reason: `tier ${action.tier} in the catalog` };
}

/** Which of the agent's class lists names the action's class; null: neither (decide() denies it). */
export function classListOf(
  agent: Pick<AgentDoc, 'autonomous' | 'requiresApproval'>,
  cls: ActionClass,
): 'autonomous' | 'requiresApproval' | null {
  if (agent.requiresApproval.includes(cls)) return 'requiresApproval';
  if (agent.autonomous.includes(cls)) return 'autonomous';
  return null;
}

function compileParam(p: ParamDoc): CompiledParam {
  if (p.type === 'integer') return { type: 'integer', min: p.min ?? null, max: p.max ?? null };
  return {
    type: 'string',
    pattern: p.pattern === undefined ? null : new RegExp(`^(?:${p.pattern})$`, 'u'),
    enum: p.enum === undefined ? null : new Set(p.enum),
    maxLength: p.maxLength,
  };
}

/** A glob with `*` as "any run of characters", matched against the whole name. */
export function globToRegExp(glob: string): RegExp {
  const escaped = glob.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${escaped}$`);
}

export function scopeMatcher(inScope: readonly string[], outOfScope: readonly string[]): ScopeMatcher {
  const exactIn = new Set(inScope.filter((s) => !s.includes('*')));
  const globIn = inScope.filter((s) => s.includes('*')).map((g) => ({ g, re: globToRegExp(g) }));
  const exactOut = new Set(outOfScope.filter((s) => !s.includes('*')));
  const globOut = outOfScope.filter((s) => s.includes('*')).map((g) => ({ g, re: globToRegExp(g) }));
  return {
    check(system: string): string | null {
      if (exactOut.has(system)) return `${system} is listed as out of scope`;
      for (const { g, re } of globOut) if (re.test(system)) return `${system} is out of scope (matches ${g})`;
      if (exactIn.has(system)) return null;
      for (const { re } of globIn) if (re.test(system)) return null;
      return `${system} is not an in-scope system (in scope: ${inScope.join(', ')})`;
    },
  };
}

function compileAction(doc: PolicyDoc, a: ActionDoc): CompiledAction {
  const { tier, reason } = effectiveTier(doc, a);
  const param = placeholderName(a.target);
  const params = new Map<string, CompiledParam>();
  for (const [name, p] of Object.entries(a.params)) params.set(name, compileParam(p));
  return {
    id: a.id,
    agent: a.agent,
    class: a.class,
    tier: a.tier,
    effectiveTier: tier,
    tierReason: reason,
    classList: classListOf(doc.agents[a.agent], a.class),
    target: param === null ? { kind: 'fixed', system: a.target } : { kind: 'param', param },
    params,
    timeoutMs: durationMs(a.timeout),
    cooldownMs: durationMs(a.cooldown),
    dailyCap: a.dailyCap ?? null,
    entryHash: sha256(canonicalize({ id: a.id, entry: a, effectiveTier: tier })),
    doc: a,
  };
}

/** Compiles a document that passed the schema and `checkPolicy()`. */
export function compilePolicy(doc: PolicyDoc, meta: { hash: string; source: string }): Policy {
  const actions = new Map<string, CompiledAction>();
  for (const a of doc.actions) actions.set(a.id, compileAction(doc, a));
  const allowlist = new Map<AgentName, ReadonlySet<string>>();
  const agentPhase = new Map<AgentName, Phase>();
  const enabledAgents = new Set<AgentName>();
  for (const name of AGENTS) {
    allowlist.set(name, new Set(doc.agents[name].allowlist));
    const override = doc.rollout.agents[name];
    if (override !== undefined) agentPhase.set(name, override);
    if (doc.agents[name].enabled) enabledAgents.add(name);
  }
  return {
    doc,
    hash: meta.hash,
    source: meta.source,
    actions,
    allowlist,
    scope: scopeMatcher(doc.purpose.inScope, doc.purpose.outOfScope),
    phase: doc.rollout.phase,
    agentPhase,
    enabledAgents,
    approvalTimeoutMs: durationMs(doc.control.approvalTimeout),
    retentionMs: durationMs(doc.evidence.retention),
  };
}
