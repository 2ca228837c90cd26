/**
 * The runner: executes a catalog action that decide() said to execute, and records it. Before
 * anything starts, a `runs` row (status running) and a `run.start` audit record are committed; when
 * it ends, the row gets its outcome and a `run` audit record carries the template's run metadata
 * (trigger, model or `rules`, action class, tier, verdict, outcome, evidence).
 *
 * The kill switch's teeth: every in-flight run is registered with an AbortController, so
 * `killAgent()` stops an agent's commands (their whole process groups) and requests at once, marks
 * the runs interrupted, and waits on nothing. After a restart, runs a dead process left `running`
 * are marked interrupted and reported; they are never re-run.
 *
 * Builtin actions (`executor: { builtin: NAME }`) call a function of the bot registered with
 * `registerBuiltin()` (the learning loop's skill-publish and skill-rollback), recorded the same way.
 */
import type { AuditLog } from '../audit/log.js';
import type { Database } from '../db/connection.js';
import { checkParams } from '../policy/params.js';
import type { AgentName, BuiltinName, Tier } from '../policy/vocabulary.js';
import type { Clock, NewId } from '../process/ids.js';
import type { Logger } from '../process/log.js';
import type { KillOrder, KillTeeth, Service } from '../service.js';
import {
  type BuiltinFn,
  BuiltinRegistry,
  type BuiltinResult,
  builtinFacts,
  builtinOf,
  builtinOutcome,
  runBuiltin,
} from './executors/builtin.js';
import { type Env, prepareCommand, runCommand } from './executors/command.js';
import { prepareHttp, runHttp } from './executors/http.js';
import { envNames } from './executors/template.js';
import { describeExecution } from './render.js';
import {
  auditFacts,
  type Execution,
  type FinalStatus,
  outcomeOf,
  outputEvidence,
  redactExecution,
  redactor,
} from './run-outcome.js';
import {
  type InterruptedRun,
  killedOutcome,
  modelName,
  recordRunEnd,
  recordRunStart,
  recordRunsStopped,
  recoverInterruptedRuns,
  type StopCause,
} from './run-records.js';
import type { RunRequest } from './run-request.js';

export type { BuiltinName } from '../policy/vocabulary.js';
export type { BuiltinFn } from './executors/builtin.js';
export type { Execution, FinalStatus } from './run-outcome.js';
export type { InterruptedRun } from './run-records.js';
export { RUNNER_ACTOR } from './run-records.js';
export type { RunRequest, RunTrigger } from './run-request.js';

export interface RunnerOptions {
  readonly database: Database;
  readonly audit: AuditLog;
  readonly now: Clock;
  readonly newId: NewId;
  readonly log: Logger;
  /** The bot's env: commands get PATH and their allowlisted names from it, http headers `${NAME}`. */
  readonly env: Env;
  /** AUTONOMY_DRY_RUN: record what would run, run nothing. */
  readonly dryRun: boolean;
  /** Between SIGTERM and SIGKILL of a stopped command's process group (default 500 ms). */
  readonly killGraceMs?: number;
  /** Output kept per stream (default 64 KiB). */
  readonly maxOutputBytes?: number;
  readonly fetch?: typeof fetch;
}

export interface RunResult {
  readonly runId: string;
  readonly agent: AgentName;
  readonly actionId: string;
  readonly status: FinalStatus;
  /** A sentence a person can read. */
  readonly outcome: string;
  readonly evidence: readonly string[];
  /** What ran, as shown in approval requests (argv or METHOD URL). */
  readonly display: string;
  readonly dryRun: boolean;
  readonly wallMs: number;
  /** Executor CPU time: not measured yet (null). */
  readonly cpuMs: number | null;
  /**
   * The executor's result with the action's secrets redacted from its output; null if it never
   * started, or if the action is a builtin (see `builtin`).
   */
  readonly execution: Execution | null;
  /** A builtin action's result (it handles no secrets); null or absent for command and http actions. */
  readonly builtin?: BuiltinResult | null;
}

export interface InFlightRun {
  readonly runId: string;
  readonly agent: AgentName;
  readonly actionId: string;
  readonly startedAt: number;
  readonly display: string;
  /** The command's pid (its process group id), once started. */
  readonly pid: number | null;
}

interface Entry {
  readonly runId: string;
  readonly agent: AgentName;
  readonly actionId: string;
  readonly startedAt: number;
  readonly display: string;
  readonly controller: AbortController;
  pid: number | null;
  stoppedBy: StopCause | null;
  done: Promise<unknown>;
}

export class RunnerClosedError extends Error {
  readonly code = 'RUNNER_CLOSED';
  override readonly name = 'RunnerClosedError';
}

export class Runner implements Service {
  readonly name = 'runner';
  private readonly running = new Map<string, Entry>();
  private readonly builtins = new BuiltinRegistry();
  private closing = false;

