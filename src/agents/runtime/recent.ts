/**
 * What happened lately, for an agent's facts in its sweeps: recent signals of some kinds (CI
 * failures, deploy and job events), recent incidents, and the agent's own recent action runs with
 * their params and how they ended. Newest first, bounded. Reads the database only; titles, sources
 * and outcomes are untrusted text. Which services are in scope is the agent's to filter (the
 * policy's scope matcher), so the reader returns a few more rows than asked for that.
 */
import { and, desc, eq, gte, inArray, isNotNull } from 'drizzle-orm';
import type { Database } from '../../db/connection.js';
import { incidents, proposals, runs, type StoredParams, signals } from '../../db/schema.js';
import type { AgentName, Severity, SignalKind } from '../../policy/vocabulary.js';

export interface RecentSignal {
  readonly id: string;
  readonly kind: SignalKind;
  readonly source: string;
  readonly title: string | null;
  readonly service: string | null;
  readonly severity: Severity;
  readonly receivedAt: number;
}

export interface RecentIncident {
  readonly shortId: string;
  readonly title: string;
  readonly service: string | null;
  readonly severity: Severity;
  readonly status: string;
  readonly startedAt: number;
  readonly resolvedAt: number | null;
  readonly resolvedBy: string | null;
}

export interface RecentRun {
  readonly id: string;
  readonly actionId: string;
  readonly params: StoredParams | null;
  readonly status: string;
  readonly outcome: string | null;
  readonly startedAt: number;
}

export interface RecentQuery {
  readonly since: number;
  /** At most this many (default 10, at most 50). */
  readonly limit?: number;
}

export interface RecentReader {
  signals(q: RecentQuery & { readonly kinds: readonly SignalKind[] }): RecentSignal[];
  incidents(q: RecentQuery): RecentIncident[];
  /** The agent's own action runs (not its agent runs). */
  runs(q: RecentQuery & { readonly agent: AgentName }): RecentRun[];
}

const limitOf = (q: RecentQuery) => Math.min(50, Math.max(1, q.limit ?? 10));

export function recentReader(database: Database): RecentReader {
  const db = database.db;
  return {
    signals: (q) =>
      q.kinds.length === 0
        ? []
        : db
            .select({
              id: signals.id,
              kind: signals.kind,
              source: signals.source,
              title: signals.title,
              service: signals.service,
              severity: signals.severity,
              receivedAt: signals.receivedAt,
            })
            .from(signals)
            .where(and(inArray(signals.kind, [...q.kinds]), gte(signals.receivedAt, q.since)))
            .orderBy(desc(signals.receivedAt), desc(signals.id))
            .limit(limitOf(q))
            .all(),
    incidents: (q) =>
      db
        .select()
        .from(incidents)
        .where(gte(incidents.detectedAt, q.since))
        .orderBy(desc(incidents.detectedAt), desc(incidents.number))
        .limit(limitOf(q))
        .all()
        .map((r) => ({
          shortId: `i${r.number}`,
          title: r.title,
          service: r.service,
          severity: r.severity,
          status: r.status,
          startedAt: r.startedAt,
          resolvedAt: r.resolvedAt,
          resolvedBy: r.resolvedBy,
        })),
    runs: (q) => {
      const rows = db
        .select()
        .from(runs)
        .where(and(eq(runs.agent, q.agent), isNotNull(runs.actionId), gte(runs.startedAt, q.since)))
        .orderBy(desc(runs.startedAt), desc(runs.id))
        .limit(limitOf(q))
        .all();
      const params = new Map<string, StoredParams>();
      if (rows.length > 0) {
        for (const p of db
          .select({ runId: proposals.runId, params: proposals.params })
          .from(proposals)
          .where(
            inArray(
              proposals.runId,
              rows.map((r) => r.id),
            ),
          )
          .all()) {
          if (p.runId !== null) params.set(p.runId, p.params);
        }
      }
      return rows.map((r) => ({
        id: r.id,
        actionId: r.actionId as string,
        params: params.get(r.id) ?? null,
        status: r.status,
        outcome: r.outcome,
        startedAt: r.startedAt,
      }));
    },
  };
}
