/**
 * The agent pipeline: every agent run (a signal handled, a light or deep sweep) goes through
 * `run()`, which records it (a `runs` row with action id null, committed before the agent starts
 * and updated with its outcome, model, tokens and wall time when it ends, each with an audit
 * record) and hands the agent its real AgentContext:
 * - `model()` asks the router (budgets, caps, kill switch) with the run's id and signal, so tokens
 *   are charged to the run and a kill aborts the request; every message is redacted first (no secret
 *   reaches a model); no router: a failure result (rules only); the run's record names a model only
 *   when one answered in it;
 * - `history` reads past incidents like this one (history.ts), `recent` what happened lately
 *   (recent.ts); `refused()` audits a model proposal
 *   refused before decide() (`model.refused`);
 * - `propose()` sends a proposal through decide() and carries out the verdict (propose.ts);
 * - `post()` screens and routes a finding (screen.ts, post.ts);
 * - `evidence()`, `research` (from the injected factory), `dataDir` (`<dataDir>/agents/<agent>`).
 * Kill: `killAgent()` aborts the target's runs at once; they end `interrupted` ("stopped: <agent>
 * was killed"), and nothing more is posted or proposed for them. `degraded()` (wire it to the
 * router's onDegraded) says once per agent and reason that the agent works on rules alone.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { SkillStore } from '../../learning/skills.js';
import type { CallRequest, CallResult, DegradedReason } from '../../llm/router.js';
import type { Policy } from '../../policy/types.js';
import type { AgentName } from '../../policy/vocabulary.js';
import { historyReader } from './history.js';
import type { AgentPipelineDeps, AgentRunResult, AgentTrigger } from './pipeline-types.js';
import { dedupeKey, incidentRef, Poster } from './post.js';
import { HourlyOnce, propose } from './propose.js';
import { recentReader } from './recent.js';
import { actorOf, type RunTriggerFacts, recordAgentEnd, recordAgentStart } from './run-record.js';
import { RunState } from './run-state.js';
import { screenText } from './screen.js';
import type { Agent, AgentContext, Finding, ResearchTools } from './types.js';

export type { AgentPipelineDeps, AgentRunResult, AgentTrigger, ResearchFactory } from './pipeline-types.js';

export type AgentBody = (ctx: AgentContext) => Promise<void>;

const DEGRADED_TEXT: Record<DegradedReason, { what: string; until: string }> = {
  budget: {
    what: 'its model token budget is used up',
    until:
      'the budget resets at midnight (policy time zone), or an admin raises it with `/autonomy budget <agent> <tokens>`',
  },
  rate: { what: 'its model call rate limit is reached', until: 'the hourly call count drops again' },
  unavailable: { what: 'no model is reachable', until: 'the model server answers again' },
};

interface Entry {
  readonly state: RunState;
  done: Promise<AgentRunResult>;
}

function skipped(outcome: string): AgentRunResult {
  return { runId: null, status: 'skipped', outcome, tokens: 0, wallMs: 0 };
}

/** Resolves when `work` settles, rejects as soon as `signal` aborts (the work is left to finish on its own). */
function untilAborted(work: Promise<void>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<void>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function triggerLabel(t: AgentTrigger): string {
  return t.kind === 'signal' ? `signal:${t.signalKind ?? 'event'}` : `sweep:${t.kind}`;
}

function providerOf(policy: Policy, model: string): string {
  const m = policy.doc.models;
  if (m.local.model === model) return m.local.provider;
  return m.escalation.find((e) => e.model === model)?.provider ?? m.local.provider;
}

export class AgentPipeline {
  readonly #d: AgentPipelineDeps;
  readonly #poster: Poster;
  readonly #hourly = new HourlyOnce();
  readonly #runs = new Map<string, Entry>();
  /** `agent:reason` → when the "rules alone" notice was posted (until a model call succeeds). */
  readonly #degraded = new Map<string, number>();
  #skillStore: SkillStore | null = null;
  #closing = false;

  constructor(deps: AgentPipelineDeps) {
    this.#d = deps;
    this.#poster = new Poster(deps);
  }

  /**
   * Runs `body` as one recorded run of `agent`. Skipped (nothing recorded) when the agent is
   * disabled or killed, `outerSignal` is already aborted, or the pipeline is stopping. Resolves
   * when the run is recorded; never rejects for the agent's own errors (the run is `failed`).
   * An abort (kill, shutdown, `outerSignal`) ends the run at once as `interrupted`.
   *
   * `settle` sees the result inside the transaction that records the run's end (or, for a skipped
   * run, before it resolves): what the caller writes there (its job done) commits with the outcome,
   * so a crash never leaves a finished run whose job looks unfinished. If it throws, the end is not
   * recorded and the run rejects.
   */
  run(
    agent: Agent,
    trigger: AgentTrigger,
    body: AgentBody,
    outerSignal?: AbortSignal,
    settle?: (result: AgentRunResult) => void,
  ): Promise<AgentRunResult> {
    try {
      return this.begin(agent, trigger, body, outerSignal, settle)();
    } catch (err) {
      // The run could not be recorded (the database refused): a rejection, never a synchronous throw.
      return Promise.reject(err);
    }
  }

  /**
   * `run` in two steps, for a caller whose transaction must commit before anything runs (a job's
   * claim): `begin` makes the checks and writes the run's start record, in the caller's
   * transaction if there is one, and returns `go`, which starts the body. Nothing runs and nothing
   * is held in memory before `go`, so a transaction that fails to commit leaves no run behind. A
   * skipped run is settled in `begin`. Throws if the start record cannot be written.
   */
  begin(
    agent: Agent,
    trigger: AgentTrigger,
    body: AgentBody,
    outerSignal?: AbortSignal,
    settle?: (result: AgentRunResult) => void,
  ): () => Promise<AgentRunResult> {
    const d = this.#d;
    const name = agent.name;
    const skip = (why: string): (() => Promise<AgentRunResult>) => {
      const result = skipped(why);
      settle?.(result);
      return () => Promise.resolve(result);
    };
    if (this.#closing) return skip('the bot is stopping');
    const policy = d.policy();
    if (!policy.enabledAgents.has(name)) return skip(`${name} is disabled in the policy`);
    const control = d.controlState();
    if (control.killedAll || control.killedAgents.has(name)) return skip(`${name} is killed`);
    if (outerSignal?.aborted) return skip('aborted before it started');

    const runId = d.newId('run');
    const state = new RunState(runId, name, d.now());
    const facts: RunTriggerFacts = {
      source: trigger.source,
      ref: trigger.ref,
      label: triggerLabel(trigger),
      incidentId: trigger.incidentId ?? null,
    };
    recordAgentStart(d, { runId, agent: name, trigger: facts, startedAt: state.startedAt });
    if (trigger.kind === 'signal' && trigger.ref) state.addEvidence(`signal:${trigger.ref}`);
    if (trigger.incidentId) state.addEvidence(`incident:${trigger.incidentId}`);
    return () => {
      const entry: Entry = { state, done: Promise.resolve(skipped('')) };
      this.#runs.set(runId, entry);
      entry.done = this.#perform(state, trigger, facts, policy, body, outerSignal, settle).finally(() =>
        this.#runs.delete(runId),
      );
      return entry.done;
    };
  }

  async #perform(
    state: RunState,
    trigger: AgentTrigger,
    facts: RunTriggerFacts,
    policy: Policy,
    body: AgentBody,
    outerSignal: AbortSignal | undefined,
    settle: ((result: AgentRunResult) => void) | undefined,
  ): Promise<AgentRunResult> {
    const d = this.#d;
    const onOuter = (): void => this.#stop(state, `stopped: its ${trigger.kind} trigger was aborted`);
    outerSignal?.addEventListener('abort', onOuter, { once: true });
    let research: ResearchTools | null = null;
    let error: unknown = null;
    let failed = false;
    try {
      research = d.research?.(state.agent, policy, state.controller.signal) ?? null;
      const ctx = this.#context(state, trigger, policy, research);
      await untilAborted(
        Promise.resolve().then(() => body(ctx)),
        state.controller.signal,
      );
    } catch (err) {
      if (!state.aborted) {
        failed = true;
        error = err;
      }
    } finally {
      outerSignal?.removeEventListener('abort', onOuter);
    }
    const redact = this.#poster.redactor(policy);
    try {
      for (const url of research?.cited() ?? []) state.addEvidence(screenText(url, 2000, redact));
    } catch {
      // The research tools' bookkeeping failing must not lose the run record.
    }
    const status = state.aborted ? 'interrupted' : failed ? 'failed' : 'succeeded';
    const lead =
      status === 'interrupted'
        ? (state.stoppedBy ?? 'stopped')
        : status === 'failed'
          ? `failed: ${error instanceof Error ? error.message || error.name : String(error)}`
          : null;
    const outcome = screenText(state.outcome(lead), 1500, redact);
    if (failed) {
      // The error may quote a payload: log it redacted, never as it is.
      const stack = error instanceof Error && error.stack ? redact(error.stack) : outcome;
      d.log.warn({ agent: state.agent, runId: state.runId, stack }, 'agent run failed');
    }
    const recorded = recordAgentEnd(
      d,
      {
        runId: state.runId,
        agent: state.agent,
        trigger: facts,
        status,
        outcome,
        evidence: [...state.evidence],
        model: state.model,
        headline: state.headline,
        startedAt: state.startedAt,
        proposals: state.proposals,
      },
      (r) => settle?.({ runId: state.runId, status, outcome, ...r }),
    );
    return { runId: state.runId, status, outcome, ...recorded };
  }

  #stop(state: RunState, why: string): void {
    if (state.aborted) return;
    state.stoppedBy = why;
    state.controller.abort(new Error(why));
  }

  #context(
    state: RunState,
    trigger: AgentTrigger,
    policy: Policy,
    research: ResearchTools | null,
  ): AgentContext {
    const d = this.#d;
    const dir = join(d.dataDir, 'agents', state.agent);
    let made = false;
    // Made on first use: most runs on rules never log, and a child logger per run adds up in a storm.
    let log: AgentContext['log'] | null = null;
    const redact = this.#poster.redactor(policy);
    return {
      agent: state.agent,
      runId: state.runId,
      policy,
      now: d.now,
      signal: state.controller.signal,
      trigger: triggerLabel(trigger),
      get dataDir(): string {
        if (!made) {
          mkdirSync(dir, { recursive: true });
          made = true;
        }
        return dir;
      },
      rootDataDir: d.dataDir,
      get log(): AgentContext['log'] {
        log ??= d.log.child({ agent: state.agent, runId: state.runId });
        return log;
      },
      research,
      model: <T>(request: Omit<CallRequest<T>, 'runId' | 'signal'>) => this.#model(state, request),
      propose: (p) => propose({ deps: d, poster: this.#poster, hourly: this.#hourly }, state, trigger, p),
      post: (finding) => this.#post(state, trigger, finding, research),
      history: historyReader(d.database, this.#skills()),
      recent: recentReader(d.database),
      refused: (r) => this.#refused(state, trigger, r),
      evidence: (ref) => {
        if (!state.aborted && typeof ref === 'string') state.addEvidence(screenText(ref, 2000, redact));
      },
    };
  }

  #skills(): SkillStore | null {
    const d = this.#d;
    this.#skillStore ??= new SkillStore({ database: d.database, dataDir: d.dataDir, now: d.now });
    return this.#skillStore;
  }

  /** A model proposal refused before decide(): audited, and said in the run's outcome. */
  #refused(state: RunState, trigger: AgentTrigger, r: { what: string; reason: string }): void {
    if (state.aborted) return;
    const redact = this.#poster.redactor(this.#d.policy());
    const what = screenText(r?.what, 200, redact);
    const reason = screenText(r?.reason, 300, redact);
    try {
      this.#d.audit.append({
        kind: 'model.refused',
        agent: state.agent,
        actor: actorOf(state.agent),
        trigger: trigger.source,
        model: state.model ? `${state.model.provider}/${state.model.name}` : null,
        outcome: `refused a model proposal: ${what} (${reason})`,
        evidence: [`run:${state.runId}`],
        data: { runId: state.runId, what, reason },
      });
    } catch (err) {
      this.#d.log.warn({ err, agent: state.agent }, 'could not audit a refused model proposal');
    }
    state.note(`refused a model proposal: ${what} (${reason})`);
  }

  async #model<T>(
    state: RunState,
    request: Omit<CallRequest<T>, 'runId' | 'signal'>,
  ): Promise<CallResult<T>> {
    const router = this.#d.router;
    if (state.aborted)
      return { ok: false, reason: 'aborted', detail: state.stoppedBy ?? 'the run was stopped' };
    if (router === undefined || router === null) {
      return { ok: false, reason: 'unavailable', detail: 'no model router: working on rules alone' };
    }
    const redact = this.#poster.redactor(this.#d.policy());
    const result = await router.call<T>(state.agent, {
      ...request,
      messages: request.messages.map((m) => ({ role: m.role, content: redact(m.content) })),
      runId: state.runId,
      signal: state.controller.signal,
    });
    if (result.ok) {
      state.model = { name: result.model, provider: providerOf(this.#d.policy(), result.model) };
      let was = false;
      for (const key of this.#degraded.keys()) {
        if (!key.startsWith(`${state.agent}:`)) continue;
        this.#degraded.delete(key);
        was = true;
      }
      if (was) this.#back(state.agent, result.model);
    }
    return result;
  }

  /** The notice that ends a "rules alone" episode: the agent has its model again. */
  #back(agent: AgentName, model: string): void {
    const since = this.#d.now();
    const result = this.#poster.post(
      agent,
      {},
      {
        kind: 'notice',
        title: `${agent} has its model again`,
        severity: 'info',
        body: `${model} answered ${agent} again: its assessments are model-written from now on (marked so).`,
      },
      { dedupeKey: (channel) => dedupeKey('model-back', agent, since, channel) },
    );
    if (!result.queued) this.#d.log.warn({ agent, held: result.held }, 'model-back notice not posted');
  }

  #post(state: RunState, trigger: AgentTrigger, finding: Finding, research: ResearchTools | null): void {
    if (state.aborted) return;
    // Our own evidence counts as a citation: the facts of the run and the pages it read.
    let cited: readonly string[] = [...state.evidence];
    try {
      cited = [...cited, ...(research?.cited() ?? [])];
    } catch {
      // The research tools' bookkeeping failing leaves the run's own evidence.
    }
    const index = state.postIndex++;
    const result = this.#poster.post(state.agent, trigger, finding, {
      dedupeKey: (channel) => dedupeKey('agent', trigger.job ?? state.runId, index, channel),
      cited,
      refs: { run: state.runId, ...incidentRef(trigger) },
    });
    if (result.queued) state.countPost(typeof finding?.kind === 'string' ? finding.kind : 'notice');
    else
      state.note(
        result.held.startsWith('uncited') ? result.held : `${finding?.kind ?? 'post'} held: ${result.held}`,
      );
  }

  /**
   * Wire to the router's onDegraded: posts ONE notice per agent and reason that the agent works on
   * rules alone, until a model call of that agent succeeds again (then a new episode may post again).
   */
  degraded(agent: AgentName, reason: DegradedReason, detail: string): void {
    const key = `${agent}:${reason}`;
    if (this.#degraded.has(key)) return;
    const since = this.#d.now();
    this.#degraded.set(key, since);
    const text = DEGRADED_TEXT[reason] ?? DEGRADED_TEXT.unavailable;
    const result = this.#poster.post(
      agent,
      {},
      {
        kind: 'notice',
        title: `${agent} works on rules alone: ${text.what}`,
        severity: 'warning',
        body: [
          `${agent} keeps handling signals and sweeps with its rules, without a model, until ${text.until.replace('<agent>', agent)}.`,
          'This is said once; the next successful model call ends it.',
          `Detail: ${detail}`,
        ].join('\n'),
      },
      { dedupeKey: (channel) => dedupeKey('degraded', agent, reason, since, channel) },
    );
    if (!result.queued)
      this.#d.log.warn({ agent, reason, held: result.held }, 'rules-alone notice not posted');
  }

  /** Aborts the in-flight runs of `target` (kill switch); returns how many. Synchronous. */
  killAgent(target: AgentName | 'all'): number {
    let n = 0;
    for (const { state } of this.#runs.values()) {
      if (state.aborted || (target !== 'all' && state.agent !== target)) continue;
      this.#stop(state, `stopped: ${state.agent} was killed`);
      n++;
    }
    return n;
  }

  /** Runs in flight now, oldest first. */
  inFlight(): { runId: string; agent: AgentName; startedAt: number }[] {
    return [...this.#runs.values()]
      .map(({ state }) => ({ runId: state.runId, agent: state.agent, startedAt: state.startedAt }))
      .sort((a, b) => a.startedAt - b.startedAt);
  }

  /** Shutdown: takes no new runs, aborts every run, waits up to `waitMs` for them to be recorded. */
  async stop(waitMs = 5000): Promise<void> {
    this.#closing = true;
    const pending = [...this.#runs.values()];
    for (const { state } of pending) this.#stop(state, 'stopped: the bot is shutting down');
    if (pending.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled(pending.map((e) => e.done)),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, waitMs);
        timer.unref();
      }),
    ]);
    clearTimeout(timer);
  }
}
