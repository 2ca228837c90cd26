/**
 * The SignalSink: stores normalised signals and correlates them into incidents, in one write
 * transaction per call (all or nothing), committed before the call returns. Webhooks, log repeats,
 * probes and sweeps all come through here.
 *
 * Correlation is by fingerprint:
 * - a signal whose fingerprint has an unresolved incident updates it (count, last signal, the
 *   highest severity seen, the earliest start);
 * - `resolves` resolves that incident (by `source:<source>`, at the signal's own time when given);
 *   with no unresolved incident it is stored, linked to the fingerprint's last incident if any;
 * - otherwise, if the fingerprint's last incident was resolved less than `reopenWindowMs` ago
 *   (default 10 min) the incident is reopened (same number, same start); a signal that happened
 *   before that resolution (a late or replayed delivery) is stored and linked but reopens nothing;
 * - otherwise a new incident opens, numbered max+1 inside the transaction (`i7`).
 * An unresolved incident that heard nothing for `staleAfterMs` (default 24 h) is not extended by a
 * new signal: it is resolved as `system:stale` at its last signal, and a new one opens.
 *
 * Opened, reopened and resolved incidents are audited in the same transaction; updates are not
 * (10,000 repeats would be 10,000 audit records; the signals themselves are the evidence).
 *
 * Group commit: `commit(fn)` / `ingestBatched(inputs)` queue a unit of work; every unit queued in the
 * same turn of the event loop runs in ONE transaction, and each promise settles after that COMMIT
 * (one WAL write for many webhooks). If a unit throws, the batch is rolled back and retried unit by
 * unit, so one bad unit fails alone. Listeners (`onStored`) hear about stored signals after their
 * commit, never about rolled-back ones.
 */
import type BetterSqlite3 from 'better-sqlite3';
import { and, desc, eq, max, sql } from 'drizzle-orm';
import type { AuditLog } from '../audit/log.js';
import { type Database, fastStatement } from '../db/connection.js';
import { type IncidentStatus, incidents, signals } from '../db/schema.js';
import type { Clock, NewId } from '../ids.js';
import { SEVERITIES, type Severity, SIGNAL_KINDS } from '../policy/vocabulary.js';
import type { IncidentChange, IngestOutcome, SignalInput, SignalSink } from './types.js';

export interface SignalStoreOptions {
  readonly now: Clock;
  readonly newId: NewId;
  /** Audits incident opens, reopens and resolutions (recommended). */
  readonly audit?: AuditLog;
  /** A signal within this long after its incident was resolved reopens it (default 10 min). */
  readonly reopenWindowMs?: number;
  /** An unresolved incident silent this long is closed as stale by its next signal (default 24 h). */
  readonly staleAfterMs?: number;
  /** Where a listener's exception goes (it never fails the ingest). */
  readonly onListenerError?: (err: unknown) => void;
}

/** A signal as committed, for listeners (agents, the chat notifier). */
export interface StoredSignal {
  readonly signalId: string;
  readonly input: SignalInput;
  readonly receivedAt: number;
  readonly incident: IncidentChange | null;
}

export type SignalListener = (stored: readonly StoredSignal[]) => void;

export const DEFAULT_REOPEN_WINDOW_MS = 10 * 60_000;
export const DEFAULT_STALE_AFTER_MS = 24 * 60 * 60_000;
/** Who resolves an incident that went quiet and was superseded. */
export const STALE_ACTOR = 'system:stale';
const MAX_KEY = 512;
const MAX_TITLE = 300;

const RANK: Record<Severity, number> = { info: 0, warning: 1, critical: 2 };

/**
 * `sig_<id>` -> `sig_<receipt time, base 36>_<id>`: ids that sort by time, so inserting a signal
 * appends to the primary-key index instead of dirtying a random page of it (random UUIDs cost
 * about a quarter of the pages each commit writes). Still unique: the injected id is kept whole.
 */
export function timeOrdered(id: string, at: number): string {
  const cut = id.indexOf('_');
  const stamp = Math.max(0, Math.trunc(at)).toString(36).padStart(9, '0');
  return cut < 0 ? `${stamp}_${id}` : `${id.slice(0, cut)}_${stamp}_${id.slice(cut + 1)}`;
}

export function shortIdOf(number: number): string {
  return `i${number}`;
}

/** An incidents row as SQLite returns it (column names). */
interface IncidentRow {
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

interface Job {
  readonly fn: () => unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (err: unknown) => void;
}

type Settled =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly error: unknown };

function checkText(value: unknown, what: string, maxLength: number): void {
  if (typeof value !== 'string' || value.length === 0 || value.length > maxLength) {
    throw new TypeError(`signal ${what} must be a string of 1 to ${maxLength} characters`);
  }
}

