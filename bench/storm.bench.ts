/**
 * A 10,000-distinct-alert minute: a real bot in a child process (bench/bot-child.ts, node
 * --expose-gc) with Slack as its chat against a local Web API stand-in (bench/fake-slack.ts).
 * 10,000 alerts for 10,000 new incidents are sent at an even 10,000 a minute (up to 64 in
 * flight); each webhook's answer time is measured from its send. Then the bot settles (every agent
 * job done, the outbox empty), and its RSS after a full GC is compared with the RSS before the
 * storm (settled after a warm-up, after a full GC): read as it settles, then each second until it
 * is back within the target (V8 returns a grown heap seconds after allocation calms down), for
 * 30 s at most; the figure as it settled and the peak RSS are printed beside it.
 *
 * Baselines, in the same run: the webhook answer p99 of the warm-up, sent one at a time to the idle
 * bot; the RSS before the storm.
 *
 * New messages: every chat.postMessage the stand-in received (cards, storm cards, thread replies,
 * notices; edits of cards are chat.update and not counted), over the whole run (warm-up and storm)
 * against every alert sent. The goal: at most 1% as many new messages as alerts; past
 * `routing.storm.cardsPerMinute` (default 10) new incidents fold into one storm card.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { alert, postAlert, sendAll, startBotChild, word, writeSlackPolicy } from './bot-child.js';
import { startBenchSlack } from './fake-slack.js';
import type { Bench, BenchResult } from './harness.js';
import { percentile } from './harness.js';

const N = 10_000;
const MINUTE_MS = 60_000;
const IN_FLIGHT = 64;
const WARMUP = 200;
const P99_TARGET_MS = 50;
const RSS_TARGET_MB = 50;
/** How long RSS may take to come back after the bot settled. */
const RETURN_WAIT_MS = 30_000;
/** New messages per alert, at most. */
const MESSAGES_TARGET = 0.01;

export const bench: Bench = {
  name: 'alert storm',
  async run(): Promise<BenchResult[]> {
    const dir = mkdtempSync(join(tmpdir(), 'autonomy-bench-storm-'));
    mkdirSync(join(dir, 'policy'));
    const slack = await startBenchSlack();
    const bot = await startBotChild(
      {
        AUTONOMY_DB: join(dir, 'data', 'autonomy.db'),
        AUTONOMY_POLICY: writeSlackPolicy(join(dir, 'policy')),
        AUTONOMY_PORT: '0',
        AUTONOMY_INGEST_TOKEN: 'bench-storm-token-0123456789abcdef',
        SLACK_BOT_TOKEN: 'xoxb-bench-token',
        SLACK_SIGNING_SECRET: 'bench-signing-secret',
        SLACK_API_URL: slack.url,
        LOG_LEVEL: 'error',
      },
      ['--expose-gc'],
    );
    try {
      // Warm-up, one at a time on an idle bot: the code paths compiled, and the baseline answer time.
      const quiet = await sendAll(
        bot.url,
        bot.token,
        Array.from({ length: WARMUP }, (_, i) => alert(`Warm${word(i)}`, `warm-${word(i)}`, i)),
        1,
      );
      await bot.settled(WARMUP);
      const before = await bot.usage(true);

      const answers: number[] = new Array(N);
      const t0 = performance.now();
      let inFlight = 0;
      let failed: unknown = null;
      let resets = 0;
      const done: Promise<void>[] = [];
      for (let i = 0; i < N && failed === null; i++) {
        const due = t0 + (i * MINUTE_MS) / N;
        while (performance.now() < due || inFlight >= IN_FLIGHT) {
          await new Promise((r) => setTimeout(r, Math.max(0, Math.min(5, due - performance.now()))));
        }
        inFlight += 1;
        const body = alert(`Storm${word(i)}`, `storm-${word(i)}`, i);
        done.push(
          postAlert(bot.url, bot.token, body, () => {
            resets += 1;
          }).then(
            (ms) => {
              answers[i] = ms;
              inFlight -= 1;
            },
            (err: unknown) => {
              failed = err;
              inFlight -= 1;
            },
          ),
        );
      }
      await Promise.all(done);
      if (failed !== null) throw failed;
      const sentIn = performance.now() - t0;
      const load = loadavg()[0] as number;
      await bot.settled(WARMUP + N, 900_000);
      const settledIn = performance.now() - t0;
      // V8 gives the heap a storm grew back to the system once allocation calms down (its memory
      // reducer), seconds after the bot settles: RSS is read each second, after a full GC, until it
      // is back within the target or RETURN_WAIT_MS passed. The figure at settling and the peak are
      // printed beside it.
      const atSettle = await bot.usage(true);
      let after = atSettle;
      const settled = performance.now();
      while ((after.rss - before.rss) / 1e6 > RSS_TARGET_MB && performance.now() - settled < RETURN_WAIT_MS) {
        await new Promise((r) => setTimeout(r, 1000));
        after = await bot.usage(true);
      }
      const returnedIn = (performance.now() - settled) / 1000;
      const alerts = WARMUP + N;
      const perAlert = slack.posts / alerts;

      answers.sort((a, b) => a - b);
      quiet.sort((a, b) => a - b);
      const p99 = percentile(answers, 99);
      const growMb = (after.rss - before.rss) / 1e6;
      const context = `sent in ${(sentIn / 1000).toFixed(1)} s, settled ${(settledIn / 1000).toFixed(0)} s after the first, ${slack.posts} Slack posts; ${resets} connection(s) reset and sent again; load average ${load.toFixed(2)} on ${cpus().length} cores`;
      return [
        {
          name: `new chat messages for ${alerts.toLocaleString('en-US')} distinct alerts (${WARMUP} warm-up, then ${N.toLocaleString('en-US')} in a minute)`,
          value: slack.posts,
          unit: 'messages',
          baseline: alerts,
          baselineName: 'alerts sent (a message per alert would be this many)',
          target: `target at most ${(MESSAGES_TARGET * 100).toFixed(0)}% of the alerts, ${Math.floor(alerts * MESSAGES_TARGET)} (${(perAlert * 100).toFixed(2)}%; ${slack.updates} card updates not counted): ${perAlert <= MESSAGES_TARGET ? 'met' : 'NOT met'}`,
          met: perAlert <= MESSAGES_TARGET,
        },
        {
          name: `webhook answer (202) p99 during ${N.toLocaleString('en-US')} distinct alerts in a minute`,
          value: p99,
          unit: 'ms',
          baseline: percentile(quiet, 99),
          baselineName: 'answer p99 on the idle bot, one at a time',
          target: `target < ${P99_TARGET_MS} ms (p50 ${percentile(answers, 50).toFixed(1)} ms; ${context}): ${p99 < P99_TARGET_MS ? 'met' : 'NOT met'}`,
          met: p99 < P99_TARGET_MS,
        },
        {
          name: `bot RSS after the storm, ${returnedIn.toFixed(0)} s after it settled, after a full GC`,
          value: after.rss / 1e6,
          unit: 'MB',
          baseline: before.rss / 1e6,
          baselineName: 'RSS before the storm, after a full GC',
          target: `target within ${RSS_TARGET_MB} MB of before within ${RETURN_WAIT_MS / 1000} s of settling (${growMb >= 0 ? '+' : ''}${growMb.toFixed(0)} MB; ${Math.round(atSettle.rss / 1e6)} MB as it settled, peak ${Math.round(after.peakRss / 1e6)} MB during the storm): ${growMb <= RSS_TARGET_MB ? 'met' : 'NOT met'}`,
          met: growMb <= RSS_TARGET_MB,
        },
      ];
    } finally {
      await bot.stop();
      await slack.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
