/**
 * Running an approved action: approved -> executing -> succeeded | failed | interrupted, each step
 * a conditional update that also updates the request's posts. The action runs at most once: only
 * the caller that moved the approval to executing calls the executor.
 */
import type { AuditLog } from '../../audit/log.js';
import { type Database, writeTransaction } from '../../db/connection.js';
import type { ApprovalState } from '../../db/schema.js';
import type { CompiledAction, Decision, Policy, Proposal } from '../../policy/types.js';
import { untrusted } from './messages.js';
import type { ActionExecutor, ExecutionResult } from './ports.js';
import type { ApprovalRecord, ApprovalStore } from './store.js';
import type { ApprovalTransitions } from './transitions.js';
import type { ApprovalView } from './view.js';

export type Approved = {
  readonly kind: 'approved';
  readonly record: ApprovalRecord;
  readonly action: CompiledAction;
  readonly decision: Decision;
  readonly grant: string | null;
};

export interface RunDeps {
  readonly database: Database;
  readonly audit: AuditLog;
  readonly now: () => number;
  readonly executor: ActionExecutor;
  readonly policy: () => Policy;
  readonly store: ApprovalStore;
  readonly view: ApprovalView;
  readonly moves: ApprovalTransitions;
}

export function proposalOf(rec: ApprovalRecord): Proposal {
  return {
    agent: rec.agent,
    actionId: rec.actionId,
    params: rec.params,
    ...(rec.rationale === null ? {} : { rationale: rec.rationale }),
  };
}

/** Runs the approved action once and records how it ended; returns the approval as it ended. */
export async function runApproved(d: RunDeps, a: Approved): Promise<ApprovalRecord | null> {
  const started = writeTransaction(d.database, () => {
    const set = { state: 'executing' as const, updatedAt: d.now() };
    if (!d.store.transition(a.record.id, 'approved', a.record.version, set)) return null;
    const after = d.moves.mustGet(a.record.id);
    d.view.publish(after, false);
    return after;
  });
  if (started === null) return d.store.byId(a.record.id);
  let result: ExecutionResult;
  try {
    result = await d.executor.execute({
      proposal: proposalOf(started),
      action: a.action,
      decision: a.decision,
      trigger: { source: 'approval', ref: started.id },
      approvalId: started.id,
      incidentId: started.incidentId,
      evidence: started.evidence,
    });
  } catch (err) {
    const closed = (err as { code?: unknown } | null)?.code === 'RUNNER_CLOSED';
    const text = err instanceof Error ? err.message : String(err);
    result = closed
      ? { status: 'interrupted', runId: null, outcome: `not run: the bot was shutting down (${text})` }
      : { status: 'failed', runId: null, outcome: `the action runner failed: ${text}` };
  }
  const state: ApprovalState =
    result.status === 'succeeded' ? 'succeeded' : result.status === 'interrupted' ? 'interrupted' : 'failed';
  const outcome = untrusted(
    result.status === 'skipped' ? `not run: ${result.outcome}` : result.outcome,
    1000,
  );
  return writeTransaction(d.database, () => {
    // A run id without a run record would break the foreign key: then keep it in the text only.
    const runId = result.runId;
    const known = runId !== null && d.store.runExists(runId);
    const reason = known || runId === null ? outcome : `${outcome} (run ${runId})`;
    const set = { state, runId: known ? runId : null, reason };
    return d.moves.change(started, 'executing', set, 'system:runner', 'approval', state !== 'succeeded');
  });
}
