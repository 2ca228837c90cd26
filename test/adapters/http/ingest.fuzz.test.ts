/**
 * Property-based fuzzing of every hook: arbitrary bodies, headers, content types and near-valid
 * payloads. Never a 5xx, never an unhandled error, and a rejected request changes no row count.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  alertmanagerPayload,
  type IngestSetup,
  ingestSetup,
  SECRET,
  signGithub,
  TOKEN,
} from '../../helpers/ingest.js';

const RUNS = 120;

let s: IngestSetup;
beforeAll(() => {
  s = ingestSetup({
    limits: { alertmanager: 64 * 1024, github: 64 * 1024, logs: 64 * 1024, events: 64 * 1024 },
  });
});
afterAll(() => s.cleanup());

const headerText = fc.stringMatching(/^[\x21-\x7e]{0,60}$/);
const contentType = fc.oneof(
  fc.constantFrom(
    'application/json',
    'application/json; charset=utf-8',
    'text/plain',
    'application/x-ndjson',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
    'application/octet-stream',
    'application/vnd.github+json',
  ),
  headerText,
);
const auth = fc.oneof(
  fc.constant(`Bearer ${TOKEN}`),
  fc.constant(`bearer ${TOKEN}`),
  headerText,
  headerText.map((t) => `Bearer ${t}`),
);

/** A JSON document with some values replaced by anything, some keys dropped. */
function mutated(base: unknown): fc.Arbitrary<unknown> {
  const paths: (string | number)[][] = [];
  const walk = (v: unknown, path: (string | number)[]) => {
    paths.push(path);
    if (Array.isArray(v)) {
      v.forEach((x, i) => {
        walk(x, [...path, i]);
      });
    } else if (v !== null && typeof v === 'object')
      for (const [k, x] of Object.entries(v)) walk(x, [...path, k]);
  };
  walk(base, []);
  const edit = fc.tuple(
    fc.constantFrom(...paths),
    fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.constant(undefined)),
  );
  return fc.array(edit, { minLength: 1, maxLength: 4 }).map((edits) => {
    let doc = structuredClone(base) as unknown;
    for (const [path, value] of edits) {
      if (path.length === 0) {
        doc = value;
        continue;
      }
      let at: unknown = doc;
      for (const key of path.slice(0, -1)) {
        at =
          at !== null && typeof at === 'object' ? (at as Record<string, unknown>)[key as string] : undefined;
      }
      if (at !== null && typeof at === 'object') {
        const last = path[path.length - 1] as string;
        if (value === undefined) delete (at as Record<string, unknown>)[last];
        else (at as Record<string, unknown>)[last] = value;
      }
    }
    return doc;
  });
}

const anyBody = fc.oneof(
  fc.string({ maxLength: 300 }),
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v) ?? ''),
  fc.uint8Array({ maxLength: 300 }),
  fc.constant(`${'['.repeat(200)}${']'.repeat(200)}`),
);

async function check(send: () => Promise<Response>): Promise<void> {
  const before = s.rowCounts();
  const res = await send();
  const text = await res.text();
  expect(res.status, text).toBeLessThan(500);
  expect(s.errors).toEqual([]);
  if (res.status >= 400) expect(s.rowCounts()).toEqual(before);
  if (res.status !== 405) expect(() => JSON.parse(text)).not.toThrow();
}

