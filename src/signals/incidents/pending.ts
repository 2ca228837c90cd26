/**
 * The hot path's incident writes, held until the end of the write transaction: the signals of one
 * open incident in one group commit (an alert storm: dozens per commit) cost one SELECT and one
 * UPDATE of the incident instead of one of each per signal. Only the SignalStore's fast path uses
 * it (one more signal of the incident its fingerprint opened); everything else reads the database,
 * so the store writes what is held before anything else runs in the transaction (the correlator,
 * a `commit()` unit of someone else's), and before COMMIT. Held rows never outlive a transaction.
 */
import type { Severity } from '../../policy/vocabulary.js';
import type { IncidentRow, Queries } from './store-queries.js';

interface Held {
  row: IncidentRow;
  /** As the database has it, to write only the columns that changed. */
  readonly severity: Severity;
  readonly startedAt: number;
}

export class PendingIncidents {
  private readonly byFingerprint = new Map<string, Held>();

  constructor(private readonly q: Queries) {}

  /** The open incident of `fingerprint` as this transaction left it, if the fast path touched it. */
  get(fingerprint: string): IncidentRow | undefined {
    return this.byFingerprint.get(fingerprint)?.row;
  }

  /** Holds `after`, the new state of `before` (read from the database or held already). */
  hold(fingerprint: string, before: IncidentRow, after: IncidentRow): void {
    const held = this.byFingerprint.get(fingerprint);
    if (held !== undefined) held.row = after;
    else
      this.byFingerprint.set(fingerprint, {
        row: after,
        severity: before.severity,
        startedAt: before.started_at,
      });
  }

  /** Writes every held row and forgets them (before anything else reads incidents, and before COMMIT). */
  write(): void {
    if (this.byFingerprint.size === 0) return;
    for (const { row, severity, startedAt } of this.byFingerprint.values()) {
      const count = row.signal_count;
      const at = row.last_signal_at ?? row.detected_at;
      // Only a changed start or severity touches their columns (and the index on started_at).
      if (row.severity === severity && row.started_at === startedAt)
        this.q.setCount.run({ id: row.id, count, at });
      else
        this.q.setCountSeverity.run({
          id: row.id,
          count,
          at,
          severity: row.severity,
          startedAt: row.started_at,
        });
    }
    this.byFingerprint.clear();
  }

  /** Forgets without writing (the transaction is rolled back). */
  discard(): void {
    this.byFingerprint.clear();
  }
}
