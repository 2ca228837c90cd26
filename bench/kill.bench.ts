/**
 * The kill switch: time from `Runner.killAgent()` to the process group of an in-flight command being
 * gone (the command and the grandchild it spawned), over RUNS runs. The target is absolute: p99 under
 * 1 s. Beside it, the same process families killed directly with `process.kill(-pgid, 'SIGKILL')`,
 * alternating with the runner's runs, so the figure shows what the runner adds (recording the
 * interruption, SIGTERM first) to what the kernel needs anyway.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { processAlive } from '../src/actions/executors/command.js';
import { Runner } from '../src/actions/runner.js';
import { AuditLog } from '../src/audit/log.js';
import { migrate, openDatabase } from '../src/db/connection.js';
import { sequentialIds } from '../src/ids.js';
import { createLogger } from '../src/log.js';
import type { CompiledAction, Decision, Proposal } from '../src/policy/types.js';
import type { Bench, BenchResult } from './harness.js';
import { nowNs, percentile } from './harness.js';

const RUNS = 10;
const TARGET_MS = 1000;

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
      ];
    } finally {
      database.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
