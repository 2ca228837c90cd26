/**
 * Webhook -> chat post at 20 concurrent alerts: a real bot in a child process (bench/bot-child.ts)
 * with Slack as its chat, pointed at a local stand-in of the Web API (bench/fake-slack.ts), every
 * route to one channel. Each round sends 20 alerts for 20 new incidents at once; an alert's latency
 * runs from the moment its webhook is sent to the moment the stand-in receives the first
 * chat.postMessage that names its service (the incident card). Rounds are apart: the bot settles
 * (agents done, outbox empty) before the next. Both clocks are this process's performance.now().
 *
 * Baseline, in the same rounds: the webhook's own answer (202) p99. The machine's load average
 * is printed beside the figure: on a shared machine it says how much of the time was ours.
 *
 * Then the same with the stand-in answering each call 50 ms after it arrived, as a real platform's
 * round trip does: there the bound is how many cards are on their way at once, not the bot's CPU.
 * Its target: the 20th card within 10 round trips (cards sent one round trip after another would
 * take 20).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { alert, postAlert, startBotChild, word, writeSlackPolicy } from './bot-child.js';
import { startBenchSlack } from './fake-slack.js';
import type { Bench, BenchResult } from './harness.js';
import { percentile } from './harness.js';

const CONCURRENT = 20;
const ROUNDS = 10;
const WARMUP_ROUNDS = 2;
const TARGET_MS = 50;
const ROUND_TRIP_MS = 50;

const service = (i: number) => `lat-${word(i)}-svc`;

interface Measured {
  readonly p99: number;
  readonly p50: number;
  readonly ackedP99: number;
  readonly load: number;
}

async function measure(latencyMs: number): Promise<Measured> {
  const dir = mkdtempSync(join(tmpdir(), 'autonomy-bench-chat-'));
  mkdirSync(join(dir, 'policy'));
  const slack = await startBenchSlack({ latencyMs });
  const bot = await startBotChild({
    AUTONOMY_DB: join(dir, 'data', 'autonomy.db'),
    // Every round's 20 new incidents get their own cards: no storm folds them (the storm bench does).
    AUTONOMY_POLICY: writeSlackPolicy(join(dir, 'policy'), 'slack:C0ALERTS', 1000),
    AUTONOMY_PORT: '0',
    AUTONOMY_INGEST_TOKEN: 'bench-chat-latency-token-0123456789',
    SLACK_BOT_TOKEN: 'xoxb-bench-token',
    SLACK_SIGNING_SECRET: 'bench-signing-secret',
    SLACK_API_URL: slack.url,
    LOG_LEVEL: 'error',
  });
  const sentAt = new Map<string, number>();
  const postedAt = new Map<string, number>();
  slack.onPost = (body, at) => {
    for (const m of body.matchAll(/lat-[a-z]+-svc/g)) {
      if (sentAt.has(m[0]) && !postedAt.has(m[0])) postedAt.set(m[0], at);
    }
  };
  try {
    const chat: number[] = [];
    const acked: number[] = [];
    let next = 0;
    const loads: number[] = [];
    for (let round = 0; round < WARMUP_ROUNDS + ROUNDS; round++) {
      const ids = Array.from({ length: CONCURRENT }, () => next++);
      const answers = await Promise.all(
        ids.map((i) => {
          sentAt.set(service(i), performance.now());
          return postAlert(bot.url, bot.token, alert(`Lat${word(i)}`, service(i), i));
        }),
      );
      const deadline = Date.now() + 30_000;
      while (!ids.every((i) => postedAt.has(service(i)))) {
        if (Date.now() > deadline) throw new Error('an incident card never reached the Slack stand-in');
        await new Promise((r) => setTimeout(r, 5));
      }
      await bot.settled(next);
      if (round < WARMUP_ROUNDS) continue;
      loads.push(loadavg()[0] as number);
      acked.push(...answers);
      for (const i of ids)
        chat.push((postedAt.get(service(i)) as number) - (sentAt.get(service(i)) as number));
    }
    chat.sort((a, b) => a - b);
    acked.sort((a, b) => a - b);
    return {
      p99: percentile(chat, 99),
      p50: percentile(chat, 50),
      ackedP99: percentile(acked, 99),
      load: loads.reduce((a, b) => a + b, 0) / loads.length,
    };
  } finally {
    await bot.stop();
    await slack.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export const bench: Bench = {
  name: 'chat latency',
  async run(): Promise<BenchResult[]> {
    const local = await measure(0);
    const far = await measure(ROUND_TRIP_MS);
    const farTarget = 10 * ROUND_TRIP_MS;
    const machine = (m: Measured) =>
      `p50 ${m.p50.toFixed(1)} ms; load average ${m.load.toFixed(2)} on ${cpus().length} cores`;
    return [
      {
        name: `webhook -> Slack card post p99, ${CONCURRENT} concurrent alerts x ${ROUNDS} rounds (local Web API stand-in)`,
        value: local.p99,
        unit: 'ms',
        baseline: local.ackedP99,
        baselineName: 'the same webhooks answered (202) p99',
        target: `target < ${TARGET_MS} ms (${machine(local)}): ${local.p99 < TARGET_MS ? 'met' : 'NOT met'}`,
        met: local.p99 < TARGET_MS,
      },
      {
        name: `the same with the stand-in answering each call after ${ROUND_TRIP_MS} ms (a platform's round trip)`,
        value: far.p99,
        unit: 'ms',
        baseline: far.ackedP99,
        baselineName: 'the same webhooks answered (202) p99',
        target: `target < ${farTarget} ms, 10 round trips for the 20th card (${machine(far)}): ${far.p99 < farTarget ? 'met' : 'NOT met'}`,
        met: far.p99 < farTarget,
      },
    ];
  },
};
