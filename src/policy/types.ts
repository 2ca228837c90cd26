/**
 * The policy as the core uses it (compiled once per version by `compile.ts`), and the inputs and
 * output of `decide()`. Everything here is plain data: no I/O, no clocks.
 */
import type { ActionDoc, PolicyDoc } from './schema.js';
import type { ActionClass, AgentName, Phase, Tier, Verdict } from './vocabulary.js';

/** Milliseconds. */
export type Millis = number;

export type ParamValue = string | number;
export type Params = Readonly<Record<string, ParamValue>>;

/** A param rule ready to check a value in microseconds (regex compiled once). */
export type CompiledParam =
  | {
      readonly type: 'string';
      readonly pattern: RegExp | null; // anchored: ^(?:...)$
      readonly enum: ReadonlySet<string> | null;
      readonly maxLength: number;
    }
  | { readonly type: 'integer'; readonly min: number | null; readonly max: number | null };

export interface CompiledAction {
  readonly id: string;
  readonly agent: AgentName;
  readonly class: ActionClass;
  /** The tier written in the catalog. */
  readonly tier: Tier;
  /** max(tier, 3 if the class is in the agent's requiresApproval list). */
  readonly effectiveTier: Tier;
  /** Why the effective tier is what it is, for people ("class service-affecting requires approval"). */
  readonly tierReason: string;
  /**
   * Which of its agent's class lists names this action's class: `autonomous`, `requiresApproval`,
   * or null when neither does, and then decide() denies it (`class-not-allowed`).
   */
  readonly classList: 'autonomous' | 'requiresApproval' | null;
  /** A fixed system name, or the name of the param that holds it. */
  readonly target:
    | { readonly kind: 'fixed'; readonly system: string }
    | { readonly kind: 'param'; readonly param: string };
  readonly params: ReadonlyMap<string, CompiledParam>;
  readonly timeoutMs: Millis;
  readonly cooldownMs: Millis;
  readonly dailyCap: number | null;
  /** SHA-256 over canonical JSON of (id, the catalog entry, effective tier). Params are added per approval. */
  readonly entryHash: string;
  /** The entry as written in the file (executor, description, ...). */
  readonly doc: ActionDoc;
}

/** Matches system names against the purpose section's in-scope and out-of-scope lists (globs with `*`). */
export interface ScopeMatcher {
  /** null when the system may be targeted, else a reason a person can read. */
  check(system: string): string | null;
}

export interface Policy {
  /** The document as parsed with defaults applied. */
  readonly doc: PolicyDoc;
  /** SHA-256 of the file's bytes: the policy version's identity. */
  readonly hash: string;
  /** Where it was loaded from (for messages). */
  readonly source: string;
  readonly actions: ReadonlyMap<string, CompiledAction>;
  /** Per agent: allowlisted action ids (tier 2 that may run by themselves from phase 3 on). */
  readonly allowlist: ReadonlyMap<AgentName, ReadonlySet<string>>;
  readonly scope: ScopeMatcher;
  readonly phase: Phase;
  readonly agentPhase: ReadonlyMap<AgentName, Phase>;
  readonly enabledAgents: ReadonlySet<AgentName>;
  readonly approvalTimeoutMs: Millis;
  readonly retentionMs: Millis;
}

/** What an agent wants to do. Model output can fill `actionId`, `params` and `rationale`; nothing else. */
export interface Proposal {
  readonly agent: AgentName;
  readonly actionId: string;
  readonly params: Params;
  readonly rationale?: string;
}

/** The approval (or phase 4 standing grant) that covers a proposal, if the caller found one. */
export interface Authorisation {
  readonly kind: 'approval' | 'grant';
  readonly id: string;
  /** Binding hash the approval was given for (see `bindingHash()`). */
  readonly bindingHash: string;
  readonly expiresAt: Millis;
  readonly by: string;
}

export interface ActionUsage {
  /** When the action last ran (any params), or null. */
  readonly lastRunAt: Millis | null;
  /** Runs so far today (policy time zone). */
  readonly countToday: number;
  /** When "today" ends, so a cap can say when it frees up. */
  readonly dayEndsAt: Millis;
}

/** Everything decide() needs that is not in the policy. Built by the caller from the database. */
export interface DecisionState {
  readonly killedAll: boolean;
  readonly killedAgents: ReadonlySet<AgentName>;
  /** Runtime phase overrides (set with `/autonomy phase`): these win over the file. */
  readonly phaseOverride: Phase | null;
  readonly agentPhaseOverrides: ReadonlyMap<AgentName, Phase>;
  /** Usage of the proposed action; absent means never ran. */
  readonly usage?: ActionUsage;
  readonly authorisation?: Authorisation;
}

/** Which check decided, stable for metrics and tests. */
export type DecisionCode =
  | 'killed'
  | 'invalid-input'
  | 'unknown-agent'
  | 'agent-disabled'
  | 'unknown-action'
  | 'not-owner'
  | 'bad-params'
  | 'out-of-scope'
  | 'class-not-allowed'
  | 'observe-phase'
  | 'suggest-phase'
  | 'tier0'
  | 'not-allowlisted'
  | 'allowlisted'
  | 'needs-approval'
  | 'approved'
  | 'granted'
  | 'cooldown'
  | 'daily-cap';

export interface Decision {
  readonly verdict: Verdict;
  readonly code: DecisionCode;
  /** The effective tier, or null when the action is unknown. */
  readonly tier: Tier | null;
  readonly phase: Phase | null;
  /** A sentence a person can read: what was decided and why. */
  readonly reason: string;
  /** For cooldown and daily-cap denials: when the action frees up. */
  readonly retryAt?: Millis;
  /** For ask / execute of tier 3: the hash an approval must carry. */
  readonly bindingHash?: string;
}
