/**
 * The past incidents an agent's facts cite: same fingerprint first, then same service, newest
 * first within each, never the incident at hand, nothing when there is neither a fingerprint nor a
 * service. Over the real schema.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { historyReader } from '../../../src/agents/runtime/history.js';
import { incidents } from '../../../src/db/schema.js';
import { type TempDatabase, tempDatabase } from '../../helpers/db.js';

let t: TempDatabase | null = null;

afterEach(() => {
  t?.cleanup();
  t = null;
});

function seed(db: TempDatabase) {
  const rows = [
    { id: 'now', fingerprint: 'DiskFull', service: 'api', at: 50 },
    { id: 'fp-old', fingerprint: 'DiskFull', service: 'web', at: 10 },
    { id: 'fp-new', fingerprint: 'DiskFull', service: null, at: 20 },
    { id: 'svc-new', fingerprint: 'HighLatency', service: 'api', at: 40 },
    { id: 'svc-old', fingerprint: 'Oom', service: 'api', at: 30 },
    { id: 'other', fingerprint: 'Other', service: 'worker', at: 45 },
  ];
  rows.forEach((r, i) => {
    db.database.db
      .insert(incidents)
      .values({
        id: r.id,
        number: i + 1,
        fingerprint: r.fingerprint,
        service: r.service,
        title: r.id,
        severity: 'warning',
        startedAt: r.at,
        detectedAt: r.at,
        // One open incident per fingerprint: the earlier ones ended.
        status: r.id.startsWith('fp-') ? 'resolved' : 'open',
      })
      .run();
  });
}

describe('historyReader', () => {
  it('lists same-fingerprint incidents first, then same-service ones, newest first, leaving out the one at hand', () => {
    t = tempDatabase();
    seed(t);
    const read = historyReader(t.database, null);
    const ids = (q: Parameters<typeof read>[0]) => read(q).map((p) => `${p.title}:${p.same}`);
    expect(ids({ incidentId: 'now', fingerprint: 'DiskFull', service: 'api' })).toEqual([
      'fp-new:fingerprint',
      'fp-old:fingerprint',
      'svc-new:service',
      'svc-old:service',
    ]);
    expect(ids({ fingerprint: 'DiskFull', service: null, limit: 2 })).toEqual([
      'now:fingerprint',
      'fp-new:fingerprint',
    ]);
    expect(ids({ incidentId: 'now', fingerprint: null, service: 'api' })).toEqual([
      'svc-new:service',
      'svc-old:service',
    ]);
    expect(ids({ incidentId: 'now', fingerprint: '', service: '' })).toEqual([]);
    expect(ids({ fingerprint: 'Nothing', service: 'nowhere' })).toEqual([]);
  });
});
