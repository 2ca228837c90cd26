import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SignatureMiner } from '../../../src/signals/signatures/miner.js';
import { TemplateStore } from '../../../src/signals/signatures/template-store.js';
import {
  type Accepted,
  type IngestSetup,
  ingestSetup,
  type Rejected,
  T0,
  TOKEN,
} from '../../helpers/ingest.js';

let s: IngestSetup;
beforeEach(() => {
  s = ingestSetup();
});
afterEach(() => {
  expect(s.errors).toEqual([]);
  s.cleanup();
});

describe('POST /hooks/logs', () => {
  const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'text/plain' };
  const errorLine = (i: number) =>
    `2025-01-01T12:00:0${i % 10}Z ERROR [db] connection to 10.0.0.${i}:5432 refused after ${i * 10} ms`;

  it('mines lines and makes ONE error_signature signal when an error repeats past the threshold', async () => {
    // The fixture policy keeps the defaults: 5 within 10m, cooldown 30m.
    const lines = [
      ...Array.from({ length: 12 }, (_, i) => errorLine(i)),
      'INFO [web] GET /health 200 in 3 ms',
    ];
    const res = await s.post('/hooks/logs?service=db', lines.join('\n'), headers);
    expect(res.status).toBe(202);
    const body = (await res.json()) as Accepted;
    expect(body).toMatchObject({
      accepted: 13,
      duplicates: 0,
      incidents: ['i1'],
      signatures: 2,
      repeats: 1,
      errorLines: 12,
    });
    const rows = s.database.sqlite.prepare('SELECT * FROM signals').all() as Record<string, unknown>[];
    expect(rows).toHaveLength(1);
    const payload = JSON.parse(rows[0]?.payload as string) as {
      count: number;
      template: string;
      signature: string;
    };
    expect(rows[0]).toMatchObject({
      kind: 'error_signature',
      source: 'logs',
      service: 'db',
      fingerprint: payload.signature,
    });
    expect(payload.count).toBe(5);
    expect(payload.template).toMatch(/connection to <\*> refused after <\*>/);
    // Within the cooldown, more of the same makes no second signal.
    const more = await s.post('/hooks/logs?service=db', lines.join('\n'), headers);
    expect(await more.json()).toMatchObject({ repeats: 0, incidents: [] });
    expect(s.rowCounts().signals).toBe(1);
  });

  it('reads NDJSON with message, service, timestamp and level; ?level= sets a default', async () => {
    const lines = Array.from({ length: 6 }, (_, i) =>
      JSON.stringify({
        msg: `payment ${1000 + i} declined: card expired`,
        service: 'payments',
        ts: T0 / 1000 - 60 + i,
        level: 50,
      }),
    );
    const res = await s.post('/hooks/logs', lines.join('\n'), {
      ...headers,
      'content-type': 'application/x-ndjson',
    });
    expect(await res.json()).toMatchObject({ accepted: 6, errorLines: 6, repeats: 1, incidents: ['i1'] });
    expect(s.incidents.get('i1')).toMatchObject({ service: 'payments', startedAt: T0 - 60_000 });
    const plain = await s.post(
      '/hooks/logs?level=error',
      Array(5).fill('disk quota exceeded on /var').join('\n'),
      headers,
    );
    expect(await plain.json()).toMatchObject({ errorLines: 5, repeats: 1 });
  });

  it('dedupes a retried request by Idempotency-Key', async () => {
    const body = Array.from({ length: 4 }, (_, i) => errorLine(i)).join('\n');
    const first = await s.post('/hooks/logs', body, { ...headers, 'idempotency-key': 'batch-1' });
    expect(await first.json()).toMatchObject({ accepted: 4, duplicates: 0 });
    const retry = await s.post('/hooks/logs', body, { ...headers, 'idempotency-key': 'batch-1' });
    expect(await retry.json()).toEqual({ accepted: 0, duplicates: 1, incidents: [] });
    // Had the retry counted, 8 error lines would have crossed the threshold of 5.
    expect(s.rowCounts().signals).toBe(0);
  });

  it('keeps template ids across a restart (persisted in signature_templates)', async () => {
    const first = await s.post('/hooks/logs', `${errorLine(1)}\nuser 42 logged in from 10.1.2.3`, headers);
    expect(first.status).toBe(202);
    s.hooks.flushTemplates();
    const before = new Map(s.miner.snapshot().map((r) => [r.template, r.signature]));
    expect(s.rowCounts().templates).toBe(2);
    const restored = SignatureMiner.restore(new TemplateStore(s.database).load());
    const again = restored.add('user 7 logged in from 192.168.0.9');
    expect(again.isNew).toBe(false);
    expect(again.signature).toBe(before.get(again.template));
  });

  it('refuses a wrong content type (415), a bad line (400, by line number), a bad query (400)', async () => {
    const json = await s.post('/hooks/logs', '{"message":"x"}', {
      ...headers,
      'content-type': 'application/json',
    });
    expect(json.status).toBe(415);
    const bad = await s.post('/hooks/logs', '{"message":"ok"}\n{"msg": 3}\nnot json', {
      ...headers,
      'content-type': 'application/x-ndjson',
    });
    expect(bad.status).toBe(400);
    const problems = ((await bad.json()) as Rejected).problems ?? [];
    expect(problems.map((p) => p.path)).toEqual(['line 2 $.msg', 'line 3']);
    expect((await s.post('/hooks/logs?service=a%20b', 'x', headers)).status).toBe(400);
    expect(s.rowCounts()).toMatchObject({ signals: 0, templates: 0 });
  });
});
