/**
 * What happened to a pattern's incidents, from the database: the catalog actions that ran on them
 * (with the params they ran with and how they ended), who resolved them and when, and their first
 * signals. The mentor's runbooks and skill drafts are written from these facts; the check a skill
 * brings is learned from them (the test or evidence action that ran most often and succeeded).
 */
import { and, asc, eq, isNotNull, sql } from 'drizzle-orm';
import type { Database } from '../db/connection.js';
import { preparedFor } from '../db/prepared.js';
import { proposals, runs, type StoredParams, signals } from '../db/schema.js';
import type { ActionClass, AgentName } from '../policy/vocabulary.js';
import type { IncidentFacts } from './patterns.js';
import { CHECK_CLASSES } from './skill-checks.js';
import type { SkillCheck } from './skill-file.js';

export interface RunFact {
  readonly runId: string;
  readonly agent: AgentName;
  readonly actionId: string;
  readonly actionClass: ActionClass | null;
  /** The params it ran with (from its proposal), or null when unknown. */
  readonly params: StoredParams | null;
  readonly status: string;
  /** Untrusted: may quote command output. */
  readonly outcome: string | null;
  readonly startedAt: number;
}

export interface SignalFact {
  readonly id: string;
  /** Untrusted. */
  readonly title: string | null;
  readonly receivedAt: number;
}

export interface IncidentHistory {
  readonly incident: IncidentFacts;
  readonly runs: readonly RunFact[];
  /** Its first few signals. */
  readonly signals: readonly SignalFact[];
}

const SIGNALS_PER_INCIDENT = 3;

/** Per incident, each off an index (an incident may hold thousands of signals): prepared once. */
function historyQueries(database: Database) {
  const p = sql.placeholder;
  const db = database.db;
  return {
    actionRuns: db
      .select()
      .from(runs)
      .where(and(eq(runs.incidentId, p('id')), isNotNull(runs.actionId)))
      .orderBy(asc(runs.startedAt), asc(runs.id))
      .prepare(),
    params: db
      .select({ params: proposals.params })
      .from(proposals)
      .where(eq(proposals.runId, p('runId')))
      .limit(1)
      .prepare(),
    firstSignals: db
      .select({ id: signals.id, title: signals.title, receivedAt: signals.receivedAt })
      .from(signals)
      .where(eq(signals.incidentId, p('id')))
      .orderBy(asc(signals.receivedAt), asc(signals.id))
      .limit(SIGNALS_PER_INCIDENT)
      .prepare(),
  };
}

/** The catalog actions that ran on an incident, oldest first, with their params and how they ended. */
export function actionRuns(database: Database, incidentId: string): RunFact[] {
  const q = preparedFor(database, historyQueries);
  return q.actionRuns.all({ id: incidentId }).map((r) => ({
    runId: r.id,
    agent: r.agent,
    actionId: r.actionId as string,
    actionClass: r.actionClass,
    params: q.params.get({ runId: r.id })?.params ?? null,
    status: r.status,
    outcome: r.outcome,
    startedAt: r.startedAt,
  }));
}

/** The history of each incident, in the order given. */
export function histories(database: Database, list: readonly IncidentFacts[]): IncidentHistory[] {
  const q = preparedFor(database, historyQueries);
  return list.map((incident) => ({
    incident,
    runs: actionRuns(database, incident.id),
    signals: q.firstSignals.all({ id: incident.id }),
  }));
}

/** One action with one set of params, and how its runs on the pattern's incidents ended. */
export interface ActionTally {
  readonly actionId: string;
  readonly actionClass: ActionClass | null;
  readonly params: StoredParams | null;
  readonly succeeded: number;
  readonly failed: number;
  /** Incidents it ran on. */
  readonly incidents: number;
}

function paramsKey(p: StoredParams | null): string {
  if (p === null) return 'null';
  return JSON.stringify(
    Object.keys(p)
      .sort()
      .map((k) => [k, p[k]]),
  );
}

/** The actions that ran on the incidents, most succeeded runs first. */
export function tallyActions(list: readonly IncidentHistory[]): ActionTally[] {
  const tallies = new Map<string, { t: ActionTally; incidents: Set<string> }>();
  for (const h of list) {
    for (const r of h.runs) {
      const key = `${r.actionId}\0${paramsKey(r.params)}`;
      const entry = tallies.get(key) ?? {
        t: {
          actionId: r.actionId,
          actionClass: r.actionClass,
          params: r.params,
          succeeded: 0,
          failed: 0,
          incidents: 0,
        },
        incidents: new Set<string>(),
      };
      entry.incidents.add(h.incident.id);
      const ok = r.status === 'succeeded';
      entry.t = {
        ...entry.t,
        succeeded: entry.t.succeeded + (ok ? 1 : 0),
        failed: entry.t.failed + (ok ? 0 : r.status === 'failed' || r.status === 'interrupted' ? 1 : 0),
        incidents: entry.incidents.size,
      };
      tallies.set(key, entry);
    }
  }
  return [...tallies.values()]
    .map((e) => e.t)
    .sort(
      (a, b) =>
        b.succeeded - a.succeeded || b.incidents - a.incidents || a.actionId.localeCompare(b.actionId),
    );
}

/**
 * The check a skill learns: the test-run or evidence action with known params that succeeded on
 * the most incidents (at least two, so one lucky run is not a habit), run in the deep sweep. It is
 * checked against the catalog again whenever a sweep runs it (skill-checks.ts).
 */
export function learnedCheck(list: readonly IncidentHistory[]): SkillCheck | null {
  const best = tallyActions(list).find(
    (t) =>
      t.params !== null &&
      t.actionClass !== null &&
      CHECK_CLASSES.has(t.actionClass) &&
      t.succeeded >= 2 &&
      t.succeeded > t.failed,
  );
  return best === undefined || best.params === null
    ? null
    : { action: best.actionId, params: { ...best.params }, sweep: 'deep' };
}
