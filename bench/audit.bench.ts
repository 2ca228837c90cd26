/**
 * Audit append with the hash chain vs plain better-sqlite3 inserts of the same rows.
 *
 * Both sides write to their own fresh database file (WAL, synchronous=NORMAL, the same migrated
 * schema and indexes) and commit EACH ROW IN ITS OWN TRANSACTION (BEGIN IMMEDIATE ... COMMIT), which
 * is how the bot appends. The plain side inserts the very rows the chain produces (hashes computed
 * before timing); the audit side does everything AuditLog.append does: take the write lock, read the
 * chain's head inside the transaction, build and hash the canonical record, insert, commit.
 * Batches alternate between the two sides so machine noise hits both alike.
 *
 * Also measured: verify() over the whole log vs a plain read of the same rows.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AuditEntry, nextFields, recordHash, type StoredRecord } from '../src/audit/chain.js';
import { AuditLog } from '../src/audit/log.js';
import { migrate, openDatabase } from '../src/db/connection.js';
import type { Bench, BenchResult } from './harness.js';
import { nowNs, percentile } from './harness.js';

const ROWS = 20_000;
const BATCH = 1_000;
const WARMUP = 1_000;
const START = Date.UTC(2025, 0, 1);

/** A realistic run record: every metadata field set, two evidence links, a small data object. */
function entryFor(i: number): AuditEntry {
  return {
    kind: 'run',
    agent: 'guardian',
    actor: 'system:cron',
    trigger: 'cron',
    model: 'ollama/llama3.2:3b',
    actionClass: 'advisory',
    tier: 1,
    verdict: 'suggest',
    outcome: 'suggested upgrading lodash to 4.17.21',
    evidence: [`https://ci.example.test/runs/${i}`, `https://github.com/advisories/GHSA-${i}`],
    data: { advisory: `GHSA-${i}`, packages: ['lodash'], severity: 'warning' },
  };
}

const COLUMNS =
  'seq, at, kind, agent, actor, "trigger", model, action_class, tier, verdict, outcome, evidence, data, prev_hash, hash';

function median(values: readonly number[]): number {
  return percentile(
    [...values].sort((x, y) => x - y),
    50,
  );
}

export const bench: Bench = {
  name: 'audit',
  async run(): Promise<BenchResult[]> {
    const dir = mkdtempSync(join(tmpdir(), 'autonomy-bench-audit-'));
    const auditDb = openDatabase(join(dir, 'audit.db'));
    const plainDb = openDatabase(join(dir, 'plain.db'));
    try {
      migrate(auditDb);
      migrate(plainDb);
      const total = WARMUP + ROWS;
      const entries = Array.from({ length: total }, (_, i) => entryFor(i));

      // The rows the chain will produce, computed untimed, for the plain side.
      const rows: StoredRecord[] = [];
      let prev: StoredRecord | null = null;
      for (let i = 0; i < total; i++) {
        const fields = nextFields(entries[i] as AuditEntry, START + i, prev);
        prev = { ...fields, hash: recordHash(fields) };
        rows.push(prev);
      }

      let clock = START;
      const audit = new AuditLog(auditDb, { now: () => clock++ });
      const insert = plainDb.sqlite.prepare(
        `INSERT INTO audit_log (${COLUMNS}) VALUES (@seq, @at, @kind, @agent, @actor, @trigger, @model, @actionClass, @tier, @verdict, @outcome, @evidence, @data, @prevHash, @hash)`,
      );
      const plainTx = plainDb.sqlite.transaction((row: StoredRecord) => insert.run(row));

      const runAudit = (from: number, to: number): bigint => {
        const t0 = nowNs();
        for (let i = from; i < to; i++) audit.append(entries[i] as AuditEntry);
        return nowNs() - t0;
      };
      const runPlain = (from: number, to: number): bigint => {
        const t0 = nowNs();
        for (let i = from; i < to; i++) plainTx.immediate(rows[i] as StoredRecord);
        return nowNs() - t0;
      };

      runAudit(0, WARMUP);
      runPlain(0, WARMUP);
      // Per batch pair: each side's rate; the reported figures are the medians over batches, so a
      // burst of noise from other processes on the machine skews one batch, not the result.
      const auditRates: number[] = [];
      const plainRates: number[] = [];
      const ratios: number[] = [];
      for (let from = WARMUP, round = 0; from < total; from += BATCH, round++) {
        const to = Math.min(total, from + BATCH);
        let auditNs: bigint;
        let plainNs: bigint;
        if (round % 2 === 0) {
          auditNs = runAudit(from, to);
          plainNs = runPlain(from, to);
        } else {
          plainNs = runPlain(from, to);
          auditNs = runAudit(from, to);
        }
        const a = (to - from) / (Number(auditNs) / 1e9);
        const p = (to - from) / (Number(plainNs) / 1e9);
        auditRates.push(a);
        plainRates.push(p);
        ratios.push(a / p);
      }
      const auditRate = median(auditRates);
      const plainRate = median(plainRates);
      const ratio = median(ratios);

      // verify() over everything appended vs reading the same rows plainly.
      const readAll = plainDb.sqlite.prepare(`SELECT ${COLUMNS} FROM audit_log ORDER BY seq`);
      let t0 = nowNs();
      const read = readAll.all().length;
      const readRate = read / (Number(nowNs() - t0) / 1e9);
      t0 = nowNs();
      const verified = audit.verify();
      const verifyRate = total / (Number(nowNs() - t0) / 1e9);
      const verifyTarget = 10_000;

      return [
        {
          name: 'audit append (hash chain, one transaction per row) vs plain better-sqlite3 insert',
          value: Math.round(auditRate),
          unit: 'rows/s',
          baseline: Math.round(plainRate),
          baselineName: 'plain insert of the same rows, one transaction per row',
          target: `target >= 0.50 of baseline (median of ${ratios.length} alternating batches): ${ratio.toFixed(2)}, ${
            ratio >= 0.5 ? 'met' : 'NOT met'
          }`,
          met: ratio >= 0.5,
        },
        {
          name: 'audit verify() (recompute every hash and link)',
          value: Math.round(verifyRate),
          unit: 'rows/s',
          baseline: Math.round(readRate),
          baselineName: 'plain SELECT of the same rows',
          target: `target >= ${verifyTarget} rows/s (a million records in under 100 s), chain ${
            verified.ok ? 'intact' : 'BROKEN'
          }: ${verified.ok && verifyRate >= verifyTarget ? 'met' : 'NOT met'}`,
          met: verified.ok && verifyRate >= verifyTarget,
        },
      ];
    } finally {
      auditDb.close();
      plainDb.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
