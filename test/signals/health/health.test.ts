/**
 * Health probes against a local node:http server that is slowed down and broken on purpose, with
 * the real fetch and the real SignalStore on a temp SQLite file: degradation opens an incident,
 * slow turning into down escalates it, recovery resolves it; the baseline shrugs off one outlier.
 * Also the policy's health section: defaults and the semantic checks.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { type Database, migrate, openDatabase } from '../../../src/db/connection.js';
import { incidents, signals } from '../../../src/db/schema.js';
import { formatIssue } from '../../../src/policy/errors.js';
import { parsePolicy } from '../../../src/policy/load.js';
import { sequentialIds } from '../../../src/process/ids.js';
import {
  HealthMonitor,
  type HealthSettings,
  healthSettings,
  LatencyBaseline,
  type ProbeSpec,
} from '../../../src/signals/health/probes.js';
import { SignalStore } from '../../../src/signals/incidents/store.js';
import { DEFAULT_POLICY } from '../../helpers/bot.js';

/**
 * What the stand-in service does on the next requests: its answers take `latencyMs` on `clock` (it
 * moves the clock as it answers), after a real wait of `delayMs` (for timeouts and aborts, which
 * run on real timers).
 */
const behaviour = { latencyMs: 0, delayMs: 0, status: 200 };
/**
 * The clock of the monitors that judge latency: only the stand-in service moves it, so a slow
 * answer is slow and a quick one quick, however busy the machine. (On the wall clock, a worker
 * stalled for 100 ms made one of the six quick answers "slow".)
 */
