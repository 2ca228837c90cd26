/**
 * Incident correlation, inside the SignalStore's write transaction (see store.ts for the rules):
 * update an open incident, join one (fingerprint family, or same service within the correlation
 * window), resolve one (when its last firing fingerprint resolves), reopen a recently resolved
 * one, close a stale one, or open a new one numbered max+1. Opens, joins, reopens and (partial)
 * resolutions are audited in the same transaction. members.ts says which fingerprints fire where.
 */
import { eq, sql } from 'drizzle-orm';
import type { AuditLog } from '../../audit/log.js';
import type { Database } from '../../db/connection.js';
import { incidents } from '../../db/schema.js';
import type { SignalKind } from '../../policy/vocabulary.js';
import type { NewId } from '../../process/ids.js';
import type { IncidentChange, SignalInput } from '../types.js';
import { IncidentMembers } from './members.js';
import {
  advanced,
  cut,
  type IncidentRow,
  MAX_TITLE,
  type Queries,
  RANK,
  shortIdOf,
  toChange,
} from './store-queries.js';

export const DEFAULT_REOPEN_WINDOW_MS = 10 * 60_000;
export const DEFAULT_STALE_AFTER_MS = 24 * 60 * 60_000;
/** A new fingerprint joins its service's open incident if that heard a signal this recently. */
export const DEFAULT_CORRELATION_WINDOW_MS = 10 * 60_000;
/** Who resolves an incident that went quiet and was superseded. */
export const STALE_ACTOR = 'system:stale';

export interface CorrelatorOptions {
  readonly newId: NewId;
  readonly audit: AuditLog | null;
  readonly reopenWindowMs: number;
  readonly staleAfterMs: number;
  /** 0 turns correlation by service off. */
  readonly correlationWindowMs: number;
}

/** Where a signal goes: the incident it is linked to (null: stored unlinked) and what changed. */
export interface Correlated {
  readonly incidentId: string | null;
  readonly change: IncidentChange | null;
}

const NOTHING: Correlated = { incidentId: null, change: null };

/**
 * The signal kinds that join an open incident of their service: evidence that the service is
 * failing (an alert, a health probe, an error signature, a failed job, a failed sweep). An
 * advisory or a generic event never joins by service; a family joins whatever its kind.
 */
export const JOINS_BY_SERVICE: ReadonlySet<SignalKind> = new Set<SignalKind>([
  'alert',
  'health',
  'error_signature',
  'failed_job',
  'sweep_failure',
]);

/** The title of an incident once a signal titled `added` joined it: both, unless already listed. */
export function joinedTitle(title: string, added: string): string {
  const part = added.trim();
  if (part === '' || title.split(' + ').includes(part)) return title;
  return cut(`${title} + ${part}`, MAX_TITLE);
}

export class IncidentCorrelator {
  private readonly newId: NewId;
  private readonly audit: AuditLog | null;
  private readonly reopenWindowMs: number;
  private readonly staleAfterMs: number;
  private readonly correlationWindowMs: number;
  private readonly members: IncidentMembers;

  constructor(
    private readonly database: Database,
    private readonly q: Queries,
    options: CorrelatorOptions,
  ) {
    this.newId = options.newId;
    this.audit = options.audit;
    this.reopenWindowMs = options.reopenWindowMs;
    this.staleAfterMs = options.staleAfterMs;
    this.correlationWindowMs = options.correlationWindowMs;
    this.members = new IncidentMembers(q);
  }

  isStale(open: IncidentRow, at: number): boolean {
    return at - (open.last_signal_at ?? open.detected_at) > this.staleAfterMs;
  }

  /** One more signal of an open incident: count, last signal, highest severity, earliest start. */
  update(open: IncidentRow, input: SignalInput, at: number): IncidentChange {
    const row = advanced(open, input, at);
    // Only a changed start or severity touches their columns (and the index on started_at).
    if (row.severity === open.severity && row.started_at === open.started_at)
      this.q.countUpdate.run({ id: open.id, at });
    else this.q.updateIncident.run({ id: open.id, at, severity: row.severity, startedAt: row.started_at });
    return toChange(row, 'updated');
  }

  /**
   * Everything but the common case (one more signal of the incident its fingerprint opened):
   * `found` is that incident when there is one. See store.ts for the order of the rules.
   */
  correlate(input: SignalInput, at: number, found: IncidentRow | null): Correlated {
    const fingerprint = input.fingerprint;
    const occurred = input.occurredAt ?? null;
    const latest = found === null ? this.members.latest(fingerprint) : null;
    let open = found ?? this.members.firingIn(latest);
    if (open !== null && !input.resolves && this.isStale(open, at)) {
      this.closeStale(open, input, at);
      open = null;
    }
    if (input.resolves) {
      if (open !== null) return this.resolve(open, input, at);
      // Nothing of it is firing: evidence for the incident it was last part of, changing nothing.
      const last = this.members.lastIncidentOf(fingerprint);
      if (last !== null) this.q.countSignal.run({ id: last.id });
      return NOTHING;
    }
    if (open !== null) return { incidentId: open.id, change: this.update(open, input, at) };
    const last = this.members.lastIncidentOf(fingerprint);
    // When it last stopped: its last incident's resolution, or its own (an unlinked latest signal).
    const resolvedAt = last?.resolved_at ?? (latest?.incident_id === null ? latest.occurred_at : null);
    if (occurred !== null && resolvedAt !== null && occurred < resolvedAt) {
      // Happened before the resolution (a late or replayed delivery): evidence, not a relapse.
      if (last !== null) this.q.countSignal.run({ id: last.id });
      return NOTHING;
    }
    // A family's open incident comes before reopening one of its own: one incident per family.
    const family = input.family ? this.joinFamily(input, input.family, at) : null;
    if (family !== null) return family;
    if (last !== null && this.reopenable(last, fingerprint, at)) {
      return { incidentId: last.id, change: this.reopen(last, input, at) };
    }
    return (input.family ? null : this.joinService(input, at)) ?? this.open(input, at);
  }

