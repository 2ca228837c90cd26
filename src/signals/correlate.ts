/**
 * Incident correlation, inside the SignalStore's write transaction (see store.ts for the rules):
 * update an open incident, resolve it, reopen a recently resolved one, close a stale one, or open
 * a new one numbered max+1. Opens, reopens and resolutions are audited in the same transaction.
 */
import { eq, max, sql } from 'drizzle-orm';
import type { AuditLog } from '../audit/log.js';
import type { Database } from '../db/connection.js';
import { incidents } from '../db/schema.js';
import type { NewId } from '../ids.js';
import {
  cut,
  type IncidentRow,
  MAX_TITLE,
  type Queries,
  RANK,
  shortIdOf,
  toChange,
} from './store-queries.js';
import type { IncidentChange, SignalInput } from './types.js';

export const DEFAULT_REOPEN_WINDOW_MS = 10 * 60_000;
export const DEFAULT_STALE_AFTER_MS = 24 * 60 * 60_000;
/** Who resolves an incident that went quiet and was superseded. */
export const STALE_ACTOR = 'system:stale';

export interface CorrelatorOptions {
  readonly newId: NewId;
  readonly audit: AuditLog | null;
  readonly reopenWindowMs: number;
  readonly staleAfterMs: number;
}

export class IncidentCorrelator {
  private readonly newId: NewId;
  private readonly audit: AuditLog | null;
  private readonly reopenWindowMs: number;
  private readonly staleAfterMs: number;

  constructor(
    private readonly database: Database,
    private readonly q: Queries,
    options: CorrelatorOptions,
  ) {
    this.newId = options.newId;
    this.audit = options.audit;
    this.reopenWindowMs = options.reopenWindowMs;
    this.staleAfterMs = options.staleAfterMs;
  }

  isStale(open: IncidentRow, at: number): boolean {
    return at - (open.last_signal_at ?? open.detected_at) > this.staleAfterMs;
  }

  /** One more signal of an open incident: count, last signal, highest severity, earliest start. */
  update(open: IncidentRow, input: SignalInput, at: number): IncidentChange {
    const occurred = input.occurredAt ?? null;
    const severity = RANK[input.severity] > RANK[open.severity] ? input.severity : open.severity;
    const startedAt = occurred !== null && occurred < open.started_at ? occurred : open.started_at;
    // Only a changed start or severity touches their columns (and the index on started_at).
    if (severity === open.severity && startedAt === open.started_at)
      this.q.countUpdate.run({ id: open.id, at });
    else this.q.updateIncident.run({ id: open.id, at, severity, startedAt });
    const row: IncidentRow = {
      ...open,
      severity,
      started_at: startedAt,
      signal_count: open.signal_count + 1,
      last_signal_at: at,
    };
    return toChange(row, 'updated');
  }

  /** Everything but the common case: resolutions, stale incidents, reopening, opening. */
  correlate(
    input: SignalInput,
    at: number,
    found: IncidentRow | null,
  ): { incidentId: string | null; change: IncidentChange | null } {
    const occurred = input.occurredAt ?? null;
    let open = found;
    if (open !== null && !input.resolves && this.isStale(open, at)) {
      const quietSince = open.last_signal_at ?? open.detected_at;
      this.setResolved(open, Math.max(open.started_at, quietSince), STALE_ACTOR, input, 'went quiet', at);
      open = null;
    }
    if (input.resolves) {
      if (open === null) {
        const last = this.lastIncident(input.fingerprint);
        if (last !== null) this.q.countSignal.run({ id: last.id });
        return { incidentId: last?.id ?? null, change: null };
      }
      const resolvedAt = Math.min(at, Math.max(open.started_at, occurred ?? at));
      const row = this.setResolved(
        open,
        resolvedAt,
        `source:${input.source}`,
        input,
        'resolved by its source',
        at,
      );
      return { incidentId: open.id, change: toChange(row, 'resolved') };
    }
    if (open !== null) return { incidentId: open.id, change: this.update(open, input, at) };
    const last = this.lastIncident(input.fingerprint);
    if (last !== null && last.resolved_at !== null) {
      if (occurred !== null && occurred < last.resolved_at) {
        // Happened before the resolution (a late or replayed delivery): evidence, not a relapse.
        this.q.countSignal.run({ id: last.id });
        return { incidentId: last.id, change: null };
      }
      if (at - last.resolved_at <= this.reopenWindowMs && last.resolved_by !== STALE_ACTOR) {
        return { incidentId: last.id, change: this.reopen(last, input, at) };
      }
    }
    return this.open(input, at);
  }

