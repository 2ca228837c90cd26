/**
 * An incident's real timeline, from the database: when it began and was detected, its first
 * signals, who acknowledged it and when, the catalog actions that ran on it (in order, with their
 * params and how they ended), the approvals asked for it and who decided them, and how and when it
 * was resolved (with the note people gave, from the audit log), with what fixed it as far as the
 * records say: the source reporting it over, the last action that succeeded before the
 * resolution, or a person resolving it with no recorded action. The mentor writes runbooks and skill drafts from these (by rules, or by a model shown
 * them as facts). Titles, outcomes and identities are untrusted text: renderers quote them.
 */
import { and, asc, eq, gte, inArray, lte, or } from 'drizzle-orm';
import type { Database } from '../db/connection.js';
import { approvals, auditLog, incidents, proposals } from '../db/schema.js';
import type { IncidentHistory, RunFact, SignalFact } from './history.js';
import { shortDuration } from './impact.js';

/** Events per incident at most (the first ones in time; the rest are counted). */
export const TIMELINE_EVENTS = 20;

export type TimelineEvent =
  | { readonly kind: 'signal'; readonly at: number; readonly signal: SignalFact }
  | { readonly kind: 'acknowledged'; readonly at: number; readonly by: string; readonly note: string | null }
  | { readonly kind: 'run'; readonly at: number; readonly run: RunFact }
  | {
      readonly kind: 'approval';
      readonly at: number;
      /** `a12`. */
      readonly shortId: string;
      readonly actionId: string;
      /** approved, denied, expired, ... (the approval's state when read). */
      readonly state: string;
      readonly by: string | null;
    }
  | {
      readonly kind: 'resolved';
      readonly at: number;
      readonly by: string | null;
      readonly note: string | null;
    };

/** What ended the incident, as the records say (null while it is not resolved). */
export type Fix =
  | { readonly kind: 'source'; readonly by: string; readonly after: RunFact | null }
  | {
      readonly kind: 'action';
      readonly run: RunFact;
      readonly by: string | null;
      readonly note: string | null;
    }
  | { readonly kind: 'person'; readonly by: string; readonly note: string | null }
  | { readonly kind: 'stale'; readonly by: string };

export interface IncidentTimeline {
  readonly history: IncidentHistory;
  readonly acknowledged: { readonly at: number; readonly by: string } | null;
  /** In time order: at most TIMELINE_EVENTS, and the resolution. */
  readonly events: readonly TimelineEvent[];
  /** Events left out beyond TIMELINE_EVENTS. */
  readonly more: number;
  readonly fix: Fix | null;
}

/** Action classes that only look (their success fixes nothing by itself). */
const LOOKING = new Set(['evidence', 'test-run', 'config-check']);

function fixOf(h: IncidentHistory, note: string | null): Fix | null {
  const i = h.incident;
  if (i.resolvedAt === null) return null;
  const resolvedAt = i.resolvedAt;
  const before = h.runs.filter((r) => r.status === 'succeeded' && r.startedAt <= resolvedAt);
  const acting = before.filter((r) => r.actionClass === null || !LOOKING.has(r.actionClass));
  const last = acting.at(-1) ?? null;
  const by = i.resolvedBy;
  if (by?.startsWith('source:')) return { kind: 'source', by, after: last };
  if (by?.startsWith('system:')) return { kind: 'stale', by };
  if (last !== null) return { kind: 'action', run: last, by, note };
  return { kind: 'person', by: by ?? 'unknown', note };
}

const NOTE_KINDS = ['incident.acknowledged', 'incident.resolved'];
const NOTE_SLACK_MS = 5_000;

/**
 * The notes people gave when they acknowledged or resolved the incident (`resolve i7 restarted
 * pgbouncer`), from the audit log: by kind, null when none was given.
 */
