/**
 * Incidents as people see and handle them: list, show, acknowledge, resolve. Backs the chat verbs
 * `/autonomy incidents | ack i7 | resolve i7 [note]`. Opening, updating and source resolution happen
 * in the SignalStore (store.ts); here, every change is a person's, audited in the same transaction.
 *
 * Acknowledge and resolve are idempotent: doing it again changes nothing and says who did it first.
 * A resolved incident cannot be acknowledged; a new signal for it may reopen it (see store.ts).
 *
 * A person's resolution is heard as a source's is (`onResolvedByPerson`, inside its transaction):
 * as the incident's latest signal with the change `resolved`, so the mentor writes the pattern's
 * runbook from what the person did and noted, not only when a source says the condition is over.
 */
import { and, desc, eq, inArray, type SQL, sql } from 'drizzle-orm';
import type { AuditLog } from '../../audit/log.js';
import { type Database, writeTransaction } from '../../db/connection.js';
import { type IncidentStatus, incidents, signals } from '../../db/schema.js';
import type { Severity, SignalKind } from '../../policy/vocabulary.js';
import type { Clock } from '../../process/ids.js';
import type { IncidentChange } from '../types.js';
import { type SignalListener, shortIdOf } from './store.js';

export interface Incident {
  readonly id: string;
  /** What people type: `i7`. */
  readonly shortId: string;
  readonly number: number;
  readonly fingerprint: string;
  readonly title: string;
  readonly severity: Severity;
  readonly service: string | null;
  readonly status: IncidentStatus;
  /** When the problem began (earliest signal's own time). */
  readonly startedAt: number;
  /** When the bot first stored a signal of it. */
  readonly detectedAt: number;
  readonly acknowledgedAt: number | null;
  readonly acknowledgedBy: string | null;
  readonly resolvedAt: number | null;
  readonly resolvedBy: string | null;
  readonly signalCount: number;
  readonly lastSignalAt: number | null;
}

export interface IncidentSignal {
  readonly id: string;
  readonly kind: SignalKind;
  readonly source: string;
  readonly title: string | null;
  readonly severity: Severity;
  readonly occurredAt: number | null;
  readonly receivedAt: number;
}

/** `unresolved` = open or acknowledged (the default). */
export type IncidentFilter = IncidentStatus | 'unresolved' | 'all';

export interface ListOptions {
  readonly status?: IncidentFilter;
  /**
   * At most this many, newest first (at most 200); absent: all of them, so a count or a filter over
   * the unresolved ones is true (a reply shows the newest few and says how many more).
   */
  readonly limit?: number;
}

export type IncidentResult =
  | {
      readonly ok: true;
      /** false when it already was so (nothing written but the audit of the request). */
      readonly changed: boolean;
      /** A sentence for the person who asked. */
      readonly message: string;
      readonly incident: Incident;
      /** For the chat side to update the incident's card; null when nothing changed. */
      readonly change: IncidentChange | null;
    }
  | {
      readonly ok: false;
      readonly code: 'bad-id' | 'not-found' | 'already-resolved';
      readonly message: string;
      readonly incident?: Incident;
    };

export interface IncidentStoreOptions {
  readonly now: Clock;
}

