/**
 * Concurrency caps for model calls: a global cap on generations on the local model and a cap per
 * agent, with a fair queue (round-robin across agents, first come first served within one agent).
 * Caps are read on every dispatch, so a reloaded policy applies at once. Waiting is abortable.
 */
import type { AgentName } from '../policy/vocabulary.js';

export interface Caps {
  readonly local: number;
  readonly perAgent: number;
}

interface Waiter {
  readonly agent: AgentName;
  readonly local: boolean;
  readonly grant: (release: () => void) => void;
}

export type Release = () => void;

export class FairLimiter {
  private localInFlight = 0;
  private maxLocalSeen = 0;
  private readonly perAgent = new Map<AgentName, number>();
  /** Per agent FIFO; the Map's order plus `next` make the round-robin. */
  private readonly queues = new Map<AgentName, Waiter[]>();
  private readonly order: AgentName[] = [];
  private next = 0;

  constructor(private readonly caps: () => Caps) {}

  /** Generations on the local model right now, and the most seen at once. */
  stats(): { localInFlight: number; maxLocalInFlight: number; queued: number } {
    let queued = 0;
    for (const q of this.queues.values()) queued += q.length;
    return { localInFlight: this.localInFlight, maxLocalInFlight: this.maxLocalSeen, queued };
  }

  /** Resolves with a release function when a slot is free; rejects with `signal.reason` if aborted first. */
  acquire(agent: AgentName, local: boolean, signal: AbortSignal): Promise<Release> {
    if (signal.aborted) return Promise.reject(signal.reason);
    const queue = this.queues.get(agent);
    if ((queue === undefined || queue.length === 0) && this.fits(agent, local)) {
      return Promise.resolve(this.take(agent, local));
    }
    return new Promise<Release>((resolve, reject) => {
      const waiter: Waiter = {
        agent,
        local,
        grant: (release) => {
          signal.removeEventListener('abort', onAbort);
          resolve(release);
        },
      };
      const onAbort = (): void => {
        const q = this.queues.get(agent);
        const i = q?.indexOf(waiter) ?? -1;
        if (q !== undefined && i >= 0) q.splice(i, 1);
        reject(signal.reason);
        this.dispatch();
      };
      signal.addEventListener('abort', onAbort, { once: true });
      let q = this.queues.get(agent);
      if (q === undefined) {
        q = [];
        this.queues.set(agent, q);
        this.order.push(agent);
      }
      q.push(waiter);
    });
  }

  private fits(agent: AgentName, local: boolean): boolean {
    const caps = this.caps();
    if ((this.perAgent.get(agent) ?? 0) >= caps.perAgent) return false;
    return !local || this.localInFlight < caps.local;
  }

  private take(agent: AgentName, local: boolean): Release {
    this.perAgent.set(agent, (this.perAgent.get(agent) ?? 0) + 1);
    if (local) {
      this.localInFlight++;
      if (this.localInFlight > this.maxLocalSeen) this.maxLocalSeen = this.localInFlight;
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.perAgent.set(agent, (this.perAgent.get(agent) ?? 1) - 1);
      if (local) this.localInFlight--;
      this.dispatch();
    };
  }

  /** Grants free slots, visiting agents in turn from where the last grant stopped. */
  private dispatch(): void {
    let granted = true;
    while (granted) {
      granted = false;
      const n = this.order.length;
      for (let k = 0; k < n; k++) {
        const i = (this.next + k) % n;
        const agent = this.order[i] as AgentName;
        const head = this.queues.get(agent)?.[0];
        if (head === undefined || !this.fits(agent, head.local)) continue;
        this.queues.get(agent)?.shift();
        this.next = (i + 1) % n;
        head.grant(this.take(agent, head.local));
        granted = true;
        break;
      }
    }
  }
}
