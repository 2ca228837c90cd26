import { fork } from 'node:child_process';
import autocannon from 'autocannon';
const TOKEN = 'bench-ingest-token-0123456789abcdef';
const BASE = Date.UTC(2025, 0, 1);
function payload(i: number): string {
  return JSON.stringify({ version: '4', groupKey: '{}/{severity="critical"}:{alertname="HighLatency"}', truncatedAlerts: 0, status: 'firing', receiver: 'autonomy', groupLabels: { alertname: 'HighLatency' }, commonLabels: { alertname: 'HighLatency', severity: 'critical', job: 'api' }, commonAnnotations: { summary: 'p99' }, externalURL: 'http://alertmanager.example.test:9093',
    alerts: [{ status: 'firing', labels: { alertname: 'HighLatency', severity: 'critical', job: 'api', instance: '10.0.0.7:9100' }, annotations: { summary: 'p99 latency above 2s for 5 minutes', runbook_url: 'https://runbooks.example.test/latency' }, startsAt: new Date(BASE + i * 1000).toISOString(), endsAt: '0001-01-01T00:00:00Z', generatorURL: 'http://prometheus.example.test:9090/graph', fingerprint: '5f2b8e1c9a7d3e40' }] });
}
const child = fork('/tmp/exp/pkg/dist/bench/ingest-server.js', ['app'], { execArgv: ['--cpu-prof', '--cpu-prof-dir=/tmp/prof'], env: { ...process.env, AUTONOMY_BENCH_TOKEN: TOKEN }, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
const port = await new Promise<number>((r) => child.once('message', (x: any) => r(x.port)));
const next = { i: 0 };
await autocannon({ url: `http://127.0.0.1:${port}`, connections: 32, duration: 2, requests: [{ method: 'POST', path: '/hooks/alertmanager', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, setupRequest: (req: any) => ({ ...req, body: payload(next.i++) }) }] });
const r = await autocannon({ url: `http://127.0.0.1:${port}`, connections: 32, duration: 5, requests: [{ method: 'POST', path: '/hooks/alertmanager', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, setupRequest: (req: any) => ({ ...req, body: payload(next.i++) }) }] });
console.log(r.requests.average);
child.send('stop');
await new Promise((r) => child.once('exit', r));
