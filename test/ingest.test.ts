import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listen } from '../adapters/http/server.js';
import { openDatabase } from '../src/db/connection.js';
import { SignatureMiner } from '../src/signals/signatures.js';
import { TemplateStore } from '../src/signals/template-store.js';
import { ensureToken, TokenError } from '../src/tokens.js';
import {
  alertmanagerPayload,
  type IngestSetup,
  ingestSetup,
  SECRET,
  signGithub,
  T0,
  TOKEN,
} from './helpers/ingest.js';

interface Accepted {
  accepted: number;
  duplicates: number;
  incidents: string[];
  ignored?: string | null;
  [key: string]: unknown;
}
interface Rejected {
  error: string;
  reason: string;
  problems?: { path: string; message: string }[];
}

type Example = { name: string; examples: Record<string, unknown>[] };
const require = createRequire(import.meta.url);
const GITHUB_EXAMPLES = require('@octokit/webhooks-examples') as Example[];

function example(event: string, pick: (e: Record<string, unknown>) => boolean): Record<string, unknown> {
  const found = GITHUB_EXAMPLES.find((w) => w.name === event)?.examples.find(pick);
  if (!found) throw new Error(`no ${event} example matches`);
  return structuredClone(found);
}

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
    const variants = [
      {},
      { authorization: TOKEN },
      { authorization: `Basic ${TOKEN}` },
      { authorization: 'Bearer wrong-token-of-some-length' },
      { authorization: `Bearer ${TOKEN}x` },
    ];
    const replies: string[] = [];
    for (const headers of variants) {
      const res = await s.post('/hooks/alertmanager', body, { 'content-type': 'application/json', ...headers });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="autonomy"');
      replies.push(await res.text());
    }
    // No detail about which part was wrong: every rejection reads the same.
    expect(new Set(replies).size).toBe(1);
    expect(JSON.parse(replies[0] as string)).toMatchObject({ reason: 'unauthorized' });
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

  it('answers other methods with 405', async () => {
    const res = await s.app.request('/hooks/alertmanager', { method: 'GET' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
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
    expect(((await latin1.json()) as Rejected).reason).toBe('bad_encoding');
    expect(s.rowCounts()).toMatchObject({ signals: 0, incidents: 0, audit: 0 });
  });

  it('400 for a body that is JSON but not an Alertmanager notification, with the JSON path', async () => {
    const payload = alertmanagerPayload([{}, {}]);
    ((payload.alerts as Record<string, unknown>[])[1] as Record<string, unknown>).startsAt = 'yesterday';
    const res = await s.postJson('/hooks/alertmanager', payload);
    expect(res.status).toBe(400);
    const body = (await res.json()) as Rejected;
    expect(body.reason).toBe('bad_schema');
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
      expect(((await streamed.json()) as Rejected).error).toBe('body larger than 1 KiB: send fewer items per request');
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
      expect(rows[1]).toMatchObject({ service: 'db', severity: 'warning', fingerprint: 'alertmanager:bbb222' });
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
          alertmanagerPayload([{ fingerprint: 'aaa111', startsAt: new Date(T0 - 3600_000 + i * 1000).toISOString() }]),
        ),
      ),
    );
    expect(replies.map((r) => r.status)).toEqual(Array(40).fill(202));
    expect(s.rowCounts().signals).toBe(40);
    expect(s.incidents.list()).toHaveLength(1);
    expect(s.incidents.get('i1')?.signalCount).toBe(40);
  });
});

