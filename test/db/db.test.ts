import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getTableConfig, SQLiteTable } from 'drizzle-orm/sqlite-core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type Database,
  dataDir,
  journalMode,
  migrate,
  migrationsFolder,
  openDatabase,
} from '../../src/db/connection.js';
import * as schema from '../../src/db/schema.js';
import { packageRoot } from '../../src/process/package-root.js';

const T0 = Date.UTC(2025, 0, 6, 9, 0, 0);

let dir: string;
const open: Database[] = [];

function openFresh(name = 'autonomy.db'): Database {
  const database = openDatabase(join(dir, name));
  open.push(database);
  return database;
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'autonomy-db-'));
});

afterEach(() => {
  for (const database of open.splice(0)) database.close();
  rmSync(dir, { recursive: true, force: true });
});

const tables: SQLiteTable[] = Object.values(schema as Record<string, unknown>).filter(
  (value): value is SQLiteTable => value instanceof SQLiteTable,
);

describe('openDatabase and migrate', () => {
  it('creates the file and its folder, and applies the migrations to a fresh file', () => {
    const database = openDatabase(join(dir, 'nested', 'data', 'autonomy.db'));
    open.push(database);
    expect(existsSync(join(dir, 'nested', 'data', 'autonomy.db'))).toBe(true);
    expect(migrate(database)).toEqual({ applied: 10, total: 10 });

    const names = database.sqlite
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
      .all()
      .map((row) => (row as { name: string }).name);
    for (const table of [
      'policy_versions',
      'control',
      'signals',
      'incidents',
      'runs',
      'proposals',
      'approvals',
      'grants',
      'audit_log',
      'model_usage',
      'outbox',
      'subscriptions',
      'skills',
      'agent_jobs',
    ]) {
      expect(names).toContain(table);
    }
  });

  it('is a no-op the second time and keeps the data', () => {
    const database = openFresh();
    migrate(database);
    database.db
      .insert(schema.subscriptions)
      .values({ channel: 'slack:C0123', subscribedBy: 'slack:user:U1', at: T0 })
      .run();
    expect(migrate(database)).toEqual({ applied: 0, total: 10 });

    const other = openFresh();
    expect(migrate(other)).toEqual({ applied: 0, total: 10 });
    expect(other.db.select().from(schema.subscriptions).all()).toEqual([
      { channel: 'slack:C0123', subscribedBy: 'slack:user:U1', at: T0 },
    ]);
  });

  it('backfills a job for each open incident no agent ever triaged, when it adds agent jobs', () => {
    // A database as the version before durable jobs left it: migrations up to 0000 only.
    const root = packageRoot();
    const old = join(dir, 'old-migrations');
    mkdirSync(join(old, 'meta'), { recursive: true });
    copyFileSync(join(root, 'migrations', '0000_init.sql'), join(old, '0000_init.sql'));
    const journal = JSON.parse(readFileSync(join(root, 'migrations', 'meta', '_journal.json'), 'utf8'));
    journal.entries = journal.entries.slice(0, 1);
    writeFileSync(join(old, 'meta', '_journal.json'), JSON.stringify(journal));
    const database = openFresh();
    migrate(database, old);
    const incident = (id: string, n: number, status: 'open' | 'resolved', severity: 'critical' | 'info') => ({
      id,
      number: n,
      fingerprint: `fp-${id}`,
      title: `incident ${id}`,
      severity,
      service: 'api',
      status,
      startedAt: T0,
      detectedAt: T0 + n,
      signalCount: 1,
    });
    const signal = (id: string, incidentId: string, kind: 'alert' | 'failed_job') => ({
      id,
      kind,
      source: 'test',
      dedupeKey: id,
      fingerprint: `fp-${incidentId}`,
      severity: 'warning' as const,
      payload: {},
      receivedAt: T0,
      incidentId,
    });
    database.db
      .insert(schema.incidents)
      .values([
        incident('i-open', 1, 'open', 'critical'),
        incident('i-ci', 2, 'open', 'info'),
        incident('i-done', 3, 'resolved', 'critical'),
        incident('i-seen', 4, 'open', 'critical'),
      ])
      .run();
    database.db
      .insert(schema.signals)
      .values([
        signal('s-open', 'i-open', 'alert'),
        signal('s-ci', 'i-ci', 'failed_job'),
        signal('s-done', 'i-done', 'alert'),
        signal('s-seen', 'i-seen', 'alert'),
      ])
      .run();
    // i-seen was triaged by sentinel (not by mentor) before the upgrade.
    database.db
      .insert(schema.runs)
      .values({
        id: 'run-1',
        agent: 'sentinel',
        triggerSource: 'webhook',
        startedAt: T0,
        incidentId: 'i-seen',
      })
      .run();

    expect(migrate(database)).toEqual({ applied: 9, total: 10 });
    const jobs = database.db
      .select()
      .from(schema.agentJobs)
      .all()
      .map((j) => [j.incidentId, j.agent, j.reason, j.subject, j.state, j.severityRank]);
    expect(jobs.sort()).toEqual(
      [
        ['i-ci', 'mentor', 'opened', 's-ci', 'queued', 0],
        ['i-ci', 'validator', 'opened', 's-ci', 'queued', 0],
        ['i-open', 'mentor', 'opened', 's-open', 'queued', 2],
        ['i-open', 'sentinel', 'opened', 's-open', 'queued', 2],
        ['i-seen', 'mentor', 'opened', 's-seen', 'queued', 2],
      ].sort(),
    );
    const change = database.db.select().from(schema.agentJobs).all()[0]?.change as Record<string, unknown>;
    expect(change).toMatchObject({ change: 'opened', service: 'api', signalCount: 1 });
    expect(String(change.shortId)).toMatch(/^i\d$/);
  });

  it('runs in WAL mode with synchronous=NORMAL, foreign keys on and a 5 s busy timeout', () => {
    const database = openFresh();
    migrate(database);
    expect(journalMode(database)).toBe('wal');
    expect(database.sqlite.pragma('synchronous', { simple: true })).toBe(1);
    expect(database.sqlite.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(database.sqlite.pragma('busy_timeout', { simple: true })).toBe(5000);
    database.db
      .insert(schema.subscriptions)
      .values({ channel: 'console:ops', subscribedBy: 'x', at: T0 })
      .run();
    expect(existsSync(join(dir, 'autonomy.db-wal'))).toBe(true);
  });

  it('has, after migrating, every column schema.ts declares (regenerate migrations/ if this fails)', () => {
    expect(tables).toHaveLength(18);
    const database = openFresh();
    migrate(database);
    for (const table of tables) {
      const config = getTableConfig(table);
      const columns = database.sqlite
        .prepare(`SELECT name, "notnull" FROM pragma_table_info(?)`)
        .all(config.name) as { name: string; notnull: number }[];
      expect(columns.map((c) => c.name).sort(), config.name).toEqual(
        config.columns.map((c) => c.name).sort(),
      );
      for (const column of config.columns) {
        const found = columns.find((c) => c.name === column.name);
        expect(found?.notnull === 1 || column.primary, `${config.name}.${column.name} not null`).toBe(
          column.notNull,
        );
      }
    }
  });

  it('stores a signal once per dedupe key and enforces foreign keys', () => {
    const database = openFresh();
    migrate(database);
    const signal = {
      id: 'sig-1',
      kind: 'alert' as const,
      source: 'alertmanager',
      dedupeKey: 'am:HighErrorRate:api:1736154000',
      fingerprint: 'HighErrorRate:api',
      severity: 'critical' as const,
      payload: { labels: { service: 'api' } },
      receivedAt: T0,
    };
    database.db.insert(schema.signals).values(signal).run();
    expect(() =>
      database.db
        .insert(schema.signals)
        .values({ ...signal, id: 'sig-2' })
        .run(),
    ).toThrow(/UNIQUE/);
    expect(() =>
      database.db
        .insert(schema.signals)
        .values({ ...signal, id: 'sig-3', dedupeKey: 'other', incidentId: 'no-such-incident' })
        .run(),
    ).toThrow(/FOREIGN KEY/);
    expect(database.db.select().from(schema.signals).all()).toHaveLength(1);
  });

  it('allows one unresolved incident per fingerprint, and one active policy version', () => {
    const database = openFresh();
    migrate(database);
    const incident = {
      id: 'inc-1',
      number: 1,
      fingerprint: 'HighErrorRate:api',
      title: 'High error rate on api',
      severity: 'critical' as const,
      startedAt: T0,
      detectedAt: T0 + 30_000,
    };
    database.db.insert(schema.incidents).values(incident).run();
    expect(() =>
      database.db
        .insert(schema.incidents)
        .values({ ...incident, id: 'inc-2', number: 2 })
        .run(),
    ).toThrow(/UNIQUE/);
    database.db
      .insert(schema.incidents)
      .values({ ...incident, id: 'inc-0', number: 3, status: 'resolved', resolvedAt: T0 - 1000 })
      .run();

    const version = {
      hash: 'a'.repeat(64),
      sourcePath: 'p.yaml',
      content: 'x',
      loadedAt: T0,
      actor: 'system:start',
    };
    database.db
      .insert(schema.policyVersions)
      .values({ ...version, active: true })
      .run();
    database.db.insert(schema.policyVersions).values(version).run();
    expect(() =>
      database.db
        .insert(schema.policyVersions)
        .values({ ...version, active: true })
        .run(),
    ).toThrow(/UNIQUE/);
  });

  it('finds migrations/ at the package root and names the data folder', () => {
    const root = packageRoot();
    expect(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).name).toBe('autonomy');
    expect(migrationsFolder()).toBe(join(root, 'migrations'));
    expect(existsSync(join(migrationsFolder(), 'meta', '_journal.json'))).toBe(true);
    expect(packageRoot(join(root, 'dist', 'src', 'db', 'connection.js'))).toBe(root);
    expect(dataDir(join(dir, 'data', 'autonomy.db'))).toBe(join(dir, 'data'));
  });

  it('says which file it could not open and what to check', () => {
    expect(() => openDatabase(join(dir, 'missing.db'), { readonly: true })).toThrow(
      /missing\.db.*AUTONOMY_DB/,
    );
  });
});
