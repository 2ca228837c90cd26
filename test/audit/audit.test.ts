import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { canonicalize } from 'json-canonicalize';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { canonicalRecord, nextFields } from '../../src/audit/chain.js';
import { AuditLog, CHECKPOINT_KIND, EXPORT_FIELDS, GENESIS_HASH } from '../../src/audit/log.js';
import { type Database, migrate, openDatabase, writeTransaction } from '../../src/db/connection.js';
import { ACTION_CLASSES, AGENTS, VERDICTS } from '../../src/policy/vocabulary.js';

const T0 = Date.UTC(2025, 0, 6, 9, 0, 0);
const DAY = 86_400_000;

let dir: string;
let file: string;
let clock: number;
const open: Database[] = [];

function connect(): Database {
  const database = openDatabase(file);
  migrate(database);
  open.push(database);
  return database;
}

function auditOn(database: Database): AuditLog {
  return new AuditLog(database, { now: () => clock });
}

function run(i: number) {
  return {
    kind: 'run',
    agent: 'guardian' as const,
    actor: 'system:cron',
    trigger: 'cron',
    model: 'ollama/llama3.2:3b',
    actionClass: 'advisory' as const,
    tier: 1 as const,
    verdict: 'suggest' as const,
    outcome: `suggested upgrade ${i}`,
    evidence: [`https://ci.example.test/runs/${i}`],
    data: { i, packages: ['lodash'] },
  };
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'autonomy-audit-'));
  file = join(dir, 'autonomy.db');
  clock = T0;
});

