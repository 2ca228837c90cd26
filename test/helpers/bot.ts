/**
 * Helpers for tests that run the bot: a temp data folder with a copy of the default policy, a log
 * sink that keeps JSON lines for assertions, and polling for "within N ms" behaviour.
 */
import type { ChildProcess } from 'node:child_process';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { packageRoot } from '../../src/process/package-root.js';

export const ROOT = packageRoot();
export const DEFAULT_POLICY = join(ROOT, 'policies', 'default.policy.yaml');

export interface TempSetup {
  readonly dir: string;
  readonly policyFile: string;
  readonly dbFile: string;
  readonly env: Record<string, string>;
  /** Replaces the policy file the way editors do: write a new file, rename it over the old one. */
  savePolicy(text: string): void;
  policyText(): string;
  cleanup(): void;
}

/** The test policy with a Slack operator (slack:user:UONCALL1) and critical posts to slack:C0ALERTS too. */
export function saveSlackOnCallPolicy(setup: TempSetup): void {
  setup.savePolicy(
    setup
      .policyText()
      .replace(/operators: \[/, 'operators: [slack:user:UONCALL1, ')
      .replace(/critical: \[console:main\]/, 'critical: [console:main, slack:C0ALERTS]'),
  );
}

export function tempSetup(extraEnv: Record<string, string> = {}): TempSetup {
  const dir = mkdtempSync(join(tmpdir(), 'autonomy-test-'));
  const policyFile = join(dir, 'policy', 'bot.policy.yaml');
  const dbFile = join(dir, 'data', 'autonomy.db');
  // The policy lives in its own folder, so the watcher sees only policy changes.
  const policyDir = join(dir, 'policy');
  mkdirSync(policyDir, { recursive: true });
  copyFileSync(DEFAULT_POLICY, policyFile);
  copyFileSync(join(ROOT, 'policies', 'policy.schema.json'), join(policyDir, 'policy.schema.json'));
  return {
    dir,
    policyFile,
    dbFile,
    env: {
      AUTONOMY_POLICY: policyFile,
      AUTONOMY_DB: dbFile,
      AUTONOMY_HOST: '127.0.0.1',
      AUTONOMY_PORT: '0',
      LOG_LEVEL: 'info',
      ...extraEnv,
    },
    savePolicy(text: string) {
      const tmp = `${policyFile}.tmp-${process.pid}`;
      writeFileSync(tmp, text);
      renameSync(tmp, policyFile);
    },
    policyText: () => readFileSync(policyFile, 'utf8'),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** A pino destination that keeps every log record. */
export class LogSink extends Writable {
  readonly records: Record<string, unknown>[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line.trim() !== '') this.records.push(JSON.parse(line) as Record<string, unknown>);
    }
    done();
  }
  messages(): string[] {
    return this.records.map((r) => String(r.msg));
  }
}

/**
 * Polls `check` until it returns a value (not undefined/false) or `timeoutMs` passes. Waits on
 * node:timers/promises, which fake timers leave alone, so a test may fake the code's timers
 * (`vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })`) and still wait here.
 */
export async function eventually<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 2000,
  stepMs = 20,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `condition not met within ${timeoutMs} ms${last ? `: ${(last as Error).message}` : ''}`,
      );
    }
    await sleep(stepMs);
  }
}

/**
 * What starting the built bot (`autonomy start`) ends in: the URL it logs once it listens, or the
 * process ending (rejected, with its stderr). No deadline of its own: a start takes 2 s of CPU,
 * over 10 s of wall clock on a loaded 2-core machine, so the test's own timeout bounds it.
 * `stderr()` is everything the process has written there so far.
 */
export function listening(proc: ChildProcess): { url: Promise<string>; stderr: () => string } {
  let err = '';
  const url = new Promise<string>((resolve, reject) => {
    proc.stderr?.on('data', (c: Buffer) => {
      err += c.toString('utf8');
      const found = /"url":"(http:\/\/[^"]+)"/.exec(err)?.[1];
      if (found !== undefined) resolve(found);
    });
    // 'close', not 'exit': by then its stderr has been read to the end.
    proc.once('close', (code, signal) =>
      reject(new Error(`the bot exited (${code ?? signal}) before it listened:\n${err}`)),
    );
  });
  return { url, stderr: () => err };
}

/** What GET /healthz answers (the parts tests look at). */
export interface HealthBody {
  status: 'ok' | 'degraded' | 'down';
  checks: Record<string, { status: string; detail?: string }>;
  policy: {
    version: number;
    phase: number;
    hash: string;
    lastReloadError: null | { at: string; errors: number };
  };
  killed: { all: boolean; agents: string[] };
}

export async function getHealth(url: string): Promise<HealthBody> {
  return (await (await fetch(`${url}/healthz`)).json()) as HealthBody;
}
