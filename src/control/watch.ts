/**
 * Notices control changes made by anyone (the CLI in another process, a chat command in this one)
 * and hands the fresh snapshot to the bot. Polls a change stamp every `intervalMs` (a pragma, a few
 * microseconds); only when the file changed is the control table re-read, and only when the control
 * state differs is `onChange` called. With the default 200 ms a CLI kill is obeyed well within 1 s.
 */
import { changeStamp, type Database } from '../db/connection.js';
import { type ControlSnapshot, readControl, sameControl } from './state.js';

export type StopWatching = () => void;

/**
 * @param onChange called with the new snapshot after each change (not for the state at start:
 *   read that with `readControl()` or `ControlStore.snapshot()` first).
 * @param onError called when reading the database or `onChange` throws; watching goes on.
 */
export function watchControl(
  database: Database,
  onChange: (snapshot: ControlSnapshot) => void,
  intervalMs = 200,
  onError: (error: Error) => void = () => {},
): StopWatching {
  if (!(Number.isFinite(intervalMs) && intervalMs > 0)) {
    throw new RangeError(`watchControl interval must be a positive number of ms, got ${intervalMs}`);
  }
  let stamp = changeStamp(database);
  let last = readControl(database);
  let stopped = false;
  const tick = (): void => {
    if (stopped) return;
    if (!database.sqlite.open) {
      stop();
      return;
    }
    try {
      const now = changeStamp(database);
      if (now === stamp) return;
      stamp = now;
      const next = readControl(database);
      if (sameControl(last, next)) return;
      last = next;
      onChange(next);
    } catch (cause) {
      onError(cause instanceof Error ? cause : new Error(String(cause)));
    }
  };
  const timer = setInterval(tick, intervalMs);
  // The watcher alone must not keep a process alive (the CLI, tests); the bot has its server.
  timer.unref();
  const stop = (): void => {
    stopped = true;
    clearInterval(timer);
  };
  return stop;
}
