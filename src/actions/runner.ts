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
import { dirname, join, resolve } from 'node:path';
import { and, eq, inArray } from 'drizzle-orm';
import type { AuditLog } from '../audit/log.js';
import type { Database } from '../db/connection.js';
import { runs } from '../db/schema.js';
import { checkParams } from '../policy/params.js';
import type { AgentName, BuiltinName, Tier } from '../policy/vocabulary.js';
import { AutonomyError } from '../process/errors.js';
import type { Clock, NewId } from '../process/ids.js';
import type { Logger } from '../process/log.js';
import { runningIdentity } from '../process/proc-identity.js';
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
import { type RunState, readRunState, removeRunState, runStateIds } from './executors/run-state.js';
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
  type LeftRunVerdict,
  modelName,
  RECOVERED_OUTCOME,
  recordFollowedEnd,
  recordRunEnd,
  recordRunRefused,
  recordRunStart,
  recordRunsStopped,
  recoverInterruptedRuns,
  type StopCause,
} from './run-records.js';
import type { RunRequest } from './run-request.js';
import { missingRunFields, type RequiredRunField, RunRefusedError } from './run-required.js';

export type { BuiltinName } from '../policy/vocabulary.js';
export type { BuiltinFn } from './executors/builtin.js';
export type { Execution, FinalStatus } from './run-outcome.js';
export type { InterruptedRun } from './run-records.js';
export { RUNNER_ACTOR } from './run-records.js';
export type { RunRequest, RunTrigger } from './run-request.js';
export { RunRefusedError } from './run-required.js';

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
  /**
   * Where command runs keep their state (run-state.ts) so a restart finds their outcome. Default:
   * `runs/` in the database's folder (the data folder); null (or an in-memory database): none.
   */
  readonly stateDir?: string | null;
  /**
   * The policy's `evidence.required`, read at each run: a run whose record would lack one of these
   * is refused before it starts (RunRefusedError) and audited. Absent: nothing is required.
   */
  readonly requiredFields?: () => readonly RequiredRunField[];
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
  /** The run's process group id (its runner's pid, or the command's without a state folder), once started. */
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

export class RunnerClosedError extends AutonomyError {
  constructor(message: string) {
    super('RUNNER_CLOSED', message);
  }
}

export class Runner implements Service {
  readonly name = 'runner';
  private readonly running = new Map<string, Entry>();
  private readonly builtins = new BuiltinRegistry();
  /**
   * Runs a dead bot left running whose process is still alive: followed to their end (not ours to
   * wait on), also after the kill switch signalled them, until their runner is seen gone.
   */
  private readonly followed = new Map<
    string,
    {
      readonly agent: AgentName;
      readonly actionId: string;
      readonly pid: number;
      readonly timer: NodeJS.Timeout;
      stoppedBy: StopCause | null;
    }
  >();
  private readonly stateDir: string | null;
  private closing = false;

