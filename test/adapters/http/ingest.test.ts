import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { mountHooks } from '../../../adapters/http/hooks/index.js';
import { createHttpApp, listen } from '../../../adapters/http/server.js';
import { openDatabase } from '../../../src/db/connection.js';
import { ensureToken, keptToken, TokenError } from '../../../src/process/tokens.js';
import {
  alertmanagerPayload,
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

describe('bearer auth', () => {
  it('rejects a missing, malformed or wrong token with the same 401, counted, writing nothing', async () => {
    const body = JSON.stringify(alertmanagerPayload([{}]));
    const variants: Record<string, string>[] = [
      {},
      { authorization: TOKEN },
      { authorization: `Basic ${TOKEN}` },
      { authorization: 'Bearer wrong-token-of-some-length' },
      { authorization: `Bearer ${TOKEN}x` },
    ];
    const replies: string[] = [];
    for (const headers of variants) {
      const res = await s.post('/hooks/alertmanager', body, {
        'content-type': 'application/json',
        ...headers,
      });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="autonomy"');
      replies.push(await res.text());
    }
    // No detail about which part was wrong: every rejection reads the same.
    expect(new Set(replies).size).toBe(1);
    expect(JSON.parse(replies[0] as string)).toMatchObject({
      code: 'HOOK_UNAUTHORIZED',
      reason: 'unauthorized',
    });
    expect(s.counters.rejections.get('alertmanager unauthorized')).toBe(variants.length);
    expect(s.rowCounts()).toMatchObject({ signals: 0, incidents: 0 });
  });

  it('guards logs and events too, and accepts the token with any case of "Bearer"', async () => {
    expect((await s.post('/hooks/logs', 'x', { 'content-type': 'text/plain' })).status).toBe(401);
    expect((await s.post('/hooks/events', '{}', { 'content-type': 'application/json' })).status).toBe(401);
    const res = await s.post('/hooks/alertmanager', JSON.stringify(alertmanagerPayload([{}])), {
      authorization: `bearer ${TOKEN}`,
    });
    expect(res.status).toBe(202);
  });

  it("answers the same through Hono's fetch path (app.request) as over HTTP", async () => {
    const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
    const viaFetch = (body: string, h: Record<string, string>) =>
      s.app.request('/hooks/alertmanager', { method: 'POST', body, headers: h });
    const one = JSON.stringify(alertmanagerPayload([{ fingerprint: 'f1', service: 'api' }]));
    const two = JSON.stringify(alertmanagerPayload([{ fingerprint: 'f2', service: 'payments' }]));
    const [overHttp, overFetch] = [
      await s.post('/hooks/alertmanager', one, headers),
      await viaFetch(two, headers),
    ];
    expect([overHttp.status, overFetch.status]).toEqual([202, 202]);
    expect(await overFetch.json()).toEqual({ accepted: 1, duplicates: 0, incidents: ['i2'] });
    expect(overFetch.headers.get('cache-control')).toBe('no-store');
    expect(overHttp.headers.get('cache-control')).toBe('no-store');
    const refused = await viaFetch(one, { ...headers, authorization: 'Bearer wrong' });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toBe('Bearer realm="autonomy"');
    expect(s.rowCounts()).toMatchObject({ signals: 2, incidents: 2 });
  });

  it('refuses, at mount, an ingest token a Bearer header cannot carry (RFC 6750), naming the fix', () => {
    const app = createHttpApp({ health: () => ({ status: 'ok', checks: {} }), onError: () => {} });
    const deps = { ...s.hookDeps, ingestToken: 'has a space and !quotes"' };
    expect(() => mountHooks(app, deps)).toThrow(/cannot carry: use letters, digits and - \. _ ~ \+ \//);
  });

  it('answers other methods with 405', async () => {
    const res = await s.app.request('/hooks/alertmanager', { method: 'GET' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
  });
});

describe('one path: every hook is a route on the one Hono app', () => {
  const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };

  it('routes a POST to its exact path whatever the query; anything else gets 405 or 404 as from Hono', async () => {
    const body = JSON.stringify(alertmanagerPayload([{}]));
    const withQuery = await s.request('/hooks/alertmanager?source=prod', { method: 'POST', body, headers });
    expect(withQuery.status).toBe(202);
    const get = await s.request('/hooks/alertmanager');
    expect([get.status, get.headers.get('allow')]).toEqual([405, 'POST']);
    expect(await get.json()).toEqual({
      error: 'method not allowed: /hooks/alertmanager takes POST',
      code: 'HTTP_METHOD_NOT_ALLOWED',
    });
    const slash = await s.request('/hooks/alertmanager/', { method: 'POST', body, headers });
    expect(slash.status).toBe(404);
    const unknown = await s.request('/hooks/prometheus', { method: 'POST', body, headers });
    expect([unknown.status, await unknown.json()]).toEqual([
      404,
      { error: 'not found', code: 'HTTP_NOT_FOUND', path: '/hooks/prometheus' },
    ]);
    expect((await s.request('/healthz')).status).toBe(200);
    expect(s.rowCounts()).toMatchObject({ signals: 1 });
  });

  it('answers an unexpected error with 500 "internal error" and reports it, over HTTP as through Hono', async () => {
    vi.spyOn(s.store, 'ingestBatched').mockRejectedValue(new Error('disk I/O error at /var/lib/secret-path'));
    const body = JSON.stringify(alertmanagerPayload([{}]));
    const overHttp = await s.request('/hooks/alertmanager', { method: 'POST', body, headers });
    const overFetch = await s.app.request('/hooks/alertmanager', { method: 'POST', body, headers });
    for (const res of [overHttp, overFetch]) {
      expect(res.status).toBe(500);
      // Nothing of the error reaches the sender; the bot's log has it.
      expect(await res.text()).toBe('{"error":"internal error","code":"HTTP_INTERNAL"}');
    }
    expect(s.errors.map((e) => e.message)).toEqual([
      'disk I/O error at /var/lib/secret-path',
      'disk I/O error at /var/lib/secret-path',
    ]);
    s.errors.length = 0;
    // The server goes on serving.
    vi.restoreAllMocks();
    const after = await s.request('/hooks/alertmanager', { method: 'POST', body, headers });
    expect(after.status).toBe(202);
  });
});

describe('bad input is refused with a reason and writes nothing', () => {
  it('400 for bad JSON, for JSON nested too deep, and for non-UTF-8 bytes', async () => {
    const bad = await s.postJson('/hooks/alertmanager', undefined);
    expect(bad.status).toBe(400);
    const broken = await s.post('/hooks/alertmanager', '{"alerts": [', {
      authorization: `Bearer ${TOKEN}`,
      'content-type': 'application/json',
    });
    expect(broken.status).toBe(400);
    expect(((await broken.json()) as Rejected).error).toMatch(/not JSON/);
    const deep = await s.post('/hooks/events', `${'['.repeat(5000)}${']'.repeat(5000)}`, {
      authorization: `Bearer ${TOKEN}`,
    });
    expect(deep.status).toBe(400);
    expect(((await deep.json()) as Rejected).error).toMatch(/nested deeper/);
    const latin1 = await s.post('/hooks/events', new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), {
      authorization: `Bearer ${TOKEN}`,
    });
    expect(latin1.status).toBe(400);
    expect(await latin1.json()).toMatchObject({ code: 'HOOK_BAD_ENCODING', reason: 'bad_encoding' });
    expect(s.rowCounts()).toMatchObject({ signals: 0, incidents: 0, audit: 0 });
  });

  it('400 for a body that is JSON but not an Alertmanager notification, with the JSON path', async () => {
    const payload = alertmanagerPayload([{}, {}]);
    ((payload.alerts as Record<string, unknown>[])[1] as Record<string, unknown>).startsAt = 'yesterday';
    const res = await s.postJson('/hooks/alertmanager', payload);
    expect(res.status).toBe(400);
    const body = (await res.json()) as Rejected;
    expect(body.reason).toBe('bad_schema');
    expect(body).toMatchObject({ code: 'HOOK_BAD_SCHEMA' });
    expect(body.problems?.[0]).toEqual({
      path: '$.alerts[1].startsAt',
      message: 'expected an RFC 3339 time like 2025-01-01T00:00:00Z',
    });
    // The first alert was fine, but the request is all or nothing.
    expect(s.rowCounts()).toMatchObject({ signals: 0, incidents: 0 });
    const v3 = await s.postJson('/hooks/alertmanager', { ...alertmanagerPayload([{}]), version: '3' });
    expect(((await v3.json()) as Rejected).problems?.[0]?.path).toBe('$.version');
  });

  it('413 for a body over the limit, whether declared or streamed, and 415 for a wrong content type', async () => {
    const small = ingestSetup({ limits: { alertmanager: 1024, events: 1024 } });
    try {
      const big = JSON.stringify(alertmanagerPayload(Array.from({ length: 20 }, () => ({}))));
      const declared = await small.post('/hooks/alertmanager', big, {
        authorization: `Bearer ${TOKEN}`,
        'content-length': String(Buffer.byteLength(big)),
      });
      expect(declared.status).toBe(413);
      expect(declared.headers.get('connection')).toBe('close');
      // No Content-Length (chunked): cut off while reading.
      const streamed = await small.post('/hooks/alertmanager', big, { authorization: `Bearer ${TOKEN}` });
      expect(streamed.status).toBe(413);
      expect(((await streamed.json()) as Rejected).error).toBe(
        'body larger than 1 KiB: send fewer items per request',
      );
      const form = await small.post('/hooks/events', 'a=b', {
        authorization: `Bearer ${TOKEN}`,
        'content-type': 'application/x-www-form-urlencoded',
      });
      expect(form.status).toBe(415);
      expect(((await form.json()) as Rejected).error).toMatch(/send the body as application\/json/);
      expect(small.counters.rejections.get('alertmanager too_large')).toBe(2);
      expect(small.counters.rejections.get('events unsupported_media_type')).toBe(1);
      expect(small.rowCounts()).toMatchObject({ signals: 0, incidents: 0 });
    } finally {
      small.cleanup();
    }
  });
});

describe('POST /hooks/alertmanager', () => {
  it('stores one signal per alert and opens an incident per fingerprint, committed before the 202', async () => {
    const res = await s.postJson(
      '/hooks/alertmanager',
      alertmanagerPayload([
        { fingerprint: 'aaa111' },
        { fingerprint: 'bbb222', name: 'DiskFull', severity: 'warning', service: 'db' },
      ]),
    );
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ accepted: 2, duplicates: 0, incidents: ['i1', 'i2'] });
    // Another connection sees it: it was committed before the answer.
    const other = openDatabase(s.database.file, { readonly: true });
    try {
      const rows = other.sqlite.prepare('SELECT * FROM signals ORDER BY received_at, id').all() as Record<
        string,
        unknown
      >[];
      expect(rows).toHaveLength(2);
      expect(rows[0]).toMatchObject({
        kind: 'alert',
        source: 'alertmanager',
        fingerprint: 'alertmanager:aaa111',
        title: 'HighLatency: p99 latency above 2s for 5 minutes',
        service: 'api',
        severity: 'critical',
        occurred_at: Date.parse('2025-01-01T11:55:00.123Z'),
        received_at: T0,
      });
      expect(rows[1]).toMatchObject({
        service: 'db',
        severity: 'warning',
        fingerprint: 'alertmanager:bbb222',
      });
    } finally {
      other.close();
    }
    const i1 = s.incidents.get('i1');
    expect(i1).toMatchObject({
      status: 'open',
      startedAt: Date.parse('2025-01-01T11:55:00.123Z'),
      detectedAt: T0,
      signalCount: 1,
    });
    expect(s.counters.accepts.get('alertmanager stored')).toBe(2);
  });

  it('stores a re-sent notification once (repeat_interval), and a new episode updates the incident', async () => {
    const payload = alertmanagerPayload([{ fingerprint: 'aaa111' }]);
    await s.postJson('/hooks/alertmanager', payload);
    s.clock += 4 * 3600_000;
    const again = await s.postJson('/hooks/alertmanager', payload);
    expect(await again.json()).toEqual({ accepted: 0, duplicates: 1, incidents: [] });
    expect(s.rowCounts().signals).toBe(1);
    const next = await s.postJson(
      '/hooks/alertmanager',
      alertmanagerPayload([{ fingerprint: 'aaa111', startsAt: '2025-01-01T15:00:00Z' }]),
    );
    expect(await next.json()).toEqual({ accepted: 1, duplicates: 0, incidents: ['i1'] });
    expect(s.incidents.get('i1')?.signalCount).toBe(2);
  });

  it('resolves the incident when Alertmanager says resolved, at endsAt, by the source', async () => {
    await s.postJson('/hooks/alertmanager', alertmanagerPayload([{ fingerprint: 'aaa111' }]));
    s.clock += 60_000;
    const res = await s.postJson(
      '/hooks/alertmanager',
      alertmanagerPayload([{ fingerprint: 'aaa111', status: 'resolved', endsAt: '2025-01-01T12:00:30Z' }]),
    );
    expect(await res.json()).toEqual({ accepted: 1, duplicates: 0, incidents: ['i1'] });
    expect(s.incidents.get('i1')).toMatchObject({
      status: 'resolved',
      resolvedBy: 'source:alertmanager',
      resolvedAt: Date.parse('2025-01-01T12:00:30Z'),
      signalCount: 2,
    });
    expect(s.audit.records({ kind: 'incident.resolved' })).toHaveLength(1);
  });

  it('fingerprints an alert without one by its labels, whatever their order', async () => {
    const a = alertmanagerPayload([{}]);
    const b = alertmanagerPayload([{ startsAt: '2025-01-01T11:58:00Z' }]);
    const alert = (b.alerts as { labels: Record<string, string> }[])[0] as { labels: Record<string, string> };
    alert.labels = Object.fromEntries(Object.entries(alert.labels).reverse());
    expect(await (await s.postJson('/hooks/alertmanager', a)).json()).toMatchObject({ incidents: ['i1'] });
    expect(await (await s.postJson('/hooks/alertmanager', b)).json()).toMatchObject({ incidents: ['i1'] });
    expect(s.incidents.get('i1')?.signalCount).toBe(2);
  });

  it('batches concurrent requests into one commit and answers each after it', async () => {
    const replies = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        s.postJson(
          '/hooks/alertmanager',
          alertmanagerPayload([
            { fingerprint: 'aaa111', startsAt: new Date(T0 - 3600_000 + i * 1000).toISOString() },
          ]),
        ),
      ),
    );
    expect(replies.map((r) => r.status)).toEqual(Array(40).fill(202));
    expect(s.rowCounts().signals).toBe(40);
    expect(s.incidents.list()).toHaveLength(1);
    expect(s.incidents.get('i1')?.signalCount).toBe(40);
  });
});

