/**
 * Durable agent work (README, "Durable agent work"). An agent job is a row of `agent_jobs`, raised
 * in the same write transaction as the signal that causes it (the signal store hands every stored
 * signal to `raise()` before its COMMIT), so a crash loses neither or both. Why a job is raised:
 *
 * - `opened` / `reopened`: the signal opened or reopened an incident of a kind the agent handles;
 * - `resolved`: it resolved an incident, for agents that handle resolutions (mentor);
 * - `unlinked`: it joined no incident (a late delivery);
 * - `health-worse`: a health probe of an open incident got worse (slow, then down).
 *
 * A signal that merely updated an open incident raises nothing (10,000 identical alerts are one
 * job). One job per (signal, agent, reason): a redelivered webhook is stored once, and a restart
 * finds the job it left. A job for a fingerprint that already waits for the same agent is not raised
 * twice (a flapping alert is triaged once). A job raised while its agent is killed is stored as
 * `skipped` and audited, and never replayed on resume. Workers claim jobs worst severity first,
 * then oldest (in the order raised), with a lease; at start the leases a dead process held lapse at once.
 */
import { and, asc, desc, eq, inArray, isNull, lte, type SQL, sql } from 'drizzle-orm';
import type { AuditLog } from '../../audit/log.js';
import type { Database } from '../../db/connection.js';
import { agentJobs, incidents, type JobReason, type JobState, runs, signals } from '../../db/schema.js';
import type { Policy } from '../../policy/types.js';
import { AGENTS, type AgentName, type Severity } from '../../policy/vocabulary.js';
import type { Clock, NewId } from '../../process/ids.js';
import type { StoredSignal } from '../../signals/incidents/store.js';
import type { IncidentChange } from '../../signals/types.js';
import type { Agent, AgentSignal } from './types.js';

export type JobRow = typeof agentJobs.$inferSelect;

/** How long a claim holds before the job may be taken up again (a run ends well before). */
export const LEASE_MS = 10 * 60_000;
/** A job that failed to finish this many times is closed, not tried forever. */
export const MAX_ATTEMPTS = 3;

const RANK: Record<Severity, number> = { critical: 2, warning: 1, info: 0 };

/** Where a job stands in the claim order. */
const claimKey = {
  rowid: sql<number>`rowid`.as('rowid'),
  severityRank: agentJobs.severityRank,
  createdAt: agentJobs.createdAt,
};
type ClaimKey = { readonly rowid: number; readonly severityRank: number; readonly createdAt: number };

/** Does `a` come before `b` in the claim order (worst severity, then oldest, then first stored)? */
function before(a: ClaimKey, b: ClaimKey): boolean {
  if (a.severityRank !== b.severityRank) return a.severityRank > b.severityRank;
  if (a.createdAt !== b.createdAt) return a.createdAt < b.createdAt;
  return a.rowid < b.rowid;
}

export interface AgentJobsDeps {
  readonly database: Database;
  readonly audit: AuditLog;
  readonly now: Clock;
  readonly newId: NewId;
  readonly agents: readonly Agent[];
  readonly policy: () => Policy;
  readonly isKilled: (agent: AgentName) => boolean;
}

/** Why this stored signal is work, or null when it is not (an update, a resolution of nothing). */
export function reasonOf(s: StoredSignal): { reason: JobReason; resolved: boolean } | null {
  const change = s.incident?.change ?? null;
  const resolves = s.input.resolves === true;
  if (change === 'resolved') return { reason: 'resolved', resolved: true };
  if (change === 'opened' || change === 'reopened') return { reason: change, resolved: false };
  if (change === null) return resolves ? null : { reason: 'unlinked', resolved: false };
  if (change === 'updated' && s.input.kind === 'health' && !resolves) {
    return { reason: 'health-worse', resolved: false };
  }
  return null;
}