const clock = { t: Date.UTC(2026, 0, 5, 9), now: () => clock.t };
let server: Server;
let url = '';
let requests: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    setTimeout(() => {
      clock.t += behaviour.latencyMs;
      res.writeHead(behaviour.status, { 'content-type': 'text/plain' });
      res.end(req.method === 'HEAD' ? undefined : 'ok');
    }, behaviour.delayMs);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/healthz?token=s3cret`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('the latency baseline', () => {
  it('is robust to one outlier (median and MAD), unlike a mean', () => {
    const b = new LatencyBaseline();
    const steady = [
      98, 101, 103, 99, 100, 102, 97, 100, 104, 96, 100, 101, 99, 100, 98, 102, 100, 99, 101, 100,
    ];
    for (const ms of steady) b.add(ms);
    const before = { median: b.median(), threshold: b.threshold() };
    b.add(5000);
    expect(b.median()).toBe(before.median);
    expect(b.threshold()).toBeCloseTo(before.threshold as number, 0);
    // A mean over the same samples would have moved by ~230 ms.
    const mean = (xs: number[]) => xs.reduce((a, x) => a + x, 0) / xs.length;
    expect(mean([...steady, 5000]) - mean(steady)).toBeGreaterThan(200);
    // Far above means median + k x spread (spread floored: a steady service has MAD ~0).
    expect(before.threshold).toBeGreaterThan(150);
    expect(before.threshold).toBeLessThan(300);
  });

  it('judges nothing before enough samples, and forgets old ones (bounded ring)', () => {
    const b = new LatencyBaseline({ size: 4, minSamples: 3, k: 5, floorMs: 1, floorRatio: 0 });
    b.add(10);
    b.add(10);
    expect(b.threshold()).toBeNull();
    for (const ms of [10, 500, 500, 500, 500]) b.add(ms);
    expect(b.count).toBe(4);
    expect(b.median()).toBe(500);
  });
});

describe('health probes against a local server', () => {
  let dir = '';
  let database: Database;
  let store: SignalStore;

  const probe: ProbeSpec = {
    name: 'api-health',
    url: '',
    method: 'GET',
    expectStatus: 200,
    timeoutMs: 1000,
    latencyObjectiveMs: 100,
    service: 'api',
  };
  const settings = (): HealthSettings => ({
    probes: [{ ...probe, url }],
    failuresToAlert: 2,
    recoveriesToResolve: 2,
  });
  const incidentRows = () => database.db.select().from(incidents).all();

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'autonomy-health-'));
    database = openDatabase(join(dir, 'autonomy.db'));
    migrate(database);
    store = new SignalStore(database, { now: Date.now, newId: sequentialIds() });
    behaviour.latencyMs = 0;
    behaviour.delayMs = 0;
    behaviour.status = 200;
    requests = [];
  });
  afterEach(() => {
    database.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('slow, then down, then recovered: one incident, escalated, then resolved', async () => {
    const monitor = new HealthMonitor({ sink: store, now: clock.now });
    const run = async () => (await monitor.run(settings()))[0];
    for (let i = 0; i < 6; i++) expect((await run())?.outcome).toBe('ok');
    expect(requests[0]).toBe('GET /healthz?token=s3cret');

    // One slow answer: bad, but not yet a signal (2 in a row are needed).
    behaviour.latencyMs = 300;
    const first = await run();
    expect(first).toMatchObject({ outcome: 'slow', degraded: false, signal: null });
    const second = await run();
    expect(second).toMatchObject({ outcome: 'slow', degraded: true });
    expect(second?.signal).toMatchObject({
      kind: 'health',
      source: 'probe:api-health',
      fingerprint: 'health:api-health',
      service: 'api',
      severity: 'warning',
    });
    expect(second?.signal?.title).toMatch(
      /^api-health \(api\) is slow: \d+ ms, far above its baseline of \d+ ms/,
    );
    expect(incidentRows()).toMatchObject([{ status: 'open', severity: 'warning', service: 'api' }]);

    // Broken: slow turns into down, the same incident is raised to critical.
    behaviour.latencyMs = 0;
    behaviour.status = 503;
    const down = await run();
    expect(down).toMatchObject({ outcome: 'down', detail: 'HTTP 503 (expected 200)' });
    expect(down?.signal?.severity).toBe('critical');
    expect(await run()).toMatchObject({ outcome: 'down', signal: null }); // no repeat while down
    expect(incidentRows()).toMatchObject([{ status: 'open', severity: 'critical' }]);

    // Back: two good answers in a row resolve it.
    behaviour.status = 200;
    expect(await run()).toMatchObject({ outcome: 'ok', degraded: true, signal: null });
    const recovered = await run();
    expect(recovered).toMatchObject({ outcome: 'ok', degraded: false });
    expect(recovered?.signal).toMatchObject({ resolves: true, fingerprint: 'health:api-health' });
    expect(incidentRows()).toMatchObject([{ status: 'resolved' }]);
    const stored = database.db.select().from(signals).all();
    expect(stored.map((s) => (s.payload as { state: string }).state)).toEqual(['slow', 'down', 'recovered']);
    // The query string (here a token) never reaches a signal.
    expect(JSON.stringify(stored)).not.toContain('s3cret');
  });

  it('a single outlier raises nothing and does not move the baseline', async () => {
    const monitor = new HealthMonitor({ sink: store, now: clock.now });
    for (let i = 0; i < 6; i++) await monitor.run(settings());
    const before = (await monitor.run(settings()))[0]?.baselineMs as number;
    behaviour.latencyMs = 300;
    expect((await monitor.run(settings()))[0]?.outcome).toBe('slow');
    behaviour.latencyMs = 0;
    const after = (await monitor.run(settings()))[0];
    expect(after?.outcome).toBe('ok');
    expect(after?.baselineMs).toBeLessThan(before + 20);
    expect(database.db.select().from(signals).all()).toEqual([]);
  });

  it('timeouts and refused connections are failures with a reason', async () => {
    const monitor = new HealthMonitor({ sink: store, now: Date.now });
    behaviour.delayMs = 300;
    const slowSettings = { ...settings(), probes: [{ ...probe, url, timeoutMs: 100 }] };
    expect((await monitor.run(slowSettings))[0]).toMatchObject({
      outcome: 'down',
      detail: 'no answer within 100 ms',
    });
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const refused = { ...settings(), probes: [{ ...probe, name: 'gone', url: `http://127.0.0.1:${port}/` }] };
    expect((await monitor.run(refused))[0]).toMatchObject({
      outcome: 'down',
      detail: 'request failed (ECONNREFUSED)',
    });
  });

  it('HEAD probes, and a recovery after a restart resolves the incident opened before it', async () => {
    const before = new HealthMonitor({ sink: store, now: Date.now });
    behaviour.status = 500;
    await before.run(settings());
    await before.run(settings());
    expect(incidentRows()).toMatchObject([{ status: 'open' }]);

    behaviour.status = 200;
    const open = incidentRows()
      .filter((i) => i.status !== 'resolved' && i.fingerprint.startsWith('health:'))
      .map((i) => i.fingerprint.slice('health:'.length));
    const after = new HealthMonitor({ sink: store, now: Date.now, degradedAtStart: open });
    const head = { ...settings(), probes: [{ ...probe, url, method: 'HEAD' as const }] };
    await after.run(head);
    await after.run(head);
    expect(requests.at(-1)).toBe('HEAD /healthz?token=s3cret');
    expect(incidentRows()).toMatchObject([{ status: 'resolved' }]);
  });

  it('an aborted sweep stops the probe instead of counting a failure', async () => {
    const monitor = new HealthMonitor({ sink: store, now: Date.now });
    behaviour.delayMs = 300;
    const controller = new AbortController();
    const pending = monitor.run(settings(), controller.signal);
    setTimeout(() => controller.abort(new Error('the bot is stopping')), 20);
    await expect(pending).rejects.toThrow('the bot is stopping');
    expect(monitor.isDegraded('api-health')).toBe(false);
  });
});

