/**
 * The kill switch: time from `Runner.killAgent()` to the process group of an in-flight command being
 * gone (the command and the grandchild it spawned), over RUNS runs. The target is absolute: p99 under
 * 1 s. Beside it, the same process families killed directly with `process.kill(-pgid, 'SIGKILL')`,
 * alternating with the runner's runs, so the figure shows what the runner adds (recording the
 * interruption, SIGTERM first) to what the kernel needs anyway.
 *
 * Second: a kill mid-generation. The model router with the real ollama client calls the fake Ollama
 * server, which is scripted to answer after 30 s; the time from `router.abort(agent)` until both the
 * call's promise settled with reason `killed` and the server saw the request closed. Beside it, the
 * same request from a bare `fetch` aborted with its AbortController. Target: p99 under 1 s.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createOllamaClient } from '../adapters/ollama/ollama-client.js';
import { processAlive } from '../src/actions/executors/command.js';
import { Runner } from '../src/actions/runner.js';
import { AuditLog } from '../src/audit/log.js';
import { migrate, openDatabase } from '../src/db/connection.js';
import { ModelRouter } from '../src/llm/router.js';
import { SqliteUsage } from '../src/llm/usage.js';
import type { CompiledAction, Decision, Proposal } from '../src/policy/types.js';
import { sequentialIds } from '../src/process/ids.js';
import { createLogger } from '../src/process/log.js';
import { type FakeOllama, startFakeOllama } from '../test/fakes/ollama-server.js';
import { makePolicy } from '../test/fixtures/policy.js';
import type { Bench, BenchResult } from './harness.js';
import { nowNs, percentile } from './harness.js';

const RUNS = 10;
const TARGET_MS = 1000;
/** The fake model answers after this long: every measured call is cut off mid-generation. */
const SLOW_REPLY_MS = 30_000;
const MODEL = 'qwen2.5:7b';

/** argv: PIDFILE. Spawns a grandchild in its group, waits until it runs, writes both pids. */
const FAMILY = `
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const pidFile = process.argv[2];
const ready = pidFile + '.gc-ready';
const gc = spawn(process.execPath, ['-e', "require('node:fs').writeFileSync(process.argv[1], 'r'); setInterval(() => {}, 1000);", ready], { stdio: 'ignore' });
const wait = setInterval(() => {
  if (!fs.existsSync(ready)) return;
  clearInterval(wait);
  fs.writeFileSync(pidFile + '.tmp', JSON.stringify({ child: process.pid, grandchild: gc.pid }));
  fs.renameSync(pidFile + '.tmp', pidFile);
  setInterval(() => {}, 1000);
}, 2);
`;

type Family = { child: number; grandchild: number };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function pidsOf(pidFile: string): Promise<Family> {
  for (let i = 0; i < 5000; i++) {
    if (existsSync(pidFile)) return JSON.parse(readFileSync(pidFile, 'utf8')) as Family;
    await sleep(2);
  }
  throw new Error(`the bench command did not start (no ${pidFile} after 10 s)`);
}

/** Ms from `t0` until no pid of the family is alive (polling every ms, so the loop can reap). */
async function goneAfter(family: Family, t0: bigint): Promise<number> {
  for (;;) {
    if (!(await processAlive(family.child)) && !(await processAlive(family.grandchild))) {
      return Number(nowNs() - t0) / 1e6;
    }
    if (Number(nowNs() - t0) / 1e6 > 10_000) throw new Error('the process family survived 10 s');
    await sleep(1);
  }
}

function benchAction(script: string): CompiledAction {
  return {
    id: 'bench-family',
    agent: 'validator',
    class: 'test-run',
    tier: 0,
    effectiveTier: 0,
    tierReason: 'tier 0 in the catalog',
    classList: 'autonomous',
    target: { kind: 'fixed', system: 'ci' },
    params: new Map([['pidFile', { type: 'string', pattern: null, enum: null, maxLength: 4096 }]]),
    timeoutMs: 60_000,
    cooldownMs: 0,
    dailyCap: null,
    entryHash: 'bench',
    doc: {
      id: 'bench-family',
      agent: 'validator',
      description: 'a command with a grandchild',
      tier: 0,
      class: 'test-run',
      target: 'ci',
      params: { pidFile: { type: 'string', maxLength: 4096 } },
      executor: { command: [process.execPath, script, '{pidFile}'], env: [] },
      timeout: '60s',
      cooldown: '0s',
    },
  };
}