describe('fuzzing every hook', () => {
  const alert = alertmanagerPayload([{}, { status: 'resolved', endsAt: '2025-01-01T12:00:00Z' }]);
  const event = {
    id: 'e-1',
    kind: 'failed_job',
    source: 'cron:backup',
    title: 'backup failed',
    severity: 'critical',
    occurredAt: '2025-01-01T03:00:00Z',
    details: { exit: 2 },
  };

  for (const path of ['/hooks/alertmanager', '/hooks/events', '/hooks/logs']) {
    it(`${path}: arbitrary bodies, content types and auth headers`, async () => {
      await fc.assert(
        fc.asyncProperty(anyBody, fc.option(contentType), auth, async (body, type, authorization) => {
          const headers: Record<string, string> = { authorization };
          if (type !== null) headers['content-type'] = type;
          await check(() => s.post(path, body, headers));
        }),
        { numRuns: RUNS },
      );
    });
  }

  it('/hooks/alertmanager and /hooks/events: near-valid payloads', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          mutated(alert).map((b) => ['/hooks/alertmanager', b] as const),
          mutated(event).map((b) => ['/hooks/events', b] as const),
          fc.array(mutated(event), { maxLength: 3 }).map((b) => ['/hooks/events', b] as const),
        ),
        async ([path, body]) => {
          await check(() => s.postJson(path, body));
        },
      ),
      { numRuns: RUNS * 2 },
    );
  });

  it('/hooks/logs: arbitrary lines, NDJSON, queries and idempotency keys', async () => {
    const line = fc.oneof(
      fc.string({ maxLength: 120 }),
      fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v) ?? ''),
      fc
        .record({
          message: fc.oneof(fc.string({ maxLength: 80 }), fc.integer()),
          service: fc.oneof(fc.string({ maxLength: 20 }), fc.constant(undefined)),
          ts: fc.oneof(fc.integer(), fc.string({ maxLength: 30 }), fc.constant(undefined)),
          level: fc.oneof(
            fc.constantFrom('error', 'ERROR', 'info', 'fatal'),
            fc.integer({ min: 0, max: 70 }),
          ),
        })
        .map((r) => JSON.stringify(r)),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(line, { maxLength: 30 }),
        fc.constantFrom('text/plain', 'application/x-ndjson'),
        fc.option(headerText),
        fc.option(fc.stringMatching(/^[\x21-\x7e]{0,12}$/)),
        async (lines, type, key, service) => {
          const headers: Record<string, string> = { authorization: `Bearer ${TOKEN}`, 'content-type': type };
          if (key !== null) headers['idempotency-key'] = key;
          const query = service === null ? '' : `?service=${encodeURIComponent(service)}&level=error`;
          await check(() => s.post(`/hooks/logs${query}`, lines.join('\n'), headers));
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('/hooks/github: arbitrary headers and bodies, signed and unsigned', async () => {
    const events = fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom('workflow_run', 'check_run', 'dependabot_alert') },
      fc.constantFrom('security_advisory', 'repository_advisory', 'ping', 'push'),
      headerText,
    );
    const githubType = fc.oneof(
      { weight: 3, arbitrary: fc.constant('application/json') },
      fc.option(contentType),
    );
    const valid = {
      action: 'completed',
      repository: { full_name: 'o/r' },
      workflow_run: { id: 1, name: 'CI', conclusion: 'failure', head_branch: 'main', workflow_id: 7 },
      check_run: { id: 2, name: 'lint', conclusion: 'timed_out', check_suite: { head_branch: 'main' } },
      alert: { number: 3, security_advisory: { ghsa_id: 'GHSA-x', severity: 'high' } },
    };
    const near = fc.oneof(
      { weight: 3, arbitrary: mutated(valid).map((v) => JSON.stringify(v) ?? '') },
      // Unmutated too: most edits turn it into an event the hook ignores, and a run of this property
      // without one storable delivery would leave the last test's "valid ones let through" unproven.
      { weight: 2, arbitrary: fc.constant(JSON.stringify(valid)) },
      anyBody,
    );
    await fc.assert(
      fc.asyncProperty(
        near,
        events,
        fc.option(fc.oneof(fc.uuid(), headerText)),
        fc.constantFrom('good', 'good', 'bad', 'none'),
        githubType,
        async (body, event, delivery, signing, type) => {
          const headers: Record<string, string> = { 'x-github-event': event };
          if (delivery !== null) headers['x-github-delivery'] = delivery;
          if (type !== null) headers['content-type'] = type;
          if (signing === 'good') headers['x-hub-signature-256'] = signGithub(SECRET, body);
          if (signing === 'bad') headers['x-hub-signature-256'] = signGithub('not-the-secret', body);
          await check(() => s.post('/hooks/github', body, headers));
        },
      ),
      { numRuns: RUNS * 2 },
    );
  });

  it('counted every rejection by reason, and let the valid ones through', () => {
    for (const hook of ['alertmanager', 'events', 'logs', 'github']) {
      expect(s.counters.accepts.get(`${hook} stored`) ?? 0, hook).toBeGreaterThan(0);
    }
    expect(s.counters.rejectedTotal).toBeGreaterThan(100);
    expect([...s.counters.rejections.keys()].some((k) => k.endsWith('unauthorized'))).toBe(true);
    expect([...s.counters.rejections.keys()].some((k) => k.endsWith('bad_signature'))).toBe(true);
  });
});
