/**
 * Bot CPU per new incident, end to end, on rules alone (no model): an Alertmanager webhook in,
 * stored and correlated into a new incident, its agent job raised and worked (sentinel's triage and
 * whatever the default policy lets it do; mentor wakes for resolutions only), its card queued and
 * delivered to the console. Every new incident gets a card of its own: the bench's policy
 * (bench/bot-child.ts, writeSpreadPolicy) spreads the services over 26 console channels that each
 * take 1,000 cards a minute, so none folds into a storm card (the default policy's 10 a minute
 * would fold all but the first few, and a folded incident is never delivered). The bot runs in a
 * child process (bench/bot-process.ts); its CPU time is read with process.cpuUsage() before and
 * after N distinct alerts, once everything has settled.
 *
 * The figure is the bot's steady state: the median of SEGMENTS runs of N new incidents after
 * WARM_UP others. A bot just
 * started runs its code in V8's interpreter and compiles the hot parts as they run (on a thread of
 * its own, counted in the process's CPU); in rounds of 400 new incidents after a start the CPU per
 * incident fell 3.1, 2.8, 2.8, 2.4, 2.2, 2.0, 1.9, 1.7 ms while the functions compiled per round
 * fell 81, 77, 69, 48, 34, 22, 15, 8. The first N after the start are reported beside it (no target:
 * the cost of a cold start, paid once).
 *
 * Baseline, in the same run and the same process: the ingest path's own CPU per request, N
 * webhooks that each only update one open incident (stored, counted, nothing else to do), measured
 * before each segment (its median).
 *
 * Then the same on a database with two months of history (bench/history-seed.ts: past incidents
 * of the same services, their signals, runs, model calls and proposals), each run's N incidents
 * resolved (not measured) before the next run opens N more on the same services, against the
 * empty database's figure: the bot may not slow down as its history grows.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { alert, sendAll, startBotChild, word, writeSpreadPolicy } from './bot-child.js';
import type { Bench, BenchResult } from './harness.js';
import { type HistorySize, seedHistory } from './history-seed.js';

const N = 400;
/** New incidents (services of their own) before the steady figure: where the rounds above flatten. */
const WARM_UP = 3000;
/** Segments of N new incidents after the warm-up; the figure is their median. */
const SEGMENTS = 5;
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
  /** Bot CPU per webhook that only updates an open incident, after the warm-up (ms, median). */
  readonly baseline: number;
  /** Bot CPU per new incident, after the warm-up (ms, median of the segments). */
  readonly perIncident: number;
  /** Each segment's figure, in order (ms). */
  readonly segments: readonly number[];
  /** Bot CPU per new incident for the first N after the start (ms), when asked for. */
  readonly cold: number | null;
  readonly rss: number;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1
    ? (s[(s.length - 1) / 2] as number)
    : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
};

/**
 * Starts a bot on `dbFile` (holding `before` incidents) and measures: the first N new incidents
 * after the start (with `cold`), then after WARM_UP more, `segments` times, the baseline and N new
 * incidents. The medians: a neighbour on this shared machine takes a segment's worth of cache and
 * clock now and then. With `history` (a seeded database), every segment's incidents are of
 * `service(i)`, the services the history has, each segment's resolved after it (not measured)
 * so that the next one's open new incidents; otherwise only the first segment's are.
 */