afterEach(() => {
  for (const database of open.splice(0)) database.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('append and verify', () => {
  it('chains each record to the previous one and verifies', () => {
    const log = auditOn(connect());
    const first = log.append(run(1));
    clock += 1000;
    const second = log.append({ kind: 'control.kill', actor: 'cli:user:ana', data: { target: 'all' } });
    expect(first).toMatchObject({ seq: 1, at: T0, prevHash: GENESIS_HASH, agent: 'guardian', tier: 1 });
    expect(second).toMatchObject({ seq: 2, at: T0 + 1000, prevHash: first.hash, agent: null, evidence: [] });
    expect(first.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(log.head()).toEqual({ seq: 2, hash: second.hash });
    expect(log.verify()).toEqual({ ok: true, count: 2, firstSeq: 1, lastHash: second.hash });
    expect(log.records().map((r) => r.kind)).toEqual(['run', 'control.kill']);
  });

  it('verifies an empty log', () => {
    expect(auditOn(connect()).verify()).toEqual({ ok: true, count: 0, firstSeq: null, lastHash: null });
  });

  it('hashes the RFC 8785 canonical JSON of the record, as json-canonicalize writes it', () => {
    const text = fc.option(fc.string({ unit: 'grapheme' }), { nil: null });
    const json = fc.jsonValue().filter((v) => !Object.is(v, -0));
    fc.assert(
      fc.property(
        fc.record({
          kind: fc.string({ minLength: 1, unit: 'grapheme' }),
          agent: fc.option(fc.constantFrom(...AGENTS), { nil: null }),
          actor: text,
          trigger: text,
          model: text,
          actionClass: fc.option(fc.constantFrom(...ACTION_CLASSES), { nil: null }),
          tier: fc.option(fc.constantFrom(0 as const, 1 as const, 2 as const, 3 as const), { nil: null }),
          verdict: fc.option(fc.constantFrom(...VERDICTS), { nil: null }),
          outcome: text,
          evidence: fc.array(fc.string({ unit: 'grapheme' }), { maxLength: 3 }),
          data: json,
        }),
        fc.integer({ min: 0, max: 4_102_444_800_000 }),
        (entry, at) => {
          const fields = nextFields(entry, at, { seq: 41, hash: 'f'.repeat(64) });
          const asObject = {
            ...fields,
            evidence: entry.evidence,
            data: entry.data === undefined ? null : JSON.parse(JSON.stringify(entry.data)),
          };
          expect(canonicalRecord(fields)).toBe(canonicalize(asObject));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('refuses an entry without a kind or with data that is not JSON, and writes nothing', () => {
    const log = auditOn(connect());
    expect(() => log.append({ kind: '' })).toThrow(/needs a kind/);
    expect(() => log.append({ kind: 'run', data: { big: 10n } })).toThrow(/plain JSON/);
    expect(log.verify()).toMatchObject({ ok: true, count: 0 });
  });
});

describe('tampering', () => {
  function fiveRecords() {
    const database = connect();
    const log = auditOn(database);
    for (let i = 1; i <= 5; i++) {
      log.append(run(i));
      clock += 1000;
    }
    return { database, log };
  }

  it('names the record whose field was changed', () => {
    const { database, log } = fiveRecords();
    database.sqlite.prepare("UPDATE audit_log SET outcome = 'nothing to see' WHERE seq = 3").run();
    const result = log.verify();
    expect(result).toMatchObject({ ok: false, seq: 3 });
    expect(result.ok === false && result.reason).toMatch(/record 3 was changed after it was written/);
  });

  it('names a record whose evidence, data or time was changed', () => {
    for (const change of [
      `evidence = '["https://elsewhere.test"]'`,
      `data = '{"i":4,"packages":[]}'`,
      `at = at + 1`,
    ]) {
      const { database, log } = fiveRecords();
      database.sqlite.prepare(`UPDATE audit_log SET ${change} WHERE seq = 4`).run();
      expect(log.verify(), change).toMatchObject({ ok: false, seq: 4 });
      for (const d of open.splice(0)) d.close();
      rmSync(file, { force: true });
      rmSync(`${file}-wal`, { force: true });
      rmSync(`${file}-shm`, { force: true });
    }
  });

  it('names a record deleted from the middle', () => {
    const { database, log } = fiveRecords();
    database.sqlite.prepare('DELETE FROM audit_log WHERE seq = 3').run();
    const result = log.verify();
    expect(result).toMatchObject({ ok: false, seq: 3 });
    expect(result.ok === false && result.reason).toMatch(/record 3 is missing \(the log jumps from 2 to 4\)/);
  });

  it('names a record rewritten with a fresh hash: the next link breaks', () => {
    const { database, log } = fiveRecords();
    // A careful forger recomputes record 2's own hash, but cannot fix record 3's prevHash without
    // rewriting everything after it.
    const row = log.records({ afterSeq: 1, limit: 1 })[0];
    if (row === undefined) throw new Error('no record 2');
    const fields = nextFields({ ...run(2), outcome: 'forged' }, row.at, { seq: 1, hash: row.prevHash });
    const hash = createHash('sha256').update(canonicalRecord(fields)).digest('hex');
    database.sqlite.prepare("UPDATE audit_log SET outcome = 'forged', hash = ? WHERE seq = 2").run(hash);
    const result = log.verify();
    expect(result).toMatchObject({ ok: false, seq: 3 });
    expect(result.ok === false && result.reason).toMatch(/does not link to record 2/);
  });

  it('names a missing beginning that no checkpoint accounts for', () => {
    const { database, log } = fiveRecords();
    database.sqlite.prepare('DELETE FROM audit_log WHERE seq <= 2').run();
    expect(log.verify()).toMatchObject({ ok: false, seq: 1 });
  });
});

describe('purge', () => {
  it('deletes old records, leaves a checkpoint, and the rest still verifies', () => {
    const log = auditOn(connect());
    for (let day = 0; day < 10; day++) {
      clock = T0 + day * DAY;
      log.append(run(day));
    }
    clock = T0 + 10 * DAY;
    const result = log.purge(T0 + 4 * DAY, 'system:retention');
    expect(result.purged).toBe(4);
    expect(result.checkpoint).toMatchObject({
      seq: 11,
      kind: CHECKPOINT_KIND,
      actor: 'system:retention',
      data: { lastPurgedSeq: 4, purgedCount: 4, before: T0 + 4 * DAY },
    });
    expect(log.records().map((r) => r.seq)).toEqual([5, 6, 7, 8, 9, 10, 11]);
    expect(log.verify()).toMatchObject({ ok: true, count: 7, firstSeq: 5 });

    // Appending goes on after the checkpoint, and a second purge removes the first checkpoint too.
    clock += DAY;
    log.append(run(11));
    clock += DAY;
    expect(log.purge(T0 + 11 * DAY).purged).toBe(7);
    expect(log.verify()).toMatchObject({ ok: true, count: 2, firstSeq: 12 });
    expect(log.purge(T0)).toEqual({ purged: 0, checkpoint: null });
  });

  it('keeps verify green when everything is purged', () => {
    const log = auditOn(connect());
    for (let i = 0; i < 3; i++) log.append(run(i));
    clock += DAY;
    expect(log.purge(clock).purged).toBe(3);
    expect(log.verify()).toMatchObject({ ok: true, count: 1, firstSeq: 4 });
    expect(log.append(run(4)).seq).toBe(5);
    expect(log.verify()).toMatchObject({ ok: true, count: 2 });
  });

  it('still catches tampering after a purge, including a removed checkpoint', () => {
    const database = connect();
    const log = auditOn(database);
    for (let day = 0; day < 6; day++) {
      clock = T0 + day * DAY;
      log.append(run(day));
    }
    const { checkpoint } = log.purge(T0 + 3 * DAY);
    database.sqlite.prepare("UPDATE audit_log SET actor = 'someone' WHERE seq = 5").run();
    expect(log.verify()).toMatchObject({ ok: false, seq: 5 });
    database.sqlite.prepare("UPDATE audit_log SET actor = 'system:cron' WHERE seq = 5").run();
    expect(log.verify()).toMatchObject({ ok: true });
    database.sqlite.prepare('DELETE FROM audit_log WHERE seq = ?').run(checkpoint?.seq);
    expect(log.verify()).toMatchObject({ ok: false, seq: 1 });
  });
});

describe('export', () => {
  function sample() {
    const log = auditOn(connect());
    log.append(run(1));
    clock += 60_000;
    log.append({
      kind: 'decision',
      agent: 'sentinel',
      actor: 'slack:user:U123',
      outcome: 'said "no", then left,\nfor lunch',
      verdict: 'deny',
      evidence: ['a,b', 'c"d'],
    });
    return log;
  }

  it('writes JSON lines with the documented fields in order, at as ISO 8601', () => {
    const lines = [...sample().export({ format: 'jsonl' })];
    expect(lines).toHaveLength(2);
    expect(lines.every((line) => line.endsWith('\n'))).toBe(true);
    const records = lines.map((line) => JSON.parse(line));
    expect(Object.keys(records[0])).toEqual([...EXPORT_FIELDS]);
    expect(records[0]).toMatchObject({
      seq: 1,
      at: '2025-01-06T09:00:00.000Z',
      kind: 'run',
      agent: 'guardian',
      actor: 'system:cron',
      trigger: 'cron',
      model: 'ollama/llama3.2:3b',
      actionClass: 'advisory',
      tier: 1,
      verdict: 'suggest',
      outcome: 'suggested upgrade 1',
      evidence: ['https://ci.example.test/runs/1'],
      prevHash: GENESIS_HASH,
      data: { i: 1, packages: ['lodash'] },
    });
    expect(records[1]).toMatchObject({
      seq: 2,
      trigger: null,
      tier: null,
      data: null,
      prevHash: records[0].hash,
    });
  });

  it('lets a third party re-check every hash from the JSON lines alone', () => {
    const records = [...sample().export({ format: 'jsonl' })].map((line) => JSON.parse(line));
    let prev = GENESIS_HASH;
    for (const { hash, ...fields } of records) {
      expect(fields.prevHash).toBe(prev);
      const hashed = { ...fields, at: Date.parse(fields.at) };
      expect(createHash('sha256').update(canonicalize(hashed)).digest('hex')).toBe(hash);
      prev = hash;
    }
  });

  it('writes CSV with a header, RFC 4180 quoting, empty cells for null', () => {
    const text = [...sample().export({ format: 'csv' })].join('');
    const [header] = text.split('\n');
    expect(header).toBe(EXPORT_FIELDS.join(','));
    expect(text).toContain(
      '2,2025-01-06T09:01:00.000Z,decision,sentinel,slack:user:U123,,,,,deny,' +
        '"said ""no"", then left,\nfor lunch","[""a,b"",""c\\""d""]",',
    );
    const firstRow = text.split('\n')[1] ?? '';
    expect(
      firstRow.startsWith('1,2025-01-06T09:00:00.000Z,run,guardian,system:cron,cron,ollama/llama3.2:3b,'),
    ).toBe(true);
    expect(firstRow.endsWith(',"{""i"":1,""packages"":[""lodash""]}"')).toBe(true);
  });

  it('exports only records since a time', () => {
    const log = sample();
    const lines = [...log.export({ format: 'jsonl', since: T0 + 1 })].map((line) => JSON.parse(line));
    expect(lines.map((r) => r.seq)).toEqual([2]);
    expect([...log.export({ format: 'csv', since: T0 + DAY })]).toEqual([`${EXPORT_FIELDS.join(',')}\n`]);
  });
});

describe('several writers on one file', () => {
  it('keeps one valid chain when two connections append alternately', () => {
    const bot = auditOn(connect());
    const cli = auditOn(connect());
    for (let i = 0; i < 50; i++) {
      bot.append(run(i));
      cli.append({ kind: 'control.kill', actor: 'cli:user:ana', data: { i } });
      clock += 10;
    }
    expect(bot.verify()).toMatchObject({ ok: true, count: 100 });
    expect(cli.records({ limit: 200 }).map((r) => r.seq)).toEqual(
      Array.from({ length: 100 }, (_, i) => i + 1),
    );
  });

  it('commits a change and its record together, or neither', () => {
    const database = connect();
    const log = auditOn(database);
    expect(() => log.appendInTx(run(0))).toThrow(/inside writeTransaction/);
    expect(() =>
      writeTransaction(database, () => {
        log.appendInTx(run(1));
        throw new Error('the change failed');
      }),
    ).toThrow('the change failed');
    expect(log.verify()).toMatchObject({ ok: true, count: 0 });
    const record = writeTransaction(database, () => log.appendInTx(run(2)));
    expect(record.seq).toBe(1);
    expect(log.verify()).toMatchObject({ ok: true, count: 1 });
  });
});