describe('POST /hooks/events', () => {
  const backup = {
    id: 'backup-2025-01-01',
    kind: 'failed_job',
    source: 'cron:backup',
    title: 'nightly backup failed (exit 2)',
    service: 'db',
    severity: 'critical',
    fingerprint: 'backup-nightly',
    occurredAt: '2025-01-01T03:00:05Z',
    details: { exitCode: 2, log: 'https://ci.example.test/backup/123' },
  };

  it('stores the documented example, once per source+id, and resolves it with resolves: true', async () => {
    const res = await s.postJson('/hooks/events', backup);
    expect(await res.json()).toEqual({ accepted: 1, duplicates: 0, incidents: ['i1'] });
    expect(s.incidents.get('i1')).toMatchObject({
      fingerprint: 'events:backup-nightly',
      severity: 'critical',
      startedAt: Date.parse('2025-01-01T03:00:05Z'),
    });
    expect(await (await s.postJson('/hooks/events', backup)).json()).toMatchObject({ duplicates: 1 });
    const fixed = {
      ...backup,
      id: 'backup-2025-01-01-retry',
      title: 'backup ok',
      severity: 'info',
      resolves: true,
    };
    s.clock += 60_000;
    await s.postJson('/hooks/events', [fixed]);
    expect(s.incidents.get('i1')).toMatchObject({ status: 'resolved', resolvedBy: 'source:events' });
  });

  it('says which field of which event is wrong', async () => {
    const res = await s.postJson('/hooks/events', [
      backup,
      { ...backup, id: 'x', severity: 'urgent', occured_at: 1 },
    ]);
    expect(res.status).toBe(400);
    const body = (await res.json()) as Rejected;
    expect(body.problems?.map((p) => p.path)).toEqual(['$[1].severity', '$[1]']);
    expect(body.problems?.[1]?.message).toMatch(/occured_at/);
    expect(s.rowCounts().signals).toBe(0);
  });
});

