/**
 * decide(): the one place that says what may happen to a proposal (DESIGN.md, "The decision").
 *
 * Pure (no I/O, no clock: `now` is passed in), total (never throws: any input it cannot read is
 * denied) and fast (map lookups and comparisons; a param regex per string param; one SHA-256 only
 * for tier 3 from phase 3 on, where an approval has to be matched or asked for).
 *
 * The proposal is untrusted: a model may have written it. Only `agent`, `actionId` and `params`
 * are read, each exactly once; anything else on it (a `tier`, `approved: true`, ...) is ignored.
 * The tier comes from the compiled catalog, the phase from the policy and the runtime state.
 */
import { bindingHash, checkParams, showValue, targetSystem } from './params.js';
import type {
  CompiledAction,
  Decision,
  DecisionCode,
  DecisionState,
  Params,
  Policy,
  Proposal,
} from './types.js';
import { AGENTS, type AgentName, type Phase, type Tier, type Verdict } from './vocabulary.js';

const KNOWN_AGENTS: ReadonlySet<unknown> = new Set<unknown>(AGENTS);

const PHASE_NAMES: Readonly<Record<Phase, string>> = {
  1: 'phase 1 (observe-only)',
  2: 'phase 2 (suggest-only)',
  3: 'phase 3 (auto low-risk)',
  4: 'phase 4 (expand)',
};

/**
 * The rollout phase in force for an agent. Most specific and most recent wins:
 *   1. a runtime per-agent override (`/autonomy phase <agent> N`),
 *   2. a runtime global override (`/autonomy phase N`),
 *   3. the file's per-agent phase (`rollout.agents.<agent>`),
 *   4. the file's global phase (`rollout.phase`).
 * So a runtime override always beats the file (DESIGN: "the phase is the runtime override if set,
 * else the policy file's"), and within each source the per-agent value beats the global one.
 * Anything that is not 1-4 (a corrupt row) counts as phase 1, the most restrictive.
 */
export function effectivePhase(policy: Policy, state: DecisionState, agent: AgentName): Phase {
  const p =
    state.agentPhaseOverrides.get(agent) ??
    state.phaseOverride ??
    policy.agentPhase.get(agent) ??
    policy.phase;
  return p === 2 || p === 3 || p === 4 ? p : 1;
}

function result(
  verdict: Verdict,
  code: DecisionCode,
  tier: Tier | null,
  phase: Phase | null,
  reason: string,
  extra?: { retryAt?: number; bindingHash?: string },
): Decision {
  if (extra === undefined) return { verdict, code, tier, phase, reason };
  return { verdict, code, tier, phase, reason, ...extra };
}

function deny(code: DecisionCode, tier: Tier | null, phase: Phase | null, reason: string): Decision {
  return result('deny', code, tier, phase, reason);
}

function iso(t: number): string {
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? String(t) : d.toISOString();
}

/** The decision for a proposal, in the order DESIGN.md gives. Never throws. */
export function decide(policy: Policy, state: DecisionState, proposal: Proposal, now: number): Decision {
  try {
    return decideChecked(policy, state, proposal, now);
  } catch (err) {
    // Only reachable with a malformed policy or state (the caller's bug): fail closed, say why.
    const what = err instanceof Error ? err.message : String(err);
    return deny('invalid-input', null, null, `decision failed closed: ${showValue(what)}`);
  }
}