/** Inputs come from our own normalisers; a bad one is a bug, so it fails the whole call loudly. */
function checkInput(input: SignalInput): void {
  if (!(SIGNAL_KINDS as readonly string[]).includes(input.kind)) {
    throw new TypeError(`signal kind "${String(input.kind)}" is not one of ${SIGNAL_KINDS.join(', ')}`);
  }
  if (!(SEVERITIES as readonly string[]).includes(input.severity)) {
    throw new TypeError(`signal severity "${String(input.severity)}" is not one of ${SEVERITIES.join(', ')}`);
  }
  checkText(input.source, 'source', 200);
  checkText(input.dedupeKey, 'dedupeKey', MAX_KEY);
  checkText(input.fingerprint, 'fingerprint', MAX_KEY);
  if (typeof input.title !== 'string') throw new TypeError('signal title must be a string');
  const at = input.occurredAt;
  if (at !== undefined && at !== null && !Number.isSafeInteger(at)) {
    throw new TypeError('signal occurredAt must be epoch milliseconds (an integer) or null');
  }
}

function cut(text: string, length: number): string {
  return text.length <= length ? text : `${text.slice(0, length - 1)}…`;
}

export class SignalStore implements SignalSink {
  private readonly now: Clock;
  private readonly newId: NewId;
  private readonly audit: AuditLog | null;
  private readonly reopenWindowMs: number;
  private readonly staleAfterMs: number;
  private readonly onListenerError: (err: unknown) => void;
  private readonly listeners = new Set<SignalListener>();
  private readonly q: Queries;
  private readonly tx: BetterSqlite3.Transaction<(fn: () => unknown) => unknown>;
  private queue: Job[] = [];
  private scheduled = false;
  /** Inside a group commit: stored signals wait here for the COMMIT. */
  private collecting: StoredSignal[] | null = null;

  constructor(
    private readonly database: Database,
    options: SignalStoreOptions,
  ) {
    this.now = options.now;
    this.newId = options.newId;
    this.audit = options.audit ?? null;
    this.reopenWindowMs = options.reopenWindowMs ?? DEFAULT_REOPEN_WINDOW_MS;
    this.staleAfterMs = options.staleAfterMs ?? DEFAULT_STALE_AFTER_MS;
    this.onListenerError = options.onListenerError ?? (() => {});
    this.q = prepareQueries(database);
    this.tx = database.sqlite.transaction((fn: () => unknown) => fn());
  }

