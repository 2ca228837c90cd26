/**
 * Correlation beyond one fingerprint: signals of one service within the correlation window, and
 * fingerprints of one family, share an incident; the incident is resolved only when every
 * fingerprint in it has resolved. Alertmanager through the real hook (real payload shape); the
 * other kinds straight into the real SignalStore over a real SQLite file.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sequentialIds } from '../../../src/process/ids.js';
import { firingFingerprints } from '../../../src/signals/incidents/members.js';
import { SignalStore } from '../../../src/signals/incidents/store.js';
import type { IncidentChange, SignalInput } from '../../../src/signals/types.js';
import { type Accepted, alertmanagerPayload, type IngestSetup, ingestSetup } from '../../helpers/ingest.js';

const MIN = 60_000;

let s: IngestSetup;
beforeEach(() => {
  s = ingestSetup();
});
afterEach(() => {
  expect(s.errors).toEqual([]);
  s.cleanup();
});

async function alerts(list: Parameters<typeof alertmanagerPayload>[0]): Promise<Accepted> {
  const res = await s.postJson('/hooks/alertmanager', alertmanagerPayload(list));
  expect(res.status).toBe(202);
  return (await res.json()) as Accepted;
}

let seq = 0;
function signal(over: Partial<SignalInput> = {}): SignalInput {
  seq += 1;
  return {
    kind: 'health',
    source: 'probe:api',
    dedupeKey: `k-${seq}`,
    fingerprint: 'health:api',
    title: 'api health check is down',
    service: 'api',
    severity: 'critical',
    payload: { n: seq },
    ...over,
  };
}

function ingest(input: SignalInput, store: SignalStore = s.store): IncidentChange | null {
  const [outcome] = store.ingest([input]);
  if (outcome?.status !== 'stored') throw new Error(`expected stored, got ${JSON.stringify(outcome)}`);
  return outcome.incident;
}

describe('correlation by service (Alertmanager, real payloads)', () => {
  it('two alerts of one service are one incident, resolved only when both have resolved', async () => {
    const first = { fingerprint: 'aaa111', name: 'HighLatency', severity: 'warning', service: 'checkout' };
    const second = { fingerprint: 'bbb222', name: 'ErrorRate', severity: 'critical', service: 'checkout' };
    expect(await alerts([first])).toMatchObject({ accepted: 1, incidents: ['i1'] });
    s.clock += 3 * MIN;
    expect(await alerts([{ ...second, startsAt: '2025-01-01T12:02:00Z' }])).toMatchObject({
      accepted: 1,
      incidents: ['i1'],
    });
    expect(s.incidents.list({ status: 'all' })).toHaveLength(1);
    expect(s.incidents.get('i1')).toMatchObject({
      status: 'open',
      signalCount: 2,
      severity: 'critical',
      // the joined alert is listed in the title, so the card says what the incident holds
      title:
        'HighLatency: p99 latency above 2s for 5 minutes + ErrorRate: p99 latency above 2s for 5 minutes',
      fingerprint: 'alertmanager:aaa111',
      service: 'checkout',
    });
    expect(s.audit.records({ kind: 'incident.joined' })).toMatchObject([
      { outcome: 'alertmanager:bbb222 joined i1 (same service checkout)' },
    ]);

    // The first alert resolves: the second still fires, so the incident stays open.
    s.clock += MIN;
    await alerts([{ ...first, status: 'resolved', endsAt: '2025-01-01T12:04:00Z' }]);
    expect(s.incidents.get('i1')).toMatchObject({ status: 'open', resolvedAt: null, signalCount: 3 });
    expect(s.audit.records({ kind: 'incident.member-resolved' })).toHaveLength(1);
    expect(s.audit.records({ kind: 'incident.resolved' })).toHaveLength(0);

    // A re-sent firing notification of the second alert (repeat_interval) is a duplicate.
    s.clock += MIN;
    expect(await alerts([{ ...second, startsAt: '2025-01-01T12:02:00Z' }])).toMatchObject({ duplicates: 1 });

    // The second resolves too: now the incident is resolved, at its endsAt, by Alertmanager.
    s.clock += MIN;
    expect(
      await alerts([
        { ...second, status: 'resolved', startsAt: '2025-01-01T12:02:00Z', endsAt: '2025-01-01T12:06:00Z' },
      ]),
    ).toMatchObject({ incidents: ['i1'] });
    expect(s.incidents.get('i1')).toMatchObject({
      status: 'resolved',
      resolvedBy: 'source:alertmanager',
      resolvedAt: Date.parse('2025-01-01T12:06:00Z'),
    });
  });

  it('resolves in either order, and a late firing delivery of a resolved alert does not hold the incident open', async () => {
    const a = { fingerprint: 'aaa111', service: 'checkout', startsAt: '2025-01-01T11:50:00Z' };
    const b = { fingerprint: 'bbb222', service: 'checkout', startsAt: '2025-01-01T11:55:00Z' };
    await alerts([a, b]);
    expect(s.incidents.list({ status: 'all' })).toHaveLength(1);
    s.clock += MIN;
    // The joined alert resolves first.
    await alerts([{ ...b, status: 'resolved', endsAt: '2025-01-01T12:00:30Z' }]);
    expect(s.incidents.get('i1')?.status).toBe('open');
    // A delayed copy of its firing notification (it started before it ended) arrives now.
    s.clock += MIN;
    await alerts([{ ...b, startsAt: '2025-01-01T11:56:00Z' }]);
    expect(s.incidents.get('i1')?.status).toBe('open');
    s.clock += MIN;
    await alerts([{ ...a, status: 'resolved', endsAt: '2025-01-01T12:02:30Z' }]);
    expect(s.incidents.get('i1')).toMatchObject({ status: 'resolved', resolvedBy: 'source:alertmanager' });
  });

  it('opens a new incident when the service was quiet for longer than the window, or for another service', async () => {
    await alerts([{ fingerprint: 'aaa111', service: 'checkout' }]);
    s.clock += 3 * MIN;
    expect(await alerts([{ fingerprint: 'ccc333', service: 'search' }])).toMatchObject({ incidents: ['i2'] });
    s.clock += 11 * MIN;
    expect(await alerts([{ fingerprint: 'bbb222', service: 'checkout' }])).toMatchObject({
      incidents: ['i3'],
    });
    expect(s.incidents.list().map((i) => i.fingerprint)).toEqual([
      'alertmanager:bbb222',
      'alertmanager:ccc333',
      'alertmanager:aaa111',
    ]);
  });

  it('reopens the incident when a resolved member comes back within 10 minutes', async () => {
    const a = { fingerprint: 'aaa111', service: 'checkout', startsAt: '2025-01-01T11:50:00Z' };
    const b = { fingerprint: 'bbb222', service: 'checkout', startsAt: '2025-01-01T11:55:00Z' };
    await alerts([a, b]);
    s.clock += MIN;
    await alerts([
      { ...a, status: 'resolved', endsAt: '2025-01-01T12:00:10Z' },
      { ...b, status: 'resolved', endsAt: '2025-01-01T12:00:20Z' },
    ]);
    expect(s.incidents.get('i1')?.status).toBe('resolved');
    s.clock += 4 * MIN;
    // The joined alert fires again: its incident comes back, and resolving it closes it again.
    expect(await alerts([{ ...b, startsAt: '2025-01-01T12:04:00Z' }])).toMatchObject({ incidents: ['i1'] });
    expect(s.incidents.get('i1')?.status).toBe('open');
    s.clock += MIN;
    await alerts([
      { ...b, status: 'resolved', startsAt: '2025-01-01T12:04:00Z', endsAt: '2025-01-01T12:05:00Z' },
    ]);
    expect(s.incidents.get('i1')?.status).toBe('resolved');
    expect(s.incidents.list({ status: 'all' })).toHaveLength(1);
  });
});

describe('correlation by service across kinds', () => {
  it('joins a probe, an error signature and a failed job of one service; a probe recovery leaves the alert firing', () => {
    expect(ingest(signal())).toMatchObject({ change: 'opened', shortId: 'i1', severity: 'critical' });
    s.clock += MIN;
    expect(
      ingest(
        signal({ kind: 'error_signature', source: 'logs', fingerprint: 'sig:abc', severity: 'warning' }),
      ),
    ).toMatchObject({ change: 'updated', shortId: 'i1', signalCount: 2, severity: 'critical' });
    expect(
      ingest(
        signal({ kind: 'failed_job', source: 'events', fingerprint: 'events:deploy', severity: 'info' }),
      ),
    ).toMatchObject({ change: 'updated', shortId: 'i1', signalCount: 3, title: 'api health check is down' });
    expect(firingFingerprints(s.database, 'health:')).toEqual(['health:api']);
    // The probe recovers: the log errors and the failed deploy are still on.
    expect(ingest(signal({ resolves: true }))).toMatchObject({ change: 'updated', shortId: 'i1' });
    expect(s.incidents.get('i1')?.status).toBe('open');
    expect(firingFingerprints(s.database, 'health:')).toEqual([]);
    expect(
      ingest(signal({ kind: 'failed_job', fingerprint: 'events:deploy', resolves: true })),
    ).toMatchObject({
      change: 'updated',
    });
    expect(ingest(signal({ kind: 'error_signature', fingerprint: 'sig:abc', resolves: true }))).toMatchObject(
      { change: 'resolved', shortId: 'i1' },
    );
  });

  it('a generic event of the service opens its own incident; a failing kind joins and is listed in the title', () => {
    expect(ingest(signal({ title: 'demo-api down', service: 'demo-api' }))).toMatchObject({
      change: 'opened',
      shortId: 'i1',
    });
    s.clock += MIN;
    // {"kind":"event","title":"backup failed","service":"demo-api"}: not evidence that demo-api is down
    expect(
      ingest(
        signal({
          kind: 'event',
          source: 'events',
          fingerprint: 'events:backup',
          title: 'backup failed',
          service: 'demo-api',
        }),
      ),
    ).toMatchObject({ change: 'opened', shortId: 'i2', title: 'backup failed' });
    // An error signature of demo-api joins i1, and the change the card is built from lists both.
    expect(
      ingest(
        signal({
          kind: 'error_signature',
          source: 'logs',
          fingerprint: 'sig:s_1',
          title: 'Repeated error: connection refused',
          service: 'demo-api',
          severity: 'warning',
        }),
      ),
    ).toMatchObject({
      change: 'updated',
      shortId: 'i1',
      title: 'demo-api down + Repeated error: connection refused',
    });
    expect(s.incidents.get('i1')?.title).toBe('demo-api down + Repeated error: connection refused');
    expect(s.audit.records({ kind: 'incident.joined' })).toMatchObject([
      { outcome: 'sig:s_1 joined i1 (same service demo-api)' },
    ]);
  });

  it('never merges advisories by service, either way', () => {
    ingest(signal({ kind: 'advisory', source: 'github', fingerprint: 'advisory:GHSA-1', service: 'o/r' }));
    expect(ingest(signal({ kind: 'failed_job', fingerprint: 'ci:o/r', service: 'o/r' }))).toMatchObject({
      change: 'opened',
      shortId: 'i2',
    });
    expect(
      ingest(signal({ kind: 'advisory', source: 'github', fingerprint: 'advisory:GHSA-2', service: 'o/r' })),
    ).toMatchObject({ change: 'opened', shortId: 'i3' });
  });

  it('can be turned off (correlationWindowMs 0): each fingerprint its own incident', () => {
    const store = new SignalStore(s.database, {
      now: () => s.clock,
      newId: sequentialIds(),
      correlationWindowMs: 0,
    });
    expect(ingest(signal({ fingerprint: 'health:a' }), store)).toMatchObject({ shortId: 'i1' });
    expect(ingest(signal({ fingerprint: 'health:b' }), store)).toMatchObject({ shortId: 'i2' });
  });

  it('a person resolving the incident ends it; a member that comes back within 10 minutes reopens it', () => {
    ingest(signal());
    ingest(signal({ kind: 'alert', fingerprint: 'alertmanager:x' }));
    s.clock += MIN;
    expect(s.incidents.resolve('i1', 'slack:user:U1')).toMatchObject({ ok: true, changed: true });
    s.clock += MIN;
    expect(ingest(signal({ kind: 'alert', fingerprint: 'alertmanager:x' }))).toMatchObject({
      change: 'reopened',
      shortId: 'i1',
    });
    // Both were never resolved by their sources: the incident needs both resolutions.
    expect(ingest(signal({ resolves: true }))).toMatchObject({ change: 'updated' });
    expect(ingest(signal({ kind: 'alert', fingerprint: 'alertmanager:x', resolves: true }))).toMatchObject({
      change: 'resolved',
    });
  });
});

describe('fingerprint families', () => {
  const family = 'github:ci:o/r:main';
  const ci = (member: string, over: Partial<SignalInput> = {}) =>
    signal({
      kind: 'failed_job',
      source: 'github',
      family,
      fingerprint: `${family}:${member}`,
      title: `o/r: ${member} failed on main`,
      service: 'o/r',
      severity: 'warning',
      ...over,
    });

  it('joins its family whenever it comes, and resolves when every member has', () => {
    expect(ingest(ci('check:test'))).toMatchObject({ change: 'opened', shortId: 'i1' });
    s.clock += 45 * MIN;
    expect(ingest(ci('workflow:7'))).toMatchObject({ change: 'updated', shortId: 'i1', signalCount: 2 });
    // A green check that never failed resolves nothing.
    expect(ingest(ci('check:lint', { resolves: true }))).toBeNull();
    expect(ingest(ci('check:test', { resolves: true }))).toMatchObject({ change: 'updated' });
    expect(s.incidents.get('i1')?.status).toBe('open');
    expect(ingest(ci('workflow:7', { resolves: true }))).toMatchObject({ change: 'resolved', shortId: 'i1' });
    expect(s.audit.records({ kind: 'incident.joined' })[0]?.outcome).toBe(
      `${family}:workflow:7 joined i1 (same family ${family})`,
    );
  });

  it("joins its family's open incident rather than reopening its own: one open incident per family", () => {
    ingest(ci('check:test'));
    expect(ingest(ci('check:test', { resolves: true }))).toMatchObject({ change: 'resolved', shortId: 'i1' });
    s.clock += MIN;
    expect(ingest(ci('workflow:7'))).toMatchObject({ change: 'opened', shortId: 'i2' });
    s.clock += MIN;
    expect(ingest(ci('check:test'))).toMatchObject({ change: 'updated', shortId: 'i2' });
    expect(s.incidents.list().map((i) => i.shortId)).toEqual(['i2']);
  });

  it('keeps families apart, and does not join its service by window', () => {
    ingest(signal({ kind: 'alert', fingerprint: 'alertmanager:x', service: 'o/r' }));
    expect(ingest(ci('check:test'))).toMatchObject({ change: 'opened', shortId: 'i2' });
    expect(
      ingest(ci('check:test', { family: 'github:ci:o/r:dev', fingerprint: 'github:ci:o/r:dev:check:test' })),
    ).toMatchObject({ change: 'opened', shortId: 'i3' });
  });

  it('closes a family incident that went quiet for a day as stale and opens a new one', () => {
    ingest(ci('check:test'));
    s.clock += 25 * 60 * MIN;
    expect(ingest(ci('workflow:7'))).toMatchObject({ change: 'opened', shortId: 'i2' });
    expect(s.incidents.get('i1')).toMatchObject({ status: 'resolved', resolvedBy: 'system:stale' });
  });

  it('refuses a fingerprint outside its family (a normaliser bug), writing nothing', () => {
    expect(() => s.store.ingest([ci('x', { fingerprint: 'github:ci:o/r:mainx' })])).toThrow(
      /must start with its family "github:ci:o\/r:main:"/,
    );
    expect(s.rowCounts()).toMatchObject({ signals: 0, incidents: 0 });
  });
});
