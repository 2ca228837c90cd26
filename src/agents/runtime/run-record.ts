/**
 * An agent run's writes: its `runs` row (action id null: an agent run is the work around actions,
 * each executed action has a run row of its own that points back here through its trigger ref),
 * its audit records, and the `proposals` rows of what it proposed. Each change and its audit record
 * commit in one write transaction: the row (status running) and `agent.start` before the agent does
 * anything, the outcome and `agent.run` (the template's run metadata: trigger, model or `rules`,
 * action class and tier, outcome, evidence) when it ends. Every new incident makes runs, so the
 * statements are prepared once per database.
 */
import { eq, sql } from 'drizzle-orm';
import type { AuditLog } from '../../audit/log.js';
import { type Database, writeTransaction } from '../../db/connection.js';
import { preparedFor } from '../../db/prepared.js';
import { modelUsage, proposals, runs, type StoredParams } from '../../db/schema.js';
import type { Decision } from '../../policy/types.js';
import type { ActionClass, AgentName, Tier, Verdict } from '../../policy/vocabulary.js';
import type { Clock } from '../../process/ids.js';

export interface RecordDeps {
  readonly database: Database;
  readonly audit: AuditLog;
  readonly now: Clock;
}

/** What started an agent run, as recorded. */
export interface RunTriggerFacts {
  readonly source: string;
  readonly ref: string | null;
  readonly label: string;
  readonly incidentId: string | null;
}

export type AgentRunStatus = 'succeeded' | 'failed' | 'interrupted';

/** The proposal that says most about a run (what ran, else what waits, ...), for its class and tier. */
export interface Headline {
  readonly actionClass: ActionClass;
  readonly tier: Tier | null;
  readonly verdict: Verdict;
}

function prepare(database: Database) {
  const db = database.db;
  const p = sql.placeholder;
  return {
    start: db
      .insert(runs)
      .values({
        id: p('id'),
        agent: p('agent'),
        triggerSource: p('triggerSource'),
        triggerRef: p('triggerRef'),
        model: null,
        provider: null,
        actionId: null,
        startedAt: p('startedAt'),
        status: 'running',
        incidentId: p('incidentId'),
      })
      .prepare(),
    tokens: db
      .select({
        n: sql<number>`coalesce(sum(${modelUsage.promptTokens} + ${modelUsage.completionTokens}), 0)`,
      })
      .from(modelUsage)
      .where(eq(modelUsage.runId, p('runId')))
      .prepare(),
    // sql`${placeholder}` skips the column's mapping: `evidence` is passed as its JSON text.
    end: db
      .update(runs)
      .set({
        status: sql`${p('status')}`,
        outcome: sql`${p('outcome')}`,
        evidence: sql`${p('evidence')}`,
        model: sql`${p('model')}`,
        provider: sql`${p('provider')}`,
        actionClass: sql`${p('actionClass')}`,
        tier: sql`${p('tier')}`,
        tokens: sql`${p('tokens')}`,
        wallMs: sql`${p('wallMs')}`,
        cpuMs: null,
        finishedAt: sql`${p('finishedAt')}`,
        error: sql`${p('error')}`,
      })
      .where(eq(runs.id, p('id')))
      .prepare(),
  };
}

function statements(database: Database): ReturnType<typeof prepare> {
  return preparedFor(database, prepare);
}

export function actorOf(agent: AgentName): string {
  return `system:${agent}`;
}

export function recordAgentStart(
  deps: RecordDeps,
  r: { runId: string; agent: AgentName; trigger: RunTriggerFacts; startedAt: number },
): void {
  const { database, audit } = deps;
  writeTransaction(database, () => {
    statements(database).start.run({
      id: r.runId,
      agent: r.agent,
      triggerSource: r.trigger.source,
      triggerRef: r.trigger.ref,
      startedAt: r.startedAt,
      incidentId: r.trigger.incidentId,
    });
    audit.appendInTx({
      kind: 'agent.start',
      agent: r.agent,
      actor: actorOf(r.agent),
      trigger: r.trigger.source,
      outcome: `${r.agent} started on ${r.trigger.label}`,
      evidence: [`run:${r.runId}`],
      data: { runId: r.runId, triggerRef: r.trigger.ref, incidentId: r.trigger.incidentId },
    });
  });
}

