import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { findPatterns, incidentFacts, incidentsOfPattern, patternOf } from '../../src/learning/patterns.js';
import { rowsReadFrom, type TempDatabase, tempDatabase } from '../helpers/db.js';
import { DAY, IncidentFactory } from '../helpers/learning.js';

const NOW = Date.parse('2026-12-01T10:00:00Z');
const WINDOW = 14 * DAY;

let t: TempDatabase;
let f: IncidentFactory;

beforeEach(() => {
  t = tempDatabase('autonomy-patterns-');
  f = new IncidentFactory(t.database);
});
afterEach(() => {
  vi.restoreAllMocks();
  t.cleanup();
});

const find = () => findPatterns(t.database, { now: NOW, windowMs: WINDOW, occurrences: 3 });

/** HighLatency fired on web by three instances (three fingerprints), on each of the last three days. */
function highLatencyOnWeb(): void {
  for (const [i, instance] of ['pod-a', 'pod-b', 'pod-c'].entries()) {
    f.occur(
      {
        kind: 'alert',
        fingerprint: `alertmanager:${instance}`,
        service: 'web',
        payload: { labels: { alertname: 'HighLatency', instance } },
      },
      NOW - (i + 1) * DAY,
    );
  }
}

describe('repeated patterns', () => {
  it('the same error signature three times within 14 days is a pattern; each incident is one occurrence', () => {
    for (const daysAgo of [12, 6, 1]) {
      f.occur({ kind: 'error_signature', fingerprint: 'sig-7f3a', service: 'api' }, NOW - daysAgo * DAY);
    }
    f.occur({ kind: 'error_signature', fingerprint: 'sig-other' }, NOW - 2 * DAY);
    const patterns = find();
    expect(patterns).toHaveLength(1);
    expect(patterns[0]).toMatchObject({ key: 'signature:sig-7f3a', kind: 'error_signature', service: 'api' });
    expect(patterns[0]?.incidents.map((i) => i.shortId)).toEqual(['i3', 'i2', 'i1']);
  });

  it('two occurrences are not enough', () => {
    f.occur({ kind: 'error_signature', fingerprint: 'sig-7f3a' }, NOW - 5 * DAY);
    f.occur({ kind: 'error_signature', fingerprint: 'sig-7f3a' }, NOW - 1 * DAY);
    expect(find()).toEqual([]);
  });

  it('an occurrence outside the window does not count', () => {
    f.occur({ kind: 'error_signature', fingerprint: 'sig-7f3a' }, NOW - 15 * DAY);
    f.occur({ kind: 'error_signature', fingerprint: 'sig-7f3a' }, NOW - 5 * DAY);
    f.occur({ kind: 'error_signature', fingerprint: 'sig-7f3a' }, NOW - 1 * DAY);
    expect(find()).toEqual([]);
    // A later look at the same data, with the old one inside the window, finds it.
    expect(findPatterns(t.database, { now: NOW - DAY / 2, windowMs: 15 * DAY, occurrences: 3 })).toHaveLength(
      1,
    );
  });

  it('repeats of one open incident are one occurrence, not three', () => {
    for (let i = 0; i < 3; i++) {
      f.occur(
        { kind: 'error_signature', fingerprint: 'sig-7f3a', dedupeKey: `k${i}` },
        NOW - DAY + i * 60_000,
        null,
      );
    }
    expect(find()).toEqual([]);
  });

  it('alerts of the same alertname on one service are one class, whichever instance fired', () => {
    highLatencyOnWeb();
    expect(find().map((p) => [p.key, p.label])).toEqual([
      ['alert:HighLatency@web', 'alert HighLatency on web'],
    ]);
  });

  it('advisories about the same package are one pattern, whatever their ids', () => {
    for (const [i, id] of ['GHSA-aaaa', 'GHSA-bbbb', 'CVE-2026-1'].entries()) {
      f.occur(
        {
          kind: 'advisory',
          fingerprint: `advisory:${id}`,
          service: null,
          payload: { id, package: { ecosystem: 'npm', name: 'Lodash', version: '4.17.20' } },
        },
        NOW - (i + 2) * DAY,
      );
    }
    expect(find().map((p) => p.key)).toEqual(['advisory:npm/lodash']);
  });

  it('other kinds are keyed by kind and fingerprint, so an event and a failed job never mix', () => {
    expect(
      patternOf({
        kind: 'failed_job',
        fingerprint: 'github:workflow:o/r:ci:main',
        service: 'o/r',
        payload: {},
      }).key,
    ).toBe('failed_job:github:workflow:o/r:ci:main');
    expect(patternOf({ kind: 'event', fingerprint: 'events:backup', service: null, payload: {} }).key).toBe(
      'event:events:backup',
    );
    // An alert without an alertname label falls back to its fingerprint.
    expect(
      patternOf({ kind: 'alert', fingerprint: 'alertmanager:x1', service: 'web', payload: {} }).key,
    ).toBe('alert:alertmanager:x1');
  });

  it("finds a pattern's incidents from one of them without reading every other incident of the window", () => {
    highLatencyOnWeb();
    // The rest of a busy fortnight: other services, other signatures.
    for (let i = 0; i < 60; i++) {
      f.occur(
        { kind: 'error_signature', fingerprint: `sig-${i}`, service: `svc-${i % 7}`, payload: {} },
        NOW - (i % 13) * DAY - 3600_000,
      );
    }
    const member = find()[0]?.incidents[0];
    expect(member?.patternKey).toBe('alert:HighLatency@web');
    const everyOne = incidentsOfPattern(t.database, 'alert:HighLatency@web', NOW - WINDOW, NOW + 1);
    expect(everyOne.map((i) => i.shortId)).toEqual(['i1', 'i2', 'i3']);

    const incidentsRead = rowsReadFrom(t.database, 'incidents');
    const found = incidentsOfPattern(t.database, 'alert:HighLatency@web', NOW - WINDOW, NOW + 1, member);
    expect(found).toEqual(everyOne);
    expect(incidentsRead()).toBe(3);
  });

  it('knows the pattern of one incident from its first signal', () => {
    const change = f.occur(
      {
        kind: 'alert',
        fingerprint: 'alertmanager:p1',
        service: 'web',
        payload: { labels: { alertname: 'Down' } },
      },
      NOW - DAY,
    );
    expect(incidentFacts(t.database, change.id)).toMatchObject({
      shortId: 'i1',
      kind: 'alert',
      patternKey: 'alert:Down@web',
      status: 'resolved',
      resolvedBy: 'source:test',
    });
    expect(incidentFacts(t.database, 'inc_nope')).toBeNull();
  });
});
