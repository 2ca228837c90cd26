/**
 * The SignalStore's statements (drizzle's query builder, bound straight to better-sqlite3 on the
 * hot path: see fastStatement) and the incident row they read, with the small helpers both the
 * store and the correlator use. The hot path (one more signal of an open incident) uses
 * `openIncident`, `insertSignal` and `countUpdate`; the rest serve correlation's rarer cases.
 */
import { and, desc, eq, gte, isNotNull, lt, ne, sql } from 'drizzle-orm';
import { type Database, fastStatement } from '../../db/connection.js';
import { type IncidentStatus, incidents, signals } from '../../db/schema.js';
import type { Severity } from '../../policy/vocabulary.js';
import type { IncidentChange, SignalInput } from '../types.js';

export const RANK: Readonly<Record<Severity, number>> = { info: 0, warning: 1, critical: 2 };
export const MAX_TITLE = 300;

export function cut(text: string, length: number): string {
  return text.length <= length ? text : `${text.slice(0, length - 1)}…`;
}

/** Characters of the injected id a timeOrdered id keeps: of a random one, 64 bits (16 hex digits). */
export const TIME_ORDERED_KEEP = 16;

/**
 * `sig_<id>` -> `sig_<receipt time, base 36>_<id, its first 16 characters>`: ids that sort by time,
 * so inserting a signal appends to the primary-key index instead of dirtying a random page of it
 * (random UUIDs cost about a quarter of the pages each commit writes). Still unique: two ids clash
 * only if 64 random bits do within one millisecond. Short, too: the id is in two B-trees of every
 * signal (36 bytes instead of 46 is about 1.5 µs of a webhook's 52 in bench/ingest.bench.ts).
 */
export function timeOrdered(id: string, at: number, stamp = timeStamp(at)): string {
  const sep = id.indexOf('_');
  const rest = id.slice(sep + 1, sep + 1 + TIME_ORDERED_KEEP);
  return sep < 0 ? `${stamp}_${rest}` : `${id.slice(0, sep)}_${stamp}_${rest}`;
}

/** The time part of a timeOrdered id: epoch ms in base 36, 9 digits (sorts as text until 5188). */
export function timeStamp(at: number): string {
  return Math.max(0, Math.trunc(at)).toString(36).padStart(9, '0');
}

export function shortIdOf(number: number): string {
  return `i${number}`;
}

/** An incidents row as SQLite returns it (column names). */
export interface IncidentRow {
  id: string;
  number: number;
  fingerprint: string;
  title: string;
  severity: Severity;
  service: string | null;
  status: IncidentStatus;
  started_at: number;
  detected_at: number;
  resolved_at: number | null;
  resolved_by: string | null;
  signal_count: number;
  last_signal_at: number | null;
}

/** The columns of an IncidentRow, keyed by their SQL names (fastStatement returns rows keyed so). */
const INCIDENT_ROW = {
  id: incidents.id,
  number: incidents.number,
  fingerprint: incidents.fingerprint,
  title: incidents.title,
  severity: incidents.severity,
  service: incidents.service,
  status: incidents.status,
  started_at: incidents.startedAt,
  detected_at: incidents.detectedAt,
  resolved_at: incidents.resolvedAt,
  resolved_by: incidents.resolvedBy,
  signal_count: incidents.signalCount,
  last_signal_at: incidents.lastSignalAt,
} satisfies Record<keyof IncidentRow, unknown>;

export function toChange(row: IncidentRow, change: IncidentChange['change']): IncidentChange {
  return {
    id: row.id,
    shortId: shortIdOf(row.number),
    change,
    fingerprint: row.fingerprint,
    title: row.title,
    severity: row.severity,
    service: row.service,
    signalCount: row.signal_count,
  };
}

/** A fingerprint's latest signal, as SQLite returns it: where it went and when it happened. */
export interface LatestSignal {
  incident_id: string | null;
  occurred_at: number | null;
}

