/**
 * What the command set needs from the rest of the core, as small interfaces. src/main.ts wires
 * the real modules (approvals, incidents, mutes, runner, outbox, ...); tests pass fakes.
 */
import type { AuditLog } from '../../audit/log.js';
import type { ControlStore } from '../../control/state.js';
import type { Policy } from '../../policy/types.js';
import type { AgentName, Severity } from '../../policy/vocabulary.js';
import { AutonomyError, type AutonomyErrorOptions } from '../../process/errors.js';
import type { ChatMessage } from '../message.js';
import type { IncidentSubscription } from '../routing.js';
import type { AgentOrAll, MuteKind } from './grammar.js';

export interface ApprovalSummary {
  readonly shortId: string;
  readonly agent: AgentName;
  readonly actionId: string;
  readonly state: string;
  /** What will run (argv or METHOD URL), as shown in the request. */
  readonly display: string;
  readonly expiresAt: number;
}

export interface IncidentSummary {
  readonly shortId: string;
  readonly title: string;
  readonly severity: Severity;
  readonly status: string;
  readonly service: string | null;
  readonly signalCount: number;
  readonly startedAt: number;
}

export interface MuteSummary {
  readonly kind: MuteKind;
  readonly target: string;
  readonly until: number;
  readonly actor: string;
  readonly reason: string | null;
}

export interface BudgetRow {
  readonly agent: AgentName;
  readonly usedToday: number;
  readonly dailyTokens: number;
  /** Who set an override, when one is in force. */
  readonly overriddenBy: string | null;
}

export interface Health {
  readonly name: string;
  readonly status: 'ok' | 'degraded' | 'down' | 'off';
  readonly detail?: string;
}

/** Everything `status` shows that is not in the policy or control state. */
export interface StatusFacts {
  readonly pendingApprovals: readonly ApprovalSummary[];
  readonly openIncidents: readonly IncidentSummary[];
  readonly mutes: readonly MuteSummary[];
  readonly budgets: readonly BudgetRow[];
  readonly lastRuns: readonly {
    id: string;
    agent: AgentName;
    actionId: string | null;
    status: string;
    startedAt: number;
  }[];
  readonly outbox: {
    readonly pending: number;
    readonly failed: number;
    readonly oldestPendingAgeMs: number | null;
  };
  readonly lastPolicyError: { readonly at: number; readonly errors: readonly string[] } | null;
  readonly policyVersion: number;
  readonly health: readonly Health[];
  readonly grants: readonly { id: string; actionId: string; expiresAt: number; grantedBy: string }[];
}

export interface CommandServices {
  readonly now: () => number;
  policy(): Policy;
  readonly control: ControlStore;
  readonly audit: AuditLog;
  status(): StatusFacts;
  /** Kill's teeth: abort in-flight runs, drop queued work, void pending approvals of the target. */
  onKill(target: AgentOrAll, actor: string, reason: string | null): { aborted: number; voided: number };
  approvals: {
    list(): readonly ApprovalSummary[];
    decide(
      shortId: string,
      input: {
        actor: string;
        actorGroups: readonly string[];
        verdict: 'approve' | 'deny';
        reason: string | null;
      },
    ): Promise<ChatMessage>;
  };
  incidents: {
    /** Every unresolved incident, newest first. */
    list(): readonly IncidentSummary[];
    /** One incident by its short id (`i7`), whatever its state, or null. */
    get(shortId: string): IncidentSummary | null;
    /** A sentence for the reply; throws CommandRefusal for unknown ids or a wrong state. */
    acknowledge(shortId: string, actor: string): string;
    resolve(shortId: string, actor: string, note: string | null): string;
  };
  mutes: {
    mute(kind: MuteKind, target: string, durationMs: number, actor: string, reason: string | null): string;
    unmute(kind: MuteKind, target: string, actor: string): string;
  };
  subscriptions: {
    subscribe(channel: string, actor: string): boolean;
    unsubscribe(channel: string, actor: string): boolean;
    /** The channels that get the weekly digest by subscription (absent: not listed by `subscriptions`). */
    list?(): readonly string[];
  };
  /**
   * Channels subscribed to services' and teams' incidents (src/chat/subscriptions.ts). Absent (a
   * core that does not wire it): those subscriptions are refused with the reason.
   */
  incidentSubscriptions?: {
    subscribe(channel: string, scope: 'service' | 'team', name: string, actor: string): boolean;
    unsubscribe(channel: string, scope: 'service' | 'team', name: string, actor: string): boolean;
    list(channel?: string): readonly IncidentSubscription[];
  };
  /** A run's audit trail (lines to show), or null for an unknown run. */
  runTrail(runId: string): readonly string[] | null;
  skills(): readonly { id: string; title: string; state: string; impact: string | null }[];
  /** Posts the digest now to `channel`; returns the reply. */
  digest(channel: string, actor: string): Promise<ChatMessage>;
  /**
   * Queues a message for a channel (control changes announced: commands/announce.ts). Without it
   * (the CLI, or a core that does not wire it) changes are only answered to whoever made them.
   */
  announce?(channel: string, message: ChatMessage, dedupeKey: string): void;
}

/** A refusal a person can act on (unknown id, wrong state); the reply says it and nothing changes. */
export class CommandRefusal extends AutonomyError<'COMMAND_REFUSED'> {
  constructor(message: string, options: AutonomyErrorOptions = {}) {
    super('COMMAND_REFUSED', message, options);
  }
}