  /** A resolution of a firing fingerprint: the incident's if no other member is still firing. */
  private resolve(open: IncidentRow, input: SignalInput, at: number): Correlated {
    if (this.members.othersFiring(open, input.fingerprint)) {
      this.q.countUpdate.run({ id: open.id, at });
      const row: IncidentRow = { ...open, signal_count: open.signal_count + 1, last_signal_at: at };
      this.audit?.appendInTx({
        kind: 'incident.member-resolved',
        actor: `source:${input.source}`,
        trigger: 'signal',
        outcome: `${shortIdOf(open.number)} stays open: ${input.fingerprint} resolved, other signals in it are still firing`,
        evidence: [input.dedupeKey],
        data: { incident: shortIdOf(open.number), fingerprint: input.fingerprint },
      });
      return { incidentId: null, change: toChange(row, 'updated') };
    }
    const occurred = input.occurredAt ?? null;
    const resolvedAt = Math.min(at, Math.max(open.started_at, occurred ?? at));
    const row = this.setResolved(
      open,
      resolvedAt,
      `source:${input.source}`,
      input,
      'resolved by its source',
      at,
    );
    return { incidentId: null, change: toChange(row, 'resolved') };
  }

  private closeStale(open: IncidentRow, input: SignalInput, at: number): void {
    const quietSince = open.last_signal_at ?? open.detected_at;
    this.setResolved(open, Math.max(open.started_at, quietSince), STALE_ACTOR, input, 'went quiet', at);
  }

  /** Reopens only what its source or a person resolved, recently, and never a second open incident of one fingerprint. */
  private reopenable(last: IncidentRow, fingerprint: string, at: number): boolean {
    if (last.status !== 'resolved' || last.resolved_at === null) return false;
    if (at - last.resolved_at > this.reopenWindowMs) return false;
    if (last.resolved_by === STALE_ACTOR) return false;
    return (
      last.fingerprint === fingerprint || this.q.openIncident.get({ fp: last.fingerprint }) === undefined
    );
  }

  /** Joins the family's unresolved incident (however long ago it opened), unless that went stale. */
  private joinFamily(input: SignalInput, family: string, at: number): Correlated | null {
    const target = this.members.familyIncident(family);
    if (target === null) return null;
    if (this.isStale(target, at)) {
      this.closeStale(target, input, at);
      return null;
    }
    return this.joined(target, input, at, `family ${family}`);
  }

  /**
   * Joins the service's unresolved incident if that heard a signal within the correlation window.
   * Only a kind that says the service is failing joins by service (`JOINS_BY_SERVICE`): never an
   * advisory (nor into an advisory's incident: see serviceIncident), nor a generic event (a
   * `backup failed` event of demo-api is its own incident, not part of `demo-api down`).
   */
  private joinService(input: SignalInput, at: number): Correlated | null {
    if (!JOINS_BY_SERVICE.has(input.kind) || !input.service || this.correlationWindowMs <= 0) return null;
    const target = this.members.serviceIncident(input.service, at - this.correlationWindowMs);
    return target === null ? null : this.joined(target, input, at, `service ${input.service}`);
  }

  /**
   * A new fingerprint joins. Joined by service, the incident's title lists what it holds from now on
   * (`demo-api down + HighErrorRate`), so the card says what was joined; a family member is the same
   * problem seen from another side and leaves the title as it is.
   */
  private joined(target: IncidentRow, input: SignalInput, at: number, how: string): Correlated {
    const title = how.startsWith('service ') ? joinedTitle(target.title, input.title) : target.title;
    if (title !== target.title) {
      this.database.db.update(incidents).set({ title }).where(eq(incidents.id, target.id)).run();
    }
    const change = this.update({ ...target, title }, input, at);
    this.audit?.appendInTx({
      kind: 'incident.joined',
      actor: `source:${input.source}`,
      trigger: 'signal',
      outcome: `${input.fingerprint} joined ${shortIdOf(target.number)} (same ${how})`,
      evidence: [input.dedupeKey],
      data: { incident: shortIdOf(target.number), fingerprint: input.fingerprint, by: how },
    });
    return { incidentId: target.id, change };
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
    const top = this.q.topNumber.get({}) as { n: number | null } | undefined;
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
    this.q.insertIncident.run({
      id: row.id,
      number: row.number,
      fingerprint: row.fingerprint,
      title: row.title,
      severity: row.severity,
      service: row.service,
      startedAt: row.started_at,
      detectedAt: row.detected_at,
    });
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
