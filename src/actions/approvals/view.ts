/**
 * How an approval looks from outside: the facts its messages show (rendered against the policy in
 * force), its summary for `/autonomy approvals`, the in-place updates of its posts, and the audit
 * fields every approval record carries.
 */
import type { AuditEntry } from '../../audit/log.js';
import type { ButtonKey } from '../../chat/button-key.js';
import { effectivePhase } from '../../policy/decide.js';
import { checkParams, targetSystem } from '../../policy/params.js';
import type { Policy } from '../../policy/types.js';
import type { ControlFacts } from '../grants.js';
import { type ApprovalFacts, approvalMessage, decisionMessage } from './messages.js';
import type { ApprovalInfo, Describe, MessageSink } from './ports.js';
import { type ApprovalRecord, approvalShortId, outboxIds } from './store.js';

export interface ViewOptions {
  readonly messages: MessageSink;
  readonly describe: Describe;
  readonly policy: () => Policy;
  readonly controlState: () => ControlFacts;
  readonly key: ButtonKey;
  /** Hours on the phase 4 "Approve + allow" button, or null when grants are not wired. */
  readonly grantHours: number | null;
}

export class ApprovalView {
  constructor(private readonly o: ViewOptions) {}

  facts(rec: ApprovalRecord, policy: Policy = this.o.policy()): ApprovalFacts {
    const action = policy.actions.get(rec.actionId);
    const usable =
      action !== undefined && action.agent === rec.agent && checkParams(action, rec.params) === null;
    let display = `${rec.actionId} ${JSON.stringify(rec.params)}`;
    if (usable) {
      try {
        display = this.o.describe(action, rec.params);
      } catch {
        // keep the plain form: a renderer bug must not hide the request
      }
    }
    const grantable =
      rec.state === 'pending' &&
      this.o.grantHours !== null &&
      usable &&
      effectivePhase(policy, this.o.controlState(), rec.agent) === 4;
    return {
      shortId: approvalShortId(rec.number),
      agent: rec.agent,
      actionId: rec.actionId,
      description: usable ? action.doc.description : null,
      display,
      target: usable ? targetSystem(action, rec.params) : 'unknown (the action is no longer in the policy)',
      tier: action?.effectiveTier ?? null,
      tierReason: action?.tierReason ?? 'the action is no longer in the policy',
      rationale: rec.rationale,
      evidence: rec.evidence,
      approvers: policy.doc.control.roles.approvers,
      requestedAt: rec.requestedAt,
      expiresAt: rec.expiresAt,
      incidentShortId: rec.incidentNumber === null ? null : `i${rec.incidentNumber}`,
      state: rec.state,
      decidedBy: rec.decidedBy,
      decidedAt: rec.decidedAt,
      reason: rec.reason,
      runId: rec.runId,
      nonce: this.o.key.nonce('approval', rec.id),
      grantHours: grantable ? this.o.grantHours : null,
      updatedAt: rec.updatedAt,
    };
  }

  info(rec: ApprovalRecord): ApprovalInfo {
    const f = this.facts(rec);
    return {
      id: rec.id,
      shortId: f.shortId,
      agent: rec.agent,
      actionId: rec.actionId,
      params: rec.params,
      state: rec.state,
      display: f.display,
      target: f.target,
      tier: f.tier,
      requestedAt: rec.requestedAt,
      expiresAt: rec.expiresAt,
      decidedBy: rec.decidedBy,
      decidedAt: rec.decidedAt,
      reason: rec.reason,
      runId: rec.runId,
      incident: f.incidentShortId,
      escalationLevel: rec.escalationLevel,
    };
  }

  /**
   * Queues an in-place update of every post of the request (the first posts and escalation
   * re-posts) to show its state now; with `post`, also a decision message to those channels.
   * Call inside the transaction that changed the state.
   */
  publish(rec: ApprovalRecord, post: boolean): void {
    const f = this.facts(rec);
    const msg = approvalMessage(f);
    const posts = outboxIds(rec.messageRefs);
    for (const { channel, id } of posts) {
      this.o.messages.enqueue(channel, msg, {
        dedupeKey: `approval:${rec.id}:v${rec.version}:${id}`,
        op: 'update',
        updateOf: id,
      });
    }
    if (!post) return;
    const decision = decisionMessage(f);
    for (const channel of new Set(posts.map((p) => p.channel))) {
      this.o.messages.enqueue(channel, decision, { dedupeKey: `approval:${rec.id}:${rec.state}:${channel}` });
    }
  }
}

/** The audit fields every approval record carries. */
export function approvalAudit(
  rec: ApprovalRecord,
  policy: Policy,
  kind: string,
  actor: string,
  trigger: string,
): AuditEntry {
  const action = policy.actions.get(rec.actionId);
  return {
    kind,
    agent: rec.agent,
    actor,
    trigger,
    actionClass: action?.class ?? null,
    tier: action?.effectiveTier ?? null,
    data: approvalData(rec),
  };
}

export function approvalData(rec: ApprovalRecord): Record<string, unknown> {
  return {
    approval: approvalShortId(rec.number),
    id: rec.id,
    actionId: rec.actionId,
    params: { ...rec.params },
    bindingHash: rec.bindingHash,
    state: rec.state,
    reason: rec.reason,
  };
}
