/**
 * Foreground work goes first. The bot has one thread: while an agent job runs (milliseconds of
 * rules, records and posts), a webhook waits for its 202 and a card waits to be sent. Work a person
 * or a sender is waiting on (a request being answered, a chat message being delivered) marks itself
 * with `begin()`; background work (agent jobs) takes its turn with `turn()`, which waits for a
 * moment when none is in flight, but never longer than `maxWaitMs`: under a steady stream of
 * requests the agents fall behind (their jobs are durable rows) and never stop.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';

export class Foreground {
  #busy = 0;
  #waiters = new Set<() => void>();

  /** Foreground work in flight now. */
  get busy(): number {
    return this.#busy;
  }

  /** Marks work that others wait on; call the returned function (once; more calls do nothing) when it ends. */
  begin(): () => void {
    this.#busy++;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.#busy--;
      if (this.#busy === 0) for (const wake of [...this.#waiters]) wake();
    };
  }

  /** Runs `work` marked as foreground work until it settles (or throws), and returns what it returns. */
  async during<T>(work: () => Promise<T>): Promise<T> {
    const end = this.begin();
    try {
      return await work();
    } finally {
      end();
    }
  }

  /**
   * Resolves on a later turn of the event loop (never inside the caller's stack), once no
   * foreground work is in flight, or after `maxWaitMs` whatever is in flight.
   */
  async turn(maxWaitMs: number): Promise<void> {
    const deadline = performance.now() + maxWaitMs;
    await nextTurn();
    // Woken when the work in flight ended, then a turn later (what ended it settles first, and the
    // next request or delivery it started may already be in flight): look again.
    while (this.#busy > 0) {
      const left = deadline - performance.now();
      if (left <= 0) return;
      await this.#idle(left);
      await nextTurn();
    }
  }

  #idle(withinMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#waiters.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, withinMs);
      this.#waiters.add(wake);
    });
  }
}