/** Resolves on the next turn of the event loop (a finer poll than a 1 ms timer). */
const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Polls `done` until true; ms since `t0`. */
async function until(done: () => boolean, t0: bigint, what: string): Promise<number> {
  for (;;) {
    if (done()) return Number(nowNs() - t0) / 1e6;
    if (Number(nowNs() - t0) / 1e6 > 10_000) throw new Error(`${what} did not happen within 10 s`);
    await tick();
  }
}

/** p50/p99 of a kill mid-generation through the router, and of a bare fetch aborted the same way. */
async function generationKill(dir: string): Promise<BenchResult> {
  const server: FakeOllama = await startFakeOllama(() => ({ delayMs: SLOW_REPLY_MS, content: 'too late' }));
  const database = openDatabase(join(dir, 'router.db'));
  try {
    migrate(database);
    const policy = makePolicy({
      edit: (doc) => {
        doc.models = {
          local: { model: MODEL },
          maxConcurrentLocal: 2,
          perAgentConcurrency: 1,
          timeout: '120s',
        };
        doc.budgets.global = { dailyTokens: 1_000_000_000, callsPerHour: 10_000_000 };
        doc.budgets.perAgent = { dailyTokens: 1_000_000_000, callsPerHour: 10_000_000 };
      },
    });
    let killed = false;
    const router = new ModelRouter({
      client: createOllamaClient(),
      policy: () => policy,
      now: Date.now,
      usage: new SqliteUsage(database, { now: Date.now }),
      isKilled: () => killed,
      log: { warn: () => {}, info: () => {} },
      defaultHost: server.url,
    });
    const messages = [{ role: 'user' as const, content: 'summarise: GHSA-xvch-5gv4-984h in minimist@1.2.5' }];

    const viaRouter = async (): Promise<number> => {
      killed = false;
      const arrived = server.requests.length;
      const closed = server.aborted();
      let settled: string | null = null;
      const call = router.call('guardian', { messages }).then((r) => {
        settled = r.ok ? 'ok' : r.reason;
      });
      await until(() => server.requests.length > arrived, nowNs(), 'the request reaching the fake model');
      const t0 = nowNs();
      killed = true;
      if (router.abort('guardian') !== 1) throw new Error('router.abort() found no call in flight');
      const settledMs = await until(() => settled !== null, t0, 'the call settling');
      const closedMs = await until(
        () => server.aborted() > closed,
        t0,
        'the server seeing the request closed',
      );
      await call;
      if (settled !== 'killed') throw new Error(`the call ended ${settled}, not killed`);
      return Math.max(settledMs, closedMs);
    };
    const bare = async (): Promise<number> => {
      const arrived = server.requests.length;
      const closed = server.aborted();
      const controller = new AbortController();
      let settled = false;
      const call = fetch(`${server.url}/api/chat`, {
        method: 'POST',
        body: JSON.stringify({ model: MODEL, messages, stream: false }),
        signal: controller.signal,
      }).then(
        () => {
          settled = true;
        },
        () => {
          settled = true;
        },
      );
      await until(() => server.requests.length > arrived, nowNs(), 'the request reaching the fake model');
      const t0 = nowNs();
      controller.abort();
      const settledMs = await until(() => settled, t0, 'the fetch settling');
      const closedMs = await until(
        () => server.aborted() > closed,
        t0,
        'the server seeing the request closed',
      );
      await call;
      return Math.max(settledMs, closedMs);
    };

    await viaRouter(); // warm-up (connections, JIT)
    await bare();
    const subject: number[] = [];
    const baseline: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      if (i % 2 === 0) {
        subject.push(await viaRouter());
        baseline.push(await bare());
      } else {
        baseline.push(await bare());
        subject.push(await viaRouter());
      }
    }
    subject.sort((a, b) => a - b);
    baseline.sort((a, b) => a - b);
    const p99 = percentile(subject, 99);
    const met = p99 < TARGET_MS;
    return {
      name: `kill mid-generation: router.abort() to call settled 'killed' and request closed at the model, p99 of ${RUNS}`,
      value: Number(p99.toFixed(1)),
      unit: 'ms',
      baseline: Number(percentile(baseline, 99).toFixed(1)),
      baselineName: 'bare fetch to the same server, AbortController.abort()',
      target: `target p99 < ${TARGET_MS} ms (absolute; median ${percentile(subject, 50).toFixed(1)} ms, fake model replies after ${SLOW_REPLY_MS / 1000} s): ${
        met ? 'met' : 'NOT met'
      }`,
      met,
    };
  } finally {
    database.close();
    await server.close();
  }
}