  constructor(private readonly o: RunnerOptions) {
    const file = o.database.file;
    this.stateDir =
      o.stateDir !== undefined
        ? o.stateDir
        : file === ':memory:' || file === ''
          ? null
          : join(dirname(resolve(file)), 'runs');
  }

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
    const tier: Tier = decision.tier ?? action.effectiveTier;
    const model = modelName(req.model);
    // evidence.required: a run whose record would lack a required field never starts.
    const missing = missingRunFields(this.o.requiredFields?.() ?? [], req);
    if (missing.length > 0) {
      const refused = new RunRefusedError(action.id, missing);
      recordRunRefused(this.o, { req, tier, model, missing, outcome: refused.message });
      this.o.log.warn({ agent: action.agent, actionId: action.id, missing }, refused.message);
      throw refused;
    }
    const runId = newId('run');
    const startedAt = now();
    let display = action.id;
    try {
      display = describeExecution(action, proposal.params).display;
    } catch {
      // A template that cannot be filled fails below, with the reason recorded.
    }
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
      .finally(() => {
        this.running.delete(runId);
        if (this.stateDir !== null) removeRunState(this.stateDir, runId);
      });
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
          ...(this.stateDir === null || dryRun
            ? {}
            : { runState: { dir: this.stateDir, runId: entry.runId } }),
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
    const orphans = this.killFollowed(target, actor, reason);
    if (victims.length === 0) return { aborted: orphans };
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
    return { aborted: victims.length + orphans };
  }

  /**
   * The kill switch for followed runs: their process groups get SIGTERM now, SIGKILL after the
   * grace. They stay followed: their runner writes its end (the command's signal) after this, so
   * the state file is removed by the follower once the runner has ended, not here.
   */
  private killFollowed(target: AgentName | 'all', actor: string, reason: string | null): number {
    const victims = [...this.followed].filter(
      ([, f]) => f.stoppedBy === null && (target === 'all' || f.agent === target),
    );
    if (victims.length === 0) return 0;
    for (const [, f] of victims) {
      f.stoppedBy = { actor, reason };
      signalGroup(f.pid, 'SIGTERM');
      setTimeout(() => signalGroup(f.pid, 'SIGKILL'), this.o.killGraceMs ?? 500).unref();
    }
    recordRunsStopped(
      this.o,
      victims.map(([runId, f]) => ({ runId, agent: f.agent, actionId: f.actionId, pid: f.pid })),
      { actor, reason },
    );
    return victims.length;
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
    const dir = this.stateDir;
    const mine = new Set([...this.running.keys(), ...this.followed.keys()]);
    const left = recoverInterruptedRuns(this.o, mine, (row) =>
      row.actionId === null || dir === null ? interrupted(NO_PROCESS) : judge(readRunState(dir, row.id)),
    );
    for (const run of left) {
      if (run.kind === 'followed' && run.actionId !== null && dir !== null) this.follow(run, dir);
      else if (dir !== null) removeRunState(dir, run.runId);
    }
    if (dir !== null) this.removeStaleStates(dir);
    if (left.length > 0) {
      this.o.log.warn(
        { runs: left.map((r) => ({ runId: r.runId, kind: r.kind, status: r.status })) },
        `${left.length} run(s) were running when the bot stopped: outcomes recorded, live ones followed, none re-run`,
      );
    }
    return left;
  }

  /**
   * Watches a run a dead bot left running until its runner writes the end (or is gone), then
   * records that end (unless the kill switch already recorded who stopped it) and removes its state.
   */
  private follow(run: InterruptedRun, dir: string): void {
    const state = readRunState(dir, run.runId);
    if (state === null || run.actionId === null) return;
    const timer = setInterval(() => {
      const now = readRunState(dir, run.runId);
      const verdict = now === null ? interrupted(GONE) : judge(now);
      if (verdict.kind === 'followed') return;
      clearInterval(timer);
      const stoppedBy = this.followed.get(run.runId)?.stoppedBy ?? null;
      this.followed.delete(run.runId);
      try {
        recordFollowedEnd(this.o, run.runId, verdict);
        this.o.log.info(
          { runId: run.runId, status: verdict.status },
          `followed run ended${stoppedBy ? ` (${killedOutcome(stoppedBy)})` : ''}: ${verdict.outcome}`,
        );
      } catch (err) {
        this.o.log.error({ err, runId: run.runId }, 'could not record a followed run; the next start will');
        return;
      }
      removeRunState(dir, run.runId);
    }, FOLLOW_MS);
    timer.unref();
    this.followed.set(run.runId, {
      agent: run.agent,
      actionId: run.actionId,
      pid: state.pid,
      timer,
      stoppedBy: null,
    });
  }

  /** State files of runs that are not running any more (a crash between the end and the cleanup). */
  private removeStaleStates(dir: string): void {
    const ids = runStateIds(dir).filter((id) => !this.running.has(id) && !this.followed.has(id));
    if (ids.length === 0) return;
    const stillRunning = new Set(
      this.o.database.db
        .select({ id: runs.id })
        .from(runs)
        .where(and(inArray(runs.id, ids), eq(runs.status, 'running')))
        .all()
        .map((r) => r.id),
    );
    for (const id of ids) if (!stillRunning.has(id)) removeRunState(dir, id);
  }

  onKill(order: KillOrder): KillTeeth {
    return this.killAgent(order.target, order.actor, order.reason);
  }

  /** The SIGTERM drain: in-flight runs finish until `deadline`, the rest are stopped (close()). */
  async stop(deadline: number): Promise<void> {
    // Followed runs are left to the next start (their rows stay running; their state stays on disk).
    for (const f of this.followed.values()) clearInterval(f.timer);
    this.followed.clear();
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

const FOLLOW_MS = 250;
const NO_PROCESS =
  `${RECOVERED_OUTCOME} (no process of it was found: an http or builtin action, or a command not yet ` +
  'started; whether it took effect is unknown, check the target)';
const GONE =
  `${RECOVERED_OUTCOME} (its process group was gone without a recorded end, e.g. killed with SIGKILL; ` +
  'its outcome is unknown, check the target)';

function interrupted(outcome: string): LeftRunVerdict {
  return { kind: 'interrupted', status: 'interrupted', outcome };
}

/** What a run's state file says: ended (its real outcome), still running (followed), or gone. */
function judge(state: RunState | null): LeftRunVerdict {
  if (state === null) return interrupted(NO_PROCESS);
  const e = state.ended;
  if (e !== null) {
    const took = `after ${Math.max(0, Math.round((e.endedAt - state.startedAt) / 100) / 10)} s`;
    const down = 'finished while the bot was down (output not kept; not re-run)';
    if (e.spawnError !== null)
      return { kind: 'finished', status: 'failed', outcome: `could not start: ${e.spawnError}` };
    if (e.exitCode === 0)
      return { kind: 'finished', status: 'succeeded', outcome: `exit 0 ${took}: ${down}` };
    if (e.exitCode !== null) {
      return { kind: 'finished', status: 'failed', outcome: `exit ${e.exitCode} ${took}: ${down}` };
    }
    return {
      kind: 'finished',
      status: 'failed',
      outcome: `ended by ${e.signal ?? 'a signal'} ${took}: ${down}`,
    };
  }
  if (!ownerAlive(state)) return interrupted(GONE);
  return {
    kind: 'followed',
    status: 'running',
    outcome: `still running after the restart (process group ${state.pid}); followed to its end, not re-run`,
  };
}

/**
 * The runner is still running and is the same process (pid and start time); without /proc, its
 * group alone. An exited runner not yet reaped (a zombie, e.g. after SIGKILL) is not running: it
 * can never write its end.
 */
function ownerAlive(state: RunState): boolean {
  if (!signalGroup(state.pid, 0)) return false;
  if (state.identity === null) return true;
  return runningIdentity(state.pid) === state.identity;
}

/** Signals a whole process group; false when nothing is left in it. */
function signalGroup(pid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}
