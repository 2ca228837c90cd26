/**
 * Which process a pid is, not just that some process has it: pids are reused, so a pid saved in a
 * file (the bot's pid file, an action's run state) is only trusted together with the process's
 * start time. On Linux that is the boot id and the start time in clock ticks since boot, both from
 * /proc (`<boot id>:<ticks>`): the same string for the whole life of one process, never for
 * another. Elsewhere (macOS, Windows: no /proc) the identity is unknown (null) and callers fall
 * back to "the pid is alive", and say so.
 */
import { readFileSync } from 'node:fs';

/** The identity of process `pid`, or null when it is gone or this system has no /proc. */
export function processIdentity(pid: number): string | null {
  if (!Number.isSafeInteger(pid) || pid <= 0) return null;
  try {
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const startTicks = fields[19]; // field 22 of proc(5): starttime
    if (startTicks === undefined || !/^[0-9]+$/.test(startTicks)) return null;
    return `${boot}:${startTicks}`;
  } catch {
    return null;
  }
}

/** Whether identities can be read here (Linux with /proc). */
export function identitiesKnown(): boolean {
  return processIdentity(process.pid) !== null;
}