export const bench: Bench = {
  name: 'kill',
  async run(): Promise<BenchResult[]> {
    const dir = mkdtempSync(join(tmpdir(), 'autonomy-bench-kill-'));
    const database = openDatabase(join(dir, 'kill.db'));
    try {
      migrate(database);
      const script = join(dir, 'family.cjs');
      writeFileSync(script, FAMILY);
      const action = benchAction(script);
      const runner = new Runner({
        database,
        audit: new AuditLog(database, { now: Date.now }),
        now: Date.now,
        newId: sequentialIds(),
        log: createLogger('silent'),
        env: { PATH: process.env.PATH },
        dryRun: false,
      });
      const decision: Decision = { verdict: 'execute', code: 'tier0', tier: 0, phase: 3, reason: 'bench' };

      const viaRunner = async (i: number): Promise<number> => {
        const pidFile = join(dir, `runner-${i}.pids`);
        const proposal: Proposal = { agent: 'validator', actionId: action.id, params: { pidFile } };
        const done = runner.execute({ proposal, action, decision, trigger: { source: 'bench' } });
        const family = await pidsOf(pidFile);
        const t0 = nowNs();
        runner.killAgent('validator', 'cli:user:bench', 'kill bench');
        const ms = await goneAfter(family, t0);
        const result = await done;
        if (result.status !== 'interrupted') throw new Error(`run ended ${result.status}, not interrupted`);
        return ms;
      };
      const direct = async (i: number): Promise<number> => {
        const pidFile = join(dir, `direct-${i}.pids`);
        const child = spawn(process.execPath, [script, pidFile], { detached: true, stdio: 'ignore' });
        const family = await pidsOf(pidFile);
        const t0 = nowNs();
        process.kill(-(child.pid as number), 'SIGKILL');
        return goneAfter(family, t0);
      };

      await viaRunner(-1); // warm-up
      const subject: number[] = [];
      const baseline: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        if (i % 2 === 0) {
          subject.push(await viaRunner(i));
          baseline.push(await direct(i));
        } else {
          baseline.push(await direct(i));
          subject.push(await viaRunner(i));
        }
      }
      subject.sort((a, b) => a - b);
      baseline.sort((a, b) => a - b);
      const p99 = percentile(subject, 99);
      const met = p99 < TARGET_MS;
      const generation = await generationKill(dir);
      return [
        {
          name: `kill switch: killAgent() to process group gone (command + grandchild), p99 of ${RUNS}`,
          value: Number(p99.toFixed(1)),
          unit: 'ms',
          baseline: Number(percentile(baseline, 99).toFixed(1)),
          baselineName: 'process.kill(-pgid, SIGKILL) on the same process family',
          target: `target p99 < ${TARGET_MS} ms (absolute; median ${percentile(subject, 50).toFixed(1)} ms): ${
            met ? 'met' : 'NOT met'
          }`,
          met,
        },
        generation,
      ];
    } finally {
      database.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