  /** Hears every committed signal (with its incident change). Returns the unsubscribe function. */
  onStored(listener: SignalListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Stores and correlates `inputs` in one transaction; committed on return (unless inside a commit() unit). */
  ingest(inputs: readonly SignalInput[]): IngestOutcome[] {
    for (const input of inputs) checkInput(input);
    const collecting = this.collecting;
    if (collecting !== null && this.database.sqlite.inTransaction) {
      // Inside a group commit: the batch is all or nothing, and retried unit by unit if it fails.
      const at = this.now();
      return inputs.map((input) => this.ingestOne(input, at, collecting));
    }
    const heard: StoredSignal[] = [];
    const outcomes = this.inTransaction(() => {
      const at = this.now();
      return inputs.map((input) => this.ingestOne(input, at, heard));
    });
    this.emit(heard);
    return outcomes;
  }

  /** `ingest()` through the group commit: resolves after the COMMIT that holds it. */
  ingestBatched(inputs: readonly SignalInput[]): Promise<IngestOutcome[]> {
    return this.commit(() => this.ingest(inputs));
  }

  /**
   * Runs `fn` in the next group commit: every unit queued in this turn of the event loop runs in
   * ONE transaction. Resolves with its result after that COMMIT. If any unit throws, the batch is
   * rolled back and each unit is run again in a transaction of its own, so only the failing one
   * rejects (with its error, its writes undone). `fn` must be synchronous and write only to this
   * database (it may run twice).
   */
  commit<T>(fn: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, resolve: resolve as (value: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        if (process.env.XDELAY) setTimeout(() => this.flush(), Number(process.env.XDELAY)); else setImmediate(() => this.flush());
      }
    });
  }

  /** Runs every queued unit now (normally called by the scheduler, one turn after the first commit()). */
  flush(): void {
    this.scheduled = false;
    const jobs = this.queue;
    this.queue = [];
    if (jobs.length === 0) return;
    const heard: StoredSignal[] = [];
    let values: unknown[];
    try {
      values = this.collect(heard, () => jobs.map((job) => job.fn()));
    } catch (batchError) {
      if (jobs.length === 1) {
        (jobs[0] as Job).reject(batchError);
        return;
      }
      for (const job of jobs) {
        const own: StoredSignal[] = [];
        try {
          const value = this.collect(own, job.fn);
          job.resolve(value);
          this.emit(own);
        } catch (error) {
          job.reject(error);
        }
      }
      return;
    }
    jobs.forEach((job, i) => {
      job.resolve(values[i]);
    });
    this.emit(heard);
  }

  /** Runs `fn` in a write transaction with stored signals collected into `heard`. */
  private collect<T>(heard: StoredSignal[], fn: () => T): T {
    const outer = this.collecting;
    this.collecting = heard;
    try {
      return this.inTransaction(fn);
    } catch (error) {
      heard.length = 0;
      throw error;
    } finally {
      this.collecting = outer;
    }
  }

  /** writeTransaction() with one cached transaction function (this is the hot path). */
  private inTransaction<T>(fn: () => T): T {
    return (this.database.sqlite.inTransaction ? this.tx(fn) : this.tx.immediate(fn)) as T;
  }

  private emit(heard: readonly StoredSignal[]): void {
    if (heard.length === 0) return;
    for (const listener of this.listeners) {
      try {
        listener(heard);
      } catch (err) {
        this.onListenerError(err);
      }
    }
  }

  private ingestOne(input: SignalInput, at: number, heard: StoredSignal[]): IngestOutcome {
    const open = (this.q.openIncident.get({ fp: input.fingerprint }) as IncidentRow | undefined) ?? null;
    const signalId = timeOrdered(this.newId('sig'), at);
    if (open !== null && !input.resolves && !this.isStale(open, at)) {
      // The common case (one more signal of an open incident): insert first, and let the unique
      // dedupe key say whether it is a repeat, instead of looking it up beforehand.
      if (this.insert(signalId, input, at, open.id) === 0) return this.duplicate(input);
      const change = this.update(open, input, at);
      heard.push({ signalId, input, receivedAt: at, incident: change });
      return { status: 'stored', signalId, incident: change };
    }
    const existing = this.q.signalByKey.get({ key: input.dedupeKey }) as { id: string } | undefined;
    if (existing !== undefined) return { status: 'duplicate', signalId: existing.id };
    const { incidentId, change } = this.correlate(input, at, open);
    this.insert(signalId, input, at, incidentId);
    heard.push({ signalId, input, receivedAt: at, incident: change });
    return { status: 'stored', signalId, incident: change };
  }

  /** Inserts the signal unless its dedupe key is stored already; 1 when inserted, 0 when not. */
  private insert(signalId: string, input: SignalInput, at: number, incidentId: string | null): number {
    return this.q.insertSignal.run({
      id: signalId,
      kind: input.kind,
      source: input.source,
      dedupeKey: input.dedupeKey,
      fingerprint: input.fingerprint,
      title: cut(input.title, MAX_TITLE),
      service: input.service ?? null,
      severity: input.severity,
      payload: JSON.stringify(input.payload ?? null),
      occurredAt: input.occurredAt ?? null,
      receivedAt: at,
      incidentId,
    }).changes;
  }

  private duplicate(input: SignalInput): IngestOutcome {
    const existing = this.q.signalByKey.get({ key: input.dedupeKey }) as { id: string };
    return { status: 'duplicate', signalId: existing.id };
  }

  private isStale(open: IncidentRow, at: number): boolean {
    return at - (open.last_signal_at ?? open.detected_at) > this.staleAfterMs;
  }

  /** One more signal of an open incident: count, last signal, highest severity, earliest start. */
  private update(open: IncidentRow, input: SignalInput, at: number): IncidentChange {
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
  private correlate(
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

function toChange(row: IncidentRow, change: IncidentChange['change']): IncidentChange {
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

type Queries = ReturnType<typeof prepareQueries>;

/** The hot path's statements, bound straight to better-sqlite3 (see fastStatement). */
function prepareQueries(database: Database) {
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
        .select()
        .from(incidents)
        .where(and(eq(incidents.fingerprint, p('fp')), sql`${incidents.status} <> 'resolved'`)),
    ),
    lastIncident: fastStatement<{ fp: string }>(
      database,
      db
        .select()
        .from(incidents)
        .where(eq(incidents.fingerprint, p('fp')))
        .orderBy(desc(incidents.startedAt), desc(incidents.number))
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
    countSignal: fastStatement<{ id: string }>(
      database,
      db
        .update(incidents)
        .set({ signalCount: sql`${incidents.signalCount} + 1` })
        .where(eq(incidents.id, p('id'))),
    ),
  };
}