async function measure(
  dbFile: string,
  before: number,
  options: { cold: boolean; segments: number; history: boolean },
): Promise<Measured> {
  const policyDir = join(dirname(dbFile), 'policy');
  mkdirSync(policyDir, { recursive: true });
  const bot = await startBotChild({
    AUTONOMY_DB: dbFile,
    AUTONOMY_POLICY: writeSpreadPolicy(policyDir),
    AUTONOMY_PORT: '0',
    AUTONOMY_INGEST_TOKEN: 'bench-incident-cpu-token-0123456789',
    LOG_LEVEL: 'error',
  });
  const send = (bodies: readonly string[]) => sendAll(bot.url, bot.token, bodies, CONCURRENCY);
  let open = before;
  /** CPU (ms) per alert of `bodies`, sent and settled with `opens` new incidents. */
  const cpuPer = async (bodies: readonly string[], opens: number): Promise<number> => {
    const t0 = await bot.usage();
    await send(bodies);
    open += opens;
    await bot.settled(open);
    const t1 = await bot.usage();
    return (t1.micros - t0.micros) / bodies.length / 1000;
  };
  const news = (name: (i: number) => string, svc: (i: number) => string, status?: 'resolved') =>
    Array.from({ length: N }, (_, i) => alert(name(i), svc(i), i, status));
  try {
    // Every path run once, one incident open for the baseline to update.
    await cpuPer(
      Array.from({ length: 50 }, (_, i) => alert(`Start${word(i)}`, `start-${word(i)}`, i)),
      50,
    );
    let updates = 0;
    await cpuPer([alert('Updated', 'updated', updates++)], 1);
    const cold = options.cold
      ? await cpuPer(
          news(
            (i) => `Cold${word(i)}`,
            (i) => `cold-${word(i)}`,
          ),
          N,
        )
      : null;
    await cpuPer(
      Array.from({ length: WARM_UP }, (_, i) => alert(`Warm${word(i)}`, `warm-${word(i)}`, i)),
      WARM_UP,
    );
    const baselines: number[] = [];
    const segments: number[] = [];
    for (let k = 0; k < options.segments; k++) {
      baselines.push(
        await cpuPer(
          Array.from({ length: N }, () => alert('Updated', 'updated', updates++)),
          0,
        ),
      );
      const name = (i: number) => `New${word(k)}x${word(i)}`;
      const svc = k === 0 || options.history ? service : (i: number) => `more-${word(k)}-${word(i)}`;
      segments.push(await cpuPer(news(name, svc), N));
      if (options.history) await cpuPer(news(name, svc, 'resolved'), 0);
    }
    return {
      baseline: median(baselines),
      perIncident: median(segments),
      segments,
      cold,
      rss: (await bot.usage()).rss,
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
      const empty = await measure(join(dir, 'empty', 'autonomy.db'), 0, {
        cold: true,
        segments: SEGMENTS,
        history: false,
      });
      const historyFile = join(dir, 'history', 'autonomy.db');
      const seeded = seedHistory(
        historyFile,
        Array.from({ length: N }, (_, i) => service(i)),
        HISTORY,
      );
      const aged = await measure(historyFile, seeded.incidents, {
        cold: false,
        segments: SEGMENTS,
        history: true,
      });
      const ratio = aged.perIncident / empty.perIncident;
      return [
        {
          name: `bot CPU per new incident, end to end on rules (webhook, store, jobs, agents, card and posts delivered): median of ${SEGMENTS} runs of ${N} distinct alerts (${empty.segments.map((x) => x.toFixed(2)).join(', ')} ms) after ${WARM_UP.toLocaleString('en')} others`,
          value: empty.perIncident,
          unit: 'ms',
          baseline: empty.baseline,
          baselineName: 'bot CPU per webhook that only updates an open incident',
          target: `target <= ${TARGET_MS} ms per new incident (RSS ${Math.round(empty.rss / 1e6)} MB after): ${empty.perIncident <= TARGET_MS ? 'met' : 'NOT met'}`,
          met: empty.perIncident <= TARGET_MS,
        },
        {
          name: `the same for the first ${N} new incidents after the bot started (V8 still compiling its code)`,
          value: empty.cold as number,
          unit: 'ms',
          baseline: empty.perIncident,
          baselineName: 'the same after the warm-up',
          target: 'reported beside the steady figure: what a cold start costs, once',
          met: true,
        },
        {
          name: `the same on a database with two months of history (${seeded.incidents.toLocaleString('en')} incidents of the same services, ${seeded.signals.toLocaleString('en')} signals, ${seeded.runs.toLocaleString('en')} runs, ${seeded.modelCalls.toLocaleString('en')} model calls, ${seeded.proposals.toLocaleString('en')} proposals): median of ${SEGMENTS} runs (${aged.segments.map((x) => x.toFixed(2)).join(', ')} ms), each run's incidents resolved before the next`,
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
