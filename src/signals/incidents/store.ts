/**
 * The SignalSink: stores normalised signals and correlates them into incidents (correlate.ts), in one write
 * transaction per call (all or nothing), committed before the call returns. Webhooks, log repeats,
 * probes and sweeps all come through here.
 *
 * Correlation, in this order:
 * - a signal whose fingerprint is firing in an unresolved incident (the one it opened, or one it
 *   joined) updates it: count, last signal, the highest severity seen, the earliest start;
 * - `resolves` ends its fingerprint's part in that incident. The incident is resolved (by
 *   `source:<source>`, at the signal's own time when given) only when no other fingerprint in it
 *   is still firing (two Alertmanager alerts in one incident: the first resolution leaves it open,
 *   audited as `incident.member-resolved`). With nothing firing it is stored and counted on the
 *   fingerprint's last incident, changing nothing;
 * - a signal that happened before its fingerprint's last resolution (a late or replayed delivery)
 *   is stored and counted on that incident, and changes nothing;
 * - a signal with a `family` joins the family's unresolved incident, however long ago it opened
 *   (GitHub: every workflow and check of one branch; each still resolves on its own);
 * - otherwise, if the fingerprint's last incident was resolved less than `reopenWindowMs` ago
 *   (default 10 min; not by `system:stale`) it is reopened (same number, same start);
 * - otherwise a signal with a service (and no family) joins that service's unresolved incident if
 *   it heard a signal within `correlationWindowMs` (default 10 min): an alert, a failed probe, an
 *   error signature and a failed job of one service are one incident. Advisories never join by
 *   service (a vulnerable package is not an outage) and nothing joins an advisory's incident. The
 *   incident keeps its title and first fingerprint; joins are audited (`incident.joined`);
 * - otherwise a new incident opens, numbered max+1 inside the transaction (`i7`).
 * An unresolved incident that heard nothing for `staleAfterMs` (default 24 h) is not extended by a
 * new signal: it is resolved as `system:stale` at its last signal, and a new one opens.
 *
 * Only signals that say a problem is on are linked to their incident (`incident_id`); resolutions
 * and late deliveries are stored unlinked, and counted in the incident's `signal_count`. That is
 * how members.ts knows which fingerprints of an incident are still firing.
 *
 * Opened, joined, reopened and resolved incidents are audited in the same transaction; updates are not
 * (10,000 repeats would be 10,000 audit records; the signals themselves are the evidence).
 *
 * Group commit: `commit(fn)` / `ingestBatched(inputs)` queue a unit of work; every unit queued in the
 * same turn of the event loop runs in ONE transaction, and each promise settles after that COMMIT
 * (one WAL write for many webhooks). If a unit throws, the batch is rolled back and retried unit by
 * unit, so one bad unit fails alone. Work that must commit with a signal (the incident's card, the
 * agents' jobs) is written by `beforeCommit` listeners inside the transaction, after the incident
 * rows: a crash leaves the signal and that work both or neither. Listeners (`onStored`) hear about
 * stored signals after their commit, never about rolled-back ones. The signals of one open
 * incident in one transaction update its row once, at the end (pending.ts). `hold()` / `release()`
 * let the checkpoint thread (db/checkpointer.ts) finish a checkpoint with no commit in between:
 * queued units wait meanwhile.
 */
import type BetterSqlite3 from 'better-sqlite3';
import type { AuditLog } from '../../audit/log.js';
import type { Database } from '../../db/connection.js';
import { SEVERITIES, SIGNAL_KINDS } from '../../policy/vocabulary.js';
import type { Clock, NewId } from '../../process/ids.js';
import type { IncidentChange, IngestOutcome, SignalInput, SignalSink } from '../types.js';
import {
  DEFAULT_CORRELATION_WINDOW_MS,
  DEFAULT_REOPEN_WINDOW_MS,
  DEFAULT_STALE_AFTER_MS,
  IncidentCorrelator,
} from './correlate.js';
import { PendingIncidents } from './pending.js';
import {
  advanced,
  cut,
  type IncidentRow,
  MAX_TITLE,
  prepareQueries,
  type Queries,
  timeOrdered,
  timeStamp,
  toChange,
} from './store-queries.js';

