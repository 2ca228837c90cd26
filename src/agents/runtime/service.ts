/**
 * The agents as one service of the bot: the pipeline every agent run goes through (pipeline.ts),
 * the durable jobs (jobs.ts) and the dispatcher that works them (dispatch.ts), and their sweep
 * bodies. This is where the hand-off from signals to agents is made: `start()` has the signal store
 * (signals/incidents/store.ts) hand every stored signal to the dispatcher inside its transaction
 * (the jobs commit with the signal) and wake it after the COMMIT, and takes up the jobs a stop or a
 * crash left; `stop()` takes no more, and the runs in hand end by the deadline (a run the shutdown
 * cut short hands its job back).
 */
import type { AgentName } from '../../policy/vocabulary.js';
import type { Foreground } from '../../process/foreground.js';
import type { KillOrder, KillTeeth, Service, ServiceHealth } from '../../service.js';
import type { IncidentStore } from '../../signals/incidents/incidents.js';
import type { SignalStore } from '../../signals/incidents/store.js';
import type { SweepBodies } from '../../signals/sweeps/sweeps.js';
import { allAgents } from '../index.js';
import type { MentorDeps } from '../mentor/agent.js';
import { AgentDispatcher } from './dispatch.js';
import { AgentJobs } from './jobs.js';
import { AgentPipeline } from './pipeline.js';
import type { AgentPipelineDeps } from './pipeline-types.js';
import { type SweepBodiesOptions, sweepBodies } from './sweep-bodies.js';
import type { Agent } from './types.js';

export interface AgentsDeps extends AgentPipelineDeps {
  readonly signals: Pick<SignalStore, 'onStored' | 'beforeCommit'>;
  /** A person's resolutions (the mentor learns from them as from a source's); absent in tests that need none. */
  readonly incidents?: Pick<IncidentStore, 'onResolvedByPerson'>;
  readonly skills: MentorDeps['skills'];
  readonly isKilled: (agent: AgentName) => boolean;
  /** Requests and deliveries in flight go before agent jobs (core's; absent in tests that need no order). */
  readonly foreground?: Foreground;
  /** How often every agent looks for jobs nobody woke it for (dispatch.ts LOOK_MS by default). */
  readonly lookMs?: number;
}

export class Agents implements Service {
  readonly name = 'agents';
  readonly pipeline: AgentPipeline;
  readonly list: readonly Agent[];
  readonly jobs: AgentJobs;
  readonly #dispatcher: AgentDispatcher;
  readonly #signals: AgentsDeps['signals'];
  readonly #incidents: AgentsDeps['incidents'];
  readonly #policy: AgentsDeps['policy'];
  #unsubscribe: (() => void) | null = null;

  constructor(deps: AgentsDeps) {
    this.pipeline = new AgentPipeline(deps);
    this.list = allAgents({ database: deps.database, skills: deps.skills });
    this.#signals = deps.signals;
    this.#incidents = deps.incidents;
    this.#policy = deps.policy;
    this.jobs = new AgentJobs({ ...deps, agents: this.list });
    this.#dispatcher = new AgentDispatcher({
      agents: this.list,
      jobs: this.jobs,
      pipeline: this.pipeline,
      policy: deps.policy,
      isKilled: deps.isKilled,
      now: deps.now,
      log: deps.log.child({ component: 'dispatch' }),
      foreground: deps.foreground,
      lookMs: deps.lookMs,
    });
  }

  /** The agents' light and deep sweeps, for the sweep scheduler. */
  sweepBodies(options: SweepBodiesOptions = {}): SweepBodies {
    return sweepBodies(this.pipeline, this.#policy, this.list, options);
  }

  start(): void {
    if (this.#unsubscribe !== null) return;
    const raising = this.#signals.beforeCommit(this.#dispatcher.raise);
    const waking = this.#signals.onStored(this.#dispatcher.onStored);
    // Raised in the person's transaction; woken on a later turn, after it committed.
    const resolving =
      this.#incidents?.onResolvedByPerson((heard) => {
        this.#dispatcher.raise(heard);
        setImmediate(this.#dispatcher.onStored);
      }) ?? (() => {});
    this.#unsubscribe = () => {
      raising();
      waking();
      resolving();
    };
    this.#dispatcher.start();
  }

  /** Jobs waiting or running per agent. */
  backlog(): Partial<Record<AgentName, number>> {
    return this.#dispatcher.queued();
  }

  onKill(order: KillOrder): KillTeeth {
    return { aborted: this.pipeline.killAgent(order.target) };
  }

  health(): ServiceHealth {
    const running = this.pipeline.inFlight();
    const waiting = Object.values(this.backlog()).reduce((a, b) => a + (b ?? 0), 0);
    return {
      status: 'ok',
      detail: `${running.length} run(s) in flight, ${waiting} job(s) waiting or running`,
    };
  }

  async stop(deadline: number): Promise<void> {
    this.#unsubscribe?.();
    this.#unsubscribe = null;
    const drained = this.#dispatcher.stop();
    await this.pipeline.stop(Math.max(0, deadline - Date.now()));
    await drained;
  }
}
