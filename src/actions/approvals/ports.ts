/**
 * What the approval flow needs from the rest of the core, as small interfaces (src/main.ts wires
 * the outbox, the action runner and the renderer; tests pass fakes), and what it hands back.
 */
import type { ChatMessage } from '../../chat/message.js';
import type { ApprovalState } from '../../db/schema.js';
import type { CompiledAction, Decision, Params, Proposal } from '../../policy/types.js';
import type { AgentName, Tier } from '../../policy/vocabulary.js';

/**
 * The outbox, as far as approvals use it: synchronous, usable inside a write transaction, and
 * returning the row id (what a later `update` names). src/chat/outbox.ts's Outbox fits as is.
 */
export interface MessageSink {
  /** Stores a message for delivery; returns the outbox row id (what a later `update` names). */
  enqueue(
    channel: string,
    message: ChatMessage,
    options: { readonly dedupeKey: string; readonly op?: 'post' | 'update'; readonly updateOf?: number },
  ): { readonly id: number };
}

export interface ExecutionRequest {
  readonly proposal: Proposal;
  readonly action: CompiledAction;
  /** decide()'s verdict at click time: always `execute`. */
  readonly decision: Decision;
  readonly trigger: { readonly source: 'approval'; readonly ref: string };
  readonly incidentId?: string | null;
  readonly approvalId: string;
  readonly evidence?: readonly string[];
}

export interface ExecutionResult {
  readonly status: 'succeeded' | 'failed' | 'interrupted' | 'skipped';
  /** The run record (runs.id), when one was written. */
  readonly runId: string | null;
  /** A short sentence a person can read: what happened. */
  readonly outcome: string;
}

/** The action runner, as far as approvals use it (src/actions/runner.ts's Runner fits as is). */
export interface ActionExecutor {
  execute(request: ExecutionRequest): Promise<ExecutionResult>;
}

/** Exactly what an action runs with these params: argv, or `METHOD URL`. */
export type Describe = (action: CompiledAction, params: Params) => string;

/** One approval, for `/autonomy approvals`, status and the console. */
export interface ApprovalInfo {
  readonly id: string;
  readonly shortId: string;
  readonly agent: AgentName;
  readonly actionId: string;
  readonly params: Params;
  readonly state: ApprovalState;
  /** What will run (or ran): argv or METHOD URL. */
  readonly display: string;
  readonly target: string;
  readonly tier: Tier | null;
  readonly requestedAt: number;
  readonly expiresAt: number;
  readonly decidedBy: string | null;
  readonly decidedAt: number | null;
  /** Deny or void reason, or the run's outcome. */
  readonly reason: string | null;
  readonly runId: string | null;
  /** `i7` when the request came from an incident. */
  readonly incident: string | null;
  readonly escalationLevel: number;
}

export interface DecideInput {
  /** Who clicked or typed (`slack:user:U123`, `cli:user:ana`). */
  readonly actor: string;
  /** Groups/roles the platform says the actor is in. */
  readonly actorGroups?: readonly string[];
  readonly verdict: 'approve' | 'deny' | 'grant';
  /** Deny reason (recorded and shown); a note for approve and grant. */
  readonly reason?: string | null;
  /** For `grant`: how long the standing grant lasts (default 4). */
  readonly hours?: number;
  /** The button's nonce. Required for clicks; typed commands have none. */
  readonly nonce?: string;
  /** `button` demands a valid nonce; defaults to `button` when a nonce is given, else `command`. */
  readonly via?: 'button' | 'command';
  /** Resolve only once the approved action has finished (the CLI, tests); default false. */
  readonly wait?: boolean;
}
