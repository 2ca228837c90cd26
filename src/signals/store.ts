/**
 * The SignalSink: stores normalised signals and correlates them into incidents (correlate.ts), in one write
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
import type { AuditLog } from '../audit/log.js';
import type { Database } from '../db/connection.js';
import type { Clock, NewId } from '../ids.js';
import { SEVERITIES, SIGNAL_KINDS } from '../policy/vocabulary.js';
import { DEFAULT_REOPEN_WINDOW_MS, DEFAULT_STALE_AFTER_MS, IncidentCorrelator } from './correlate.js';
import {
  cut,
  type IncidentRow,
  MAX_TITLE,
  prepareQueries,
  type Queries,
  timeOrdered,
} from './store-queries.js';
import type { IncidentChange, IngestOutcome, SignalInput, SignalSink } from './types.js';

export { DEFAULT_REOPEN_WINDOW_MS, DEFAULT_STALE_AFTER_MS, STALE_ACTOR } from './correlate.js';
export { shortIdOf, timeOrdered } from './store-queries.js';

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

const MAX_KEY = 512;

interface Job {
  readonly fn: () => unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (err: unknown) => void;
}

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

export class SignalStore implements SignalSink {
  private readonly now: Clock;
  private readonly newId: NewId;
  private readonly onListenerError: (err: unknown) => void;
  private readonly listeners = new Set<SignalListener>();
  private readonly q: Queries;
  private readonly correlator: IncidentCorrelator;
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
    this.onListenerError = options.onListenerError ?? (() => {});
    this.q = prepareQueries(database);
    this.correlator = new IncidentCorrelator(database, this.q, {
      newId: options.newId,
      audit: options.audit ?? null,
      reopenWindowMs: options.reopenWindowMs ?? DEFAULT_REOPEN_WINDOW_MS,
      staleAfterMs: options.staleAfterMs ?? DEFAULT_STALE_AFTER_MS,
    });
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
        setImmediate(() => this.flush());
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
    if (open !== null && !input.resolves && !this.correlator.isStale(open, at)) {
      // The common case (one more signal of an open incident): insert first, and let the unique
      // dedupe key say whether it is a repeat, instead of looking it up beforehand.
      if (this.insert(signalId, input, at, open.id) === 0) return this.duplicate(input);
      const change = this.correlator.update(open, input, at);
      heard.push({ signalId, input, receivedAt: at, incident: change });
      return { status: 'stored', signalId, incident: change };
    }
    const existing = this.q.signalByKey.get({ key: input.dedupeKey }) as { id: string } | undefined;
    if (existing !== undefined) return { status: 'duplicate', signalId: existing.id };
    const { incidentId, change } = this.correlator.correlate(input, at, open);
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
}
