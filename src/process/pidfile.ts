/**
 * The running bot's pid, kept in the data folder, so that shell commands (`autonomy policy
 * reload`) can find it. One bot per database: a second start on the same data folder is refused.
 *
 * The file names its owner: the pid on the first line (`kill $(head -1 autonomy.pid)` works), the
 * process's identity (proc-identity.ts: boot id and start time) on the second. A file left by a
 * crash whose pid now belongs to another process (pids are reused, often after a reboot or in a
 * container where the bot is always pid 1 or 7) is not taken for a running bot. Where the identity
 * cannot be read (no /proc: macOS, Windows), or in a one-line file from an older version, a live pid
 * counts as the bot, as before.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AutonomyError } from './errors.js';
import { processIdentity } from './proc-identity.js';

export function pidFilePath(dataDir: string): string {
  return join(dataDir, 'autonomy.pid');
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else; still alive.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The pid of a live bot on this data folder, or null (a stale file from a crash counts as none). */
export function runningPid(dataDir: string): number | null {
  let text: string;
  try {
    text = readFileSync(pidFilePath(dataDir), 'utf8');
  } catch {
    return null;
  }
  const [first = '', owner = ''] = text.split('\n').map((line) => line.trim());
  if (!/^[0-9]{1,10}$/.test(first)) return null;
  const pid = Number(first);
  if (!Number.isSafeInteger(pid) || pid <= 0 || !alive(pid)) return null;
  if (owner === '') return pid;
  const identity = processIdentity(pid);
  // Known and different: the pid was reused by a process that is not the bot that wrote the file.
  return identity !== null && identity !== owner ? null : pid;
}

/** Claims the data folder for this bot; throws when a live bot (even in this process) holds it. */
export function claimPidFile(dataDir: string, pid = process.pid): () => void {
  mkdirSync(dataDir, { recursive: true });
  const path = pidFilePath(dataDir);
  const other = runningPid(dataDir);
  if (other !== null) {
    throw new AutonomyError('DATA_DIR_IN_USE', `another autonomy (pid ${other}) is running on ${dataDir}`, {
      fix: 'stop it first, or set AUTONOMY_DB to another file',
    });
  }
  // A file left by a crash names a dead (or reused) pid: take it over. `wx` makes two racing starts fail one.
  rmSync(path, { force: true });
  try {
    writeFileSync(path, `${pid}\n${processIdentity(pid) ?? ''}\n`, { mode: 0o644, flag: 'wx' });
  } catch (cause) {
    throw new AutonomyError(
      'DATA_DIR_IN_USE',
      `another autonomy is starting on ${dataDir} at the same moment`,
      {
        cause,
        fix: 'try again',
      },
    );
  }
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (runningPid(dataDir) === pid) rmSync(path, { force: true });
  };
}
