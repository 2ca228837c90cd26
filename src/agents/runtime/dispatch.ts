/**
 * The agent dispatcher: hands stored signals to the agents that handle them. Subscribe it to
 * `SignalStore.onStored`; it never works inside the ingest transaction (the listener only queues,
 * and the work starts on the next turn of the event loop).
 *
 * Which signals go to which agents:
 * - the signal's kind must be in the policy's `triggers.events`, and the agent enabled, not
 *   killed, and handling that kind;
 * - a signal that opened or reopened an incident, or correlates to no incident (a late delivery),
 *   goes to `onSignal`; one that resolved an incident goes only to agents with `handlesResolved`;
 * - a signal that merely updated an open incident goes nowhere (its alert already counts it):
 *   10,000 identical alerts are one agent run, not 10,000. Except a health signal: the monitor
 *   sends one for an open incident only when the probe got worse (slow turned into down), and the
 *   agents triage that again;
 * Per agent: one run at a time, in order (FIFO), at most `maxQueue` waiting (the oldest is dropped
 * when full, logged at most once a minute with how many), and a signal whose fingerprint already
 * waits in that agent's queue is not queued twice.
 */
import type { Policy } from '../../policy/types.js';
import type { AgentName } from '../../policy/vocabulary.js';
import type { StoredSignal } from '../../signals/incidents/store.js';
import type { AgentBody, AgentPipeline } from './pipeline.js';
import type { AgentTrigger } from './pipeline-types.js';
import type { Agent, AgentSignal } from './types.js';

export interface DispatchLog {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface AgentDispatcherDeps {
  readonly agents: readonly Agent[];
  readonly pipeline: Pick<AgentPipeline, 'run'>;
  readonly policy: () => Policy;
  /** Is the agent killed now (its own switch or the global one)? */
  readonly isKilled: (agent: AgentName) => boolean;
  readonly now: () => number;
  readonly log: DispatchLog;
  /** Waiting signals per agent before the oldest is dropped (default 200). */
  readonly maxQueue?: number;
}

interface Item {
  readonly key: string;
  readonly signal: AgentSignal;
}

interface Lane {
  readonly agent: Agent;
  readonly queue: Item[];
  readonly keys: Set<string>;
  running: Promise<void> | null;
  dropped: number;
  lastDropLogAt: number;
}

const DROP_LOG_INTERVAL_MS = 60_000;

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
  readonly #maxQueue: number;
  #pending: (readonly StoredSignal[])[] = [];
  #scheduled = false;
  #stopped = false;
  #idleWaiters: (() => void)[] = [];