/** The statements of the hot path, prepared once (an incident storm raises and claims thousands). */
function prepare(database: Database) {
  const db = database.db;
  const p = sql.placeholder;
  const waitingReasons = (resolved: boolean) =>
    db
      .select({ id: agentJobs.id })
      .from(agentJobs)
      .where(
        and(
          eq(agentJobs.agent, p('agent')),
          eq(agentJobs.fingerprint, p('fingerprint')),
          // Literal, so SQLite sees that the partial index agent_jobs_waiting_idx answers it.
          sql`${agentJobs.state} = 'queued'`,
          inArray(
            agentJobs.reason,
            resolved ? ['resolved'] : ['opened', 'reopened', 'unlinked', 'health-worse'],
          ),
        ),
      )
      .prepare();
  const nextIn = (state: 'queued' | 'running', lapsed?: SQL) =>
    db
      .select(claimKey)
      .from(agentJobs)
      .where(and(eq(agentJobs.agent, p('agent')), eq(agentJobs.state, state), lapsed))
      .orderBy(desc(agentJobs.severityRank), asc(agentJobs.createdAt), sql`rowid`)
      .limit(1)
      .prepare();
  return {
    insert: db
      .insert(agentJobs)
      .values({
        id: p('id'),
        agent: p('agent'),
        reason: p('reason'),
        subject: p('subject'),
        fingerprint: p('fingerprint'),
        incidentId: p('incidentId'),
        change: p('change'),
        severityRank: p('severityRank'),
        state: p('state'),
        createdAt: p('createdAt'),
        finishedAt: p('finishedAt'),
        outcome: p('outcome'),
      })
      .onConflictDoNothing()
      .prepare(),
    waiting: { signal: waitingReasons(false), resolved: waitingReasons(true) },
    // The claim's order (worst severity, then oldest, then first stored) among waiting jobs and
    // running jobs whose lease lapsed, read off the claim index, which holds it (severity
    // descending): one entry however long the queue a storm makes.
    nextQueued: nextIn('queued'),
    nextExpired: nextIn('running', lte(agentJobs.leaseUntil, p('now'))),
    byRowid: db
      .select()
      .from(agentJobs)
      .where(sql`rowid = ${p('rowid')}`)
      .prepare(),
    take: db
      .update(agentJobs)
      .set({ state: 'running', leaseUntil: sql`${p('leaseUntil')}`, attempts: sql`${p('attempts')}` })
      .where(eq(agentJobs.id, p('id')))
      .prepare(),
    finish: db
      .update(agentJobs)
      .set({
        state: sql`${p('state')}`,
        outcome: sql`${p('outcome')}`,
        runId: sql`${p('runId')}`,
        finishedAt: sql`${p('at')}`,
        leaseUntil: null,
      })
      .where(eq(agentJobs.id, p('id')))
      .prepare(),
    signal: db
      .select()
      .from(signals)
      .where(eq(signals.id, p('id')))
      .prepare(),
    // Every job asks (a clean stop hands a job back with its attempts as they were), so it must use
    // the trigger_ref index: with an ORDER BY on started_at SQLite walks runs_agent_started_idx
    // instead, every run the agent ever made. The few rows are put in order in the caller.
    earlierRuns: db
      .select({ id: runs.id, startedAt: runs.startedAt })
      .from(runs)
      .where(and(eq(runs.triggerRef, p('subject')), eq(runs.agent, p('agent')), isNull(runs.actionId)))
      .prepare(),
    startedBy: db
      .select({ id: runs.id })
      .from(runs)
      .where(eq(runs.triggerRef, p('runId')))
      .limit(1)
      .prepare(),
    unfinished: db
      .select({ n: sql<number>`count(*)` })
      .from(agentJobs)
      .where(and(eq(agentJobs.agent, p('agent')), inArray(agentJobs.state, ['queued', 'running'])))
      .prepare(),
    incidentStatus: db
      .select({ status: incidents.status })
      .from(incidents)
      .where(eq(incidents.id, p('id')))
      .prepare(),
  };
}