describe('on a real socket', () => {
  it('serves the hooks over HTTP with Content-Length, and refuses a declared oversize body unread', async () => {
    const server = await listen(s.app, '127.0.0.1', 0);
    try {
      const body = JSON.stringify(alertmanagerPayload([{ fingerprint: 'sock1' }]));
      const res = await fetch(`${server.url}/hooks/alertmanager`, {
        method: 'POST',
        body,
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      });
      expect(res.status).toBe(202);
      expect(await res.json()).toEqual({ accepted: 1, duplicates: 0, incidents: ['i1'] });
      const huge = await fetch(`${server.url}/hooks/events`, {
        method: 'POST',
        body: 'x'.repeat(2 * 1024 * 1024),
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      });
      expect(huge.status).toBe(413);
    } finally {
      await server.close();
    }
  });
});

describe('a sender that goes away mid-body', () => {
  it('stores nothing, reports no server error, and the server goes on serving', async () => {
    const server = await listen(s.app, '127.0.0.1', 0);
    try {
      const { port } = new URL(server.url);
      const body = JSON.stringify(alertmanagerPayload([{ fingerprint: 'cut' }]));
      // Declares the whole body, sends half, and closes the connection.
      await new Promise<void>((resolve) => {
        const socket = connect(Number(port), '127.0.0.1', () => {
          socket.write(
            `POST /hooks/alertmanager HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${TOKEN}\r\n` +
              `content-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body.slice(0, 40)}`,
          );
          setTimeout(() => socket.destroy(), 50);
        });
        socket.on('close', () => resolve());
      });
      await new Promise((r) => setTimeout(r, 50));
      expect(s.rowCounts()).toMatchObject({ signals: 0 });
      expect(s.errors).toEqual([]);
      const after = await s.postJson('/hooks/alertmanager', alertmanagerPayload([{ fingerprint: 'whole' }]));
      expect(after.status).toBe(202);
    } finally {
      await server.close();
    }
  });
});