/** The row after one more signal: count, last signal, the highest severity, the earliest start. */
export function advanced(open: IncidentRow, input: SignalInput, at: number): IncidentRow {
  const occurred = input.occurredAt ?? null;
  return {
    ...open,
    severity: RANK[input.severity] > RANK[open.severity] ? input.severity : open.severity,
    started_at: occurred !== null && occurred < open.started_at ? occurred : open.started_at,
    signal_count: open.signal_count + 1,
    last_signal_at: at,
  };
}

export type Queries = ReturnType<typeof prepareQueries>;

/** The hot path's statements, bound straight to better-sqlite3 (see fastStatement). */
export function prepareQueries(database: Database) {
  const db = database.db;
  const p = sql.placeholder;
  return {
    signalByKey: fastStatement<{ key: string }>(
      database,
      db
        .select({ id: signals.id })
        .from(signals)
        .where(eq(signals.dedupeKey, p('key'))),
    ),
    // The literal 'resolved' (not a parameter) lets SQLite use the partial unique index.
    openIncident: fastStatement<{ fp: string }>(
      database,
      db
        .select(INCIDENT_ROW)
        .from(incidents)
        .where(and(eq(incidents.fingerprint, p('fp')), sql`${incidents.status} <> 'resolved'`)),
    ),
    lastIncident: fastStatement<{ fp: string }>(
      database,
      db
        .select(INCIDENT_ROW)
        .from(incidents)
        .where(eq(incidents.fingerprint, p('fp')))
        .orderBy(desc(incidents.startedAt), desc(incidents.number))
        .limit(1),
    ),
    incidentById: fastStatement<{ id: string }>(
      database,
      db
        .select(INCIDENT_ROW)
        .from(incidents)
        .where(eq(incidents.id, p('id'))),
    ),
    /** A fingerprint's latest signal (linked or not): see LatestSignal. */
    latestSignal: fastStatement<{ fp: string }>(
      database,
      db
        .select({ incident_id: signals.incidentId, occurred_at: signals.occurredAt })
        .from(signals)
        .where(eq(signals.fingerprint, p('fp')))
        .orderBy(desc(signals.receivedAt), desc(signals.id))
        .limit(1),
    ),
    /** A fingerprint's latest signal linked to an incident: which incident it was last part of. */
    latestLinked: fastStatement<{ fp: string }>(
      database,
      db
        .select({ incident_id: signals.incidentId })
        .from(signals)
        .where(and(eq(signals.fingerprint, p('fp')), isNotNull(signals.incidentId)))
        .orderBy(desc(signals.receivedAt), desc(signals.id))
        .limit(1),
    ),
    /** The other fingerprints with signals in an incident (its members, firing or not). */
    otherMembers: db
      .selectDistinct({ fingerprint: signals.fingerprint })
      .from(signals)
      .where(and(eq(signals.incidentId, p('id')), ne(signals.fingerprint, p('fp'))))
      .prepare(),
    /**
     * The unresolved incident of a fingerprint family (fingerprints `<family>:...`, the range
     * [lo, hi) with lo = `<family>:` and hi = `<family>;`), the most recently active first.
     */
    familyIncident: fastStatement<{ lo: string; hi: string }>(
      database,
      db
        .select(INCIDENT_ROW)
        .from(incidents)
        .where(
          and(
            gte(incidents.fingerprint, p('lo')),
            lt(incidents.fingerprint, p('hi')),
            sql`${incidents.status} <> 'resolved'`,
          ),
        )
        .orderBy(desc(incidents.lastSignalAt))
        .limit(1),
    ),
    /**
     * The unresolved incident of a service that heard a signal since `since`, the most recently
     * active first; only one opened by a kind that joins by service (its first signal tells: an
     * advisory's or a generic event's incident is joined by nothing; see JOINS_BY_SERVICE).
     */
    serviceIncident: fastStatement<{ service: string; since: number }>(
      database,
      db
        .select(INCIDENT_ROW)
        .from(incidents)
        .where(
          and(
            eq(incidents.service, p('service')),
            sql`${incidents.status} <> 'resolved'`,
            gte(incidents.lastSignalAt, p('since')),
            sql`coalesce((select ${signals.kind} from ${signals} where ${signals.incidentId} = ${incidents.id} limit 1), '') not in ('advisory', 'event')`,
          ),
        )
        .orderBy(desc(incidents.lastSignalAt))
        .limit(1),
    ),
    insertSignal: fastStatement<{
      id: string;
      kind: string;
      source: string;
      dedupeKey: string;
      fingerprint: string;
      title: string;
      service: string | null;
      severity: string;
      payload: string;
      occurredAt: number | null;
      receivedAt: number;
      incidentId: string | null;
    }>(
      database,
      db
        .insert(signals)
        .values({
          id: p('id'),
          kind: p('kind'),
          source: p('source'),
          dedupeKey: p('dedupeKey'),
          fingerprint: p('fingerprint'),
          title: p('title'),
          service: p('service'),
          severity: p('severity'),
          payload: p('payload'),
          occurredAt: p('occurredAt'),
          receivedAt: p('receivedAt'),
          incidentId: p('incidentId'),
        })
        .onConflictDoNothing({ target: signals.dedupeKey }),
    ),
    updateIncident: fastStatement<{ id: string; at: number; severity: Severity; startedAt: number }>(
      database,
      db
        .update(incidents)
        .set({
          signalCount: sql`${incidents.signalCount} + 1`,
          lastSignalAt: sql`${p('at')}`,
          severity: sql`${p('severity')}`,
          startedAt: sql`${p('startedAt')}`,
        })
        .where(eq(incidents.id, p('id'))),
    ),
    countUpdate: fastStatement<{ id: string; at: number }>(
      database,
      db
        .update(incidents)
        .set({ signalCount: sql`${incidents.signalCount} + 1`, lastSignalAt: sql`${p('at')}` })
        .where(eq(incidents.id, p('id'))),
    ),
    /** Absolute counts, for the writes deferred to the end of a transaction (pending.ts). */
    setCount: fastStatement<{ id: string; count: number; at: number }>(
      database,
      db
        .update(incidents)
        .set({ signalCount: sql`${p('count')}`, lastSignalAt: sql`${p('at')}` })
        .where(eq(incidents.id, p('id'))),
    ),
    setCountSeverity: fastStatement<{
      id: string;
      count: number;
      at: number;
      severity: Severity;
      startedAt: number;
    }>(
      database,
      db
        .update(incidents)
        .set({
          signalCount: sql`${p('count')}`,
          lastSignalAt: sql`${p('at')}`,
          severity: sql`${p('severity')}`,
          startedAt: sql`${p('startedAt')}`,
        })
        .where(eq(incidents.id, p('id'))),
    ),
    /** The highest incident number so far (a new incident takes the next). */
    topNumber: fastStatement<Record<string, never>>(
      database,
      db.select({ n: sql<number | null>`max(${incidents.number})`.as('n') }).from(incidents),
    ),
    insertIncident: fastStatement<{
      id: string;
      number: number;
      fingerprint: string;
      title: string;
      severity: Severity;
      service: string | null;
      startedAt: number;
      detectedAt: number;
    }>(
      database,
      db.insert(incidents).values({
        id: p('id'),
        number: p('number'),
        fingerprint: p('fingerprint'),
        title: p('title'),
        severity: p('severity'),
        service: p('service'),
        status: 'open',
        startedAt: p('startedAt'),
        detectedAt: p('detectedAt'),
        signalCount: 1,
        lastSignalAt: p('detectedAt'),
      }),
    ),
    countSignal: fastStatement<{ id: string }>(
      database,
      db
        .update(incidents)
        .set({ signalCount: sql`${incidents.signalCount} + 1` })
        .where(eq(incidents.id, p('id'))),
    ),
  };
}
