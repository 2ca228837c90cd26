/**
 * Signature mining: throughput on one core over a mixed corpus of whole log lines (headers
 * included) from the sixteen fixture styles, against a baseline measured in the same run that only
 * splits the same lines into tokens (`line.split(' ')`); and the heap after mining 1,000,000 mixed
 * lines, 5% of them random junk that matches nothing (enough to reach the default cap of 50,000
 * templates), to show that templates, not lines, are kept and that the cap holds.
 *
 * The throughput corpus is generated before timing; the million lines are generated in batches
 * while mining (and dropped), so the heap holds what the miner keeps and nothing else.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { SignatureMiner } from '../src/signals/signatures/miner.js';
import { generate, Rng } from '../test/fixtures/logs/generator.js';
import { STYLES } from '../test/fixtures/logs/styles.js';
import type { Bench, BenchResult } from './harness.js';
import { nowNs, percentile } from './harness.js';

const CORPUS_PER_STYLE = 12_500; // 200,000 lines
const ROUNDS = 3;
const MEMORY_LINES = 1_000_000;
const MEMORY_BATCH = 16_000;
const JUNK_SHARE = 0.05;
const TARGET_LINES_PER_S = 100_000;
const TARGET_HEAP_MB = 200;

/** Interleave the styles' lines the way a shared collector would see them. */
function mixedCorpus(perStyle: number, seed: number): string[] {
  const logs = STYLES.map((style, i) => generate(style, perStyle, seed + i).lines);
  const out: string[] = [];
  for (let i = 0; i < perStyle; i++) for (const log of logs) out.push(log[i] as string);
  return out;
}

/** A line no template will ever match twice. */
function junk(r: Rng): string {
  const words = r.int(3, 12);
  let s = '';
  for (let i = 0; i < words; i++)
    s += `${i ? ' ' : ''}${r.hex(r.int(2, 6)).replace(/[0-9]/g, 'x')}${r.pick(['q', 'z', 'k'])}`;
  return s;
}

function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  gc();
}

function median(values: readonly number[]): number {
  return percentile(
    [...values].sort((a, b) => a - b),
    50,
  );
}

export const bench: Bench = {
  name: 'signatures',
  async run(): Promise<BenchResult[]> {
    const corpus = mixedCorpus(CORPUS_PER_STYLE, 1);
    // Warm both paths up on another corpus, so the JIT has seen them.
    const warm = new SignatureMiner({ now: () => 0 });
    for (const line of mixedCorpus(2_000, 99)) warm.add(line, 0);

    const mineRates: number[] = [];
    const splitRates: number[] = [];
    let sink = 0;
    let templates = 0;
    for (let round = 0; round < ROUNDS; round++) {
      // A fresh miner each round: every round pays for learning the templates again.
      const miner = new SignatureMiner({ now: () => 0 });
      let t0 = nowNs();
      for (const line of corpus) sink += miner.add(line, 0).count;
      mineRates.push(corpus.length / (Number(nowNs() - t0) / 1e9));
      templates = miner.size;
      t0 = nowNs();
      for (const line of corpus) sink += line.split(' ').length;
      splitRates.push(corpus.length / (Number(nowNs() - t0) / 1e9));
    }
    const rate = median(mineRates);
    const splitRate = median(splitRates);

    // Memory after a million mixed lines.
    collectGarbage();
    const before = process.memoryUsage().heapUsed;
    const miner = new SignatureMiner({ now: () => 0 });
    const r = new Rng(7);
    let fed = 0;
    for (let batch = 0; fed < MEMORY_LINES; batch++) {
      const lines = mixedCorpus(MEMORY_BATCH / STYLES.length, 1000 + batch * STYLES.length);
      for (const line of lines) {
        if (fed >= MEMORY_LINES) break;
        miner.add(r.chance(JUNK_SHARE) ? junk(r) : line, fed);
        fed++;
      }
    }
    collectGarbage();
    const heapMb = (process.memoryUsage().heapUsed - before) / (1024 * 1024);
    const kept = miner.size;
    if (sink === -1) process.stdout.write(''); // keep the loops observable

    return [
      {
        name: `signature mining, ${corpus.length.toLocaleString('en-US')} mixed whole lines (${templates} templates learnt) vs split(' ')`,
        value: Math.round(rate),
        unit: 'lines/s',
        baseline: Math.round(splitRate),
        baselineName: "line.split(' ') of the same lines",
        target: `target >= ${TARGET_LINES_PER_S.toLocaleString('en-US')} lines/s on one core (median of ${ROUNDS} rounds): ${
          rate >= TARGET_LINES_PER_S ? 'met' : 'NOT met'
        }`,
        met: rate >= TARGET_LINES_PER_S,
      },
      {
        name: `heap held by the miner after ${MEMORY_LINES.toLocaleString('en-US')} mixed lines (${
          JUNK_SHARE * 100
        }% junk): ${kept.toLocaleString('en-US')} templates`,
        value: Math.round(heapMb * 10) / 10,
        unit: 'MB',
        baseline: null,
        target: `target < ${TARGET_HEAP_MB} MB and templates << lines (${kept} of ${MEMORY_LINES}): ${
          heapMb < TARGET_HEAP_MB && kept < MEMORY_LINES / 10 ? 'met' : 'NOT met'
        }`,
        met: heapMb < TARGET_HEAP_MB && kept < MEMORY_LINES / 10,
      },
    ];
  },
};
