/**
 * Runs whose outcome is known after a crash. The bot cannot wait on a process it did not start, so
 * every command runs under a tiny runner (RUNNER_SCRIPT, run as `node -e SCRIPT STATE PROGRAM
 * ARGS...`: argv only, never a shell). The runner leads the run's process group and writes one small
 * JSON file per run in the data folder (`runs/<run id>.json`, written to a temp file and renamed):
 *
 *   at start  {v, runId, pid, identity, startedAt}       its own pid and process identity
 *   at end    ... + ended: {exitCode, signal, spawnError, endedAt}
 *
 * `identity` is the boot id and start time from /proc (process/proc-identity.ts), so a pid reused
 * by another process is never taken for the run; where /proc is missing (macOS) it is null and a
 * live pid counts as the run. The file holds no output and no env values: no secrets. The runner
 * ignores SIGTERM/SIGINT/SIGHUP (its command gets them, as the whole group is signalled), forwards
 * the command's output to the bot while the bot is there and drains it after (so the command never
 * dies of a closed pipe when the bot does), and ends as its command ended (same code, same signal).
 */
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

export const RUNNER_SCRIPT = `
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const [stateFile, runId, program, ...args] = process.argv.slice(1);
function identity(pid) {
  try {
    const boot = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const stat = fs.readFileSync('/proc/' + pid + '/stat', 'utf8');
    const ticks = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    return /^[0-9]+$/.test(ticks || '') ? boot + ':' + ticks : null;
  } catch { return null; }
}
function write(state) {
  const tmp = stateFile + '.tmp';
  fs.writeFileSync(tmp, JSON.stringify(state));
  fs.renameSync(tmp, stateFile);
}
const base = { v: 1, runId, pid: process.pid, identity: identity(process.pid), startedAt: Date.now() };
write(base);
for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(s, () => {});
const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'] });
const forward = (from, to) => {
  let open = true;
  to.on('error', () => { open = false; });
  from.on('data', (chunk) => { if (open) { try { to.write(chunk); } catch { open = false; } } });
};
forward(child.stdout, process.stdout);
forward(child.stderr, process.stderr);
let ended = false;
const end = (exitCode, signal, spawnError) => {
  if (ended) return;
  ended = true;
  write({ ...base, ended: { exitCode, signal, spawnError, endedAt: Date.now() } });
  let streams = 2;
  const out = () => {
    if (--streams > 0) return;
    if (signal) {
      for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.removeAllListeners(s);
      process.kill(process.pid, signal);
      setTimeout(() => process.exit(128), 1000);
    } else process.exit(exitCode === null ? 127 : exitCode);
  };
  if (spawnError) { streams = 1; out(); return; }
  child.stdout.once('close', out);
  child.stderr.once('close', out);
  setTimeout(() => { streams = 1; out(); }, 200).unref();
};
child.on('error', (e) => end(null, null, e.code || e.message));
child.on('exit', (code, signal) => end(code, signal, null));
`;

export interface RunEnd {
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Why the command could not start (`ENOENT`, ...), else null. */
  readonly spawnError: string | null;
  readonly endedAt: number;
}

export interface RunState {
  readonly runId: string;
  /** The runner's pid: the run's process group id. */
  readonly pid: number;
  /** Boot id and start time of the runner (proc-identity.ts), or null where unknown. */
  readonly identity: string | null;
  readonly startedAt: number;
  readonly ended: RunEnd | null;
}

/** Where a run's state file goes. Run ids are the bot's own (`run_...`), never user text. */
export function runStateFile(dir: string, runId: string): string {
  if (!/^[A-Za-z0-9_-]{1,100}$/.test(runId)) throw new Error(`not a run id: ${JSON.stringify(runId)}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return join(dir, `${runId}.json`);
}

/** The run's state as its runner last wrote it, or null (no file, or not a state file). */
export function readRunState(dir: string, runId: string): RunState | null {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(runStateFile(dir, runId), 'utf8'));
  } catch {
    return null;
  }
  if (typeof raw !== 'object' || raw === null) return null;
  const r = raw as Record<string, unknown>;
  if (r.v !== 1 || r.runId !== runId || typeof r.pid !== 'number' || !Number.isSafeInteger(r.pid))
    return null;
  const e = (typeof r.ended === 'object' && r.ended !== null ? r.ended : null) as Record<
    string,
    unknown
  > | null;
  return {
    runId,
    pid: r.pid,
    identity: typeof r.identity === 'string' ? r.identity : null,
    startedAt: typeof r.startedAt === 'number' ? r.startedAt : 0,
    ended:
      e === null
        ? null
        : {
            exitCode: typeof e.exitCode === 'number' ? e.exitCode : null,
            signal: typeof e.signal === 'string' ? (e.signal as NodeJS.Signals) : null,
            spawnError: typeof e.spawnError === 'string' ? e.spawnError : null,
            endedAt: typeof e.endedAt === 'number' ? e.endedAt : 0,
          },
  };
}

export function removeRunState(dir: string, runId: string): void {
  try {
    rmSync(runStateFile(dir, runId), { force: true });
    rmSync(`${runStateFile(dir, runId)}.tmp`, { force: true });
  } catch {
    // Best effort: a leftover file is removed by the next start's recovery.
  }
}

/** Run ids with a state file (for cleaning up after recovery). */
export function runStateIds(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => f.slice(0, -'.json'.length));
  } catch {
    return [];
  }
}
