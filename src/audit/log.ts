/**
 * The audit log: append-only and hash-chained (see chain.ts), in the audit_log table.
 *
 * Correct with several writers on one file (the bot and the CLI): every append takes the write lock
 * first (BEGIN IMMEDIATE) and reads the chain's head inside that transaction, so two processes never
 * link to the same record. Every write is one transaction: there is never a half-written record.
 */

import type BetterSqlite3 from 'better-sqlite3';
import { and, asc, desc, eq, gt, gte, lt, max, min, sql } from 'drizzle-orm';
import { type Database, fastStatement, readTransaction, writeTransaction } from '../db/connection.js';
import { auditLog } from '../db/schema.js';
import {
  type AuditEntry,
  type AuditRecord,
  CHECKPOINT_KIND,
  ChainVerifier,
  type CheckpointData,
  nextFields,
  recordHash,
  type StoredRecord,
  toRecord,
  type VerifyResult,
} from './chain.js';

export type { AuditEntry, AuditRecord, VerifyResult } from './chain.js';
export { CHECKPOINT_KIND, GENESIS_HASH } from './chain.js';

export interface AuditLogOptions {
  /** Epoch milliseconds. */
  readonly now: () => number;
}

export type ExportFormat = 'jsonl' | 'csv';

export interface ExportOptions {
  readonly format: ExportFormat;
  /** Only records at or after this time (epoch ms). */
  readonly since?: number;
}

/**
 * The export's fields, in this order, in both formats (stable: add at the end, never rename).
 * `at` is ISO 8601 UTC with milliseconds; `evidence` is an array (CSV: its JSON text); `data` is
 * any JSON or null (CSV: its JSON text, empty when null). Null fields are JSON null / empty cells.
 */
export const EXPORT_FIELDS = [
  'seq',
  'at',
  'kind',
  'agent',
  'actor',
  'trigger',
  'model',
  'actionClass',
  'tier',
  'verdict',
  'outcome',
  'evidence',
  'prevHash',
  'hash',
  'data',
] as const;

export interface PurgeResult {
  /** Records deleted. */
  readonly purged: number;
  /** The checkpoint record appended, or null when nothing was older than `before`. */
  readonly checkpoint: AuditRecord | null;
}

export interface RecordQuery {
  /** Records with seq greater than this. */
  readonly afterSeq?: number;
  /** Records at or after this time (epoch ms). */
  readonly since?: number;
  readonly kind?: string;
  /** At most this many (default 1000). */
  readonly limit?: number;
}

type Head = { readonly seq: number; readonly hash: string };

const PAGE = 2000;

export class AuditLog {
  private readonly now: () => number;
  private readonly q: Queries;
  private readonly appendTx: BetterSqlite3.Transaction<(entry: AuditEntry) => AuditRecord>;

  constructor(
    private readonly database: Database,
    options: AuditLogOptions,
  ) {
    this.now = options.now;
    this.q = prepareQueries(database);
    this.appendTx = database.sqlite.transaction((entry: AuditEntry) => this.appendInTx(entry));
  }

  /** Appends one record in its own write transaction and returns it as stored. */
  append(entry: AuditEntry): AuditRecord {
    return this.database.sqlite.inTransaction ? this.appendTx(entry) : this.appendTx.immediate(entry);
  }

  /**
   * Appends inside the caller's transaction, so a change and its audit record commit (or roll back)
   * together. The caller's transaction must be a write transaction (`writeTransaction()` in
   * src/db/connection.ts), or another process could append in between.
   */
  appendInTx(entry: AuditEntry): AuditRecord {
    if (!this.database.sqlite.inTransaction) {
      throw new Error('AuditLog.appendInTx() must run inside writeTransaction(); use append() otherwise');
    }
    return this.insertAfter(entry, this.readHead());
  }

  /** The newest record's seq and hash, read now (null for an empty log). */
  head(): Head | null {
    return this.readHead();
  }

