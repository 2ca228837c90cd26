/**
 * The one kill path. Every kill switch is written to the control table first (a chat or console
 * command, the CLI in another process, `AUTONOMY_KILL` at start); the control watch notices the
 * change and hands each switch that just turned on to `onKill` once: the bot wires that to the
 * kill loop over its services (service.ts), which stop what they do for the target at once.
 *
 * A command in this process calls `check()` right after its write, so its kill is obeyed before it
 * answers (and it can say what was stopped); a change from another process is seen by polling a
 * change stamp every `intervalMs` (a pragma, a few microseconds): the control table is re-read only
 * when the file changed, and `onChange` runs only when the control state differs. With the default
 * 200 ms a CLI kill is obeyed well within 1 s.
 */
import { changeStamp, type Database } from '../db/connection.js';
import { AGENTS, type AgentName } from '../policy/vocabulary.js';
import type { KillOrder, KillTeeth, Service, ServiceHealth } from '../service.js';
import { type ControlSnapshot, readControl, sameControl } from './state.js';

export type StopWatching = () => void;

export interface ControlWatchOptions {
  readonly database: Database;
  /** A kill switch that just turned on (the kill loop); returns what it stopped. */
  readonly onKill?: (order: KillOrder) => KillTeeth;
  /** Any change of the control state (after the kills were handed on). */
  readonly onChange?: (snapshot: ControlSnapshot) => void;
  /** How often to look for changes made by other processes while started (default 200 ms). */
  readonly intervalMs?: number;
  /** Reading the database or a handler threw; watching goes on with the last state. */
  readonly onError?: (error: Error) => void;
}

export class ControlWatch implements Service {
  readonly name = 'control';
  readonly #o: ControlWatchOptions;
  #stamp: string;
  #last: ControlSnapshot;
  #timer: NodeJS.Timeout | null = null;

  constructor(options: ControlWatchOptions) {
    const intervalMs = options.intervalMs ?? 200;
    if (!(Number.isFinite(intervalMs) && intervalMs > 0)) {
      throw new RangeError(`the control watch interval must be a positive number of ms, got ${intervalMs}`);
    }
    this.#o = { ...options, intervalMs };
    this.#stamp = changeStamp(options.database);
    this.#last = readControl(options.database);
  }

  /** The control state the bot obeys now (as of the last check). */
  snapshot(): ControlSnapshot {
    return this.#last;
  }

  /**
   * Reads the control table if it changed, hands every kill switch that turned on since the last
   * check to `onKill`, then the new state to `onChange`. Returns what the kills stopped.
   */
  check(): Required<KillTeeth> {
    const teeth = { aborted: 0, voided: 0 };
    const { database } = this.#o;
    if (!database.sqlite.open) return teeth;
    try {
      const stamp = changeStamp(database);
      if (stamp === this.#stamp) return teeth;
      this.#stamp = stamp;
      const next = readControl(database);
      if (sameControl(this.#last, next)) return teeth;
      const before = this.#last;
      this.#last = next;
      for (const target of newlyKilled(before, next)) {
        const entry = next.entries.get(`kill:${target}`);
        const stopped = this.#o.onKill?.({
          target,
          actor: entry?.actor ?? 'system:control',
          reason: entry?.reason ?? null,
        });
        teeth.aborted += stopped?.aborted ?? 0;
        teeth.voided += stopped?.voided ?? 0;
      }
      this.#o.onChange?.(next);
    } catch (cause) {
      this.#o.onError?.(cause instanceof Error ? cause : new Error(String(cause)));
    }
    return teeth;
  }

  start(): void {
    if (this.#timer !== null) return;
    this.#timer = setInterval(() => {
      if (!this.#o.database.sqlite.open) this.stop();
      else this.check();
    }, this.#o.intervalMs);
    // The watch alone must not keep a process alive (the CLI, tests); the bot has its server.
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  health(): ServiceHealth {
    const s = this.#last;
    const killed = s.killedAll ? ['all'] : [...s.killedAgents];
    return {
      status: 'ok',
      detail: killed.length === 0 ? 'no kill switch on' : `killed: ${killed.join(', ')}`,
    };
  }
}

function newlyKilled(before: ControlSnapshot, after: ControlSnapshot): (AgentName | 'all')[] {
  const out: (AgentName | 'all')[] = [];
  if (after.killedAll && !before.killedAll) out.push('all');
  for (const a of AGENTS) if (after.killedAgents.has(a) && !before.killedAgents.has(a)) out.push(a);
  return out;
}

/**
 * Calls `onChange` with the new snapshot after each change (not for the state at start: read that
 * with `readControl()` or `ControlStore.snapshot()` first), until the returned function is called.
 */
export function watchControl(
  database: Database,
  onChange: (snapshot: ControlSnapshot) => void,
  intervalMs = 200,
  onError: (error: Error) => void = () => {},
): StopWatching {
  const watch = new ControlWatch({ database, onChange, intervalMs, onError });
  watch.start();
  return () => watch.stop();
}
