/**
 * The team's own history for an agent's facts: past incidents with the same fingerprint (first) or
 * the same service, newest first, each with how it ended (resolved when and by whom, the catalog
 * actions that ran on it and how they ended) and the runbook of a live skill that covers it. Reads
 * the database only (learning/ owns how incidents, patterns and skills are read).
 */
import { and, desc, eq, sql } from 'drizzle-orm';
import type { Database } from '../../db/connection.js';
import { preparedFor } from '../../db/prepared.js';
import { incidents } from '../../db/schema.js';
import { actionRuns } from '../../learning/history.js';
import type { SkillStore } from '../../learning/skills.js';
import type { Severity } from '../../policy/vocabulary.js';

export interface PastIncident {
  readonly shortId: string;
  /** Untrusted. */
  readonly title: string;
  readonly severity: Severity;
  readonly status: string;
  readonly same: 'fingerprint' | 'service';
  readonly startedAt: number;
  readonly detectedAt: number;
  readonly resolvedAt: number | null;
  readonly resolvedBy: string | null;
  readonly actions: readonly { readonly actionId: string; readonly status: string }[];
  readonly runbook: { readonly skill: string; readonly label: string } | null;
}

export interface HistoryQuery {
  /** The incident at hand (left out of its own history). */
  readonly incidentId?: string | null;
  readonly fingerprint?: string | null;
  readonly service?: string | null;
  readonly limit?: number;
}

export type HistoryReader = (query: HistoryQuery) => readonly PastIncident[];

/**
 * Asked for every triage: prepared once. Two reads, each the newest few off its own index (an
 * `OR` of the two would read and sort every incident the fingerprint and the service ever had).
 * A null parameter matches nothing (`= NULL` is never true) and leaves nothing out (`IS NOT NULL`
 * is true of every id).
 */
function sameIncidents(database: Database) {
  const p = sql.placeholder;
  // What a past incident shows (not its message refs, JSON parsed for nothing).
  const shown = {
    id: incidents.id,
    number: incidents.number,
    fingerprint: incidents.fingerprint,
    title: incidents.title,
    severity: incidents.severity,
    status: incidents.status,
    startedAt: incidents.startedAt,
    detectedAt: incidents.detectedAt,
    resolvedAt: incidents.resolvedAt,
    resolvedBy: incidents.resolvedBy,
  };
  const newest = (key: 'fingerprint' | 'service', order: 'startedAt' | 'detectedAt') =>
    database.db
      .select(shown)
      .from(incidents)
      .where(and(eq(incidents[key], p(key)), sql`${incidents.id} IS NOT ${p('incidentId')}`))
      .orderBy(desc(incidents[order]))
      .limit(p('limit'))
      .prepare();
  // The fingerprint's incidents by when they started (its index), the service's by detection.
  return {
    fingerprint: newest('fingerprint', 'startedAt'),
    service: newest('service', 'detectedAt'),
  };
}

/** A reader over `database`; `skills` adds the runbooks of live skills. */
export function historyReader(
  database: Database,
  skills: Pick<SkillStore, 'runbooksForIncidents'> | null,
): HistoryReader {
  return (q) => {
    const limit = Math.min(10, Math.max(1, q.limit ?? 5));
    const fingerprint = q.fingerprint || null;
    const service = q.service || null;
    if (fingerprint === null && service === null) return [];
    const same = preparedFor(database, sameIncidents);
    const params = { fingerprint, service, incidentId: q.incidentId || null, limit };
    const byId = new Map(same.fingerprint.all(params).map((r) => [r.id, r]));
    for (const r of same.service.all(params)) if (!byId.has(r.id)) byId.set(r.id, r);
    const rows = [...byId.values()]
      .sort(
        (a, b) =>
          Number(b.fingerprint === q.fingerprint) - Number(a.fingerprint === q.fingerprint) ||
          b.detectedAt - a.detectedAt,
      )
      .slice(0, limit);
    const runbooks = skills?.runbooksForIncidents(rows.map((r) => r.id)) ?? [];
    return rows.map((r, i) => {
      const runbook = runbooks[i] ?? null;
      return {
        shortId: `i${r.number}`,
        title: r.title,
        severity: r.severity,
        status: r.status,
        same: r.fingerprint === q.fingerprint ? 'fingerprint' : 'service',
        startedAt: r.startedAt,
        detectedAt: r.detectedAt,
        resolvedAt: r.resolvedAt,
        resolvedBy: r.resolvedBy,
        actions: actionRuns(database, r.id).map((x) => ({ actionId: x.actionId, status: x.status })),
        runbook: runbook === null ? null : { skill: runbook.skill, label: runbook.label },
      };
    });
  };
}