function decideChecked(policy: Policy, state: DecisionState, proposal: Proposal, now: number): Decision {
  // Read the untrusted proposal once, so a getter cannot answer differently to later checks.
  let agent: unknown;
  let actionId: unknown;
  let params: unknown;
  let readable = true;
  try {
    const p: unknown = proposal;
    if (typeof p === 'object' && p !== null) {
      const rec = p as Record<string, unknown>;
      agent = rec.agent;
      actionId = rec.actionId;
      params = rec.params;
    }
  } catch {
    readable = false;
  }
  const action: CompiledAction | undefined =
    typeof actionId === 'string' ? policy.actions.get(actionId) : undefined;
  const catalogTier = action === undefined ? null : action.effectiveTier;

  // 1. Kill switches first, before anything else is looked at; then the policy's own switch.
  if (state.killedAll) return deny('killed', catalogTier, null, 'all agents are killed (global kill switch)');
  if (!readable) return deny('invalid-input', null, null, 'the proposal could not be read');
  if (!KNOWN_AGENTS.has(agent)) {
    return deny(
      'unknown-agent',
      catalogTier,
      null,
      `unknown agent ${showValue(agent)} (agents: ${AGENTS.join(', ')})`,
    );
  }
  const name = agent as AgentName;
  const phase = effectivePhase(policy, state, name);
  if (state.killedAgents.has(name)) {
    return deny('killed', catalogTier, phase, `${name} is killed (kill switch)`);
  }
  if (typeof now !== 'number' || !Number.isFinite(now)) {
    return deny(
      'invalid-input',
      catalogTier,
      phase,
      `decision failed closed: now is ${showValue(now)}, not a time`,
    );
  }
  if (!policy.enabledAgents.has(name)) {
    return deny(
      'agent-disabled',
      catalogTier,
      phase,
      `${name} is disabled in the policy (agents.${name}.enabled)`,
    );
  }

  // 2. The catalog and ownership.
  if (action === undefined) {
    return deny(
      'unknown-action',
      null,
      phase,
      `unknown action ${showValue(actionId)}: not in the policy's catalog`,
    );
  }
  const tier = action.effectiveTier;
  if (action.agent !== name) {
    return deny('not-owner', tier, phase, `${action.id} belongs to ${action.agent}, not ${name}`);
  }

  // 3. Params, then the target system against the purpose section's scope.
  const bad = checkParams(action, params);
  if (bad !== null) return deny('bad-params', tier, phase, `${action.id}: ${bad}`);
  const checked = params as Params;
  const outOfScope = policy.scope.check(targetSystem(action, checked));
  if (outOfScope !== null) return deny('out-of-scope', tier, phase, `${action.id}: ${outOfScope}`);

  // 4. The class must be one the policy lets this agent act in (its autonomous or requiresApproval
  // classes); the effective tier is the compiled one (class lift included); the proposal has no say.
  if (action.classList === null) {
    return deny(
      'class-not-allowed',
      tier,
      phase,
      `${action.id}: class ${action.class} is neither autonomous nor requires approval for ${name} ` +
        `(agents.${name}.autonomous / requiresApproval), so ${name} may not act in it`,
    );
  }
  // 5. The phase decides what that tier may do.
  const why = `${action.id}: ${action.tierReason}`;
  const p = phase;
  const phaseName = PHASE_NAMES[p];
  if (tier === 0) {
    return limit(action, state, now, result('execute', 'tier0', 0, p, `${why}; tier 0 runs in every phase`));
  }
  if (p === 1) {
    return result('observe', 'observe-phase', tier, p, `${why}; ${phaseName} reports it, offers nothing`);
  }
  if (p === 2) {
    return result('suggest', 'suggest-phase', tier, p, `${why}; ${phaseName} offers it as a suggestion`);
  }
  if (tier === 1) return result('suggest', 'suggest-phase', tier, p, `${why}; ${phaseName} suggests tier 1`);
  if (tier === 2) {
    if (policy.allowlist.get(name)?.has(action.id) === true) {
      return limit(
        action,
        state,
        now,
        result('execute', 'allowlisted', 2, p, `${why}; on ${name}'s allowlist, ${phaseName} runs it`),
      );
    }
    return result(
      'suggest',
      'not-allowlisted',
      2,
      p,
      `${why}; not on ${name}'s allowlist, so ${phaseName} suggests it`,
    );
  }

  // Tier 3 in phase 3 or 4: execute only with a matching, unexpired approval (or, in phase 4, grant).
  const hash = bindingHash(action, checked);
  const auth = state.authorisation;
  let note = '';
  if (auth !== undefined && auth !== null) {
    const usable = auth.kind === 'approval' || (auth.kind === 'grant' && p === 4);
    if (auth.bindingHash !== hash) {
      note = ` (the ${auth.kind} on file is for other params or another version of the action)`;
    } else if (!(auth.expiresAt > now)) {
      note = ` (the ${auth.kind} on file expired at ${iso(auth.expiresAt)})`;
    } else if (!usable) {
      note = ' (a standing grant counts only in phase 4)';
    } else if (auth.kind === 'approval') {
      return limit(
        action,
        state,
        now,
        result(
          'execute',
          'approved',
          3,
          p,
          `${why}; approved by ${auth.by} (${auth.id}), ${phaseName} runs it`,
          {
            bindingHash: hash,
          },
        ),
      );
    } else {
      return limit(
        action,
        state,
        now,
        result(
          'execute',
          'granted',
          3,
          p,
          `${why}; standing grant ${auth.id} by ${auth.by} covers it in phase 4`,
          {
            bindingHash: hash,
          },
        ),
      );
    }
  }
  return limit(
    action,
    state,
    now,
    result('ask', 'needs-approval', 3, p, `${why}; ${phaseName} asks a human${note}`, { bindingHash: hash }),
  );
}

/**
 * 6. Cooldown and daily cap, for verdicts that would run something or ask for it. When both
 * apply, the one that frees up later is reported, so `retryAt` is when the action really frees up.
 */
function limit(action: CompiledAction, state: DecisionState, now: number, d: Decision): Decision {
  const usage = state.usage;
  if (usage === undefined || usage === null) return d;
  const coolUntil =
    action.cooldownMs > 0 && usage.lastRunAt !== null && usage.lastRunAt + action.cooldownMs > now
      ? usage.lastRunAt + action.cooldownMs
      : null;
  const capped = action.dailyCap !== null && usage.countToday >= action.dailyCap;
  if (capped && (coolUntil === null || usage.dayEndsAt >= coolUntil)) {
    return {
      verdict: 'deny',
      code: 'daily-cap',
      tier: d.tier,
      phase: d.phase,
      reason: `${action.id}: daily cap of ${action.dailyCap} reached (${usage.countToday} today); frees up at ${iso(usage.dayEndsAt)}`,
      retryAt: usage.dayEndsAt,
    };
  }
  if (coolUntil !== null) {
    return {
      verdict: 'deny',
      code: 'cooldown',
      tier: d.tier,
      phase: d.phase,
      reason: `${action.id}: cooling down (${action.doc.cooldown} after each run) until ${iso(coolUntil)}`,
      retryAt: coolUntil,
    };
  }
  return d;
}
