/**
 * Asking for an approval: the proposal, the pending approval and the request posted to every
 * approval channel, stored in one write transaction (all or nothing), audited.
 */
import { z } from 'zod';
import type { AuditLog } from '../../audit/log.js';
import { type Database, writeTransaction } from '../../db/connection.js';
import { durationMs } from '../../policy/compile.js';
import { bindingHash, checkParams, showValue, targetSystem } from '../../policy/params.js';
import type { Decision, Policy, Proposal } from '../../policy/types.js';
import type { NewId } from '../../process/ids.js';
import { approvalMessage, when } from './messages.js';
import type { ApprovalInfo, MessageSink } from './ports.js';
import { type ApprovalStore, approvalShortId } from './store.js';
import type { ApprovalTransitions } from './transitions.js';
import { type ApprovalView, approvalAudit } from './view.js';

export interface RequestContext {
  /** What started it: `webhook`, `cron`, `chat`, ... */
  readonly trigger: string;
  /** The incident (incidents.id) it is about, if any. */
  readonly incidentId?: string | null;
  /** Links or ids that back the proposal. */
  readonly evidence?: readonly string[];
}

export interface RequestResult {
  readonly approval: ApprovalInfo;
  readonly shortId: string;
  /** false when an identical request (same binding hash) was already pending: nothing new posted. */
  readonly created: boolean;
}

export interface RequestDeps {
  readonly database: Database;
  readonly audit: AuditLog;
  readonly now: () => number;
  readonly newId: NewId;
  readonly messages: MessageSink;
  readonly policy: () => Policy;
  readonly store: ApprovalStore;
  readonly view: ApprovalView;
  readonly moves: ApprovalTransitions;
}

const evidenceSchema = z.array(z.string().min(1).max(2000)).max(50);

/** See Approvals.request(). Throws a TypeError (the caller's bug) for anything but a fresh 'ask'. */
export function storeRequest(
  d: RequestDeps,
  proposal: Proposal,
  decision: Decision,
  ctx: RequestContext,
): RequestResult {
  if (decision.verdict !== 'ask' || decision.bindingHash === undefined) {
    throw new TypeError(`Approvals.request() takes an 'ask' decision, got '${decision.verdict}'`);
  }
  const policy = d.policy();
  const action = policy.actions.get(proposal.actionId);
  if (action === undefined || action.agent !== proposal.agent) {
    throw new TypeError(
      `Approvals.request(): ${showValue(proposal.actionId)} is not ${proposal.agent}'s action`,
    );
  }
  const bad = checkParams(action, proposal.params);
  if (bad !== null) throw new TypeError(`Approvals.request(): ${action.id}: ${bad}`);
  const hash = bindingHash(action, proposal.params);
  if (hash !== decision.bindingHash) {
    throw new TypeError(
      'Approvals.request(): the decision was made under another policy version; decide again',
    );
  }
  const evidence = evidenceSchema.parse([...(ctx.evidence ?? [])]);
  return writeTransaction(d.database, () => {
    const now = d.now();
    const existing = d.store.pendingFor(hash);
    // One that ran out but was not yet expired by the timer is expired now, and asked anew.
    if (existing !== null && existing.expiresAt <= now) d.moves.expire(existing);
    else if (existing !== null) {
      return {
        approval: d.view.info(existing),
        shortId: approvalShortId(existing.number),
        created: false,
      };
    }
    const number = d.store.nextNumber();
    const id = d.newId('approval');
    const proposalId = d.newId('proposal');
    const params = { ...proposal.params };
    d.store.insertProposal({
      id: proposalId,
      agent: proposal.agent,
      actionId: action.id,
      params,
      rationale: proposal.rationale ?? null,
      evidence,
      verdict: decision.verdict,
      code: decision.code,
      reason: decision.reason,
      tier: decision.tier,
      phase: decision.phase,
      bindingHash: hash,
      decidedAt: now,
      incidentId: ctx.incidentId ?? null,
    });
    const first = policy.doc.control.escalation[0];
    d.store.insertApproval({
      id,
      number,
      proposalId,
      agent: proposal.agent,
      actionId: action.id,
      params,
      bindingHash: hash,
      state: 'pending',
      requestedAt: now,
      expiresAt: now + policy.approvalTimeoutMs,
      nextEscalationAt: first === undefined ? null : now + durationMs(first.after),
      updatedAt: now,
    });
    const msg = approvalMessage(d.view.facts(d.moves.mustGet(id), policy));
    const refs = [...new Set(policy.doc.control.approvalChannels)].map((channel) => {
      const row = d.messages.enqueue(channel, msg, { dedupeKey: `approval:${id}:request:${channel}` });
      return { channel, ref: `outbox:${row.id}` };
    });
    d.store.setRefs(id, refs);
    const stored = d.moves.mustGet(id);
    const shortId = approvalShortId(number);
    d.audit.appendInTx({
      ...approvalAudit(stored, policy, 'approval.requested', `system:${proposal.agent}`, ctx.trigger),
      verdict: 'ask',
      outcome: `${shortId}: ${proposal.agent} asks to run ${action.id} on ${targetSystem(action, params)}; expires ${when(stored.expiresAt)}`,
      evidence,
    });
    return { approval: d.view.info(stored), shortId, created: true };
  });
}