  constructor(private readonly o: RunnerOptions) {}

  /**
   * Makes a builtin runnable in this process (catalog actions with `executor: { builtin: NAME }`).
   * Call once per name at start; a builtin nobody registered fails its runs with a reason.
   */
  registerBuiltin(name: BuiltinName, fn: BuiltinFn): void {
    this.builtins.register(name, fn);
  }

  /** Runs the action and records it. Throws (a programming error) unless the decision says execute. */
  async execute(req: RunRequest): Promise<RunResult> {
    const { proposal, action, decision } = req;
    if (decision.verdict !== 'execute') {
      throw new Error(
        `Runner.execute() needs a decision to execute, got ${decision.verdict} (${decision.code}): post a suggestion or an approval request instead`,
      );
    }
    if (proposal.actionId !== action.id || proposal.agent !== action.agent) {
      throw new Error(
        `Runner.execute(): the proposal (${proposal.agent}/${proposal.actionId}) is not for action ${action.agent}/${action.id}`,
      );
    }
    // decide() checked them; checked again here, so nothing unchecked is ever filled into a template.
    const bad = checkParams(action, proposal.params);
    if (bad !== null) throw new Error(`Runner.execute(): ${action.id}: ${bad}; run decide() first`);
    if (this.closing) throw new RunnerClosedError(`not running ${action.id}: the bot is shutting down`);

    const { now, newId } = this.o;
    const runId = newId('run');
    const startedAt = now();
    const tier: Tier = decision.tier ?? action.effectiveTier;
    let display = action.id;
    try {
      display = describeExecution(action, proposal.params).display;
    } catch {
      // A template that cannot be filled fails below, with the reason recorded.
    }
    const model = modelName(req.model);
    recordRunStart(this.o, { runId, startedAt, req, tier, model, display, dryRun: this.o.dryRun });

    const entry: Entry = {
      runId,
      agent: action.agent,
      actionId: action.id,
      startedAt,
      display,
      controller: new AbortController(),
      pid: null,
      stoppedBy: null,
      done: Promise.resolve(),
    };
    this.running.set(runId, entry);
    const run = this.perform(req, entry)
      .then(({ execution, error, secrets }) =>
        this.finish(req, entry, { execution, error, secrets, tier, model, display }),
      )
      .finally(() => this.running.delete(runId));
    entry.done = run.catch(() => undefined);
    return run;
  }

  /** Fills the templates and runs the executor; a template or env problem is returned, not thrown. */
  private async perform(
    req: RunRequest,
    entry: Entry,
  ): Promise<{
    execution: Execution | BuiltinResult | null;
    error: string | null;
    secrets: Map<string, string>;
  }> {
    const { action, proposal } = req;
    const { env, dryRun } = this.o;
    const secrets = new Map<string, string>();
    const signal = entry.controller.signal;
    try {
      const ex = action.doc.executor;
      if ('builtin' in ex) {
        const fn = this.builtins.get(builtinOf(action));
        const execution = await runBuiltin(action, proposal.params, fn, {
          runId: entry.runId,
          approvalId: req.approvalId ?? null,
          signal,
          dryRun,
        });
        return { execution, error: null, secrets };
      }
      if ('command' in ex) {
        const spec = prepareCommand(action, proposal.params, env);
        for (const name of ex.env) if (spec.env[name] !== undefined) secrets.set(name, spec.env[name]);
        const execution = await runCommand(spec, {
          signal,
          dryRun,
          killGraceMs: this.o.killGraceMs ?? 500,
          maxOutputBytes: this.o.maxOutputBytes,
          onSpawn: (pid) => {
            entry.pid = pid;
          },
        });
        return { execution, error: null, secrets };
      }
      for (const value of Object.values(ex.http.headers)) {
        for (const name of envNames(value)) {
          const secret = env[name];
          if (secret !== undefined) secrets.set(name, secret);
        }
      }
      const spec = prepareHttp(action, proposal.params, env);
      const execution = await runHttp(spec, {
        signal,
        dryRun,
        maxBodyBytes: this.o.maxOutputBytes,
        fetch: this.o.fetch,
      });
      return { execution, error: null, secrets };
    } catch (err) {
      return { execution: null, error: (err as Error).message, secrets };
    }
  }