  /**
   * Checks the whole chain on one consistent snapshot: `{ok: true, count}` or the first bad record
   * (changed field, broken link, missing seq) with a reason a person can read.
   */
  verify(): VerifyResult {
    return readTransaction(this.database, () => {
      const verifier = new ChainVerifier(() =>
        this.database.db.select().from(auditLog).where(eq(auditLog.kind, CHECKPOINT_KIND)).all(),
      );
      for (const row of this.pages(0)) {
        if (!verifier.add(row)) break;
      }
      return verifier.result();
    });
  }

  /** Records in seq order (for the console and the CLI). */
  records(query: RecordQuery = {}): AuditRecord[] {
    const conditions = [gt(auditLog.seq, query.afterSeq ?? 0)];
    if (query.since !== undefined) conditions.push(gte(auditLog.at, query.since));
    if (query.kind !== undefined) conditions.push(eq(auditLog.kind, query.kind));
    return this.database.db
      .select()
      .from(auditLog)
      .where(and(...conditions))
      .orderBy(asc(auditLog.seq))
      .limit(query.limit ?? 1000)
      .all()
      .map((row) => toRecord(row));
  }

  /**
   * The log as text, one chunk per line (each ending in "\n"; CSV starts with a header line), read
   * page by page so any size streams: `Readable.from(log.export({format: 'csv'})).pipe(out)`.
   * Fields and their order: EXPORT_FIELDS.
   */
  *export(options: ExportOptions): Generator<string, void, undefined> {
    const { format, since } = options;
    if (since !== undefined && !Number.isFinite(since)) {
      throw new RangeError(`export since must be a time in epoch ms, got ${since}`);
    }
    if (format !== 'jsonl' && format !== 'csv') {
      throw new RangeError(`unknown export format "${String(format)}": use jsonl or csv`);
    }
    if (format === 'csv') yield `${EXPORT_FIELDS.join(',')}\n`;
    for (const row of this.pages(0)) {
      if (since !== undefined && row.at < since) continue;
      yield format === 'jsonl' ? `${jsonLine(row)}\n` : `${csvLine(row)}\n`;
    }
  }

  /**
   * Retention: deletes every record before the first one written at or after `before` (epoch ms)
   * and appends a `purge.checkpoint` record holding the seq and hash of the last one deleted, so
   * verify() still proves the rest of the chain. One transaction.
   */
  purge(before: number, actor = 'system:retention'): PurgeResult {
    if (!Number.isSafeInteger(before)) throw new RangeError(`purge needs a time in epoch ms, got ${before}`);
    return writeTransaction(this.database, () => {
      const db = this.database.db;
      const head = this.readHead();
      if (head === null) return { purged: 0, checkpoint: null };
      const firstKept = db
        .select({ seq: min(auditLog.seq) })
        .from(auditLog)
        .where(gte(auditLog.at, before))
        .get();
      const cut = firstKept?.seq ?? head.seq + 1;
      const last = db
        .select()
        .from(auditLog)
        .where(lt(auditLog.seq, cut))
        .orderBy(desc(auditLog.seq))
        .limit(1)
        .get();
      if (last === undefined) return { purged: 0, checkpoint: null };
      const deleted = db.delete(auditLog).where(lt(auditLog.seq, cut)).run();
      const data: CheckpointData = {
        lastPurgedSeq: last.seq,
        lastPurgedHash: last.hash,
        lastPurgedAt: last.at,
        purgedCount: deleted.changes,
        before,
      };
      const checkpoint = this.insertAfter({ kind: CHECKPOINT_KIND, actor, trigger: 'retention', data }, head);
      return { purged: deleted.changes, checkpoint };
    });
  }

  private readHead(): Head | null {
    return (this.q.head.get({}) as Head | undefined) ?? null;
  }

  private insertAfter(entry: AuditEntry, prev: Head | null): AuditRecord {
    const fields = nextFields(entry, this.now(), prev);
    const row: StoredRecord = { ...fields, hash: recordHash(fields) };
    this.q.insert.run(row);
    // What was stored, without parsing back the JSON just written.
    return toRecord(row, entry.evidence ?? [], entry.data ?? null);
  }

