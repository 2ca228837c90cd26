/**
 * `npm run bench`: runs every benchmark in bench/ and prints each result beside the baseline
 * measured in the same run, as a ratio (machines here are shared and noisy: compare ratios, not
 * absolute numbers between runs). Exits 1 when a target is missed.
 */
import type { Bench, BenchResult } from './harness.js';

async function loadBenches(): Promise<Bench[]> {
  const modules = await Promise.all([
    import('./decide.bench.js'),
    import('./audit.bench.js'),
    import('./kill.bench.js'),
    import('./signatures.bench.js'),
    import('./ingest.bench.js'),
    import('./router.bench.js'),
    import('./outbox-recovery.bench.js'),
    import('./incident-cpu.bench.js'),
    import('./chat-latency.bench.js'),
    import('./storm.bench.js'),
  ]);
  return modules.map((m) => m.bench);
}

function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (Math.abs(n) >= 1000) return Math.round(n).toLocaleString('en-US');
  return n.toPrecision(3);
}

function line(r: BenchResult): string {
  const value = `${fmt(r.value)} ${r.unit}`;
  const ratio =
    r.baseline === null || r.baseline === 0
      ? ''
      : `  baseline ${fmt(r.baseline)} ${r.unit}${r.baselineName ? ` (${r.baselineName})` : ''}  ratio ${(r.value / r.baseline).toFixed(2)}`;
  return `${r.met ? 'ok  ' : 'MISS'}  ${r.name}: ${value}${ratio}\n      ${r.target}`;
}

const only = process.argv.slice(2);
let missed = 0;
for (const bench of await loadBenches()) {
  if (only.length > 0 && !only.some((o) => bench.name.includes(o))) continue;
  process.stdout.write(`\n== ${bench.name}\n`);
  for (const r of await bench.run()) {
    process.stdout.write(`${line(r)}\n`);
    if (!r.met) missed += 1;
  }
}
process.stdout.write(missed === 0 ? '\nall targets met\n' : `\n${missed} target(s) missed\n`);
process.exitCode = missed === 0 ? 0 : 1;
