/**
 * The agent dispatcher: the worker over durable agent jobs (jobs.ts). The signal store hands it
 * the stored signals inside their write transaction (`raise`: the jobs are written with them),
 * and after the COMMIT (`onStored`) it wakes the agents that got work. Which signals become jobs,
 * and for which agents, is in jobs.ts.
 *
 * Per agent: one job at a time, worst severity first, then oldest; a job is claimed with a lease.
 * Before it runs, a job is checked again: its agent killed since -> skipped (not replayed on resume);
 * the policy no longer sends it to the agent -> closed; its incident resolved meanwhile -> closed;
 * tried too often -> closed; taken up again after a crash whose run had already started actions ->
 * done with that run (the restart records what the actions did; running it again would act twice).
 * At start, the jobs a dead process held are taken up again. On stop,
 * a run the shutdown cut short hands its job back for the next start: nothing is lost.
 * Jobs another process wrote (a resolution typed in the CLI raises the mentor's) wake nobody here:
 * every agent also looks for work every `lookMs`.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Policy } from '../../policy/types.js';
import type { AgentName } from '../../policy/vocabulary.js';
import type { Foreground } from '../../process/foreground.js';
import type { StoredSignal } from '../../signals/incidents/store.js';
import { type AgentJobs, type JobRow, MAX_ATTEMPTS } from './jobs.js';
import type { AgentBody, AgentPipeline } from './pipeline.js';
import type { AgentRunResult, AgentTrigger } from './pipeline-types.js';
import type { Agent, AgentSignal } from './types.js';

export interface DispatchLog {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface AgentDispatcherDeps {
  readonly agents: readonly Agent[];
  readonly pipeline: Pick<AgentPipeline, 'begin'>;
  readonly jobs: AgentJobs;
  readonly policy: () => Policy;
  /** Is the agent killed now (its own switch or the global one)? */
  readonly isKilled: (agent: AgentName) => boolean;
  readonly now: () => number;
  readonly log: DispatchLog;
  /** Requests and deliveries in flight: each job waits for a moment without them (at most JOB_WAIT_MS). */
  readonly foreground?: Foreground;
  /** The longest a job waits for the foreground (default JOB_WAIT_MS). */
  readonly jobWaitMs?: number;
  /** After the jobs could not be read or written (a full disk), when the agent tries again (default RETRY_MS). */
  readonly retryMs?: number;
  /** How often every agent looks for jobs nobody woke it for (default LOOK_MS). */
  readonly lookMs?: number;
}

/** The longest a job waits for the foreground work in flight (process/foreground.ts) to end. */
export const JOB_WAIT_MS = 50;

/** After a failed claim (the database refused), the agent's worker tries again this much later. */
export const RETRY_MS = 5000;

/** Every agent looks for jobs this often: those another process wrote (the CLI) wake nobody. */
export const LOOK_MS = 5000;

interface Lane {
  readonly agent: Agent;
  running: Promise<void> | null;
  /** Woken while working: look for jobs once more before going idle. */
  again: boolean;
}

/** How the run record names where a signal came from. */
export function triggerSourceOf(source: string): string {
  if (source.startsWith('probe:')) return 'probe';
  if (source.startsWith('sweep:')) return 'sweep';
  return 'webhook';
}

export function agentSignalOf(s: StoredSignal): AgentSignal {
  const i = s.input;
  return {
    id: s.signalId,
    kind: i.kind,
    source: i.source,
    fingerprint: i.fingerprint,
    title: i.title,
    service: i.service ?? null,
    severity: i.severity,
    payload: i.payload,
    occurredAt: i.occurredAt ?? null,
    resolves: i.resolves === true,
    incident: s.incident,
  };
}

export class AgentDispatcher {
  readonly #d: AgentDispatcherDeps;
  readonly #lanes = new Map<AgentName, Lane>();
  readonly #woken = new Set<AgentName>();
  #stopped = false;
  #look: NodeJS.Timeout | null = null;
  #idleWaiters: (() => void)[] = [];

  constructor(deps: AgentDispatcherDeps) {
    this.#d = deps;
    for (const agent of deps.agents) this.#lanes.set(agent.name, { agent, running: null, again: false });
  }

  /** Inside the signals' write transaction (SignalStore.beforeCommit): raises their jobs. */
  readonly raise = (batch: readonly StoredSignal[]): void => {
    for (const stored of batch) {
      try {
        for (const agent of this.#d.jobs.raise(stored)) this.#woken.add(agent);
      } catch (err) {
        // The signal is the evidence and must be stored even when its jobs cannot be: say so loudly.
        this.#d.log.error(
          { err, signal: stored.signalId },
          'agent jobs could not be raised for a stored signal',
        );
      }
    }
  };