describe('POST /hooks/github (real payloads from @octokit/webhooks-examples)', () => {
  it('turns a failed check_run into a failed_job signal and a green one into its resolution', async () => {
    const failed = example('check_run', (e) => e.action === 'completed' && (e.check_run as { conclusion: string }).conclusion === 'failure');
    const res = await s.github('check_run', 'd-1', failed);
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ accepted: 1, duplicates: 0, incidents: ['i1'], ignored: null });
    expect(s.incidents.get('i1')).toMatchObject({
      fingerprint: 'github:check:Codertocat/Hello-World:Octocoders-linter:changes',
      title: 'Codertocat/Hello-World: Octocoders-linter failed on changes',
      severity: 'warning',
      service: 'Codertocat/Hello-World',
    });
    // Redelivery (same X-GitHub-Delivery) is stored once.
    expect(await (await s.github('check_run', 'd-1', failed)).json()).toMatchObject({ accepted: 0, duplicates: 1 });
    const green = structuredClone(failed);
    (green.check_run as { conclusion: string }).conclusion = 'success';
    s.clock += 60_000;
    await s.github('check_run', 'd-2', green);
    expect(s.incidents.get('i1')).toMatchObject({ status: 'resolved', resolvedBy: 'source:github' });
  });

  it('turns a failed workflow_run into a failed_job, and ignores a cancelled one with the reason', async () => {
    const run = example('workflow_run', (e) => (e.workflow_run as { conclusion: string }).conclusion === 'success');
    // The examples hold only green runs: the same real payload, red.
    (run.workflow_run as { conclusion: string }).conclusion = 'failure';
    const res = await s.github('workflow_run', 'd-10', run);
    expect(await res.json()).toMatchObject({ accepted: 1, incidents: ['i1'] });
    expect(s.incidents.get('i1')?.fingerprint).toBe('github:workflow:octo-org/octo-repo:2823525:master');
    (run.workflow_run as { conclusion: string }).conclusion = 'cancelled';
    const cancelled = (await (await s.github('workflow_run', 'd-11', run)).json()) as Accepted;
    expect(cancelled).toMatchObject({ accepted: 0, incidents: [] });
    expect(cancelled.ignored).toBe('workflow cancelled is not a failure');
  });

  it('turns advisories and Dependabot alerts into advisory signals; fixed resolves', async () => {
    const created = example('dependabot_alert', (e) => e.action === 'created');
    expect(await (await s.github('dependabot_alert', 'd-20', created)).json()).toMatchObject({ incidents: ['i1'] });
    expect(s.incidents.get('i1')).toMatchObject({
      fingerprint: 'github:dependabot:wolfy1339/pika-pack:20',
      severity: 'warning',
      title: 'GHSA-c2qf-rxjj-qqgw in wolfy1339/pika-pack: semver: semver vulnerable to Regular Expression Denial of Service',
    });
    const published = example('security_advisory', (e) => e.action === 'published');
    expect(await (await s.github('security_advisory', 'd-21', published)).json()).toMatchObject({
      incidents: ['i2'],
    });
    expect(s.incidents.get('i2')?.fingerprint).toBe('github:advisory:GHSA-rf4j-j272-fj86');
    const withdrawn = example('security_advisory', (e) => e.action === 'withdrawn');
    const w = (await (await s.github('security_advisory', 'd-22', withdrawn)).json()) as Accepted;
    expect(w).toMatchObject({ accepted: 1, incidents: [] });
    // repository_advisory has no example in the package: GitHub's documented shape.
    const repoAdvisory = {
      action: 'published',
      repository: { full_name: 'octo-org/octo-repo' },
      repository_advisory: {
        ghsa_id: 'GHSA-abcd-1234-efgh',
        summary: 'Path traversal in the static file server',
        severity: 'critical',
        cvss: { vector_string: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', score: 9.8 },
        html_url: 'https://github.com/octo-org/octo-repo/security/advisories/GHSA-abcd-1234-efgh',
        vulnerabilities: [{ package: { ecosystem: 'npm', name: 'octo-static' }, vulnerable_version_range: '< 1.2.3', patched_versions: '1.2.3' }],
      },
    };
    expect(await (await s.github('repository_advisory', 'd-23', repoAdvisory)).json()).toMatchObject({
      incidents: ['i3'],
    });
    expect(s.incidents.get('i3')?.severity).toBe('critical');
    const fixed = example('dependabot_alert', (e) => e.action === 'fixed');
    (fixed.alert as { number: number }).number = 20;
    fixed.repository = created.repository;
    s.clock += 1000;
    await s.github('dependabot_alert', 'd-24', fixed);
    expect(s.incidents.get('i1')).toMatchObject({ status: 'resolved', resolvedBy: 'source:github' });
  });

  it('accepts every example payload GitHub sends (2xx, never 5xx), ignoring what makes no signal', async () => {
    let n = 0;
    for (const hook of GITHUB_EXAMPLES) {
      for (const payload of hook.examples) {
        const res = await s.github(hook.name, `ex-${n++}`, payload);
        expect(res.status, `${hook.name} ${String(payload.action)}`).toBeLessThan(300);
        const body = (await res.json()) as Accepted;
        if (hook.name === 'push') expect(body.ignored).toMatch(/^push: not an event this bot turns into signals/);
      }
    }
    expect(n).toBeGreaterThan(300);
    expect(s.counters.rejectedTotal).toBe(0);
  });

  it('answers ping, and takes GitHub\'s default form encoding', async () => {
    const ping = await s.github('ping', 'p-1', example('ping', () => true));
    expect(ping.status).toBe(200);
    expect(await ping.json()).toMatchObject({ ok: true });
    const failed = example('check_run', (e) => e.action === 'completed' && (e.check_run as { conclusion: string }).conclusion === 'failure');
    const form = `payload=${encodeURIComponent(JSON.stringify(failed))}`;
    const res = await s.post('/hooks/github', form, {
      'content-type': 'application/x-www-form-urlencoded',
      'x-github-event': 'check_run',
      'x-github-delivery': 'f-1',
      'x-hub-signature-256': signGithub(SECRET, form),
    });
    expect(await res.json()).toMatchObject({ accepted: 1, incidents: ['i1'] });
  });

  it('rejects forged, missing and wrongly keyed signatures with 401, counted, writing nothing', async () => {
    const failed = example('check_run', (e) => e.action === 'completed' && (e.check_run as { conclusion: string }).conclusion === 'failure');
    const body = JSON.stringify(failed);
    const headers = { 'content-type': 'application/json', 'x-github-event': 'check_run', 'x-github-delivery': 'x-1' };
    const forged = JSON.stringify({ ...failed, action: 'completed', sender: { login: 'mallory' } });
    const cases = [
      {},
      { 'x-hub-signature-256': signGithub('another-secret', body) },
      { 'x-hub-signature-256': signGithub(SECRET, forged) },
      { 'x-hub-signature-256': 'sha256=zz' },
      { 'x-hub-signature': `sha1=${'0'.repeat(40)}` },
    ];
    for (const extra of cases) {
      const res = await s.post('/hooks/github', body, { ...headers, ...extra });
      expect(res.status).toBe(401);
      expect(((await res.json()) as Rejected).error).toMatch(/GITHUB_WEBHOOK_SECRET/);
    }
    expect(s.counters.rejections.get('github bad_signature')).toBe(cases.length);
    expect(s.rowCounts()).toMatchObject({ signals: 0, incidents: 0 });
  });

  it('is off (503, never unsigned) without GITHUB_WEBHOOK_SECRET', async () => {
    const off = ingestSetup({ githubSecret: null });
    try {
      const res = await off.github('check_run', 'o-1', { action: 'completed' });
      expect(res.status).toBe(503);
      expect(((await res.json()) as Rejected).error).toMatch(/set GITHUB_WEBHOOK_SECRET/);
      expect(off.counters.rejections.get('github not_configured')).toBe(1);
    } finally {
      off.cleanup();
    }
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
    const fixed = { ...backup, id: 'backup-2025-01-01-retry', title: 'backup ok', severity: 'info', resolves: true };
    s.clock += 60_000;
    await s.postJson('/hooks/events', [fixed]);
    expect(s.incidents.get('i1')).toMatchObject({ status: 'resolved', resolvedBy: 'source:events' });
  });

  it('says which field of which event is wrong', async () => {
    const res = await s.postJson('/hooks/events', [backup, { ...backup, id: 'x', severity: 'urgent', occured_at: 1 }]);
    expect(res.status).toBe(400);
    const body = (await res.json()) as Rejected;
    expect(body.problems?.map((p) => p.path)).toEqual(['$[1].severity', '$[1]']);
    expect(body.problems?.[1]?.message).toMatch(/occured_at/);
    expect(s.rowCounts().signals).toBe(0);
  });
});

