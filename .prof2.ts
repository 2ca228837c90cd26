import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrate, openDatabase } from './src/db/connection.js';
import { randomId } from './src/ids.js';
import { normaliseAlertmanager } from './src/signals/normalise/alertmanager.js';
import { SignalStore } from './src/signals/store.js';
const BASE = Date.UTC(2025, 0, 1);
function payload(i: number) {
  return { version: '4', groupKey: 'g', status: 'firing', receiver: 'autonomy', externalURL: 'http://alertmanager.example.test:9093',
    alerts: [{ status: 'firing', labels: { alertname: 'HighLatency', severity: 'critical', job: 'api', instance: `10.0.0.7:9100` }, annotations: { summary: 'p99 latency above 2s for 5 minutes', runbook_url: 'https://runbooks.example.test/latency' }, startsAt: new Date(BASE + i * 1000).toISOString(), endsAt: '0001-01-01T00:00:00Z', generatorURL: 'http://prometheus.example.test:9090/graph', fingerprint: `5f2b8e1c9a7d3e40` }] };
}
for (const batch of [1, 8, 19, 32, 64]) {
  const res: string[] = [];
  for (let rep = 0; rep < 3; rep++) {
    const db = openDatabase(join(mkdtempSync(join(tmpdir(), 'p-')), 'a.db'));
    migrate(db);
    const store = new SignalStore(db, { now: Date.now, newId: randomId });
    const N = 6000;
    const inputs = Array.from({ length: N }, (_, i) => { const n = normaliseAlertmanager(payload(i), Date.now()); if (!n.ok) throw new Error(); return n.value; });
    const t = performance.now(); const c0 = process.cpuUsage();
    for (let i = 0; i < N; i += batch) {
      const ps = [];
      for (let j = i; j < Math.min(N, i + batch); j++) ps.push(store.ingestBatched(inputs[j]!));
      store.flush();
      await Promise.all(ps);
    }
    const c = process.cpuUsage(c0);
    res.push(`${((performance.now() - t) * 1000 / N).toFixed(0)}/${((c.user + c.system) / N).toFixed(0)}`);
    db.close();
  }
  console.log('batch', batch, 'wall/cpu us per signal', res.join(' '));
}
