/**
 * The command executor: runs a catalog argv without a shell, in its own process group, with only
 * PATH and the action's allowlisted env vars, a timeout, and capped output. On abort (kill switch)
 * or timeout the WHOLE group gets SIGTERM, then SIGKILL after a grace period, so grandchildren die
 * too. When the command exits, anything it left running in its group is stopped the same way.
 *
 * CPU time is not measured (cpuMs is always null): Node does not expose a child's rusage, and
 * reading /proc around the exit is racy.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import type { CompiledAction, Params } from '../../policy/types.js';
import { RUNNER_SCRIPT, readRunState, runStateFile } from './run-state.js';
import { fillArgv, fillText } from './template.js';

export type Env = Readonly<Record<string, string | undefined>>;

/** PATH when the bot's own env has none. */
export const DEFAULT_PATH = '/usr/local/bin:/usr/bin:/bin';
export const DEFAULT_OUTPUT_CAP = 64 * 1024;
export const DEFAULT_KILL_GRACE_MS = 2000;

/** A command ready to run: every placeholder filled, env reduced to the allowlist. */
export interface CommandSpec {
  readonly argv: readonly string[];
  readonly cwd: string | null;
  /** PATH and the allowlisted vars that are set (values: never log this object). */
  readonly env: Readonly<Record<string, string>>;
  /** Names only, safe to show and log. */
  readonly envNames: readonly string[];
  /** Allowlisted names that are not set in the bot's env (the command runs without them). */
  readonly missingEnv: readonly string[];
  readonly timeoutMs: number;
}

export interface CommandOptions {
  /** Aborting it kills the process group (the kill switch). */
  readonly signal?: AbortSignal;
  /** Bytes of stdout and of stderr kept (the tail), default 64 KiB each. */
  readonly maxOutputBytes?: number;
  /** Between SIGTERM and SIGKILL, default 2 s. */
  readonly killGraceMs?: number;
  /** Called with the child's pid once it started (for status and tests). */
  readonly onSpawn?: (pid: number) => void;
  /** Return what would run (argv, cwd, env names) and run nothing. */
  readonly dryRun?: boolean;
  /**
   * Run it under the runner (run-state.ts), which writes the run's state to `dir` so a restarted bot
   * finds its outcome; `pid` is then the runner's (the group's). Without it the command is the leader.
   */
  readonly runState?: { readonly dir: string; readonly runId: string };
}

export interface CommandResult {
  readonly kind: 'command';
  /** True when nothing ran (dry-run mode): the result only says what would have run. */
  readonly dryRun: boolean;
  readonly argv: readonly string[];
  readonly cwd: string | null;
  /** Env var names the command gets (PATH and the allowlisted ones that are set). */
  readonly envNames: readonly string[];
  readonly pid: number | null;
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly timedOut: boolean;
  readonly aborted: boolean;
  /** Why it could not start (program not found, bad working directory), else null. */
  readonly error: string | null;
  /** The last maxOutputBytes of each stream, as UTF-8. */
  readonly stdoutTail: string;
  readonly stderrTail: string;
  readonly stdoutBytes: number;
  readonly stderrBytes: number;
  readonly wallMs: number;
  /** Not measured (see the file comment). */
  readonly cpuMs: null;
  /** SHA-256 hex of the full stdout and of the full stderr. */
  readonly stdoutSha256: string;
  readonly stderrSha256: string;
  /** SHA-256 hex of `${stdoutSha256}\n${stderrSha256}`: one digest of the whole output. */
  readonly outputDigest: string;
}

/** Fills the action's argv and working directory and picks its env. Call after checkParams(). */
export function prepareCommand(action: CompiledAction, params: Params, env: Env): CommandSpec {
  const ex = action.doc.executor;
  if (!('command' in ex)) throw new TypeError(`action ${action.id} is not a command action`);
  const childEnv: Record<string, string> = { PATH: env.PATH || DEFAULT_PATH };
  const missingEnv: string[] = [];
  for (const name of ex.env) {
    const value = env[name];
    if (value === undefined) missingEnv.push(name);
    else childEnv[name] = value;
  }
  return {
    argv: fillArgv(ex.command, params),
    cwd: ex.cwd === undefined ? null : fillText(ex.cwd, params, 'cwd'),
    env: childEnv,
    envNames: Object.keys(childEnv),
    missingEnv,
    timeoutMs: action.timeoutMs,
  };
}

/** Keeps the last `cap` bytes of a stream and hashes all of it. */
class Tail {
  private chunks: Buffer[] = [];
  private kept = 0;
  bytes = 0;
  private readonly hash = createHash('sha256');

  constructor(private readonly cap: number) {}

  push(chunk: Buffer): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    this.chunks.push(chunk);
    this.kept += chunk.length;
    while (this.kept - (this.chunks[0]?.length ?? 0) >= this.cap && this.chunks.length > 1) {
      this.kept -= this.chunks.shift()?.length ?? 0;
    }
  }

  text(): string {
    let buf = Buffer.concat(this.chunks);
    if (buf.length > this.cap) buf = buf.subarray(buf.length - this.cap);
    // Do not start in the middle of a UTF-8 character.
    let start = 0;
    while (start < buf.length && start < 4 && ((buf[start] as number) & 0xc0) === 0x80) start++;
    return buf.subarray(start).toString('utf8');
  }

  digest(): string {
    return this.hash.digest('hex');
  }
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Signals a whole process group; false when nothing is left in it. */
function signalGroup(pid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** True while `pid` exists and is not a zombie (a zombie has exited; only its entry is left). */
export async function processAlive(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return process.platform !== 'linux';
  }
}

