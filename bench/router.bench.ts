/**
 * Router overhead (issue 6): calls/s through the model router (kill check, budgets with
 * reservations, per-agent and global caps with the fair queue, timeout, usage row in SQLite per
 * call) against the fake Ollama server answering each call after 20 ms, beside the bare ollama
 * client against the same server at the same concurrency, alternating rounds in the same run.
 * Target: router >= 0.90 of bare. Then caps of 2 with 100 concurrent calls: the most generations
 * the server saw at once (target: never more than 2).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ollama } from 'ollama';
import { createOllamaClient } from '../adapters/ollama/ollama-client.js';
import { migrate, openDatabase } from '../src/db/connection.js';
import { ModelRouter } from '../src/llm/router.js';
import { SqliteUsage } from '../src/llm/usage.js';
import type { AgentName } from '../src/policy/vocabulary.js';
import { startFakeOllama } from '../test/fakes/ollama-server.js';
import { makePolicy } from '../test/fixtures/policy.js';
import type { Bench, BenchResult } from './harness.js';

const DELAY_MS = 20;
const CONCURRENCY = 16;
const ROUND_MS = 1500;
const ROUNDS = 3;
const MODEL = 'qwen2.5:7b';
const AGENTS: AgentName[] = ['sentinel', 'guardian', 'builder', 'validator'];
const messages = [{ role: 'user' as const, content: 'summarise: disk 91% on worker-7' }];

/** Runs `call` from `workers` loops for `ms`; returns completed calls per second. */
async function throughput(
  workers: number,
  ms: number,
  call: (worker: number) => Promise<void>,
): Promise<number> {
  const end = performance.now() + ms;
  let done = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      while (performance.now() < end) {
        await call(w);
        done++;
      }
    }),
  );
  return done / ((performance.now() - started) / 1000);
}

function makeRouter(host: string, dbFile: string, caps: { local: number; perAgent: number }) {
  const database = openDatabase(dbFile);
  migrate(database);
  const policy = makePolicy({
    edit: (doc) => {
      doc.models = {
        local: { model: MODEL },
        maxConcurrentLocal: caps.local,
        perAgentConcurrency: caps.perAgent,
      };
      doc.budgets.global = { dailyTokens: 1_000_000_000, callsPerHour: 10_000_000 };
      doc.budgets.perAgent = { dailyTokens: 1_000_000_000, callsPerHour: 10_000_000 };
    },
  });
  const router = new ModelRouter({
    client: createOllamaClient(),
    policy: () => policy,
    now: Date.now,
    usage: new SqliteUsage(database, { now: Date.now }),
    isKilled: () => false,
    log: { warn: () => {}, info: () => {} },
    defaultHost: host,
  });
  return { router, close: () => database.close() };
}

export const bench: Bench = {
  name: 'router',
  async run(): Promise<BenchResult[]> {
    const server = await startFakeOllama(() => ({ delayMs: DELAY_MS, content: 'ok' }));
    const dir = mkdtempSync(join(tmpdir(), 'autonomy-router-bench-'));
    try {
      const bare = new Ollama({ host: server.url });
      const routed = makeRouter(server.url, join(dir, 'a.db'), { local: CONCURRENCY, perAgent: CONCURRENCY });
      let bareRate = 0;
      let routerRate = 0;
      // warm-up both paths (connections, JIT)
      await throughput(CONCURRENCY, 300, async () => void (await bare.chat({ model: MODEL, messages })));
      for (let round = 0; round < ROUNDS; round++) {
        bareRate += await throughput(CONCURRENCY, ROUND_MS, async () => {
          await bare.chat({ model: MODEL, messages, stream: false });
        });
        routerRate += await throughput(CONCURRENCY, ROUND_MS, async (w) => {
          const r = await routed.router.call(AGENTS[w % AGENTS.length] as AgentName, { messages });
          if (!r.ok) throw new Error(`router call failed: ${r.reason}: ${r.detail}`);
        });
      }
      routed.close();
      bareRate /= ROUNDS;
      routerRate /= ROUNDS;
      const ratio = routerRate / bareRate;

      const capped = makeRouter(server.url, join(dir, 'b.db'), { local: 2, perAgent: 2 });
      server.resetStats();
      await Promise.all(
        Array.from({ length: 100 }, (_, i) =>
          capped.router.call(AGENTS[i % AGENTS.length] as AgentName, { messages }),
        ),
      );
      capped.close();
      const maxInFlight = server.maxInFlight();
      return [
        {
          name: `model router calls/s (fake model answers after ${DELAY_MS} ms, concurrency ${CONCURRENCY})`,
          value: Math.round(routerRate),
          unit: 'calls/s',
          baseline: Math.round(bareRate),
          baselineName: 'bare ollama client, same server and concurrency',
          target: `target >= 0.90 of bare: ${ratio.toFixed(3)} ${ratio >= 0.9 ? 'met' : 'NOT met'}`,
          met: ratio >= 0.9,
        },
        {
          name: 'most generations at once at the server, caps 2, 100 concurrent calls',
          value: maxInFlight,
          unit: 'in flight',
          baseline: null,
          target: `target <= 2: ${maxInFlight <= 2 ? 'met' : 'NOT met'}`,
          met: maxInFlight <= 2,
        },
      ];
    } finally {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