describe('ensureToken', () => {
  it('generates a 32-byte base64url token once, mode 600, and reads it back at the next start', () => {
    const first = ensureToken(s.dir, 'ingest-token', undefined);
    expect(first.source).toBe('generated');
    expect(first.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(first.path).toBe(join(s.dir, 'ingest-token'));
    expect(statSync(first.path as string).mode & 0o777).toBe(0o600);
    const second = ensureToken(s.dir, 'ingest-token', '');
    expect(second).toEqual({ token: first.token, source: 'file', path: first.path });
    expect(readFileSync(first.path as string, 'utf8').trim()).toBe(first.token);
  });

  it('prefers the environment, and refuses short or damaged tokens without showing them', () => {
    expect(ensureToken(s.dir, 'ingest-token', 'an-env-token-long-enough')).toEqual({
      token: 'an-env-token-long-enough',
      source: 'env',
      path: null,
    });
    expect(() => ensureToken(s.dir, 'ingest-token', 'short')).toThrow(
      /AUTONOMY_INGEST_TOKEN is shorter than 16/,
    );
    writeFileSync(join(s.dir, 'console-token'), 'tiny\n', { mode: 0o644 });
    let err: unknown;
    try {
      ensureToken(s.dir, 'console-token', undefined);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TokenError);
    expect((err as Error).message).toMatch(/console-token is shorter than 16 .*delete it/);
    expect((err as Error).message).not.toContain('tiny');
  });

  it('keptToken: what the bot would use, or null; never makes a token or throws', () => {
    expect(keptToken(s.dir, 'ingest-token', undefined)).toBeNull();
    expect(existsSync(join(s.dir, 'ingest-token'))).toBe(false);
    const made = ensureToken(s.dir, 'ingest-token', undefined).token;
    expect(keptToken(s.dir, 'ingest-token', undefined)).toBe(made);
    expect(keptToken(s.dir, 'ingest-token', 'from-the-environment-1234')).toBe('from-the-environment-1234');
    writeFileSync(join(s.dir, 'console-token'), 'tiny\n');
    expect(keptToken(s.dir, 'console-token', undefined)).toBeNull();
  });
});
