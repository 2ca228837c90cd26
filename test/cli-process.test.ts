/**
 * The built `autonomy` command as a user runs it: a real bot process, driven from other processes
 * (kill, policy reload) and stopped with SIGTERM. Uses dist/ (built by `npm test`'s pretest).
 */

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type FakeOllama, startFakeOllama } from './fakes/ollama-server.js';
import { eventually, getHealth, listening, ROOT, type TempSetup, tempSetup } from './helpers/bot.js';

const BIN = join(ROOT, 'dist', 'src', 'cli.js');
const exec = promisify(execFile);

let setup: TempSetup;
let child: ChildProcess | null = null;

beforeAll(() => {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run \`npm run build\` (npm test does it first)`);
});

afterEach(async () => {
  if (child && child.exitCode === null) {
    child.kill('SIGKILL');
    await new Promise((r) => child?.once('exit', r));
  }
  child = null;
  setup?.cleanup();
  await ollama?.close();
  ollama = null;
});

async function startProcess(
  extraEnv: Record<string, string> = {},
): Promise<{ url: string; stderr: () => string }> {
  setup = tempSetup(extraEnv);
  const proc = spawn(process.execPath, [BIN, 'start'], {
    env: { ...process.env, ...setup.env },
    cwd: setup.dir,
  });
  child = proc;
  const started = listening(proc);
  return { url: await started.url, stderr: started.stderr };
}

function autonomy(...args: string[]) {
  return exec(process.execPath, [BIN, ...args], {
    env: { ...process.env, ...setup.env },
    cwd: setup.dir,
  }).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => ({
      code: e.code,
      stdout: e.stdout,
      stderr: e.stderr,
    }),
  );
}

const health = getHealth;
let ollama: FakeOllama | null = null;

// Each test starts the built CLI as new processes (the bot, then a kill and two reloads), about 5 s
// of CPU in all; on a 2-core machine with both cores busy that took up to 18 s, so the default 20 s
// was a guess of the machine's speed (kill-under-load.test.ts gives itself 60 s too).
describe('autonomy start (a real process)', { timeout: 60_000 }, () => {
  it('obeys a shell kill within a second, reloads on `policy reload`, and stops cleanly on SIGTERM', async () => {
    // A model server answers, so the bot is healthy (without one /healthz says degraded: bot.test.ts).
    ollama = await startFakeOllama();
    const { url, stderr } = await startProcess({ OLLAMA_HOST: ollama.url });
    expect((await health(url)).status).toBe('ok');

    const killed = await autonomy('kill', 'guardian', 'drill');
    expect(killed.code).toBe(0);
    expect(killed.stdout).toMatch(/the running bot, pid \d+, obeys within a second/);
    const at = Date.now();
    let seen = false;
    while (!seen && Date.now() - at < 1000) {
      seen = (await health(url)).killed.agents.includes('guardian');
    }
    expect(seen).toBe(true);

    // An invalid edit: `policy reload` prints the errors and exits 1; the bot keeps phase 1.
    const original = setup.policyText();
    setup.savePolicy(original.replace('phase: 1 # observe-only baseline', 'phase: five'));
    const bad = await autonomy('policy', 'reload');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/bot\.policy\.yaml:\d+:\d+ {2}rollout\.phase/);
    expect((await health(url)).policy.phase).toBe(1);

    setup.savePolicy(original.replace('phase: 1 # observe-only baseline', 'phase: 2'));
    const good = await autonomy('policy', 'reload');
    expect(good.code).toBe(0);
    await eventually(async () => (await health(url)).policy.phase === 2, 3000);

    const proc = child as ChildProcess;
    const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
    proc.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stderr()).toContain('autonomy is stopping');
    expect(existsSync(join(setup.dir, 'data', 'autonomy.pid'))).toBe(false);
  });

  it('exits 1 with every policy error and no stack trace when the policy is invalid', async () => {
    setup = tempSetup();
    setup.savePolicy(setup.policyText().replace('phase: 1 # observe-only baseline', 'phase: 0'));
    const r = await autonomy('start');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/bot\.policy\.yaml:\d+:\d+ {2}rollout\.phase/);
    expect(r.stderr).toContain('nothing was started');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
