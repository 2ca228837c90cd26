/**
 * Webhook ingest, stored durably, vs a bare node:http server answering 202: requests/s with the
 * same load tool (autocannon), the same settings and the same requests, in the same run. Each
 * server runs in a child process of its own; runs alternate between the two so machine noise hits
 * both alike, and the reported figures are medians. Every request is the same realistic
 * Alertmanager notification (one firing alert) with a distinct startsAt, so each is a new delivery
 * and is stored: an alert storm of one alert, all correlated into one incident. Afterwards the
 * stored row count must cover every 202 the app gave.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import type { Bench, BenchResult } from './harness.js';
import { percentile } from './harness.js';

const TOKEN = 'bench-ingest-token-0123456789abcdef';
const CONNECTIONS = 32;
const ROUND_SECONDS = 2;
const ROUNDS = 5;
const WARMUP_SECONDS = 1;
const BASE = Date.UTC(2025, 0, 1);

interface Child {
  readonly process: ChildProcess;
  readonly port: number;
}

function payload(i: number): string {
  return JSON.stringify({
    version: '4',
    groupKey: '{}/{severity="critical"}:{alertname="HighLatency"}',
    truncatedAlerts: 0,
    status: 'firing',
    receiver: 'autonomy',
    groupLabels: { alertname: 'HighLatency' },
    commonLabels: { alertname: 'HighLatency', severity: 'critical', job: 'api' },
    commonAnnotations: { summary: 'p99 latency above 2s for 5 minutes' },
    externalURL: 'http://alertmanager.example.test:9093',
    alerts: [
      {
        status: 'firing',
        labels: { alertname: 'HighLatency', severity: 'critical', job: 'api', instance: '10.0.0.7:9100' },
        annotations: {
          summary: 'p99 latency above 2s for 5 minutes',
          runbook_url: 'https://runbooks.example.test/latency',
        },
        startsAt: new Date(BASE + i * 1000).toISOString(),
        endsAt: '0001-01-01T00:00:00Z',
        generatorURL: 'http://prometheus.example.test:9090/graph?g0.expr=histogram_quantile%280.99%29',
        fingerprint: '5f2b8e1c9a7d3e40',
      },
    ],
  });
}

function serverScript(): { file: string; execArgv: string[] } {
  const self = fileURLToPath(import.meta.url);
  // Built (dist/bench/*.js) or run from source with tsx.
  return self.endsWith('.ts')
    ? { file: self.replace(/ingest\.bench\.ts$/, 'ingest-server.ts'), execArgv: ['--import', 'tsx'] }
    : { file: self.replace(/ingest\.bench\.js$/, 'ingest-server.js'), execArgv: [] };
}

async function start(mode: 'bare' | 'app'): Promise<Child> {
  const { file, execArgv } = serverScript();
  const child = fork(file, [mode], {
    execArgv,
    env: { ...process.env, AUTONOMY_BENCH_TOKEN: TOKEN },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m) => resolve((m as { port: number }).port));
    child.once('exit', (code) => reject(new Error(`the ${mode} server exited (${code}) before listening`)));
  });
  return { process: child, port };
}

function ask<T>(child: Child, message: string): Promise<T> {
  return new Promise((resolve) => {
    child.process.once('message', (m) => resolve(m as T));
    child.process.send(message);
  });
}

function stop(child: Child): Promise<void> {
  return new Promise((resolve) => {
    child.process.once('exit', () => resolve());
    child.process.send('stop');
  });
}

interface Load {
  readonly rps: number;
  /** Requests answered (any status). */
  readonly total: number;
  readonly ok: number;
  readonly bad: number;
}

/** Load on `child` with its CPU time (microseconds) measured around it. */
async function measured(child: Child, seconds: number, next: { i: number }): Promise<Load & { cpu: number }> {
  const before = (await ask<{ cpu: number }>(child, 'cpu')).cpu;
  const result = await load(child.port, seconds, next);
  const after = (await ask<{ cpu: number }>(child, 'cpu')).cpu;
  return { ...result, cpu: after - before };
}

/** Sends distinct notifications for `seconds`; `next` numbers them across runs. */
async function load(port: number, seconds: number, next: { i: number }): Promise<Load> {
  const result = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: CONNECTIONS,
    duration: seconds,
    requests: [
      {
        method: 'POST',
        path: '/hooks/alertmanager',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        setupRequest: (req) => ({ ...req, body: payload(next.i++) }),
      },
    ],
  });
  return {
    rps: result.requests.total / seconds,
    total: result.requests.total,
    ok: result['2xx'],
    bad: result.non2xx + result.errors + result.timeouts,
  };
}

export const bench: Bench = {
  name: 'ingest',
  async run(): Promise<BenchResult[]> {
    const bare = await start('bare');
    const app = await start('app');
    try {
      const counter = { i: 0 };
      let appOk = 0;
      let bad = 0;
      const warmApp = await load(app.port, WARMUP_SECONDS, counter);
      appOk += warmApp.ok;
      bad += warmApp.bad + (await load(bare.port, WARMUP_SECONDS, counter)).bad;
      const appRates: number[] = [];
      const bareRates: number[] = [];
      const ratios: number[] = [];
      const cpu = { app: 0, appRequests: 0, bare: 0, bareRequests: 0 };
      for (let round = 0; round < ROUNDS; round++) {
        const first = round % 2 === 0 ? app : bare;
        const second = first === app ? bare : app;
        const a = await measured(first, ROUND_SECONDS, counter);
        const b = await measured(second, ROUND_SECONDS, counter);
        const [onApp, onBare] = first === app ? [a, b] : [b, a];
        appOk += onApp.ok;
        bad += onApp.bad + onBare.bad;
        cpu.app += onApp.cpu;
        cpu.appRequests += onApp.total;
        cpu.bare += onBare.cpu;
        cpu.bareRequests += onBare.total;
        appRates.push(onApp.rps);
        bareRates.push(onBare.rps);
        ratios.push(onApp.rps / onBare.rps);
      }
      const stored = (await ask<{ signals: number }>(app, 'stats')).signals;
      const median = (xs: number[]) =>
        percentile(
          [...xs].sort((x, y) => x - y),
          50,
        );
      const ratio = median(ratios);
      // Requests still in flight when a run ends are stored without being counted as 202s: >=.
      const durable = stored >= appOk && bad === 0;
      const met = ratio >= 0.4 && durable;
      // Server CPU per request: what each request costs, whatever the load tool could drive.
      const perRequest = (us: number, n: number) => (n === 0 ? 'n/a' : `${Math.round(us / n)} µs`);
      return [
        {
          name: `Alertmanager webhook ingest, each signal committed before its 202 (${CONNECTIONS} connections)`,
          value: Math.round(median(appRates)),
          unit: 'req/s',
          baseline: Math.round(median(bareRates)),
          baselineName: 'bare node:http answering 202',
          target:
            `target >= 0.40 of baseline (median of ${ROUNDS} alternating rounds): ${ratio.toFixed(2)}; ` +
            `${stored} signals stored for ${appOk} 202s, ${bad} failed requests; server CPU per request ` +
            `${perRequest(cpu.app, cpu.appRequests)} (bare ${perRequest(cpu.bare, cpu.bareRequests)}): ${met ? 'met' : 'NOT met'}`,
          met,
        },
      ];
    } finally {
      await Promise.all([stop(bare), stop(app)]);
    }
  },
};
