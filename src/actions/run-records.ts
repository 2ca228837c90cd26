/**
 * The runner's writes: a run's row in `runs` and its audit records, each change and its audit
 * record in one write transaction. `run.start` before anything runs; `run` (the template's run
 * metadata: trigger, model or `rules`, action class, tier, verdict, outcome, evidence) when it ends;
 * `run.killed` when the kill switch stops it; and, after a restart, `run` for every run a dead
 * process left `running`, marked interrupted and never re-run.
 */
import { and, eq, inArray } from 'drizzle-orm';
import type { AuditLog } from '../audit/log.js';
import { type Database, writeTransaction } from '../db/connection.js';
import { approvals, runs } from '../db/schema.js';
import type { AgentName, Tier } from '../policy/vocabulary.js';
import type { Clock } from '../process/ids.js';
import type { FinalStatus } from './run-outcome.js';
import type { RunRequest } from './run-request.js';

/** Who the runner is in the audit log. */
export const RUNNER_ACTOR = 'system:runner';
/** Who marks runs left behind by a dead process. */
export const RECOVERY_ACTOR = 'system:start';
export const RECOVERED_OUTCOME = 'interrupted: the bot stopped while this was running; it was not re-run';

export interface RecordDeps {
  readonly database: Database;
  readonly audit: AuditLog;
  readonly now: Clock;
}

/** A run a dead process left `running`, and what recovery found (never re-run). */
export interface InterruptedRun {
  readonly runId: string;
  readonly agent: AgentName;
  readonly actionId: string | null;
  readonly startedAt: number;
  readonly incidentId: string | null;
  /** The approval it executed, if any (approvals.run_id). */
  readonly approvalId: string | null;
  /** interrupted (not re-run), finished while the bot was down, or still running and followed. */
  readonly kind: LeftRunVerdict['kind'];
  readonly status: LeftRunVerdict['status'];
  readonly outcome: string;
}

export interface StopCause {
  readonly actor: string;
  readonly reason: string | null;
}

export function killedOutcome(by: StopCause): string {
  return `killed by ${by.actor}${by.reason ? ` (${by.reason})` : ''}`;
}

/** `provider/model`, or `rules` when no model chose the action. */
export function modelName(m: RunRequest['model']): string {
  return m ? `${m.provider}/${m.name}` : 'rules';
}

/** The `running` row and the `run.start` audit record, committed before anything starts. */
export function recordRunStart(
  deps: RecordDeps,
  r: {
    runId: string;
    startedAt: number;
    req: RunRequest;
    tier: Tier;
    model: string;
    display: string;
    dryRun: boolean;
  },
): void {
  const { database, audit } = deps;
  const { req, runId } = r;
  const { action, decision } = req;
  writeTransaction(database, () => {
    database.db
      .insert(runs)
      .values({
        id: runId,
        agent: action.agent,
        triggerSource: req.trigger.source,
        triggerRef: req.trigger.ref ?? null,
        model: req.model ? req.model.name : 'rules',
        provider: req.model ? req.model.provider : null,
        actionId: action.id,
        actionClass: action.class,
        tier: r.tier,
        verdict: 'execute',
        startedAt: r.startedAt,
        status: 'running',
        incidentId: req.incidentId ?? null,
      })
      .run();
    audit.appendInTx({
      kind: 'run.start',
      agent: action.agent,
      actor: RUNNER_ACTOR,
      trigger: req.trigger.source,
      model: r.model,
      actionClass: action.class,
      tier: r.tier,
      verdict: 'execute',
      outcome: `started ${r.dryRun ? '(dry run) ' : ''}${r.display}`,
      evidence: [`run:${runId}`],
      data: {
        runId,
        actionId: action.id,
        params: { ...req.proposal.params },
        triggerRef: req.trigger.ref ?? null,
        incidentId: req.incidentId ?? null,
        approvalId: req.approvalId ?? null,
        decision: { code: decision.code, phase: decision.phase, reason: decision.reason },
        dryRun: r.dryRun,
      },
    });
  });
}

