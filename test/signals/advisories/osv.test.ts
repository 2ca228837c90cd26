/**
 * OSV advisories: the schema, the inventory (npm lockfiles v1/v3, list files, the
 * mtime cache), matching (semver ranges, last_affected, explicit versions, other ecosystems and
 * GIT ranges ignored with a reason) and POST /hooks/osv through a real Hono app and the real
 * SignalStore on a temp SQLite file. Records are shaped after the real GitHub advisories.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hono } from 'hono';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MemoryCounters } from '../../../adapters/http/hooks/counters.js';
import { osvHandler } from '../../../adapters/http/hooks/osv.js';
import { mountHook } from '../../../adapters/http/hooks/route.js';
import { type Database, migrate, openDatabase } from '../../../src/db/connection.js';
import { incidents, signals } from '../../../src/db/schema.js';
import { sequentialIds } from '../../../src/process/ids.js';
import {
  buildInventory,
  type Inventory,
  InventoryLoader,
  inventorySpec,
  parseList,
  parseLockfile,
} from '../../../src/signals/advisories/inventory.js';
import { advisorySignals, inRange, matchAdvisories } from '../../../src/signals/advisories/match.js';
import { type OsvRecord, parseOsvBody } from '../../../src/signals/advisories/osv.js';
import { SignalStore } from '../../../src/signals/incidents/store.js';
import { compileDoc, makePolicyDoc } from '../../fixtures/policy.js';
import { ROOT } from '../../helpers/bot.js';

const FIXTURES = join(ROOT, 'test', 'fixtures', 'osv');
const RECORDS = JSON.parse(readFileSync(join(FIXTURES, 'records.json'), 'utf8')) as unknown[];

function record(id: string): OsvRecord {
  const raw = RECORDS.find((r) => (r as { id: string }).id === id);
  const parsed = parseOsvBody(raw);
  if (!parsed.ok) throw new Error(`fixture ${id} is not valid OSV: ${JSON.stringify(parsed.issues)}`);
  return parsed.records[0] as OsvRecord;
}

function fixtureInventory(): Inventory {
  return new InventoryLoader().load({
    baseDir: FIXTURES,
    npmLockfiles: ['package-lock.json', 'legacy-lock-v1.json'],
    lists: ['deployed.txt'],
  });
}

describe('the inventory', () => {
  it('reads a v3 lockfile: every installed package, nested ones too; not the project, workspaces or links', () => {
    const { entries, problems } = parseLockfile(
      readFileSync(join(FIXTURES, 'package-lock.json'), 'utf8'),
      'lock',
    );
    expect(problems).toEqual([]);
    expect(entries.map((e) => `${e.name}@${e.version}${e.dev ? ' (dev)' : ''}`).sort()).toEqual([
      '@babel/traverse@7.22.5',
      'ip@2.0.0',
      'left-pad@1.3.0 (dev)',
      'lodash@4.17.21',
      'minimist@0.0.8',
      'minimist@1.2.5',
      'mkdirp@0.5.1',
    ]);
  });

  it('reads a v1 lockfile recursively and skips git installs', () => {
    const { entries } = parseLockfile(readFileSync(join(FIXTURES, 'legacy-lock-v1.json'), 'utf8'), 'v1');
    expect(entries.map((e) => `${e.name}@${e.version}`).sort()).toEqual([
      'minimist@0.0.10',
      'minimist@1.2.0',
      'optimist@0.6.1',
      'wordwrap@0.0.3',
    ]);
  });

  it('reads list files (scoped names, comments) and names the bad line', () => {
    const { entries, problems } = parseList(
      readFileSync(join(FIXTURES, 'deployed.txt'), 'utf8'),
      'deployed.txt',
    );
    expect(entries.map((e) => `${e.name}@${e.version}`)).toEqual([
      'express@4.17.1',
      '@babel/traverse@7.23.2',
      'minimist@1.2.6',
    ]);
    expect(problems).toEqual([
      {
        file: 'deployed.txt:5',
        message: expect.stringContaining('"not a package line" is not name@version'),
      },
    ]);
  });

  it("loads the bot's own package-lock.json, as the default policy does", () => {
    const inventory = new InventoryLoader().load({
      baseDir: ROOT,
      npmLockfiles: ['package-lock.json'],
      lists: [],
    });
    expect(inventory.problems).toEqual([]);
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    expect(inventory.byName.get('semver')?.map((e) => e.version)).toContain(pkg.dependencies.semver);
    expect(inventory.entries.length).toBeGreaterThan(50);
  });

  it('takes paths relative to the policy file', () => {
    const policy = compileDoc(
      makePolicyDoc({
        edit: (d) => {
          d.inventory = { npmLockfiles: ['package-lock.json'], lists: ['deployed.txt'] };
        },
      }),
      join(FIXTURES, 'bot.policy.yaml'),
    );
    const inventory = new InventoryLoader().load(inventorySpec(policy));
    expect(
      inventory.byName
        .get('minimist')
        ?.map((e) => `${e.file} ${e.version}`)
        .sort(),
    ).toEqual(['deployed.txt 1.2.6', 'package-lock.json 0.0.8', 'package-lock.json 1.2.5']);
  });

  describe('cache and problems', () => {
    let dir = '';
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'autonomy-inventory-'));
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('re-reads a file only when its mtime changes, and reports a missing one without failing', () => {
      const list = join(dir, 'list.txt');
      writeFileSync(list, 'minimist@1.2.5\n');
      let reads = 0;
      const loader = new InventoryLoader({
        stat: (p) => statSync(p),
        read: (p) => {
          reads++;
          return readFileSync(p, 'utf8');
        },
      });
      const spec = { baseDir: dir, npmLockfiles: ['missing-lock.json'], lists: ['list.txt'] };
      const first = loader.load(spec);
      expect(first.byName.get('minimist')?.[0]?.version).toBe('1.2.5');
      expect(first.problems).toEqual([
        { file: 'missing-lock.json', message: expect.stringMatching(/ENOENT.*fix inventory\.npmLockfiles/) },
      ]);
      loader.load(spec);
      expect(reads).toBe(1);
      writeFileSync(list, 'minimist@1.2.6\n');
      utimesSync(list, new Date(), new Date(Date.now() + 5000));
      expect(loader.load(spec).byName.get('minimist')?.[0]?.version).toBe('1.2.6');
      expect(reads).toBe(2);
    });

    it('reports a file that is not a lockfile', () => {
      writeFileSync(join(dir, 'package-lock.json'), '{"lockfileVersion": "three"');
      const inv = new InventoryLoader().load({
        baseDir: dir,
        npmLockfiles: ['package-lock.json'],
        lists: [],
      });
      expect(inv.entries).toEqual([]);
      expect(inv.problems[0]?.message).toMatch(
        /^not JSON .*point inventory\.npmLockfiles at a package-lock\.json/,
      );
    });
  });
});

describe('matching advisories', () => {
  it('minimist (GHSA-xvch-5gv4-984h): both affected installs, critical, each with its upgrade', () => {
    const { signals: out } = advisorySignals([record('GHSA-xvch-5gv4-984h')], fixtureInventory());
    const byVersion = new Map(
      out.map((s) => [(s.payload as { package: { version: string } }).package.version, s]),
    );
    // 1.2.5 and 0.0.8 (package-lock.json), 1.2.0 and 0.0.10 (v1 lockfile); deployed 1.2.6 is fixed.
    expect([...byVersion.keys()].sort()).toEqual(['0.0.10', '0.0.8', '1.2.0', '1.2.5']);
    const s = byVersion.get('1.2.5');
    expect(s).toMatchObject({
      kind: 'advisory',
      source: 'osv',
      severity: 'critical',
      fingerprint: 'advisory:GHSA-xvch-5gv4-984h',
      dedupeKey: 'osv:GHSA-xvch-5gv4-984h:2024-06-21T21:33:53Z:minimist@1.2.5',
      occurredAt: Date.parse('2022-03-18T00:01:09Z'),
      payload: {
        aliases: ['CVE-2021-44906'],
        severity: { level: 'critical', score: 9.8, basis: 'CVSS 9.8' },
        affected: [{ file: 'package-lock.json', name: 'minimist', version: '1.2.5', dev: false }],
        fixed: ['0.2.4', '1.2.6'],
        upgradeTo: '1.2.6',
      },
    });
    expect(s?.title).toBe(
      'GHSA-xvch-5gv4-984h minimist@1.2.5: Prototype Pollution in minimist (CVSS 9.8; upgrade to 1.2.6)',
    );
    expect(byVersion.get('0.0.8')?.payload).toMatchObject({ upgradeTo: '0.2.4' });
  });

  it('ip (GHSA-2p57-rm9w-gvfp): last_affected is inclusive and there is no fix', () => {
    const ip = record('GHSA-2p57-rm9w-gvfp');
    const range = ip.affected?.[0]?.ranges?.[0];
    if (!range) throw new Error('fixture has no range');
    expect(inRange('2.0.1', range)).toEqual({ affected: true, fixed: [] });
    expect(inRange('2.0.2', range)).toEqual({ affected: false, fixed: [] });
    expect(inRange('0.0.1', range)).toEqual({ affected: true, fixed: [] });
    const { signals: out } = advisorySignals([ip], fixtureInventory());
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ severity: 'warning', payload: { fixed: [], upgradeTo: null } });
    expect(out[0]?.title).toContain('(CVSS 8.1; no fix yet)');
  });

  it('@babel/traverse (SEMVER ranges, scoped purl): the lockfile install matches, the patched list entry does not', () => {
    const { signals: out, result } = advisorySignals([record('GHSA-67hx-6x53-jw92')], fixtureInventory());
    expect(out.map((s) => s.dedupeKey)).toEqual([
      'osv:GHSA-67hx-6x53-jw92:2024-10-31T05:10:46Z:@babel/traverse@7.22.5',
    ]);
    expect(out[0]).toMatchObject({ severity: 'critical', payload: { upgradeTo: '7.23.2' } });
    expect(result.ignored).toContainEqual({
      id: 'GHSA-67hx-6x53-jw92',
      reason: '@babel/traverse@7.23.2 is outside the affected versions',
    });
  });

  it('a fixed version in the inventory: no signal', () => {
    const { signals: out, result } = advisorySignals([record('GHSA-35jh-r3h4-6jhm')], fixtureInventory());
    expect(out).toEqual([]);
    expect(result.ignored).toEqual([
      { id: 'GHSA-35jh-r3h4-6jhm', reason: 'lodash@4.17.21 is outside the affected versions' },
    ]);
  });

  it('ignores other ecosystems and GIT ranges, with a reason', () => {
    const { signals: out, result } = advisorySignals(
      [record('PYSEC-2023-100'), record('OSV-2024-EXPRESS-GIT')],
      fixtureInventory(),
    );
    expect(out).toEqual([]);
    expect(result.ignored).toEqual([
      { id: 'PYSEC-2023-100', reason: 'PyPI packages are not in the inventory (only npm is matched)' },
      {
        id: 'OSV-2024-EXPRESS-GIT',
        reason:
          'a GIT range (commits of https://github.com/expressjs/express) cannot be matched to npm versions',
      },
    ]);
  });

  it('honours the explicit versions list, withdrawn records, limit events and prereleases', () => {
    const inventory = buildInventory([
      { file: 'l', name: 'left-pad', version: '1.3.0', dev: true },
      { file: 'l', name: 'pkg', version: '2.0.0-rc.1', dev: false },
    ]);
    const base = { modified: '2024-01-01T00:00:00Z' };
    const explicit: OsvRecord = {
      ...base,
      id: 'OSV-EXPLICIT',
      affected: [{ package: { ecosystem: 'npm', name: 'left-pad' }, versions: ['1.2.0', '1.3.0'] }],
    };
    const withdrawn: OsvRecord = { ...explicit, id: 'OSV-WITHDRAWN', withdrawn: '2024-02-01T00:00:00Z' };
    const prerelease: OsvRecord = {
      ...base,
      id: 'OSV-PRE',
      affected: [
        {
          package: { ecosystem: 'npm', name: 'pkg' },
          ranges: [{ type: 'SEMVER', events: [{ introduced: '1.0.0' }, { fixed: '2.0.0' }] }],
        },
      ],
    };
    const result = matchAdvisories([explicit, withdrawn, prerelease], inventory);
    expect(result.matches.map((m) => `${m.record.id} ${m.name}@${m.version}`)).toEqual([
      'OSV-EXPLICIT left-pad@1.3.0',
      'OSV-PRE pkg@2.0.0-rc.1',
    ]);
    expect(result.ignored).toEqual([{ id: 'OSV-WITHDRAWN', reason: 'withdrawn at 2024-02-01T00:00:00Z' }]);
    const limited = { type: 'SEMVER' as const, events: [{ introduced: '0' }, { limit: '3.0.0' }] };
    expect(inRange('2.9.9', limited)).toMatchObject({ affected: true });
    expect(inRange('3.0.0', limited)).toMatchObject({ affected: false });
  });
});

describe('the OSV body', () => {
  it('accepts one record, {"vulns": [...]} and an array', () => {
    const one = RECORDS[0];
    for (const body of [one, { vulns: RECORDS }, RECORDS]) {
      const parsed = parseOsvBody(body);
      expect(parsed.ok).toBe(true);
    }
  });

  it('says where a record is wrong', () => {
    const bad = structuredClone(RECORDS) as Record<string, unknown>[];
    const affected = (bad[1] as { affected: { ranges: { type: string; events: unknown[] }[] }[] }).affected;
    (affected[0]?.ranges[0] as { type: string }).type = 'NPM';
    expect(parseOsvBody({ vulns: bad })).toEqual({
      ok: false,
      issues: [{ path: 'vulns[1].affected[0].ranges[0].type', message: expect.stringContaining('SEMVER') }],
    });
    expect(parseOsvBody([{ id: 'X', modified: 'yesterday' }])).toMatchObject({
      ok: false,
      issues: [{ path: '[0].modified', message: expect.stringContaining('RFC 3339') }],
    });
    const twoKeys = {
      id: 'X',
      modified: '2024-01-01T00:00:00Z',
      affected: [{ ranges: [{ type: 'SEMVER', events: [{ introduced: '0', fixed: '1.0.0' }] }] }],
    };
    expect(parseOsvBody(twoKeys)).toMatchObject({
      ok: false,
      issues: [
        { path: 'affected[0].ranges[0].events[0]', message: expect.stringContaining('exactly one of') },
      ],
    });
  });
});

describe('POST /hooks/osv', () => {
  const TOKEN = 'ingest-secret-token';
  let dir = '';
  let database: Database;
  let app: Hono;
  let clock = Date.parse('2025-01-10T08:00:00Z');

  let counters: MemoryCounters;
  const post = (body: unknown, token = TOKEN) =>
    app.request('/hooks/osv', {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  const count = (table: typeof signals | typeof incidents) => database.db.select().from(table).all().length;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'autonomy-osv-'));
    database = openDatabase(join(dir, 'autonomy.db'));
    migrate(database);
    const sink = new SignalStore(database, { now: () => clock++, newId: sequentialIds() });
    const loader = new InventoryLoader();
    counters = new MemoryCounters();
    app = new Hono();
    mountHook(app, {
      path: '/hooks/osv',
      hook: 'osv',
      ingestToken: TOKEN,
      limit: 64 * 1024,
      counters,
      handler: osvHandler({
        sink,
        inventory: () =>
          loader.load({ baseDir: FIXTURES, npmLockfiles: ['package-lock.json'], lists: ['deployed.txt'] }),
        counters,
      }),
    });
  });
  afterEach(() => {
    database.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stores one advisory signal per affected package@version, once, with an incident', async () => {
    const res = await post({ vulns: RECORDS });
    expect(res.status).toBe(202);
    const body = (await res.json()) as {
      accepted: number;
      duplicates: number;
      incidents: string[];
      received: number;
      matched: number;
      signals: { dedupeKey: string; status: string; incident: string | null }[];
      ignored: { id: string; reason: string }[];
    };
    expect(body).toMatchObject({ accepted: 4, duplicates: 0, incidents: ['i1', 'i2', 'i3'], received: 6 });
    expect(body.signals.map((s) => [s.dedupeKey.split(':').slice(-1)[0], s.status])).toEqual([
      ['minimist@0.0.8', 'stored'],
      ['minimist@1.2.5', 'stored'],
      ['ip@2.0.0', 'stored'],
      ['@babel/traverse@7.22.5', 'stored'],
    ]);
    expect(body.ignored.map((i) => i.id)).toContain('PYSEC-2023-100');
    const rows = database.db.select().from(signals).all();
    expect(rows.map((r) => [r.kind, r.severity])).toEqual([
      ['advisory', 'critical'],
      ['advisory', 'critical'],
      ['advisory', 'warning'],
      ['advisory', 'critical'],
    ]);
    // One incident per advisory: the two minimist installs share one.
    expect(count(incidents)).toBe(3);

    const again = await post({ vulns: RECORDS });
    expect(again.status).toBe(202);
    expect(await again.json()).toMatchObject({ accepted: 0, duplicates: 4 });
    expect(count(signals)).toBe(4);
    expect(counters.accepts.get('osv stored')).toBe(4);
    expect(counters.accepts.get('osv duplicates')).toBe(4);
  });

  it('no match: 202 and nothing stored', async () => {
    const res = await post(RECORDS[3]);
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ accepted: 0, received: 1, matched: 0, signals: [] });
    expect(count(signals)).toBe(0);
  });

  it('rejects a bad record with its path, a bad token, bad JSON and a big body, and writes nothing', async () => {
    const bad = structuredClone(RECORDS) as { affected?: { ranges?: { events: unknown[] }[] }[] }[];
    const events = bad[0]?.affected?.[1]?.ranges?.[0]?.events;
    events?.push({ fixed: 7 });
    const res = await post(bad);
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: string; reason: string; problems: { path: string }[] };
    expect(body.reason).toBe('bad_schema');
    expect(body.problems[0]?.path).toBe('[0].affected[1].ranges[0].events[2].fixed');
    expect(body.error).toMatch(
      /^not an OSV record \(\[0\]\.affected\[1\]\.ranges\[0\]\.events\[2\]\.fixed: /,
    );
    expect((await post(RECORDS, 'wrong')).status).toBe(401);
    expect((await post('{"vulns": [')).status).toBe(400);
    expect((await post({ vulns: Array.from({ length: 100 }, () => RECORDS[0]) })).status).toBe(413);
    expect(count(signals)).toBe(0);
    expect(Object.fromEntries(counters.rejections)).toEqual({
      'osv bad_schema': 1,
      'osv unauthorized': 1,
      'osv bad_json': 1,
      'osv too_large': 1,
    });
  });
});