describe('the health section of the policy', () => {
  const defaultText = readFileSync(DEFAULT_POLICY, 'utf8');
  const withProbes = (probes: unknown[]) => {
    const doc = parseDocument(defaultText);
    doc.setIn(['health', 'probes'], doc.createNode(probes));
    return String(doc);
  };

  it('has no probes by default; a probe gets its defaults', () => {
    const plain = parsePolicy(defaultText, 'p.yaml');
    if (!plain.ok) throw new Error(plain.issues.map(formatIssue).join('\n'));
    expect(healthSettings(plain.policy)).toEqual({ probes: [], failuresToAlert: 2, recoveriesToResolve: 2 });

    const one = parsePolicy(
      withProbes([
        { name: 'web-home', url: 'https://web.example.com/', latencyObjective: '800ms', service: 'web' },
      ]),
      'p.yaml',
    );
    if (!one.ok) throw new Error(one.issues.map(formatIssue).join('\n'));
    expect(healthSettings(one.policy).probes).toEqual([
      {
        name: 'web-home',
        url: 'https://web.example.com/',
        method: 'GET',
        expectStatus: 200,
        timeoutMs: 5000,
        latencyObjectiveMs: 800,
        service: 'web',
      },
    ]);
  });

  it('reports duplicate names, non-http URLs, out-of-scope services and an objective above the timeout', () => {
    const text = withProbes([
      { name: 'a', url: 'https://api.example.com/healthz', latencyObjective: '800ms', service: 'api' },
      { name: 'a', url: 'ftp://files.example.com/', latencyObjective: '800ms', service: 'api' },
      { name: 'b', url: 'https://pay.example.com/', latencyObjective: '800ms', service: 'payments-db' },
      { name: 'c', url: 'https://web.example.com/', latencyObjective: '10s', timeout: '5s', service: 'web' },
      { name: 'd', url: 'not a url', latencyObjective: '1s', service: 'web*' },
    ]);
    const result = parsePolicy(text, 'p.yaml');
    expect(result.ok).toBe(false);
    const lines = result.ok ? [] : result.issues.map((i) => `${i.path}  ${i.message}`);
    expect(lines).toEqual([
      'health.probes[1].name  a is already the name of another probe; probe names must be unique',
      'health.probes[1].url  ftp: URLs cannot be probed; use http:// or https://',
      'health.probes[2].service  payments-db is listed as out of scope; probe an in-scope system or add it to purpose.inScope',
      'health.probes[3].latencyObjective  10s is not below the timeout (5s); lower it or raise the timeout',
      'health.probes[4].url  not a url is not a URL; write e.g. https://api.example.com/healthz',
      'health.probes[4].service  a probe checks one system; write its name instead of the glob web*',
    ]);
  });
});
