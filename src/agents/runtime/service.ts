/**
 * The agents as one service of the bot: the pipeline every agent run goes through (pipeline.ts),
 * the dispatcher that hands them stored signals (dispatch.ts), and their sweep bodies. This is where
 * the hand-off from signals to agents is made: `start()` subscribes the dispatcher to the signal
 * store (signals/incidents/store.ts, after each commit), `stop()` unsubscribes, drops what waits
 * and lets the runs in hand end by the deadline.
 */
import type { AgentName } from '../../policy/vocabulary.js';
import type { KillOrder, KillTeeth, Service, ServiceHealth } from '../../service.js';
import type { SignalStore } from '../../signals/incidents/store.js';
import type { SweepBodies } from '../../signals/sweeps/sweeps.js';
import { AGENT_LIST } from '../index.js';
import { createMentor, type MentorDeps } from '../mentor/agent.js';
import { AgentDispatcher } from './dispatch.js';
import { AgentPipeline } from './pipeline.js';
import type { AgentPipelineDeps } from './pipeline-types.js';
import { type SweepBodiesOptions, sweepBodies } from './sweep-bodies.js';
import type { Agent } from './types.js';

export interface AgentsDeps extends AgentPipelineDeps {
  readonly signals: Pick<SignalStore, 'onStored'>;
  readonly skills: MentorDeps['skills'];
  readonly isKilled: (agent: AgentName) => boolean;
}

export class Agents implements Service {
  readonly name = 'agents';
  readonly pipeline: AgentPipeline;
  readonly list: readonly Agent[];
  readonly #dispatcher: AgentDispatcher;
  readonly #signals: AgentsDeps['signals'];
  readonly #policy: AgentsDeps['policy'];
  #unsubscribe: (() => void) | null = null;

  constructor(deps: AgentsDeps) {
    this.pipeline = new AgentPipeline(deps);
    this.list = [...AGENT_LIST, createMentor({ database: deps.database, skills: deps.skills })];
    this.#signals = deps.signals;
    this.#policy = deps.policy;
    this.#dispatcher = new AgentDispatcher({
      agents: this.list,
      pipeline: this.pipeline,
      policy: deps.policy,
      isKilled: deps.isKilled,
      now: deps.now,
      log: deps.log.child({ component: 'dispatch' }),
    });
  }

  /** The agents' light and deep sweeps, for the sweep scheduler. */
  sweepBodies(options: SweepBodiesOptions = {}): SweepBodies {
    return sweepBodies(this.pipeline, this.#policy, this.list, options);
  }

  start(): void {
    this.#unsubscribe ??= this.#signals.onStored(this.#dispatcher.onStored);
  }

  onKill(order: KillOrder): KillTeeth {
    return { aborted: this.pipeline.killAgent(order.target) };
  }

  health(): ServiceHealth {
    const running = this.pipeline.inFlight();
    return { status: 'ok', detail: `${running.length} run(s) in flight` };
  }

  async stop(deadline: number): Promise<void> {
    this.#unsubscribe?.();
    this.#unsubscribe = null;
    const drained = this.#dispatcher.stop();
    await this.pipeline.stop(Math.max(0, deadline - Date.now()));
    await drained;
  }
}