function notesOf(database: Database, h: IncidentHistory, ackAt: number | null): Map<string, string> {
  const out = new Map<string, string>();
  const i = h.incident;
  // The audit record is written in the same transaction as the change, on the same clock: a
  // narrow window around each time finds it without scanning the incident's whole span.
  const near = [ackAt, i.resolvedAt]
    .filter((t) => t !== null)
    .map((t) => and(gte(auditLog.at, t - NOTE_SLACK_MS), lte(auditLog.at, t + NOTE_SLACK_MS)));
  if (near.length === 0) return out;
  const rows = database.db
    .select({ kind: auditLog.kind, data: auditLog.data })
    .from(auditLog)
    .where(and(inArray(auditLog.kind, NOTE_KINDS), or(...near)))
    .all();
  for (const r of rows) {
    let data: unknown;
    try {
      data = r.data === null ? null : JSON.parse(r.data);
    } catch {
      continue;
    }
    const d = data as { incident?: unknown; note?: unknown } | null;
    if (d?.incident !== i.shortId || typeof d.note !== 'string' || d.note.trim() === '') continue;
    out.set(r.kind, d.note);
  }
  return out;
}

/** The timeline of each incident, in the order given. */
export function timelines(database: Database, list: readonly IncidentHistory[]): IncidentTimeline[] {
  const ids = list.map((h) => h.incident.id);
  const acks = new Map<string, { at: number; by: string }>();
  const asked = new Map<string, TimelineEvent[]>();
  if (ids.length > 0) {
    for (const r of database.db
      .select({ id: incidents.id, at: incidents.acknowledgedAt, by: incidents.acknowledgedBy })
      .from(incidents)
      .where(inArray(incidents.id, ids))
      .all()) {
      if (r.at !== null) acks.set(r.id, { at: r.at, by: r.by ?? 'unknown' });
    }
    for (const r of database.db
      .select({
        incidentId: proposals.incidentId,
        number: approvals.number,
        actionId: approvals.actionId,
        state: approvals.state,
        requestedAt: approvals.requestedAt,
        decidedAt: approvals.decidedAt,
        decidedBy: approvals.decidedBy,
      })
      .from(approvals)
      .innerJoin(proposals, eq(proposals.id, approvals.proposalId))
      .where(inArray(proposals.incidentId, ids))
      .orderBy(asc(approvals.requestedAt))
      .all()) {
      if (r.incidentId === null) continue;
      const list = asked.get(r.incidentId) ?? [];
      list.push({
        kind: 'approval',
        at: r.decidedAt ?? r.requestedAt,
        shortId: `a${r.number}`,
        actionId: r.actionId,
        state: r.state,
        by: r.decidedBy,
      });
      asked.set(r.incidentId, list);
    }
  }
  return list.map((h) => {
    const i = h.incident;
    const ack = acks.get(i.id) ?? null;
    const notes = notesOf(database, h, ack?.at ?? null);
    const resolveNote = notes.get('incident.resolved') ?? null;
    const resolved: TimelineEvent | null =
      i.resolvedAt === null
        ? null
        : { kind: 'resolved', at: i.resolvedAt, by: i.resolvedBy, note: resolveNote };
    const all: TimelineEvent[] = [
      ...h.signals.map((s) => ({ kind: 'signal' as const, at: s.receivedAt, signal: s })),
      ...(ack === null
        ? []
        : [
            {
              kind: 'acknowledged' as const,
              at: ack.at,
              by: ack.by,
              note: notes.get('incident.acknowledged') ?? null,
            },
          ]),
      ...h.runs.map((r) => ({ kind: 'run' as const, at: r.startedAt, run: r })),
      ...(asked.get(i.id) ?? []),
      ...(resolved === null ? [] : [resolved]),
    ].sort((a, b) => a.at - b.at || Number(a.kind === 'resolved') - Number(b.kind === 'resolved'));
    const events = all.slice(0, TIMELINE_EVENTS);
    // The resolution is always told, even past the cap.
    if (resolved !== null && !events.includes(resolved)) events.push(resolved);
    return {
      history: h,
      acknowledged: ack,
      events,
      more: all.length - events.length,
      fix: fixOf(h, resolveNote),
    };
  });
}