  constructor(deps: AgentDispatcherDeps) {
    this.#d = deps;
    this.#maxQueue = Math.max(1, deps.maxQueue ?? 200);
    for (const agent of deps.agents) {
      this.#lanes.set(agent.name, {
        agent,
        queue: [],
        keys: new Set(),
        running: null,
        dropped: 0,
        lastDropLogAt: Number.NEGATIVE_INFINITY,
      });
    }
  }

  /** The SignalStore.onStored listener: remembers the batch and returns at once. */
  readonly onStored = (stored: readonly StoredSignal[]): void => {
    if (this.#stopped || stored.length === 0) return;
    this.#pending.push(stored);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.#drainPending());
    }
  };

  /** Signals waiting per agent (not counting the one running). */
  queued(): Partial<Record<AgentName, number>> {
    const out: Partial<Record<AgentName, number>> = {};
    for (const [name, lane] of this.#lanes) out[name] = lane.queue.length;
    return out;
  }

  /** Resolves when nothing is waiting or running (tests). */
  idle(): Promise<void> {
    if (this.#isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Takes no more signals and drops what waits; resolves when the running ones have ended. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#pending = [];
    const running: Promise<void>[] = [];
    for (const lane of this.#lanes.values()) {
      lane.queue.length = 0;
      lane.keys.clear();
      if (lane.running) running.push(lane.running);
    }
    await Promise.allSettled(running);
    this.#checkIdle();
  }

  #isIdle(): boolean {
    if (this.#pending.length > 0 || this.#scheduled) return false;
    for (const lane of this.#lanes.values()) if (lane.running !== null || lane.queue.length > 0) return false;
    return true;
  }

  #checkIdle(): void {
    if (!this.#isIdle()) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const w of waiters) w();
  }

  #drainPending(): void {
    this.#scheduled = false;
    const batches = this.#pending;
    this.#pending = [];
    try {
      if (!this.#stopped) {
        const policy = this.#d.policy();
        const events = new Set(policy.doc.triggers.events);
        for (const batch of batches) for (const s of batch) this.#route(s, policy, events);
      }
    } catch (err) {
      this.#d.log.error({ err }, 'agent dispatch failed');
    }
    this.#checkIdle();
  }

  #route(s: StoredSignal, policy: Policy, events: ReadonlySet<string>): void {
    const kind = s.input.kind;
    if (!events.has(kind)) return;
    const change = s.incident?.change ?? null;
    let resolved: boolean;
    if (change === 'resolved') resolved = true;
    else if (change === 'opened' || change === 'reopened') resolved = false;
    else if (change === null && s.input.resolves !== true) resolved = false;
    else if (change === 'updated' && kind === 'health' && s.input.resolves !== true) resolved = false;
    else return; // updated, or a resolution that resolved nothing
    let signal: AgentSignal | null = null;
    for (const lane of this.#lanes.values()) {
      const a = lane.agent;
      if (!a.handles.includes(kind) || a.onSignal === undefined) continue;
      if (resolved && a.handlesResolved !== true) continue;
      if (!policy.enabledAgents.has(a.name) || this.#d.isKilled(a.name)) continue;
      signal ??= agentSignalOf(s);
      this.#enqueue(lane, { key: `${resolved ? 'resolved' : 'signal'}:${s.input.fingerprint}`, signal });
    }
  }

  #enqueue(lane: Lane, item: Item): void {
    if (lane.keys.has(item.key)) return;
    if (lane.queue.length >= this.#maxQueue) {
      const oldest = lane.queue.shift();
      if (oldest !== undefined) lane.keys.delete(oldest.key);
      lane.dropped++;
      const now = this.#d.now();
      if (now - lane.lastDropLogAt >= DROP_LOG_INTERVAL_MS) {
        this.#d.log.warn(
          { agent: lane.agent.name, dropped: lane.dropped, maxQueue: this.#maxQueue },
          `${lane.agent.name}'s signal queue is full: dropped the oldest waiting signals (${lane.dropped} since the last report)`,
        );
        lane.dropped = 0;
        lane.lastDropLogAt = now;
      }
    }
    lane.queue.push(item);
    lane.keys.add(item.key);
    if (lane.running === null) lane.running = this.#work(lane);
  }

  async #work(lane: Lane): Promise<void> {
    // Start on a later turn: never inside the caller's stack.
    await new Promise<void>((resolve) => setImmediate(resolve));
    for (let item = lane.queue.shift(); item !== undefined; item = lane.queue.shift()) {
      lane.keys.delete(item.key);
      if (this.#stopped) break;
      const agent = lane.agent;
      if (this.#d.isKilled(agent.name)) continue;
      const s = item.signal;
      const trigger: AgentTrigger = {
        source: triggerSourceOf(s.source),
        ref: s.id,
        kind: 'signal',
        signalKind: s.kind,
        incidentId: s.incident?.id ?? null,
        service: s.service,
        signature: s.kind === 'error_signature' ? s.fingerprint : null,
        severity: s.severity,
      };
      const body: AgentBody = async (ctx) => {
        await agent.onSignal?.(s, ctx);
      };
      try {
        await this.#d.pipeline.run(agent, trigger, body);
      } catch (err) {
        this.#d.log.error({ err, agent: agent.name, signal: s.id }, 'agent run could not be recorded');
      }
    }
    lane.running = null;
    this.#checkIdle();
  }
}