const MAX_NOTE = 1000;
const REF = /^(?:[iI#]?)([1-9][0-9]{0,8})$/;

/** `i7`, `I7`, `#7` or `7` -> 7; anything else -> null. */
export function parseIncidentRef(text: string): number | null {
  const m = REF.exec(text.trim());
  return m ? Number(m[1]) : null;
}

function when(at: number | null): string {
  return at === null ? 'at an unknown time' : `at ${new Date(at).toISOString().replace('.000Z', 'Z')}`;
}

type Row = typeof incidents.$inferSelect;

function toIncident(row: Row): Incident {
  return { ...row, shortId: shortIdOf(row.number) };
}

function toChange(incident: Incident, change: IncidentChange['change']): IncidentChange {
  return {
    id: incident.id,
    shortId: incident.shortId,
    change,
    fingerprint: incident.fingerprint,
    title: incident.title,
    severity: incident.severity,
    service: incident.service,
    signalCount: incident.signalCount,
  };
}

export class IncidentStore {
  private readonly now: Clock;
  private readonly resolvedListeners = new Set<SignalListener>();

  constructor(
    private readonly database: Database,
    private readonly audit: AuditLog,
    options: IncidentStoreOptions,
  ) {
    this.now = options.now;
  }

  /**
   * Hears each resolution by a person inside its transaction, as the incident's latest signal with
   * the change `resolved` (the agents raise the mentor's job there). Returns the unsubscribe.
   */
  onResolvedByPerson(listener: SignalListener): () => void {
    this.resolvedListeners.add(listener);
    return () => this.resolvedListeners.delete(listener);
  }

  /** By short id (`i7`, `7`) or full id; null when there is none. */
  get(ref: string): Incident | null {
    const number = parseIncidentRef(ref);
    const where = number !== null ? eq(incidents.number, number) : eq(incidents.id, ref);
    const row = this.database.db.select().from(incidents).where(where).limit(1).get();
    return row === undefined ? null : toIncident(row);
  }

  /** Newest first. */
  list(options: ListOptions = {}): Incident[] {
    const status = options.status ?? 'unresolved';
    let where: SQL | undefined;
    if (status === 'unresolved') where = inArray(incidents.status, ['open', 'acknowledged']);
    else if (status !== 'all') where = eq(incidents.status, status);
    const query = this.database.db.select().from(incidents).where(where).orderBy(desc(incidents.number));
    const rows =
      options.limit === undefined
        ? query.all()
        : query.limit(Math.max(1, Math.min(200, Math.trunc(options.limit)))).all();
    return rows.map(toIncident);
  }

  /** The incident's latest signals, newest first (evidence for a chat reply). */
  signals(ref: string, limit = 10): IncidentSignal[] {
    const incident = this.get(ref);
    if (incident === null) return [];
    return this.database.db
      .select({
        id: signals.id,
        kind: signals.kind,
        source: signals.source,
        title: signals.title,
        severity: signals.severity,
        occurredAt: signals.occurredAt,
        receivedAt: signals.receivedAt,
      })
      .from(signals)
      .where(eq(signals.incidentId, incident.id))
      .orderBy(desc(signals.receivedAt))
      .limit(Math.max(1, Math.min(100, Math.trunc(limit))))
      .all();
  }

  /** A person takes it: open -> acknowledged. */
  acknowledge(ref: string, actor: string, note?: string): IncidentResult {
    return this.act(ref, actor, note, 'acknowledge', (found, at) => {
      if (found.status === 'resolved') {
        return {
          ok: false,
          code: 'already-resolved',
          message: `${found.shortId} is already resolved (by ${found.resolvedBy ?? 'someone'} ${when(found.resolvedAt)}); nothing to acknowledge`,
          incident: found,
        };
      }
      if (found.status === 'acknowledged') {
        return {
          ok: true,
          changed: false,
          message: `${found.shortId} was already acknowledged by ${found.acknowledgedBy ?? 'someone'} ${when(found.acknowledgedAt)}`,
          incident: found,
          change: null,
        };
      }
      this.database.db
        .update(incidents)
        .set({ status: 'acknowledged', acknowledgedAt: at, acknowledgedBy: actor })
        .where(and(eq(incidents.id, found.id), eq(incidents.status, 'open')))
        .run();
      const incident = {
        ...found,
        status: 'acknowledged' as const,
        acknowledgedAt: at,
        acknowledgedBy: actor,
      };
      return {
        ok: true,
        changed: true,
        message: `${found.shortId} acknowledged by ${actor}: ${found.title}`,
        incident,
        change: toChange(incident, 'updated'),
      };
    });
  }

  /** A person closes it: open or acknowledged -> resolved. */
  resolve(ref: string, actor: string, note?: string): IncidentResult {
    return this.act(ref, actor, note, 'resolve', (found, at) => {
      if (found.status === 'resolved') {
        return {
          ok: true,
          changed: false,
          message: `${found.shortId} was already resolved by ${found.resolvedBy ?? 'someone'} ${when(found.resolvedAt)}`,
          incident: found,
          change: null,
        };
      }
      this.database.db
        .update(incidents)
        .set({ status: 'resolved', resolvedAt: at, resolvedBy: actor })
        .where(and(eq(incidents.id, found.id), sql`${incidents.status} <> 'resolved'`))
        .run();
      const incident = { ...found, status: 'resolved' as const, resolvedAt: at, resolvedBy: actor };
      const change = toChange(incident, 'resolved');
      this.heardResolution(change, at);
      return {
        ok: true,
        changed: true,
        message: `${found.shortId} resolved by ${actor}${note ? ` (${note})` : ''}: ${found.title}`,
        incident,
        change,
      };
    });
  }

  /** Tells the listeners, as the incident's latest signal (none when its signals were purged). */
  private heardResolution(change: IncidentChange, at: number): void {
    if (this.resolvedListeners.size === 0) return;
    const latest = this.database.db
      .select()
      .from(signals)
      .where(eq(signals.incidentId, change.id))
      .orderBy(desc(signals.receivedAt), desc(signals.id))
      .limit(1)
      .get();
    if (latest === undefined) return;
    const heard = [
      {
        signalId: latest.id,
        input: {
          kind: latest.kind,
          source: latest.source,
          dedupeKey: latest.dedupeKey,
          fingerprint: latest.fingerprint,
          title: latest.title ?? '',
          service: latest.service,
          severity: latest.severity,
          payload: latest.payload,
          occurredAt: latest.occurredAt,
        },
        receivedAt: at,
        incident: change,
      },
    ];
    for (const listener of this.resolvedListeners) listener(heard);
  }

  private act(
    ref: string,
    actor: string,
    rawNote: string | undefined,
    verb: 'acknowledge' | 'resolve',
    apply: (found: Incident, at: number) => IncidentResult,
  ): IncidentResult {
    if (parseIncidentRef(ref) === null) {
      return {
        ok: false,
        code: 'bad-id',
        message: `"${ref.slice(0, 40)}" is not an incident id: use the short id shown in the alert, e.g. \`${verb === 'acknowledge' ? 'ack' : 'resolve'} i7\``,
      };
    }
    const note = rawNote?.trim().slice(0, MAX_NOTE) || undefined;
    return writeTransaction(this.database, () => {
      const found = this.get(ref);
      if (found === null) {
        return {
          ok: false,
          code: 'not-found',
          message: `there is no incident ${ref.trim()}: \`incidents\` lists the open ones`,
        } as const;
      }
      const at = this.now();
      const result = apply(found, at);
      if (result.ok) {
        this.audit.appendInTx({
          kind: verb === 'acknowledge' ? 'incident.acknowledged' : 'incident.resolved',
          actor,
          trigger: actor.startsWith('cli:') ? 'cli' : 'chat',
          outcome: result.message,
          evidence: [found.id],
          data: { incident: found.shortId, changed: result.changed, note: note ?? null },
        });
      }
      return result;
    });
  }
}
