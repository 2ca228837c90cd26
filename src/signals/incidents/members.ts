/**
 * Which fingerprints an incident holds, and which of them are still firing. An incident starts
 * with one fingerprint (its `fingerprint` column) and may take in others (a fingerprint family, or
 * the same service within the correlation window: see correlate.ts). The signals table says the
 * rest, by one rule the correlator keeps:
 *
 *   a signal is linked to an incident (`incident_id`) only when it says the problem is on;
 *   resolutions and late deliveries are stored unlinked (they still count in `signal_count`).
 *
 * So a fingerprint is firing in incident I exactly when its latest signal is linked to I, and an
 * incident whose other members all stopped can be resolved by the last one's resolution.
 */
import { and, desc, eq, gte, lt, ne, sql } from 'drizzle-orm';
import { alias } from 'drizzle-orm/sqlite-core';
import type { Database } from '../../db/connection.js';
import { incidents, signals } from '../../db/schema.js';
import type { IncidentRow, LatestSignal, Queries } from './store-queries.js';

/** An incident's first signal, joined to a read of `incidents` with FIRST_SIGNAL. */
export const firstSignal = alias(signals, 'first_signal');

/**
 * `firstSignal` is the incident's first signal (earliest receipt; ties by id): for
 * `.leftJoin(firstSignal, FIRST_SIGNAL)` on a read of `incidents`. SQLite finds it off the signals'
 * incident index (an incident of a flapping alert holds thousands of signals), so a read of
 * thousands of incidents costs no query each. (Names are written out: a raw fragment does not
 * qualify drizzle's columns, and "id" in the subquery would be the signal's.)
 */
export const FIRST_SIGNAL = sql`"first_signal"."id" = (SELECT s.id FROM ${signals} AS s
  WHERE s.incident_id = "incidents"."id" ORDER BY s.received_at, s.id LIMIT 1)`;

/** `[lo, hi)`: every text that starts with `prefix` (byte order), for an index range scan. */
export function prefixRange(prefix: string): { lo: string; hi: string } {
  const last = prefix.charCodeAt(prefix.length - 1);
  return { lo: prefix, hi: `${prefix.slice(0, -1)}${String.fromCharCode(last + 1)}` };
}

export class IncidentMembers {
  constructor(private readonly q: Queries) {}

  /** The fingerprint's latest signal, or null when it has none. */
  latest(fingerprint: string): LatestSignal | null {
    return (this.q.latestSignal.get({ fp: fingerprint }) as LatestSignal | undefined) ?? null;
  }

  byId(id: string): IncidentRow | null {
    return (this.q.incidentById.get({ id }) as IncidentRow | undefined) ?? null;
  }

  /** The unresolved incident the fingerprint is firing in (its latest signal is linked to it), or null. */
  firingIn(latest: LatestSignal | null): IncidentRow | null {
    if (latest === null || latest.incident_id === null) return null;
    const row = this.byId(latest.incident_id);
    return row !== null && row.status !== 'resolved' ? row : null;
  }

  /** The incident the fingerprint was last part of (resolved or not), or null. */
  lastIncidentOf(fingerprint: string): IncidentRow | null {
    const linked = this.q.latestLinked.get({ fp: fingerprint }) as { incident_id: string } | undefined;
    if (linked !== undefined) return this.byId(linked.incident_id);
    // Its signals were purged (retention) but the incident it opened is kept.
    return (this.q.lastIncident.get({ fp: fingerprint }) as IncidentRow | undefined) ?? null;
  }

  /** True when a fingerprint other than `fingerprint` is still firing in `incident`. */
  othersFiring(incident: IncidentRow, fingerprint: string): boolean {
    for (const { fingerprint: other } of this.q.otherMembers.all({ id: incident.id, fp: fingerprint })) {
      if (this.latest(other)?.incident_id === incident.id) return true;
    }
    return false;
  }

  /** The unresolved incident of fingerprints `<family>:...`, or null. */
  familyIncident(family: string): IncidentRow | null {
    return (this.q.familyIncident.get(prefixRange(`${family}:`)) as IncidentRow | undefined) ?? null;
  }

  /** The unresolved, non-advisory incident of `service` that heard a signal since `since`, or null. */
  serviceIncident(service: string, since: number): IncidentRow | null {
    return (this.q.serviceIncident.get({ service, since }) as IncidentRow | undefined) ?? null;
  }
}

/**
 * The fingerprints starting with `prefix` that are firing in an unresolved incident, whether they
 * opened it or joined it. At start, e.g. the health monitor's probes that are still down
 * (`firingFingerprints(database, 'health:')`), so their recovery resolves what they raised.
 */
export function firingFingerprints(database: Database, prefix: string): string[] {
  const { lo, hi } = prefixRange(prefix);
  const db = database.db;
  const linked = db
    .selectDistinct({ fingerprint: signals.fingerprint, incidentId: signals.incidentId })
    .from(signals)
    .innerJoin(incidents, eq(signals.incidentId, incidents.id))
    .where(and(ne(incidents.status, 'resolved'), gte(signals.fingerprint, lo), lt(signals.fingerprint, hi)))
    .all();
  const latest = db
    .select({ incidentId: signals.incidentId })
    .from(signals)
    .where(eq(signals.fingerprint, sql.placeholder('fp')))
    .orderBy(desc(signals.receivedAt), desc(signals.id))
    .limit(1)
    .prepare();
  const firing = linked.filter((r) => latest.get({ fp: r.fingerprint })?.incidentId === r.incidentId);
  return [...new Set(firing.map((r) => r.fingerprint))].sort();
}