export {
  DEFAULT_CORRELATION_WINDOW_MS,
  DEFAULT_REOPEN_WINDOW_MS,
  DEFAULT_STALE_AFTER_MS,
  STALE_ACTOR,
} from './correlate.js';
export { firingFingerprints } from './members.js';
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
  /** A new fingerprint joins its service's incident if that heard a signal this recently (default 10 min; 0: never). */
  readonly correlationWindowMs?: number;
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
  /** An ingestBatched() unit (touches signals and incidents only through this store). */
  readonly own: boolean;
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
  const family = input.family;
  if (family !== undefined && family !== null) {
    checkText(family, 'family', MAX_KEY);
    if (!input.fingerprint.startsWith(`${family}:`)) {
      throw new TypeError(
        `signal fingerprint "${input.fingerprint}" must start with its family "${family}:"`,
      );
    }
  }
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
  /** The fast path's incident writes, held until the transaction ends (pending.ts). */
  private readonly pending: PendingIncidents;
  private readonly tx: BetterSqlite3.Transaction<(fn: () => unknown) => unknown>;
  private queue: Job[] = [];
  private scheduled = false;
  /** Group commits wait (the checkpoint thread is finishing a checkpoint). */
  private held = false;
  private lastStamp = { at: Number.NaN, stamp: '' };
  /** Inside a group commit: stored signals wait here for the COMMIT. */
  private collecting: StoredSignal[] | null = null;
  /** Group commits whose listeners have not heard them yet, in commit order (emitSoon). */
  private unheard: (readonly StoredSignal[])[] = [];
  /** Hear each transaction's stored signals before its COMMIT (the incident's card, the agents' jobs). */
  private readonly beforeCommitListeners = new Set<SignalListener>();
  /** Runs a before-commit listener in a savepoint: one that throws has its writes undone, alone. */
  private readonly savepoint: BetterSqlite3.Transaction<(fn: () => void) => void>;

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
      correlationWindowMs: options.correlationWindowMs ?? DEFAULT_CORRELATION_WINDOW_MS,
    });
    this.pending = new PendingIncidents(this.q);
    this.savepoint = database.sqlite.transaction((fn: () => void) => fn());
    this.tx = database.sqlite.transaction((fn: () => unknown) => {
      const value = fn();
      this.pending.write();
      return value;
    });
  }

  /**
   * Work that commits with the signals: `listener` hears each transaction's stored signals (with
   * their incident changes) inside it, after the incident rows are written and before the COMMIT, so
   * what it writes (the incident's card, the agents' jobs) commits or rolls back with them. A listener
   * that throws has its own writes undone and is reported (onListenerError); the signals are kept.
   * It must be quick: it is on the ingest path. Returns the unsubscribe function.
   */
  beforeCommit(listener: SignalListener): () => void {
    this.beforeCommitListeners.add(listener);
    return () => this.beforeCommitListeners.delete(listener);
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
    const outcomes = this.collect(heard, () => {
      const at = this.now();
      return inputs.map((input) => this.ingestOne(input, at, heard));
    });
    this.emitUnheard();
    this.emit(heard);
    return outcomes;
  }

  /** `ingest()` through the group commit: resolves after the COMMIT that holds it. */
  ingestBatched(inputs: readonly SignalInput[]): Promise<IngestOutcome[]> {
    return this.enqueue(() => this.ingest(inputs), true);
  }

  /**
   * Runs `fn` in the next group commit: every unit queued in this turn of the event loop runs in
   * ONE transaction. Resolves with its result after that COMMIT. If any unit throws, the batch is
   * rolled back and each unit is run again in a transaction of its own, so only the failing one
   * rejects (with its error, its writes undone). `fn` must be synchronous and write only to this
   * database (it may run twice).
   */
  commit<T>(fn: () => T): Promise<T> {
    return this.enqueue(fn, false);
  }

  /** From now on, queued units wait for `release()` (ingest() and writes elsewhere do not). */
  hold(): void {
    this.held = true;
  }

  /** Commits what queued during the hold (in the next turn), and goes on as before. */
  release(): void {
    this.held = false;
    if (this.queue.length > 0) this.schedule();
  }

  private enqueue<T>(fn: () => T, own: boolean): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, own, resolve: resolve as (value: unknown) => void, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.held) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  /** Runs every queued unit now (normally called by the scheduler, one turn after the first commit()). */
  flush(): void {
    this.scheduled = false;
    if (this.held) return;
    const jobs = this.queue;
    this.queue = [];
    if (jobs.length === 0) return;
    const heard: StoredSignal[] = [];
    let values: unknown[];
    try {
      values = this.collect(heard, () => jobs.map((job) => this.run(job)));
    } catch (batchError) {
      if (jobs.length === 1) {
        (jobs[0] as Job).reject(batchError);
        return;
      }
      for (const job of jobs) {
        const own: StoredSignal[] = [];
        try {
          const value = this.collect(own, () => this.run(job));
          job.resolve(value);
          this.emitSoon(own);
        } catch (error) {
          job.reject(error);
        }
      }
      return;
    }
    jobs.forEach((job, i) => {
      job.resolve(values[i]);
    });
    this.emitSoon(heard);
  }

  /** Runs a unit of the group commit: someone else's sees the database whole, before and after. */
  private run(job: Job): unknown {
    if (job.own) return job.fn();
    this.pending.write();
    const value = job.fn();
    this.pending.write();
    return value;
  }

  /**
   * Runs `fn` in a write transaction with stored signals collected into `heard`, which the
   * before-commit listeners hear before it commits.
   */
  private collect<T>(heard: StoredSignal[], fn: () => T): T {
    const outer = this.collecting;
    this.collecting = heard;
    try {
      return this.inTransaction(() => {
        const value = fn();
        this.heardBeforeCommit(heard);
        return value;
      });
    } catch (error) {
      heard.length = 0;
      throw error;
    } finally {
      this.collecting = outer;
    }
  }

  /**
   * writeTransaction() with one cached transaction function (this is the hot path), which writes
   * the held incident rows before it commits; a rollback forgets them.
   */
  private inTransaction<T>(fn: () => T): T {
    const nested = this.database.sqlite.inTransaction;
    // A savepoint that fails must not take the enclosing transaction's held rows with it.
    if (nested) this.pending.write();
    try {
      return (nested ? this.tx(fn) : this.tx.immediate(fn)) as T;
    } catch (error) {
      this.pending.discard();
      throw error;
    }
  }

  /**
   * After a group commit, listeners (the agents' wake-up) hear it on the next turn: first the units'
   * own continuations run, so a burst of webhooks gets its 202s before the agents start. The cards
   * and jobs are already durable (written before the COMMIT); batches are heard in commit order, and
   * a direct ingest() hears what is still waiting before its own.
   */
  private emitSoon(heard: readonly StoredSignal[]): void {
    if (heard.length === 0) return;
    // The first waiting batch schedules the turn that hears them all.
    if (this.unheard.push(heard) === 1) setImmediate(() => this.emitUnheard());
  }

  private emitUnheard(): void {
    const batches = this.unheard;
    if (batches.length === 0) return;
    this.unheard = [];
    for (const heard of batches) this.emit(heard);
  }

  /** The before-commit listeners hear `heard`, each in a savepoint, after the held incident rows. */
  private heardBeforeCommit(heard: readonly StoredSignal[]): void {
    if (heard.length === 0 || this.beforeCommitListeners.size === 0) return;
    this.pending.write();
    for (const listener of this.beforeCommitListeners) {
      try {
        this.savepoint(() => listener(heard));
      } catch (err) {
        this.onListenerError(err);
      }
    }
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
    const fingerprint = input.fingerprint;
    const open =
      this.pending.get(fingerprint) ??
      (this.q.openIncident.get({ fp: fingerprint }) as IncidentRow | undefined) ??
      null;
    const signalId = timeOrdered(this.newId('sig'), at, this.stampAt(at));
    if (open !== null && !input.resolves && !this.correlator.isStale(open, at)) {
      // The common case (one more signal of the incident its fingerprint opened): insert first, and
      // let the unique dedupe key say whether it is a repeat, instead of looking it up beforehand;
      // the incident's row is written once, when the transaction ends.
      if (this.insert(signalId, input, at, open.id) === 0) return this.duplicate(input);
      const row = advanced(open, input, at);
      this.pending.hold(fingerprint, open, row);
      const change = toChange(row, 'updated');
      heard.push({ signalId, input, receivedAt: at, incident: change });
      return { status: 'stored', signalId, incident: change };
    }
    // The correlator reads incidents from the database.
    this.pending.write();
    const existing = this.q.signalByKey.get({ key: input.dedupeKey }) as { id: string } | undefined;
    if (existing !== undefined) return { status: 'duplicate', signalId: existing.id };
    const { incidentId, change } = this.correlator.correlate(input, at, open);
    this.insert(signalId, input, at, incidentId);
    heard.push({ signalId, input, receivedAt: at, incident: change });
    return { status: 'stored', signalId, incident: change };
  }

  /** timeStamp(at), remembered: a burst's signals share a millisecond (base 36 formatting is slow). */
  private stampAt(at: number): string {
    if (at !== this.lastStamp.at) this.lastStamp = { at, stamp: timeStamp(at) };
    return this.lastStamp.stamp;
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
