/**
 * Keeps the signature miner's templates in `signature_templates`, so signature ids (and the
 * merges behind them) survive restarts: `SignatureMiner.restore(store.load())` at start, then
 * `store.save(miner.snapshot())` now and then (the /hooks/logs route does it at most once a second
 * while lines arrive, and once more at stop). A save writes only the templates that changed since
 * the last save and deletes those the miner no longer has (merged into another, or evicted).
 */
import { inArray, sql } from 'drizzle-orm';
import { type Database, writeTransaction } from '../../db/connection.js';
import { signatureTemplates } from '../../db/schema.js';
import type { TemplateRecord } from './miner.js';

export interface SaveResult {
  readonly written: number;
  readonly deleted: number;
}

/** What a save compares: a record restored under older rules is written back once under today's. */
function stamp(r: TemplateRecord): string {
  return `${r.count}\u0000${r.lastSeen}\u0000${r.firstSeen}\u0000${r.template}\u0000${r.aliases.join(',')}\u0000${r.masking ?? 0}`;
}

const DELETE_CHUNK = 500;

export class TemplateStore {
  /** What the table holds, as last read or written by this store: signature -> stamp. */
  private readonly saved = new Map<string, string>();

  constructor(private readonly database: Database) {}

  /** Every stored record (the miner's own JSON), for `SignatureMiner.restore()`. */
  load(): unknown[] {
    const rows = this.database.db
      .select({ record: signatureTemplates.record })
      .from(signatureTemplates)
      .orderBy(signatureTemplates.lastSeenAt)
      .all();
    this.saved.clear();
    const out: unknown[] = [];
    for (const { record } of rows) {
      out.push(record);
      const r = record as Partial<TemplateRecord> | null;
      if (r && typeof r.signature === 'string' && Array.isArray(r.aliases)) {
        this.saved.set(r.signature, stamp(r as TemplateRecord));
      }
    }
    return out;
  }

  /** Writes the changes between the last save and `records` (a full miner snapshot), in one transaction. */
  save(records: readonly TemplateRecord[]): SaveResult {
    const changed: TemplateRecord[] = [];
    const present = new Set<string>();
    for (const r of records) {
      present.add(r.signature);
      if (this.saved.get(r.signature) !== stamp(r)) changed.push(r);
    }
    const gone = [...this.saved.keys()].filter((s) => !present.has(s));
    if (changed.length === 0 && gone.length === 0) return { written: 0, deleted: 0 };
    const db = this.database.db;
    writeTransaction(this.database, () => {
      for (const r of changed) {
        db.insert(signatureTemplates)
          .values({
            signature: r.signature,
            template: r.template,
            record: r,
            count: r.count,
            firstSeenAt: Math.trunc(r.firstSeen),
            lastSeenAt: Math.trunc(r.lastSeen),
          })
          .onConflictDoUpdate({
            target: signatureTemplates.signature,
            set: {
              template: sql`excluded.template`,
              record: sql`excluded.record`,
              count: sql`excluded.count`,
              firstSeenAt: sql`excluded.first_seen_at`,
              lastSeenAt: sql`excluded.last_seen_at`,
            },
          })
          .run();
      }
      for (let i = 0; i < gone.length; i += DELETE_CHUNK) {
        db.delete(signatureTemplates)
          .where(inArray(signatureTemplates.signature, gone.slice(i, i + DELETE_CHUNK)))
          .run();
      }
    });
    // Only after the write succeeded (a rollback leaves `saved` as it was, so the next save retries).
    for (const r of changed) this.saved.set(r.signature, stamp(r));
    for (const s of gone) this.saved.delete(s);
    return { written: changed.length, deleted: gone.length };
  }
}
