/**
 * Small node scripts for executor and runner tests, written to a temp folder: one that echoes its
 * argv and env as JSON, one that spawns a grandchild in its process group and records both pids,
 * and one that writes a lot of output. Plus polling for "this pid is gone".
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { processAlive } from '../../src/actions/executors/command.js';
import { eventually } from './bot.js';

const ECHO = `process.stdout.write(JSON.stringify({ argv: process.argv.slice(2), env: process.env, cwd: process.cwd() }));`;

/**
 * argv: PIDFILE MODE. Spawns a grandchild (same process group), waits until it is ready, then
 * writes {child, grandchild} to PIDFILE. MODE `trap`: both ignore SIGTERM; `exit`: the child exits
 * right after, leaving the grandchild holding stdout; anything else: both wait forever.
 */
const FAMILY = `
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const [pidFile, mode] = process.argv.slice(2);
const trap = mode === 'trap';
const ready = pidFile + '.gc-ready';
const code = (trap ? "process.on('SIGTERM', () => {});" : '') +
  "require('node:fs').writeFileSync(process.argv[1], 'ready'); setInterval(() => {}, 1000);";
const gc = spawn(process.execPath, ['-e', code, ready], { stdio: ['ignore', 'inherit', 'inherit'] });
if (trap) process.on('SIGTERM', () => {});
const wait = setInterval(() => {
  if (!fs.existsSync(ready)) return;
  clearInterval(wait);
  process.stdout.write('family ready\\n'); // synchronous on a pipe: in the pipe before the pid file
  fs.writeFileSync(pidFile + '.tmp', JSON.stringify({ child: process.pid, grandchild: gc.pid }));
  fs.renameSync(pidFile + '.tmp', pidFile);
  if (mode === 'exit') process.exit(0);
  setInterval(() => {}, 1000);
}, 5);
`;

/** argv: BYTES. Writes BYTES of 'x' lines then 'END' to stdout, and 'warn' to stderr. */
const NOISY = `
const n = Number(process.argv[2]);
const line = 'x'.repeat(99) + '\\n';
let out = '';
while (out.length < n) out += line;
process.stdout.write(out.slice(0, n) + 'END');
process.stderr.write('warn');
`;

export interface Scripts {
  readonly echo: string;
  readonly family: string;
  readonly noisy: string;
}

export function writeScripts(dir: string): Scripts {
  const scripts = {
    echo: join(dir, 'echo.cjs'),
    family: join(dir, 'family.cjs'),
    noisy: join(dir, 'noisy.cjs'),
  };
  writeFileSync(scripts.echo, ECHO);
  writeFileSync(scripts.family, FAMILY);
  writeFileSync(scripts.noisy, NOISY);
  return scripts;
}

export interface Family {
  readonly child: number;
  readonly grandchild: number;
}

/** Waits until the family script wrote its pid file, and returns the pids. */
export function familyPids(pidFile: string, timeoutMs = 5000): Promise<Family> {
  return eventually(
    () => (existsSync(pidFile) ? (JSON.parse(readFileSync(pidFile, 'utf8')) as Family) : undefined),
    timeoutMs,
    5,
  );
}

/** Resolves with the ms it took until none of `pids` is alive; rejects after `timeoutMs`. */
export async function goneWithin(pids: readonly number[], timeoutMs: number): Promise<number> {
  const t0 = performance.now();
  await eventually(
    async () => {
      for (const pid of pids) if (await processAlive(pid)) return false;
      return true;
    },
    timeoutMs,
    5,
  );
  return performance.now() - t0;
}

/** Cleanup for tests: SIGKILL whatever is left of these process groups and pids. */
export function killAll(pids: Iterable<number>): void {
  for (const pid of pids) {
    for (const target of [-pid, pid]) {
      try {
        process.kill(target, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}