/**
 * A run refused before it started because its record would lack fields the policy requires
 * (`evidence.required`): a `run.refused` audit record with what it had and what it lacked. No
 * `runs` row: nothing started, so cooldowns and daily caps do not count it.
 */
export function recordRunRefused(
  deps: RecordDeps,
  r: { req: RunRequest; tier: Tier; model: string; missing: readonly string[]; outcome: string },
): void {
  const { req } = r;
  deps.audit.append({
    kind: 'run.refused',
    agent: req.action.agent,
    actor: RUNNER_ACTOR,
    trigger: req.trigger.source || null,
    model: r.model,
    actionClass: req.action.class,
    tier: r.tier,
    verdict: 'deny',
    outcome: r.outcome,
    evidence: [
      ...(req.approvalId ? [`approval:${req.approvalId}`] : []),
      ...(req.incidentId ? [`incident:${req.incidentId}`] : []),
      ...(req.evidence ?? []).filter((e) => e.trim() !== ''),
    ],
    data: {
      actionId: req.action.id,
      params: { ...req.proposal.params },
      missing: [...r.missing],
      triggerRef: req.trigger.ref ?? null,
      incidentId: req.incidentId ?? null,
      approvalId: req.approvalId ?? null,
      decision: { code: req.decision.code, phase: req.decision.phase, reason: req.decision.reason },
    },
  });
}

/** The outcome on the row and the `run` audit record with the template's run metadata. */
export function recordRunEnd(
  deps: RecordDeps,
  r: {
    runId: string;
    req: RunRequest;
    status: FinalStatus;
    outcome: string;
    evidence: readonly string[];
    wallMs: number;
    tier: Tier;
    model: string;
    display: string;
    facts: Record<string, unknown> | null;
  },
): void {
  const { database, audit, now } = deps;
  const { req } = r;
  const finishedAt = now();
  writeTransaction(database, () => {
    database.db
      .update(runs)
      .set({
        status: r.status,
        outcome: r.outcome,
        evidence: [...r.evidence],
        wallMs: r.wallMs,
        cpuMs: null,
        finishedAt,
        error: r.status === 'failed' || r.status === 'interrupted' ? r.outcome : null,
      })
      .where(eq(runs.id, r.runId))
      .run();
    audit.appendInTx({
      kind: 'run',
      agent: req.action.agent,
      actor: RUNNER_ACTOR,
      trigger: req.trigger.source,
      model: r.model,
      actionClass: req.action.class,
      tier: r.tier,
      verdict: 'execute',
      outcome: r.outcome,
      evidence: r.evidence,
      data: {
        runId: r.runId,
        actionId: req.action.id,
        status: r.status,
        display: r.display,
        triggerRef: req.trigger.ref ?? null,
        incidentId: req.incidentId ?? null,
        approvalId: req.approvalId ?? null,
        wallMs: r.wallMs,
        cpuMs: null,
        execution: r.facts,
      },
    });
  });
}

/** Marks runs stopped by the kill switch (or shutdown) interrupted, at once, with a `run.killed` record each. */
export function recordRunsStopped(
  deps: RecordDeps,
  stopped: readonly { runId: string; agent: AgentName; actionId: string; pid: number | null }[],
  by: StopCause,
): void {
  const { database, audit, now } = deps;
  const at = now();
  const outcome = killedOutcome(by);
  writeTransaction(database, () => {
    for (const s of stopped) {
      database.db
        .update(runs)
        .set({ status: 'interrupted', outcome, error: outcome, finishedAt: at })
        .where(and(eq(runs.id, s.runId), eq(runs.status, 'running')))
        .run();
      audit.appendInTx({
        kind: 'run.killed',
        agent: s.agent,
        actor: by.actor,
        outcome,
        evidence: [`run:${s.runId}`],
        data: { runId: s.runId, actionId: s.actionId, pid: s.pid, reason: by.reason },
      });
    }
  });
}

