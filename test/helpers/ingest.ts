/**
 * A hooks app over a real SQLite file in a temp dir: the real SignalStore, IncidentStore, miner,
 * repeat tracker and template store, mounted on the real HTTP app (so unexpected errors answer 500
 * exactly as in production). `post` goes over real HTTP to the app listening on a loopback port (as
 * the bot serves it, through @hono/node-server); `app.request()` is there for Hono's fetch path.
 */
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Hono } from 'hono';
import { pino } from 'pino';
import {
  type HookDeps,
  type HooksHandle,
  MemoryCounters,
  mountHooks,
} from '../../adapters/http/hooks/index.js';
import { createHttpApp, listen, type RunningServer } from '../../adapters/http/server.js';
import { AuditLog } from '../../src/audit/log.js';
import { type Database, migrate, openDatabase } from '../../src/db/connection.js';
import type { Policy } from '../../src/policy/types.js';
import { sequentialIds } from '../../src/process/ids.js';
import { IncidentStore } from '../../src/signals/incidents/incidents.js';
import { SignalStore } from '../../src/signals/incidents/store.js';
import { SignatureMiner } from '../../src/signals/signatures/miner.js';
import { RepeatTracker } from '../../src/signals/signatures/repeats.js';
import { TemplateStore } from '../../src/signals/signatures/template-store.js';
import { makePolicy } from '../fixtures/policy.js';

export interface Accepted {
  accepted: number;
  duplicates: number;
  incidents: string[];
  ignored?: string | null;
  [key: string]: unknown;
}

export interface Rejected {
  error: string;
  reason: string;
  problems?: { path: string; message: string }[];
}

export const TOKEN = 'test-ingest-token-0123456789abcdef';
export const SECRET = 'test-github-secret';
export const T0 = Date.UTC(2025, 0, 1, 12, 0, 0);

export interface IngestOptions {
  readonly githubSecret?: string | null;
  readonly policy?: Policy;
  readonly limits?: Parameters<typeof mountHooks>[1]['limits'];
  readonly reopenWindowMs?: number;
}

export interface IngestSetup {
  readonly dir: string;
  readonly database: Database;
  readonly audit: AuditLog;
  readonly store: SignalStore;
  readonly incidents: IncidentStore;
  readonly miner: SignatureMiner;
  readonly templates: TemplateStore;
  readonly counters: MemoryCounters;
  readonly app: Hono;
  readonly hooks: HooksHandle;
  /** What the hooks were mounted with. */
  readonly hookDeps: HookDeps;
  /** Errors the app answered with 500 (should stay empty). */
  readonly errors: Error[];
  /** The clock every part reads; tests move it. */
  clock: number;
  post(path: string, body: string | Uint8Array, headers?: Record<string, string>): Promise<Response>;
  /** Any request over HTTP (fetch) to the app listening on a loopback port. */
  request(path: string, init?: RequestInit): Promise<Response>;
  /** POST with the bearer token and JSON content type. */
  postJson(path: string, value: unknown, headers?: Record<string, string>): Promise<Response>;
  /** A signed GitHub delivery. */
  github(event: string, delivery: string, value: unknown, secret?: string): Promise<Response>;
  rowCounts(): Record<string, number>;
  cleanup(): void;
}

export function signGithub(secret: string, body: string | Uint8Array): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