  private *pages(afterSeq: number): Generator<StoredRecord> {
    let after = afterSeq;
    for (;;) {
      const rows = this.q.page.all({ after, limit: PAGE });
      yield* rows;
      const last = rows[rows.length - 1];
      if (last === undefined || rows.length < PAGE) return;
      after = last.seq;
    }
  }
}

type Queries = ReturnType<typeof prepareQueries>;

/** The statements, prepared once per AuditLog (the append path bypasses drizzle's per-call mapping). */
function prepareQueries(database: Database) {
  const db = database.db;
  const p = sql.placeholder;
  return {
    head: fastStatement<Record<string, never>>(
      database,
      // `seq = (SELECT max(seq))` finds the last row in O(log n); `ORDER BY seq DESC LIMIT ?` is 5x slower.
      db
        .select({ seq: auditLog.seq, hash: auditLog.hash })
        .from(auditLog)
        .where(eq(auditLog.seq, db.select({ last: max(auditLog.seq) }).from(auditLog))),
    ),
    insert: fastStatement<StoredRecord>(
      database,
      db.insert(auditLog).values({
        seq: p('seq'),
        at: p('at'),
        kind: p('kind'),
        agent: p('agent'),
        actor: p('actor'),
        trigger: p('trigger'),
        model: p('model'),
        actionClass: p('actionClass'),
        tier: p('tier'),
        verdict: p('verdict'),
        outcome: p('outcome'),
        evidence: p('evidence'),
        data: p('data'),
        prevHash: p('prevHash'),
        hash: p('hash'),
      }),
    ),
    page: db
      .select()
      .from(auditLog)
      .where(gt(auditLog.seq, sql.placeholder('after')))
      .orderBy(asc(auditLog.seq))
      .limit(sql.placeholder('limit'))
      .prepare(),
  };
}

function iso(at: number): string {
  const date = new Date(at);
  return Number.isNaN(date.getTime()) ? String(at) : date.toISOString();
}

function jsonLine(row: StoredRecord): string {
  // Built by hand to keep EXPORT_FIELDS order; evidence and data are already JSON text.
  return (
    `{"seq":${row.seq},"at":${JSON.stringify(iso(row.at))},"kind":${JSON.stringify(row.kind)},` +
    `"agent":${JSON.stringify(row.agent)},"actor":${JSON.stringify(row.actor)},` +
    `"trigger":${JSON.stringify(row.trigger)},"model":${JSON.stringify(row.model)},` +
    `"actionClass":${JSON.stringify(row.actionClass)},"tier":${JSON.stringify(row.tier)},` +
    `"verdict":${JSON.stringify(row.verdict)},"outcome":${JSON.stringify(row.outcome)},` +
    `"evidence":${jsonText(row.evidence)},"prevHash":${JSON.stringify(row.prevHash)},` +
    `"hash":${JSON.stringify(row.hash)},"data":${row.data === null ? 'null' : jsonText(row.data)}}`
  );
}

/** Stored JSON text as is; text that is not JSON (a damaged row) as a JSON string, so the line stays valid. */
function jsonText(text: string): string {
  try {
    JSON.parse(text);
    return text;
  } catch {
    return JSON.stringify(text);
  }
}

function csvLine(row: StoredRecord): string {
  return [
    String(row.seq),
    iso(row.at),
    row.kind,
    row.agent,
    row.actor,
    row.trigger,
    row.model,
    row.actionClass,
    row.tier === null ? null : String(row.tier),
    row.verdict,
    row.outcome,
    row.evidence,
    row.prevHash,
    row.hash,
    row.data,
  ]
    .map(csvCell)
    .join(',');
}

/** RFC 4180: quote a cell holding a comma, quote, CR or LF, doubling its quotes; null is empty. */
function csvCell(value: string | null): string {
  if (value === null) return '';
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}
