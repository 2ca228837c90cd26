/**
 * Bot CPU per new incident, end to end, on rules alone (no model): an Alertmanager webhook in,
 * stored and correlated into a new incident, its agent job raised and worked (sentinel's triage and
 * whatever the default policy lets it do; mentor wakes for resolutions only), its card and posts queued and delivered
 * to the console. The bot runs in a child process (bench/bot-process.ts); its CPU time is read
 * with process.cpuUsage() before and after N distinct alerts, once everything has settled.
 *
 * Baseline, in the same run and the same process: the ingest path's own CPU per request, N
 * webhooks that each only update one open incident (stored, counted, nothing else to do).
 *
 * Then the same N new incidents on a database with two months of history (bench/history-seed.ts:
 * past incidents of the same services, their signals, runs, model calls and proposals), against
 * the empty database's figure: the bot may not slow down as its history grows.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alert, sendAll, startBotChild, word } from './bot-child.js';
import type { Bench, BenchResult } from './harness.js';
import { type HistorySize, seedHistory } from './history-seed.js';

const N = 400;
const CONCURRENCY = 20;
const TARGET_MS = 2;
/**
 * CPU per new incident on the database with history, as a multiple of the empty one's: a triage
 * there reads five past incidents (bounded work an empty database does not have); what may not
 * happen is growth with the history.
 */
const HISTORY_TARGET = 1.5;
const HISTORY: HistorySize = { incidentsPerService: 50, signalsPerIncident: 5, modelCallsPerRun: 3 };

const service = (i: number) => `svc-${word(i)}`;

interface Measured {
  /** Bot CPU per webhook that only updates an open incident (ms). */
  readonly baseline: number;
  /** Bot CPU per new incident (ms). */
  readonly perIncident: number;
  readonly rss: number;
}

/** Starts a bot on `dbFile` (holding `before` incidents) and measures both figures. */
async function measure(dbFile: string, before: number): Promise<Measured> {
  const bot = await startBotChild({
    AUTONOMY_DB: dbFile,
    AUTONOMY_PORT: '0',
    AUTONOMY_INGEST_TOKEN: 'bench-incident-cpu-token-0123456789',
    LOG_LEVEL: 'error',
  });
  const send = (bodies: readonly string[]) => sendAll(bot.url, bot.token, bodies, CONCURRENCY);
  try {
    // Warm up: the code paths JIT-compiled, one incident open for the baseline to update.
    await send(Array.from({ length: 50 }, (_, i) => alert(`Warm${word(i)}`, `warm-${word(i)}`, i)));
    await send([alert('Updated', 'updated', 0)]);
    await bot.settled(before + 51);

    const b0 = await bot.usage();
    await send(Array.from({ length: N }, (_, i) => alert('Updated', 'updated', i + 1)));
    await bot.settled(before + 51);
    const b1 = await bot.usage();

    const s0 = await bot.usage();
    await send(Array.from({ length: N }, (_, i) => alert(`New${word(i)}`, service(i), i)));
    await bot.settled(before + 51 + N);
    const s1 = await bot.usage();
    return {
      baseline: (b1.micros - b0.micros) / N / 1000,
      perIncident: (s1.micros - s0.micros) / N / 1000,
      rss: s1.rss,
    };
  } finally {
    await bot.stop();
  }
}

export const bench: Bench = {
  name: 'incident cpu',
  async run(): Promise<BenchResult[]> {
    const dir = mkdtempSync(join(tmpdir(), 'autonomy-bench-cpu-'));
    try {
      const empty = await measure(join(dir, 'empty', 'autonomy.db'), 0);
      const historyFile = join(dir, 'history', 'autonomy.db');
      const seeded = seedHistory(
        historyFile,
        Array.from({ length: N }, (_, i) => service(i)),
        HISTORY,
      );
      const aged = await measure(historyFile, seeded.incidents);
      const ratio = aged.perIncident / empty.perIncident;
      return [
        {
          name: `bot CPU per new incident, end to end on rules (webhook, store, jobs, agents, card and posts delivered), ${N} distinct alerts`,
          value: empty.perIncident,
          unit: 'ms',
          baseline: empty.baseline,
          baselineName: 'bot CPU per webhook that only updates an open incident',
          target: `target <= ${TARGET_MS} ms per new incident (RSS ${Math.round(empty.rss / 1e6)} MB after): ${empty.perIncident <= TARGET_MS ? 'met' : 'NOT met'}`,
          met: empty.perIncident <= TARGET_MS,
        },
        {
          name: `the same on a database with two months of history (${seeded.incidents.toLocaleString('en')} incidents of the same services, ${seeded.signals.toLocaleString('en')} signals, ${seeded.runs.toLocaleString('en')} runs, ${seeded.modelCalls.toLocaleString('en')} model calls, ${seeded.proposals.toLocaleString('en')} proposals)`,
          value: aged.perIncident,
          unit: 'ms',
          baseline: empty.perIncident,
          baselineName: 'the same on an empty database',
          target: `target <= ${HISTORY_TARGET}x the empty database's: ${ratio <= HISTORY_TARGET ? 'met' : 'NOT met'}`,
          met: ratio <= HISTORY_TARGET,
        },
      ];
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