/** What restart recovery says about one run a dead process left `running`. */
export interface LeftRunVerdict {
  /** interrupted: cut short, not re-run; finished: ended while the bot was down; followed: still running. */
  readonly kind: 'interrupted' | 'finished' | 'followed';
  /** The row's status now (`running` while followed). */
  readonly status: FinalStatus | 'running';
  readonly outcome: string;
}

type RunRow = typeof runs.$inferSelect;

/**
 * Every `running` row not in `inFlight`, judged by `judge` (see Runner.recoverAfterRestart): a
 * verdict of kind interrupted or finished is recorded now (row and audited `run` record); a
 * followed run is left running, to be recorded by recordFollowedEnd() when it ends. Runs nothing.
 */
export function recoverInterruptedRuns(
  deps: RecordDeps,
  inFlight: ReadonlySet<string>,
  judge: (row: { id: string; actionId: string | null }) => LeftRunVerdict = () => ({
    kind: 'interrupted',
    status: 'interrupted',
    outcome: RECOVERED_OUTCOME,
  }),
): InterruptedRun[] {
  const { database } = deps;
  return writeTransaction(database, () => {
    const db = database.db;
    const left = db
      .select()
      .from(runs)
      .where(eq(runs.status, 'running'))
      .all()
      .filter((row) => !inFlight.has(row.id));
    if (left.length === 0) return [];
    const approvalOf = new Map<string, string>();
    const linked = db
      .select({ id: approvals.id, runId: approvals.runId })
      .from(approvals)
      .where(
        inArray(
          approvals.runId,
          left.map((row) => row.id),
        ),
      )
      .all();
    for (const a of linked) if (a.runId !== null) approvalOf.set(a.runId, a.id);
    return left.map((row): InterruptedRun => {
      const verdict = judge(row);
      const approvalId = approvalOf.get(row.id) ?? null;
      if (verdict.kind !== 'followed') recordLeftRun(deps, row, approvalId, verdict);
      return {
        runId: row.id,
        agent: row.agent,
        actionId: row.actionId,
        startedAt: row.startedAt,
        incidentId: row.incidentId,
        approvalId,
        kind: verdict.kind,
        status: verdict.status,
        outcome: verdict.outcome,
      };
    });
  });
}

/** A followed run (recoverInterruptedRuns) ended: its row and audited `run` record, if still running. */
export function recordFollowedEnd(deps: RecordDeps, runId: string, verdict: LeftRunVerdict): void {
  const { database } = deps;
  writeTransaction(database, () => {
    const row = database.db.select().from(runs).where(eq(runs.id, runId)).get();
    if (row === undefined || row.status !== 'running') return;
    const approval = database.db
      .select({ id: approvals.id })
      .from(approvals)
      .where(eq(approvals.runId, runId))
      .get();
    recordLeftRun(deps, row, approval?.id ?? null, verdict);
  });
}

/** Inside a write transaction: the row's final status and its `run` audit record by system:start. */
function recordLeftRun(
  deps: RecordDeps,
  row: RunRow,
  approvalId: string | null,
  verdict: LeftRunVerdict,
): void {
  const { database, audit, now } = deps;
  const status = verdict.status === 'running' ? 'interrupted' : verdict.status;
  database.db
    .update(runs)
    .set({
      status,
      outcome: verdict.outcome,
      error: status === 'failed' || status === 'interrupted' ? verdict.outcome : null,
      finishedAt: now(),
    })
    .where(and(eq(runs.id, row.id), eq(runs.status, 'running')))
    .run();
  audit.appendInTx({
    kind: 'run',
    agent: row.agent,
    actor: RECOVERY_ACTOR,
    trigger: row.triggerSource,
    model: row.model === null || row.model === 'rules' ? 'rules' : `${row.provider}/${row.model}`,
    actionClass: row.actionClass,
    tier: row.tier,
    verdict: row.verdict,
    outcome: verdict.outcome,
    evidence: [`run:${row.id}`, ...(approvalId ? [`approval:${approvalId}`] : []), ...row.evidence],
    data: { runId: row.id, actionId: row.actionId, status, startedAt: row.startedAt, recovery: verdict.kind },
  });
}
