/**
 * Bot CPU per new incident, end to end, on rules alone (no model): an Alertmanager webhook in,
 * stored and correlated into a new incident, its agent job raised and worked (sentinel's triage and
 * whatever the default policy lets it do; mentor wakes for resolutions only), its card and posts queued and delivered
 * to the console. The bot runs in a child process (bench/bot-process.ts); its CPU time is read
 * with process.cpuUsage() before and after N distinct alerts, once everything has settled.
 *
 * Baseline, in the same run and the same process: the ingest path's own CPU per request, N
 * webhooks that each only update one open incident (stored, counted, nothing else to do).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alert, sendAll, startBotChild, word } from './bot-child.js';
import type { Bench, BenchResult } from './harness.js';

const N = 400;
const CONCURRENCY = 20;
const TARGET_MS = 2;

export const bench: Bench = {
  name: 'incident cpu',
  async run(): Promise<BenchResult[]> {
    const dir = mkdtempSync(join(tmpdir(), 'autonomy-bench-cpu-'));
    const bot = await startBotChild({
      AUTONOMY_DB: join(dir, 'data', 'autonomy.db'),
      AUTONOMY_PORT: '0',
      AUTONOMY_INGEST_TOKEN: 'bench-incident-cpu-token-0123456789',
      LOG_LEVEL: 'error',
    });
    const send = (bodies: readonly string[]) => sendAll(bot.url, bot.token, bodies, CONCURRENCY);
    try {
      // Warm up: the code paths JIT-compiled, one incident open for the baseline to update.
      await send(Array.from({ length: 50 }, (_, i) => alert(`Warm${word(i)}`, `warm-${word(i)}`, i)));
      await send([alert('Updated', 'updated', 0)]);
      await bot.settled(51);

      const b0 = await bot.usage();
      await send(Array.from({ length: N }, (_, i) => alert('Updated', 'updated', i + 1)));
      await bot.settled(51);
      const b1 = await bot.usage();
      const baseline = (b1.micros - b0.micros) / N / 1000;

      const s0 = await bot.usage();
      await send(Array.from({ length: N }, (_, i) => alert(`New${word(i)}`, `svc-${word(i)}`, i)));
      await bot.settled(51 + N);
      const s1 = await bot.usage();
      const perIncident = (s1.micros - s0.micros) / N / 1000;
      return [
        {
          name: `bot CPU per new incident, end to end on rules (webhook, store, jobs, agents, card and posts delivered), ${N} distinct alerts`,
          value: perIncident,
          unit: 'ms',
          baseline,
          baselineName: 'bot CPU per webhook that only updates an open incident',
          target: `target <= ${TARGET_MS} ms per new incident (RSS ${Math.round(s1.rss / 1e6)} MB after): ${perIncident <= TARGET_MS ? 'met' : 'NOT met'}`,
          met: perIncident <= TARGET_MS,
        },
      ];
    } finally {
      await bot.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