export function ingestSetup(options: IngestOptions = {}): IngestSetup {
  const dir = mkdtempSync(join(tmpdir(), 'autonomy-ingest-'));
  const database = openDatabase(join(dir, 'autonomy.db'));
  migrate(database);
  const errors: Error[] = [];
  const policy = options.policy ?? makePolicy();
  const setup = {} as IngestSetup;
  const now = () => setup.clock;
  const ids = sequentialIds();
  const audit = new AuditLog(database, { now });
  const store = new SignalStore(database, {
    now,
    newId: ids,
    audit,
    ...(options.reopenWindowMs !== undefined ? { reopenWindowMs: options.reopenWindowMs } : {}),
  });
  const templates = new TemplateStore(database);
  const miner = SignatureMiner.restore(templates.load(), { now });
  const counters = new MemoryCounters();
  const app = createHttpApp({
    health: () => ({ status: 'ok', checks: {} }),
    onError: (err) => errors.push(err),
  });
  const hookDeps: HookDeps = {
    sink: store,
    ingestToken: TOKEN,
    githubSecret: options.githubSecret === undefined ? SECRET : options.githubSecret,
    policy: () => policy,
    miner,
    repeats: (s) => new RepeatTracker(s),
    templates,
    counters,
    now,
    log: pino({ level: 'silent' }),
    ...(options.limits ? { limits: options.limits } : {}),
  };
  const hooks = mountHooks(app, hookDeps);
  let server: Promise<RunningServer> | null = null;
  const url = async (path: string) => {
    server ??= listen(app, '127.0.0.1', 0);
    return `${(await server).url}${path}`;
  };
  const post = async (path: string, body: string | Uint8Array, headers: Record<string, string> = {}) =>
    httpPost(await url(path), body, headers);
  Object.assign(setup, {
    dir,
    database,
    audit,
    store,
    incidents: new IncidentStore(database, audit, { now }),
    miner,
    templates,
    counters,
    app,
    hooks,
    hookDeps,
    errors,
    clock: T0,
    post,
    request: async (path: string, init?: RequestInit) => fetch(await url(path), init),
    postJson: (path: string, value: unknown, headers: Record<string, string> = {}) =>
      post(path, JSON.stringify(value), {
        authorization: `Bearer ${TOKEN}`,
        'content-type': 'application/json',
        ...headers,
      }),
    github: (event: string, delivery: string, value: unknown, secret = SECRET) => {
      const body = JSON.stringify(value);
      return post('/hooks/github', body, {
        'content-type': 'application/json',
        'x-github-event': event,
        'x-github-delivery': delivery,
        'x-hub-signature-256': signGithub(secret, body),
      });
    },
    rowCounts: () => {
      const count = (table: string) =>
        (database.sqlite.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
      return {
        signals: count('signals'),
        incidents: count('incidents'),
        audit: count('audit_log'),
        templates: count('signature_templates'),
      };
    },
    cleanup: () => {
      if (server !== null) void server.then((running) => running.close());
      database.close();
      rmSync(dir, { recursive: true, force: true });
    },
  });
  return setup;
}

/**
 * POST over node:http, answered as a fetch Response. With a `content-length` header the body goes in
 * one piece; without one it is sent chunked (a sender that does not say how much is coming).
 */
export function httpPost(url: string, body: string | Uint8Array, headers: Record<string, string> = {}) {
  return new Promise<Response>((resolve, reject) => {
    const declared = Object.keys(headers).some((h) => h.toLowerCase() === 'content-length');
    const req = httpRequest(url, { method: 'POST', headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const out = new Headers();
        for (const [name, value] of Object.entries(res.headers)) {
          if (value !== undefined) out.set(name, Array.isArray(value) ? value.join(', ') : value);
        }
        resolve(new Response(Buffer.concat(chunks), { status: res.statusCode ?? 0, headers: out }));
      });
    });
    req.on('error', reject);
    if (body === undefined || body.length === 0 || declared) req.end(body);
    else {
      req.write(body);
      req.end();
    }
  });
}

/** A realistic Alertmanager v4 notification with one alert per entry of `alerts`. */
export function alertmanagerPayload(
  alerts: {
    status?: 'firing' | 'resolved';
    name?: string;
    fingerprint?: string;
    startsAt?: string;
    endsAt?: string;
    severity?: string;
    service?: string;
  }[],
): Record<string, unknown> {
  const status = alerts.some((a) => (a.status ?? 'firing') === 'firing') ? 'firing' : 'resolved';
  return {
    version: '4',
    groupKey: '{}/{severity="critical"}:{alertname="HighLatency"}',
    truncatedAlerts: 0,
    status,
    receiver: 'autonomy',
    groupLabels: { alertname: 'HighLatency' },
    commonLabels: { alertname: 'HighLatency', severity: 'critical' },
    commonAnnotations: {},
    externalURL: 'http://alertmanager.example.test:9093',
    alerts: alerts.map((a) => ({
      status: a.status ?? 'firing',
      labels: {
        alertname: a.name ?? 'HighLatency',
        severity: a.severity ?? 'critical',
        ...(a.service === undefined ? { job: 'api', instance: '10.0.0.7:9100' } : { service: a.service }),
      },
      annotations: {
        summary: 'p99 latency above 2s for 5 minutes',
        runbook_url: 'https://runbooks.example.test/latency',
      },
      startsAt: a.startsAt ?? '2025-01-01T11:55:00.123456789Z',
      endsAt: a.endsAt ?? '0001-01-01T00:00:00Z',
      generatorURL: 'http://prometheus.example.test:9090/graph?g0.expr=histogram_quantile',
      ...(a.fingerprint === undefined ? {} : { fingerprint: a.fingerprint }),
    })),
  };
}