/**
 * The incident a runbook is written from: the newest resolved one where something was done (an
 * acknowledgement or an action), else the newest resolved one, else the newest.
 */
export function referenceTimeline(list: readonly IncidentTimeline[]): IncidentTimeline | null {
  const resolved = list.filter((t) => t.history.incident.resolvedAt !== null);
  return (
    resolved.find((t) => t.acknowledged !== null || t.history.runs.length > 0) ??
    resolved[0] ??
    list[0] ??
    null
  );
}

/** How untrusted text is shown: `inlineCode` in markdown, a quoted one-liner in a model's facts. */
export type Quote = (text: string, max: number) => string;

function plusTime(ms: number): string {
  return `+${shortDuration(Math.max(0, ms))}`;
}

/** A run's params as `k=v` quotes. */
export function paramsText(params: RunFact['params'], quote: Quote): string {
  if (params === null) return '(params not recorded)';
  const entries = Object.entries(params);
  return entries.length === 0 ? '(no params)' : entries.map(([k, v]) => quote(`${k}=${v}`, 120)).join(' ');
}

/** A run as "sentinel ran `restart-service` `service=api`". */
export function ranText(run: RunFact, quote: Quote): string {
  return `${run.agent} ran ${quote(run.actionId, 64)} ${paramsText(run.params, quote)}`;
}

function noting(note: string | null, quote: Quote): string {
  return note === null ? '' : `, noting ${quote(note, 300)}`;
}

/** One event, its time from the incident's start first. */
export function eventText(e: TimelineEvent, startedAt: number, quote: Quote): string {
  const at = plusTime(e.at - startedAt);
  switch (e.kind) {
    case 'signal':
      return `${at}: signal ${quote(e.signal.title ?? '(no title)', 200)} received`;
    case 'acknowledged':
      return `${at}: ${quote(e.by, 80)} acknowledged it${noting(e.note, quote)}`;
    case 'run': {
      const outcome = e.run.outcome ? ` (${quote(e.run.outcome, 160)})` : '';
      return `${at}: ${ranText(e.run, quote)}: ${e.run.status}${outcome}`;
    }
    case 'approval':
      return `${at}: approval ${e.shortId} for ${quote(e.actionId, 64)}: ${e.state}${e.by ? ` by ${quote(e.by, 80)}` : ''}`;
    case 'resolved':
      return `${at}: resolved by ${quote(e.by ?? 'unknown', 80)} (time to resolve ${shortDuration(e.at - startedAt)})${noting(e.note, quote)}`;
  }
}

/** What fixed it, in one sentence (null while unresolved). */
export function fixText(t: IncidentTimeline, quote: Quote): string | null {
  const fix = t.fix;
  const i = t.history.incident;
  if (fix === null || i.resolvedAt === null) return null;
  const ttr = shortDuration(i.resolvedAt - i.startedAt);
  switch (fix.kind) {
    case 'source':
      return `the source (${quote(fix.by, 80)}) reported the condition over by itself after ${ttr}${
        fix.after === null
          ? ''
          : `, ${plusTime(fix.after.startedAt - i.startedAt)} after ${ranText(fix.after, quote)} succeeded`
      }`;
    case 'action':
      return `${ranText(fix.run, quote)} at ${plusTime(fix.run.startedAt - i.startedAt)} and it succeeded; ${quote(fix.by ?? 'unknown', 80)} resolved it after ${ttr}${noting(fix.note, quote)}`;
    case 'person':
      return fix.note === null
        ? `${quote(fix.by, 80)} resolved it after ${ttr} with no catalog action recorded (what they did is not in the records)`
        : `${quote(fix.by, 80)} resolved it after ${ttr} with no catalog action recorded, noting ${quote(fix.note, 300)}`;
    case 'stale':
      return `it was closed as stale (${quote(fix.by, 80)}) after ${ttr}: no signal came for a while`;
  }
}