  private lastIncident(fingerprint: string): IncidentRow | null {
    return (this.q.lastIncident.get({ fp: fingerprint }) as IncidentRow | undefined) ?? null;
  }

  private setResolved(
    row: IncidentRow,
    resolvedAt: number,
    by: string,
    input: SignalInput,
    why: string,
    at: number,
  ): IncidentRow {
    const db = this.database.db;
    const countsSignal = by !== STALE_ACTOR;
    db.update(incidents)
      .set({
        status: 'resolved',
        resolvedAt,
        resolvedBy: by,
        ...(countsSignal ? { signalCount: sql`${incidents.signalCount} + 1`, lastSignalAt: at } : {}),
      })
      .where(eq(incidents.id, row.id))
      .run();
    this.audit?.appendInTx({
      kind: 'incident.resolved',
      actor: by,
      trigger: 'signal',
      outcome: `${shortIdOf(row.number)} ${why}`,
      evidence: [input.dedupeKey],
      data: { incident: shortIdOf(row.number), fingerprint: row.fingerprint, resolvedAt },
    });
    return {
      ...row,
      status: 'resolved',
      resolved_at: resolvedAt,
      resolved_by: by,
      signal_count: countsSignal ? row.signal_count + 1 : row.signal_count,
      last_signal_at: countsSignal ? at : row.last_signal_at,
    };
  }

  private reopen(last: IncidentRow, input: SignalInput, at: number): IncidentChange {
    const severity = RANK[input.severity] > RANK[last.severity] ? input.severity : last.severity;
    this.database.db
      .update(incidents)
      .set({
        status: 'open',
        resolvedAt: null,
        resolvedBy: null,
        severity,
        signalCount: sql`${incidents.signalCount} + 1`,
        lastSignalAt: at,
      })
      .where(eq(incidents.id, last.id))
      .run();
    this.audit?.appendInTx({
      kind: 'incident.reopened',
      actor: `source:${input.source}`,
      trigger: 'signal',
      outcome: `${shortIdOf(last.number)} reopened: it came back within ${Math.round(this.reopenWindowMs / 60_000)} min of being resolved`,
      evidence: [input.dedupeKey],
      data: {
        incident: shortIdOf(last.number),
        fingerprint: last.fingerprint,
        previouslyResolvedBy: last.resolved_by,
      },
    });
    return toChange(
      {
        ...last,
        status: 'open',
        severity,
        resolved_at: null,
        resolved_by: null,
        signal_count: last.signal_count + 1,
        last_signal_at: at,
      },
      'reopened',
    );
  }

  private open(input: SignalInput, at: number): { incidentId: string; change: IncidentChange } {
    const db = this.database.db;
    const top = db
      .select({ n: max(incidents.number) })
      .from(incidents)
      .get();
    const number = (top?.n ?? 0) + 1;
    const occurred = input.occurredAt ?? null;
    const row: IncidentRow = {
      id: this.newId('inc'),
      number,
      fingerprint: input.fingerprint,
      title: cut(input.title, MAX_TITLE),
      severity: input.severity,
      service: input.service ?? null,
      status: 'open',
      started_at: occurred !== null && occurred < at ? occurred : at,
      detected_at: at,
      resolved_at: null,
      resolved_by: null,
      signal_count: 1,
      last_signal_at: at,
    };
    db.insert(incidents)
      .values({
        id: row.id,
        number: row.number,
        fingerprint: row.fingerprint,
        title: row.title,
        severity: row.severity,
        service: row.service,
        status: 'open',
        startedAt: row.started_at,
        detectedAt: row.detected_at,
        signalCount: 1,
        lastSignalAt: at,
      })
      .run();
    this.audit?.appendInTx({
      kind: 'incident.opened',
      actor: `source:${input.source}`,
      trigger: 'signal',
      outcome: `${shortIdOf(number)} opened: ${row.title}`,
      evidence: [input.dedupeKey],
      data: {
        incident: shortIdOf(number),
        fingerprint: row.fingerprint,
        kind: input.kind,
        severity: row.severity,
        service: row.service,
      },
    });
    return { incidentId: row.id, change: toChange(row, 'opened') };
  }
}