function cwdProblem(cwd: string | null): string | null {
  if (cwd === null) return null;
  try {
    return statSync(cwd).isDirectory() ? null : `the working directory ${cwd} is not a directory`;
  } catch {
    return `the working directory ${cwd} does not exist; create it or fix executor.cwd`;
  }
}

/**
 * Runs a prepared command. Never throws for the command's own failures: a program that cannot
 * start, exits non-zero, times out or is aborted is described in the result.
 */
export function runCommand(spec: CommandSpec, options: CommandOptions = {}): Promise<CommandResult> {
  const cap = options.maxOutputBytes ?? DEFAULT_OUTPUT_CAP;
  const grace = options.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
  const started = performance.now();
  const out = new Tail(cap);
  const err = new Tail(cap);
  const program = spec.argv[0] ?? '';

  const finish = (fields: {
    pid: number | null;
    exitCode: number | null;
    signal: NodeJS.Signals | null;
    timedOut: boolean;
    aborted: boolean;
    error: string | null;
  }): CommandResult => {
    const stdoutSha256 = out.digest();
    const stderrSha256 = err.digest();
    return {
      kind: 'command',
      dryRun: options.dryRun === true,
      argv: spec.argv,
      cwd: spec.cwd,
      envNames: spec.envNames,
      ...fields,
      stdoutTail: out.text(),
      stderrTail: err.text(),
      stdoutBytes: out.bytes,
      stderrBytes: err.bytes,
      wallMs: Math.round(performance.now() - started),
      cpuMs: null,
      stdoutSha256,
      stderrSha256,
      outputDigest: sha256(`${stdoutSha256}\n${stderrSha256}`),
    };
  };
  const none = { pid: null, exitCode: null, signal: null, timedOut: false };

  if (options.dryRun) return Promise.resolve(finish({ ...none, aborted: false, error: null }));
  if (options.signal?.aborted) {
    return Promise.resolve(finish({ ...none, aborted: true, error: 'aborted before it started' }));
  }
  const badCwd = cwdProblem(spec.cwd);
  if (badCwd !== null) return Promise.resolve(finish({ ...none, aborted: false, error: badCwd }));

  return new Promise((resolve) => {
    let timedOut = false;
    let aborted = false;
    let exited: { code: number | null; signal: NodeJS.Signals | null } | null = null;
    let spawnError: string | null = null;
    let killTimer: NodeJS.Timeout | undefined;
    let done = false;

    const run = options.runState;
    const [file, args] =
      run === undefined
        ? [program, spec.argv.slice(1)]
        : [
            process.execPath,
            [
              '-e',
              RUNNER_SCRIPT,
              runStateFile(run.dir, run.runId),
              run.runId,
              program,
              ...spec.argv.slice(1),
            ],
          ];
    const child = spawn(file, args, {
      cwd: spec.cwd ?? undefined,
      env: spec.env,
      detached: true,
      shell: false,
      stdio: ['ignore', 'pipe', 'pipe'],
      windowsHide: true,
    });
    const pid = child.pid ?? null;
    if (pid !== null) options.onSpawn?.(pid);

    /** SIGTERM the group now, SIGKILL whatever is left after the grace period. */
    const stopGroup = (): void => {
      if (pid === null || killTimer !== undefined) return;
      if (!signalGroup(pid, 'SIGTERM')) return;
      killTimer = setTimeout(() => {
        signalGroup(pid, 'SIGKILL');
        // Output pipes held by an unkillable process must not hold the run open.
        setTimeout(() => settle(), 200).unref();
      }, grace);
      killTimer.unref();
    };

    const timeout = setTimeout(() => {
      timedOut = true;
      stopGroup();
    }, spec.timeoutMs);
    timeout.unref();

    const onAbort = (): void => {
      aborted = true;
      stopGroup();
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });

    const settle = (): void => {
      if (done) return;
      done = true;
      const ran = run === undefined ? null : readRunState(run.dir, run.runId)?.ended;
      if (ran?.spawnError) {
        spawnError =
          ran.spawnError === 'ENOENT'
            ? `cannot start ${program}: not found (is it installed and on PATH?)`
            : `cannot start ${program}: ${ran.spawnError}`;
        exited = { code: null, signal: null };
      }
      clearTimeout(timeout);
      options.signal?.removeEventListener('abort', onAbort);
      child.stdout?.destroy();
      child.stderr?.destroy();
      resolve(
        finish({
          pid,
          exitCode: exited?.code ?? null,
          signal: exited?.signal ?? null,
          timedOut,
          aborted,
          error: spawnError,
        }),
      );
      // The group stays signalled until SIGKILL fired; the timer is unref'd, nothing waits on it.
    };

    child.stdout?.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', (e: NodeJS.ErrnoException) => {
      spawnError =
        e.code === 'ENOENT'
          ? `cannot start ${program}: not found (is it installed and on PATH?)`
          : `cannot start ${program}: ${e.code ?? e.message}`;
      if (pid === null) settle();
    });
    child.on('exit', (code, signal) => {
      exited = { code, signal };
      // Leftovers in the group (a backgrounded grandchild) would hold the pipes open: stop them.
      if (pid !== null && signalGroup(pid, 0)) stopGroup();
    });
    child.on('close', () => settle());
  });
}