  /** After the COMMIT (SignalStore.onStored): wakes the agents that got jobs. */
  readonly onStored = (): void => {
    if (this.#stopped) return;
    const woken = [...this.#woken];
    this.#woken.clear();
    for (const agent of woken) this.#wake(agent);
  };

  /** Takes up the jobs a dead process left, then every agent looks for work, now and every lookMs. */
  start(): void {
    this.#stopped = false;
    const orphans = this.#d.jobs.releaseOrphans();
    if (orphans > 0)
      this.#d.log.warn(
        { jobs: orphans },
        `${orphans} agent job(s) a stop or crash cut short are taken up again`,
      );
    this.#wakeAll();
    if (this.#look === null) {
      this.#look = setInterval(() => this.#wakeAll(), this.#d.lookMs ?? LOOK_MS);
      this.#look.unref();
    }
  }

  /** Jobs waiting or running per agent. */
  queued(): Partial<Record<AgentName, number>> {
    return this.#d.jobs.backlog();
  }

  /** Resolves when no agent is working (tests). */
  idle(): Promise<void> {
    if (this.#isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Takes no more jobs; resolves when the running ones have ended (their jobs finished or handed back). */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#look !== null) clearInterval(this.#look);
    this.#look = null;
    await Promise.allSettled([...this.#lanes.values()].flatMap((l) => (l.running ? [l.running] : [])));
    this.#checkIdle();
  }

  #wakeAll(): void {
    if (this.#stopped) return;
    for (const agent of this.#lanes.keys()) this.#wake(agent);
  }

  #wake(agent: AgentName): void {
    const lane = this.#lanes.get(agent);
    if (lane === undefined) return;
    lane.again = true;
    if (lane.running === null) lane.running = this.#work(lane);
  }

  #isIdle(): boolean {
    for (const lane of this.#lanes.values()) if (lane.running !== null) return false;
    return true;
  }

  #checkIdle(): void {
    if (!this.#isIdle()) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const w of waiters) w();
  }

  async #work(lane: Lane): Promise<void> {
    try {
      while (!this.#stopped) {
        // Each job on a turn of its own: never inside the caller's stack (or its transaction), and
        // after the webhooks being answered and the messages being sent (for JOB_WAIT_MS at most).
        // A job on rules alone never waits on I/O, so without this a backlog (a storm's thousands of
        // incidents) would run as one long chain of promise callbacks while webhooks wait for
        // their 202 and cards wait to be sent.
        await (this.#d.foreground?.turn(this.#d.jobWaitMs ?? JOB_WAIT_MS) ?? nextTurn());
        if (this.#stopped) break;
        lane.again = false;
        // The run's start record commits with the claim; its body starts only after the COMMIT.
        const claimed = this.#d.jobs.claimAndStart(lane.agent.name, (job) => this.#begin(lane.agent, job));
        if (claimed === null) {
          if (lane.again) continue;
          break;
        }
        await claimed.started();
      }
    } catch (err) {
      const retryMs = this.#d.retryMs ?? RETRY_MS;
      this.#d.log.error(
        { err, agent: lane.agent.name, retryMs },
        'agent jobs could not be read or written: trying again shortly',
      );
      setTimeout(() => {
        if (!this.#stopped) this.#wake(lane.agent.name);
      }, retryMs).unref();
    }
    lane.running = null;
    this.#checkIdle();
  }

  /**
   * Inside the claim's transaction: ends the job at once (skipped, closed) or writes its run's
   * start. Returns what to do after the COMMIT (start the run's body and wait for its end), so a
   * claim that does not commit runs nothing.
   */
  #begin(agent: Agent, job: JobRow): () => Promise<void> {
    const { jobs } = this.#d;
    const ended = (): Promise<void> => Promise.resolve();
    if (this.#d.isKilled(agent.name)) {
      jobs.finish(job, 'skipped', `${agent.name} was killed before it was taken: not replayed on resume`);
      return ended;
    }
    const s = jobs.signalOf(job);
    const policy = this.#d.policy();
    if (s === null) {
      jobs.finish(job, 'closed', `signal ${job.subject} is no longer stored`);
      return ended;
    }
    if (!policy.enabledAgents.has(agent.name) || !policy.doc.triggers.events.includes(s.kind)) {
      jobs.finish(job, 'closed', `the policy in force no longer sends ${s.kind} signals to ${agent.name}`);
      return ended;
    }
    if (jobs.incidentResolved(job)) {
      jobs.finish(job, 'closed', 'the incident resolved before it was taken');
      return ended;
    }
    if (job.attempts > MAX_ATTEMPTS) {
      jobs.finish(job, 'closed', `gave up after ${MAX_ATTEMPTS} attempts that did not finish`);
      return ended;
    }
    // Also after a clean stop (which hands the job back): a run cut short may have started actions.
    const acted = jobs.actedBefore(job);
    if (acted !== null) {
      jobs.finish(
        job,
        'done',
        `the bot stopped during run ${acted} after it had started actions: their outcomes are recorded at restart, nothing is re-run`,
        acted,
      );
      return ended;
    }
    const trigger: AgentTrigger = {
      source: triggerSourceOf(s.source),
      ref: s.id,
      kind: 'signal',
      signalKind: s.kind,
      incidentId: s.incident?.id ?? null,
      incidentShortId: s.incident?.shortId ?? null,
      service: s.service,
      signature: s.kind === 'error_signature' ? s.fingerprint : null,
      severity: s.severity,
      job: job.id,
    };
    const body: AgentBody = async (ctx) => {
      await agent.onSignal?.(s, ctx);
    };
    // The job ends in the transaction that records its run's end: one commit, and no crash between.
    const settle = (result: AgentRunResult): void => {
      if (this.#stopped && result.status === 'interrupted') jobs.release(job);
      else jobs.finish(job, 'done', `${result.status}: ${result.outcome}`, result.runId);
    };
    const go = this.#d.pipeline.begin(agent, trigger, body, undefined, settle);
    return async () => {
      try {
        await go();
      } catch (err) {
        // The run's end could not be recorded: the job stays claimed, and its lease brings it back.
        this.#d.log.error({ err, agent: agent.name, signal: s.id }, 'agent run could not be recorded');
      }
    };
  }
}
