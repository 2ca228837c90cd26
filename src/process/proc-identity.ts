/**
 * Which process a pid is, not just that some process has it: pids are reused, so a pid saved in a
 * file (the bot's pid file, an action's run state) is only trusted together with the process's
 * start time. On Linux that is the boot id and the start time in clock ticks since boot, both from
 * /proc (`<boot id>:<ticks>`): the same string for the whole life of one process, never for
 * another. Elsewhere (macOS, Windows: no /proc) the identity is unknown (null) and callers fall
 * back to "the pid is alive", and say so.
 *
 * A process that has exited but is not yet reaped by its parent (a zombie: state `Z`) keeps its
 * /proc entry, start time included, and still takes signal 0. runningIdentity() is for "is it
 * still running": it says null for a zombie.
 */
import { readFileSync } from 'node:fs';

/** The identity of process `pid`, or null when it is gone or this system has no /proc. */
export function processIdentity(pid: number): string | null {
  return readIdentity(pid)?.identity ?? null;
}

/**
 * The identity of process `pid` while it runs: null when it is gone, has exited and waits to be
 * reaped (a zombie, which can write nothing more), or this system has no /proc.
 */
export function runningIdentity(pid: number): string | null {
  const found = readIdentity(pid);
  return found === null || found.state === 'Z' ? null : found.identity;
}

/** Whether identities can be read here (Linux with /proc). */
export function identitiesKnown(): boolean {
  return processIdentity(process.pid) !== null;
}

function readIdentity(pid: number): { identity: string; state: string } | null {
  if (!Number.isSafeInteger(pid) || pid <= 0) return null;
  try {
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const state = fields[0] ?? ''; // field 3 of proc(5): R, S, D, Z, ...
    const startTicks = fields[19]; // field 22 of proc(5): starttime
    if (startTicks === undefined || !/^[0-9]+$/.test(startTicks)) return null;
    return { identity: `${boot}:${startTicks}`, state };
  } catch {
    return null;
  }
}