describe('POST /hooks/logs', () => {
  const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'text/plain' };
  const errorLine = (i: number) =>
    `2025-01-01T12:00:0${i % 10}Z ERROR [db] connection to 10.0.0.${i}:5432 refused after ${i * 10} ms`;

  it('mines lines and makes ONE error_signature signal when an error repeats past the threshold', async () => {
    // The fixture policy keeps the defaults: 5 within 10m, cooldown 30m.
    const lines = [...Array.from({ length: 12 }, (_, i) => errorLine(i)), 'INFO [web] GET /health 200 in 3 ms'];
    const res = await s.post('/hooks/logs?service=db', lines.join('\n'), headers);
    expect(res.status).toBe(202);
    const body = (await res.json()) as Accepted;
    expect(body).toMatchObject({ accepted: 13, duplicates: 0, incidents: ['i1'], signatures: 2, repeats: 1, errorLines: 12 });
    const rows = s.database.sqlite.prepare('SELECT * FROM signals').all() as Record<string, unknown>[];
    expect(rows).toHaveLength(1);
    const payload = JSON.parse(rows[0]?.payload as string) as { count: number; template: string; signature: string };
    expect(rows[0]).toMatchObject({ kind: 'error_signature', source: 'logs', service: 'db', fingerprint: payload.signature });
    expect(payload.count).toBe(5);
    expect(payload.template).toMatch(/connection to <\*> refused after <\*>/);
    // Within the cooldown, more of the same makes no second signal.
    const more = await s.post('/hooks/logs?service=db', lines.join('\n'), headers);
    expect(await more.json()).toMatchObject({ repeats: 0, incidents: [] });
    expect(s.rowCounts().signals).toBe(1);
  });

  it('reads NDJSON with message, service, timestamp and level; ?level= sets a default', async () => {
    const lines = Array.from({ length: 6 }, (_, i) =>
      JSON.stringify({ msg: `payment ${1000 + i} declined: card expired`, service: 'payments', ts: (T0 / 1000) - 60 + i, level: 50 }),
    );
    const res = await s.post('/hooks/logs', lines.join('\n'), { ...headers, 'content-type': 'application/x-ndjson' });
    expect(await res.json()).toMatchObject({ accepted: 6, errorLines: 6, repeats: 1, incidents: ['i1'] });
    expect(s.incidents.get('i1')).toMatchObject({ service: 'payments', startedAt: T0 - 60_000 });
    const plain = await s.post('/hooks/logs?level=error', Array(5).fill('disk quota exceeded on /var').join('\n'), headers);
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
    const json = await s.post('/hooks/logs', '{"message":"x"}', { ...headers, 'content-type': 'application/json' });
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
    expect(() => ensureToken(s.dir, 'ingest-token', 'short')).toThrow(/AUTONOMY_INGEST_TOKEN is shorter than 16/);
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
});