export class AgentJobs {
  readonly #d: AgentJobsDeps;
  readonly #q: ReturnType<typeof prepare>;
  readonly #claim: (
    agent: AgentName,
    start: (job: JobRow) => unknown,
  ) => { job: JobRow; started: unknown } | null;

  constructor(deps: AgentJobsDeps) {
    this.#d = deps;
    this.#q = prepare(deps.database);
    this.#claim = deps.database.sqlite.transaction((agent: AgentName, start: (job: JobRow) => unknown) => {
      const now = this.#d.now();
      const next = this.#next(agent, now);
      if (next === undefined) return null;
      const claimed = {
        state: 'running' as const,
        leaseUntil: now + LEASE_MS,
        attempts: next.attempts + 1,
      };
      this.#q.take.run({ id: next.id, leaseUntil: claimed.leaseUntil, attempts: claimed.attempts });
      const job: JobRow = { ...next, ...claimed };
      return { job, started: start(job) };
    });
  }

  /** The agent's next job: the first of the best waiting one and the best lapsed claim. */
  #next(agent: AgentName, now: number): JobRow | undefined {
    const queued = this.#q.nextQueued.get({ agent });
    const expired = this.#q.nextExpired.get({ agent, now });
    const first =
      queued === undefined || (expired !== undefined && before(expired, queued)) ? expired : queued;
    return first === undefined ? undefined : this.#q.byRowid.get({ rowid: first.rowid });
  }

  /**
   * Inside the signal's write transaction: raises the jobs this stored signal makes. Returns the
   * agents that got a queued job (to wake their workers after the COMMIT).
   */
  raise(s: StoredSignal): AgentName[] {
    const why = reasonOf(s);
    if (why === null) return [];
    const policy = this.#d.policy();
    const kind = s.input.kind;
    if (!policy.doc.triggers.events.includes(kind)) return [];
    const woken: AgentName[] = [];
    for (const agent of this.#d.agents) {
      if (!agent.handles.includes(kind) || agent.onSignal === undefined) continue;
      if (!(agent.wakesOn ?? ['new']).includes(why.resolved ? 'resolved' : 'new')) continue;
      if (!policy.enabledAgents.has(agent.name)) continue;
      if (this.#waiting(agent.name, s.input.fingerprint, why.resolved)) continue;
      const killed = this.#d.isKilled(agent.name);
      const id = this.#d.newId('job');
      const inserted = this.#q.insert.run({
        id,
        agent: agent.name,
        reason: why.reason,
        subject: s.signalId,
        fingerprint: s.input.fingerprint,
        incidentId: s.incident?.id ?? null,
        change: s.incident,
        severityRank: RANK[s.input.severity],
        state: killed ? 'skipped' : 'queued',
        createdAt: s.receivedAt,
        finishedAt: killed ? s.receivedAt : null,
        outcome: killed ? `${agent.name} was killed when the job was raised: not replayed on resume` : null,
      }).changes;
      if (inserted === 0) continue;
      if (killed) {
        this.#d.audit.append({
          kind: 'agent.job.skipped',
          agent: agent.name,
          actor: 'system:dispatch',
          outcome: `${agent.name} is killed: ${why.reason} job for signal ${s.signalId} skipped`,
          trigger: 'signal',
          evidence: [`signal:${s.signalId}`, ...(s.incident ? [`incident:${s.incident.id}`] : [])],
        });
      } else {
        woken.push(agent.name);
      }
    }
    return woken;
  }

  /** A queued job of this agent for this fingerprint (signal jobs and resolution jobs apart). */
  #waiting(agent: AgentName, fingerprint: string, resolved: boolean): boolean {
    const q = resolved ? this.#q.waiting.resolved : this.#q.waiting.signal;
    return q.get({ agent, fingerprint }) !== undefined;
  }

  /** At start: the claims a dead process held lapse now (one bot per data folder: the pid file). */
  releaseOrphans(): number {
    return this.#d.database.db
      .update(agentJobs)
      .set({ state: 'queued', leaseUntil: null })
      .where(eq(agentJobs.state, 'running'))
      .run().changes;
  }

  /**
   * Claims the agent's next job (worst severity, then oldest; null when none waits) and calls
   * `start` with it inside the same transaction, so what `start` writes (the run's start record)
   * commits with the claim: one commit, and never a claimed job with no run or a run with no claim.
   */
  claimAndStart<T>(agent: AgentName, start: (job: JobRow) => T): { job: JobRow; started: T } | null {
    return this.#claim(agent, start) as { job: JobRow; started: T } | null;
  }

  /** Ends a job: done with its run, or skipped / closed with the reason. */
  finish(
    job: JobRow,
    state: Exclude<JobState, 'queued' | 'running'>,
    outcome: string,
    runId?: string | null,
  ): void {
    this.#q.finish.run({ id: job.id, state, outcome, runId: runId ?? null, at: this.#d.now() });
  }

  /** Hands a claimed job back (the bot is stopping): the next start takes it up. */
  release(job: JobRow): void {
    this.#d.database.db
      .update(agentJobs)
      .set({ state: 'queued', leaseUntil: null, attempts: Math.max(0, job.attempts - 1) })
      .where(eq(agentJobs.id, job.id))
      .run();
  }

  /** The signal as the agent sees it, rebuilt from the stored row and the change the job carries. */
  signalOf(job: JobRow): AgentSignal | null {
    const row = this.#q.signal.get({ id: job.subject });
    if (row === undefined) return null;
    return {
      id: row.id,
      kind: row.kind,
      source: row.source,
      fingerprint: row.fingerprint,
      title: row.title ?? '',
      service: row.service,
      severity: row.severity,
      payload: row.payload,
      occurredAt: row.occurredAt,
      resolves: job.reason === 'resolved',
      incident: (job.change as IncidentChange | null) ?? null,
    };
  }

  /**
   * For a job taken up again after a crash: the earlier run of it that had already started an
   * action (a run it triggered), or null. Such a job is not run again: what its actions did is
   * recorded by the restart (ended, followed or interrupted), and a second run would act twice.
   */
  actedBefore(job: JobRow): string | null {
    const earlier = this.#q.earlierRuns.all({ agent: job.agent, subject: job.subject });
    for (const run of earlier.sort((a, b) => a.startedAt - b.startedAt)) {
      if (this.#q.startedBy.get({ runId: run.id }) !== undefined) return run.id;
    }
    return null;
  }

  /** Is the job's incident resolved now (for jobs about an open incident)? */
  incidentResolved(job: JobRow): boolean {
    if (job.incidentId === null || job.reason === 'resolved') return false;
    const row = this.#q.incidentStatus.get({ id: job.incidentId });
    return row?.status === 'resolved';
  }

  /** Jobs waiting or running per agent (health, status): each a range of the claim index. */
  backlog(): Partial<Record<AgentName, number>> {
    const out: Partial<Record<AgentName, number>> = {};
    for (const agent of AGENTS) {
      const n = Number(this.#q.unfinished.get({ agent })?.n ?? 0);
      if (n > 0) out[agent] = n;
    }
    return out;
  }
}