  private finish(
    req: RunRequest,
    entry: Entry,
    r: {
      execution: Execution | BuiltinResult | null;
      error: string | null;
      secrets: Map<string, string>;
      tier: Tier;
      model: string;
      display: string;
    },
  ): RunResult {
    const { log } = this.o;
    const { action } = req;
    const redact = redactor(r.secrets);
    const execution =
      r.execution === null || r.execution.kind === 'builtin'
        ? r.execution
        : redactExecution(r.execution, redact);
    let { status, outcome } =
      execution === null
        ? { status: 'failed' as FinalStatus, outcome: `not started: ${r.error ?? 'unknown error'}` }
        : execution.kind === 'builtin'
          ? builtinOutcome(execution)
          : outcomeOf(execution, action.timeoutMs);
    if (entry.stoppedBy !== null) {
      status = 'interrupted';
      outcome = `${killedOutcome(entry.stoppedBy)}; ${outcome}`;
    }
    outcome = redact(outcome);
    const digest = execution === null || execution.kind === 'builtin' ? null : outputEvidence(execution);
    const evidence = [
      `run:${entry.runId}`,
      ...(req.approvalId ? [`approval:${req.approvalId}`] : []),
      ...(req.incidentId ? [`incident:${req.incidentId}`] : []),
      ...(req.evidence ?? []),
      ...(digest === null ? [] : [digest]),
      ...(execution?.kind === 'builtin' ? execution.evidence : []),
    ];
    const wallMs = execution?.wallMs ?? 0;
    recordRunEnd(this.o, {
      runId: entry.runId,
      req,
      status,
      outcome,
      evidence,
      wallMs,
      tier: r.tier,
      model: r.model,
      display: r.display,
      facts:
        execution === null
          ? null
          : execution.kind === 'builtin'
            ? builtinFacts(execution)
            : auditFacts(execution),
    });
    log.info(
      { runId: entry.runId, agent: action.agent, actionId: action.id, status, wallMs },
      `run ${status}: ${action.id}`,
    );
    return {
      runId: entry.runId,
      agent: action.agent,
      actionId: action.id,
      status,
      outcome,
      evidence,
      display: r.display,
      dryRun: this.o.dryRun,
      wallMs,
      cpuMs: null,
      execution: execution?.kind === 'builtin' ? null : execution,
      builtin: execution?.kind === 'builtin' ? execution : null,
    };
  }

  /**
   * The kill switch's teeth: aborts every in-flight run of `target` now (command process groups get
   * SIGTERM at once, SIGKILL after the grace period; requests are aborted), and marks the runs
   * interrupted ("killed by ACTOR"). Synchronous: waits on no queue and no process.
   */
  killAgent(target: AgentName | 'all', actor: string, reason: string | null = null): { aborted: number } {
    const victims = [...this.running.values()].filter(
      (e) => e.stoppedBy === null && (target === 'all' || e.agent === target),
    );
    if (victims.length === 0) return { aborted: 0 };
    // Teeth first: the signals go out before anything is written.
    for (const e of victims) {
      e.stoppedBy = { actor, reason };
      e.controller.abort(new Error(killedOutcome(e.stoppedBy)));
    }
    recordRunsStopped(
      this.o,
      victims.map((e) => ({ runId: e.runId, agent: e.agent, actionId: e.actionId, pid: e.pid })),
      { actor, reason },
    );
    this.o.log.warn({ target, actor, aborted: victims.length }, `killed ${victims.length} in-flight run(s)`);
    return { aborted: victims.length };
  }

  /** Runs in flight now, oldest first (for `status`). */
  inFlight(): InFlightRun[] {
    return [...this.running.values()]
      .sort((a, b) => a.startedAt - b.startedAt)
      .map(({ runId, agent, actionId, startedAt, display, pid }) => ({
        runId,
        agent,
        actionId,
        startedAt,
        display,
        pid,
      }));
  }

  /**
   * At start: marks every run left `running` by a process that died as interrupted (audited) and
   * returns them so they can be reported. Nothing is re-run.
   */
  recoverAfterRestart(): InterruptedRun[] {
    return recoverInterruptedRuns(this.o, new Set(this.running.keys()));
  }

  onKill(order: KillOrder): KillTeeth {
    return this.killAgent(order.target, order.actor, order.reason);
  }

  /** The SIGTERM drain: in-flight runs finish until `deadline`, the rest are stopped (close()). */
  async stop(deadline: number): Promise<void> {
    await this.close(Math.max(0, deadline - Date.now()));
  }

  /**
   * Shutdown (SIGTERM): takes no new runs, waits up to `waitMs` for in-flight runs to finish, then
   * stops the rest as a kill by `actor` would. Resolves when every run is recorded.
   */
  async close(waitMs: number, actor = 'system:shutdown'): Promise<{ finished: number; stopped: number }> {
    this.closing = true;
    const pending = [...this.running.values()];
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(pending.map((e) => e.done)),
      new Promise((resolve) => {
        timer = setTimeout(resolve, waitMs);
        timer.unref();
      }),
    ]);
    clearTimeout(timer);
    const { aborted } = this.killAgent('all', actor, 'the bot is shutting down');
    await Promise.all(pending.map((e) => e.done));
    return { finished: pending.length - aborted, stopped: aborted };
  }
}