/** Model tokens (prompt + completion) charged to a run. */
export function runTokens(database: Database, runId: string): number {
  const row = statements(database).tokens.get({ runId });
  return Number(row?.n ?? 0);
}

export function recordAgentEnd(
  deps: RecordDeps,
  r: {
    runId: string;
    agent: AgentName;
    trigger: RunTriggerFacts;
    status: AgentRunStatus;
    outcome: string;
    evidence: readonly string[];
    model: { readonly name: string; readonly provider: string } | null;
    headline: Headline | null;
    startedAt: number;
    proposals: readonly unknown[];
  },
  /** Runs inside the same transaction, after the records (its writes commit with them). */
  also?: (recorded: { tokens: number; wallMs: number }) => void,
): { tokens: number; wallMs: number } {
  const { database, audit, now } = deps;
  return writeTransaction(database, () => {
    const finishedAt = now();
    const wallMs = Math.max(0, finishedAt - r.startedAt);
    const tokens = runTokens(database, r.runId);
    statements(database).end.run({
      id: r.runId,
      status: r.status,
      outcome: r.outcome,
      evidence: JSON.stringify(r.evidence),
      model: r.model?.name ?? null,
      provider: r.model?.provider ?? null,
      actionClass: r.headline?.actionClass ?? null,
      tier: r.headline?.tier ?? null,
      tokens,
      wallMs,
      finishedAt,
      error: r.status === 'succeeded' ? null : r.outcome,
    });
    audit.appendInTx({
      kind: 'agent.run',
      agent: r.agent,
      actor: actorOf(r.agent),
      trigger: r.trigger.source,
      model: r.model ? `${r.model.provider}/${r.model.name}` : 'rules',
      actionClass: r.headline?.actionClass ?? null,
      tier: r.headline?.tier ?? null,
      verdict: r.headline?.verdict ?? null,
      outcome: r.outcome,
      evidence: [`run:${r.runId}`, ...r.evidence],
      data: {
        runId: r.runId,
        status: r.status,
        trigger: r.trigger.label,
        triggerRef: r.trigger.ref,
        incidentId: r.trigger.incidentId,
        tokens,
        wallMs,
        proposals: r.proposals,
      },
    });
    also?.({ tokens, wallMs });
    return { tokens, wallMs };
  });
}

/** One `proposals` row: what was proposed and decided (the simulate command replays them). */
export function recordProposal(
  deps: RecordDeps & { readonly newId: (prefix: string) => string },
  p: {
    agent: AgentName;
    actionId: string;
    params: StoredParams;
    rationale: string | null;
    evidence: readonly string[];
    decision: Decision;
    incidentId: string | null;
  },
): string {
  const id = deps.newId('proposal');
  deps.database.db
    .insert(proposals)
    .values({
      id,
      agent: p.agent,
      actionId: p.actionId,
      params: p.params,
      rationale: p.rationale,
      evidence: [...p.evidence],
      verdict: p.decision.verdict,
      code: p.decision.code,
      reason: p.decision.reason,
      tier: p.decision.tier,
      phase: p.decision.phase,
      bindingHash: p.decision.bindingHash ?? null,
      decidedAt: deps.now(),
      incidentId: p.incidentId,
    })
    .run();
  return id;
}

/** Links a proposal to the action run that executed it (for the low-risk auto-resolved metric). */
export function linkProposalRun(database: Database, proposalId: string, runId: string): void {
  database.db.update(proposals).set({ runId }).where(eq(proposals.id, proposalId)).run();
}
