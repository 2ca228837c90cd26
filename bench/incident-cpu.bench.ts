/**
 * Bot CPU per new incident, end to end, on rules alone (no model): an Alertmanager webhook in,
 * stored and correlated into a new incident, its agent jobs raised and worked (sentinel's triage and
 * whatever the default policy lets it do, mentor's look), its card and posts queued and delivered
 * to the console. The bot runs in a child process (bench/incident-cpu-bot.ts); its CPU time is read
 * with process.cpuUsage() before and after N distinct alerts, once everything has settled.
 *
 * Baseline, in the same run and the same process: the ingest path's own CPU per request, N
 * webhooks that each only update one open incident (stored, counted, nothing else to do).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Bench, BenchResult } from './harness.js';

const N = 400;
const CONCURRENCY = 20;
const TARGET_MS = 2;

interface Reply {
  readonly op: string;
  readonly [key: string]: unknown;
}

function ask(child: ChildProcess, op: string): Promise<Reply> {
  return new Promise((resolve) => {
    const on = (m: Reply) => {
      if (m.op !== op) return;
      child.off('message', on);
      resolve(m);
    };
    child.on('message', on);
    child.send({ op });
  });
}

function alert(fingerprint: string, service: string, i: number): string {
  return JSON.stringify({
    version: '4',
    groupKey: `{}:{alertname="${fingerprint}"}`,
    status: 'firing',
    receiver: 'autonomy',
    groupLabels: { alertname: fingerprint },
    commonLabels: {},
    commonAnnotations: {},
    externalURL: 'http://alertmanager.example.test:9093',
    alerts: [
      {
        status: 'firing',
        labels: { alertname: fingerprint, severity: 'warning', service, instance: `10.0.0.${i % 250}:9100` },
        annotations: { summary: `${fingerprint} on ${service}` },
        startsAt: new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString(),
        endsAt: '0001-01-01T00:00:00Z',
        generatorURL: 'http://prometheus.example.test:9090/graph',
      },
    ],
  });
}

/** A name with no digits (names that differ only by a number are one family: one incident). */
function word(i: number): string {
  let out = '';
  for (let n = i + 1; n > 0; n = Math.floor((n - 1) / 26))
    out = String.fromCharCode(97 + ((n - 1) % 26)) + out;
  return out;
}

async function send(url: string, token: string, bodies: readonly string[]): Promise<void> {
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < bodies.length; i = next++) {
      const res = await fetch(`${url}/hooks/alertmanager`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: bodies[i],
      });
      await res.arrayBuffer();
      if (res.status !== 202) throw new Error(`webhook answered ${res.status}`);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

async function settled(child: ChildProcess, incidents: number): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const s = await ask(child, 'settled');
    if (s.busy === 0 && s.pending === 0 && s.incidents === incidents) return;
    if (Date.now() > deadline) throw new Error(`the bot did not settle: ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function cpu(child: ChildProcess): Promise<{ micros: number; rss: number }> {
  const r = await ask(child, 'cpu');
  return { micros: Number(r.micros), rss: Number(r.rss) };
}

export const bench: Bench = {
  name: 'incident cpu',
  async run(): Promise<BenchResult[]> {
    const dir = mkdtempSync(join(tmpdir(), 'autonomy-bench-cpu-'));
    const self = fileURLToPath(import.meta.url);
    const script = self.replace(/incident-cpu\.bench\.(ts|js)$/, 'incident-cpu-bot.$1');
    const child = fork(script, [], {
      env: {
        ...process.env,
        AUTONOMY_DB: join(dir, 'data', 'autonomy.db'),
        AUTONOMY_PORT: '0',
        AUTONOMY_INGEST_TOKEN: 'bench-incident-cpu-token-0123456789',
        LOG_LEVEL: 'error',
      },
      // BENCH_PROF=dir writes a V8 CPU profile of the bot there (where its time goes).
      execArgv: process.env.BENCH_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROF}`] : [],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    try {
      const ready = await new Promise<Reply>((resolve, reject) => {
        child.once('message', resolve);
        child.once('exit', (code) => reject(new Error(`the bench bot exited with ${code}`)));
      });
      const url = String(ready.url);
      const token = String(ready.token);
      // Warm up: the code paths JIT-compiled, one incident open for the baseline to update.
      await send(
        url,
        token,
        Array.from({ length: 50 }, (_, i) => alert(`Warm${word(i)}`, `warm-${word(i)}`, i)),
      );
      await send(url, token, [alert('Updated', 'updated', 0)]);
      await settled(child, 51);

      const b0 = await cpu(child);
      await send(
        url,
        token,
        Array.from({ length: N }, (_, i) => alert('Updated', 'updated', i + 1)),
      );
      await settled(child, 51);
      const b1 = await cpu(child);
      const baseline = (b1.micros - b0.micros) / N / 1000;

      const s0 = await cpu(child);
      await send(
        url,
        token,
        Array.from({ length: N }, (_, i) => alert(`New${word(i)}`, `svc-${word(i)}`, i)),
      );
      await settled(child, 51 + N);
      const s1 = await cpu(child);
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
      child.send({ op: 'stop' });
      await new Promise((r) => child.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
