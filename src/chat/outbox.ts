/**
 * The persistent outbox: every chat message is stored here before anything tries to send it, and
 * `OutboxWorker` (outbox-worker.ts) delivers it. What the outbox promises:
 *
 * - Stored with the change that caused it: `enqueue()` may run inside the caller's
 *   `writeTransaction()`, so a state change and its messages commit (or roll back) together.
 * - Once per dedupe key: a repeated key returns the row already stored and writes nothing, so a
 *   retried handler, a redelivered webhook or a restart never queues a message twice.
 * - In order per lane of a channel: everything said about one incident (its card, the card's
 *   updates, its thread) is one lane, `incident:<number>`; everything else in the channel is the
 *   lane ''. The worker only ever sends the oldest unfinished row of a lane (its "head"); a later
 *   message waits until the earlier one is delivered or has finally failed. Lanes go side by side,
 *   so one incident's card never waits behind another's: a reply still follows its card (same lane),
 *   and an update inherits the lane of the message it edits.
 * - Nothing lost, never silently dropped: rows stay `pending` while an adapter is down or absent;
 *   a row only becomes `failed` on a permanent error or after the worker's max age, and that is
 *   audited (`outbox.failed`) with the last error. One exception is by design: a message about an
 *   incident folded into an alert storm (storm.ts) is stored already `delivered` with the platform
 *   ref `folded:<storm card's row id>` and never sent; approval requests are never folded.
 * - Only a card's latest update waits: queuing an `update` of a message marks that message's
 *   earlier updates still `pending` (not yet being sent) as superseded: `delivered` with the
 *   platform ref `superseded:<newer row id>`, never sent. A flapping incident edits its card once
 *   per delivery slot, not once per change, so it never runs into a platform's rate limit.
 * - At least once: rows left `sending` by a crash go back to `pending` at start (`recover()`). The
 *   one duplicate this can cause: the platform accepted a message and the process died before the
 *   row was marked delivered; it is posted again after the restart. The dedupe key prevents every
 *   other duplicate.
 */
import {
  and,
  asc,
  count,
  desc,
  eq,
  getTableColumns,
  gt,
  gte,
  inArray,
  isNotNull,
  like,
  lt,
  min,
  notLike,
  sql,
} from 'drizzle-orm';
import type { AuditLog, AuditRecord } from '../audit/log.js';
import { type Database, writeTransaction } from '../db/connection.js';
import { type OutboxOp, type OutboxState, outbox } from '../db/schema.js';
import { AutonomyError, type AutonomyErrorOptions } from '../process/errors.js';
import { IncidentThreads, stormIdOf } from './incident-thread.js';
import { type ChatMessage, type ChatMessageInput, channelSchema, messageSchema } from './message.js';

/** One stored row; `message` is the stored JSON (validated when enqueued, parsed again before sending). */
export type OutboxRow = typeof outbox.$inferSelect;

/**
 * A lane's head as the worker schedules it: the row without its message. The worker reads the
 * heads on every look for what is due; the message comes with the claim, when it is sent.
 */
export type OutboxHead = Omit<OutboxRow, 'message'>;

export interface EnqueueOptions {
  /** Same key, same message: stored once, whatever else differs. Up to 200 characters. */
  readonly dedupeKey: string;
  /** `post` (default) a new message, or `update` the one outbox row `updateOf` posted. */
  readonly op?: OutboxOp;
  /** For `update`: the id of the outbox row whose message to replace (same channel). */
  readonly updateOf?: number;
  /** Do not send before this time (epoch ms); default now. */
  readonly notBefore?: number;
}

export interface EnqueueResult {
  readonly id: number;
  /** false when the dedupe key was already there (nothing was written). */
  readonly created: boolean;
  readonly row: OutboxRow;
  /**
   * true when it was stored already folded into an alert storm's card and will not be sent: it is
   * about an incident folded into a storm in that channel (storm.ts, incident-thread.ts).
   */
  readonly folded?: boolean;
}

export interface ChannelBacklog {
  /** Rows not yet delivered (pending or being sent). */
  readonly pending: number;
  /** Rows that finally failed (kept until purged). */
  readonly failed: number;
  /** Age of the oldest undelivered row (ms), or null when there is none. */
  readonly oldestPendingAgeMs: number | null;
}

export interface Backlog extends ChannelBacklog {
  readonly byChannel: Readonly<Record<string, ChannelBacklog>>;
}

/** Why a row finally failed (the audit record says the rest). */
export type FailReason = 'permanent' | 'max-age' | 'invalid';

export interface OutboxOptions {
  /** Epoch milliseconds. */
  readonly now: () => number;
}

/** Who the outbox is in the audit log. */
export const OUTBOX_ACTOR = 'system:outbox';

const UNFINISHED: OutboxState[] = ['pending', 'sending'];
/** The platform ref of a row folded into a storm card (never sent): `folded:<storm card's row id>`. */
const FOLDED = 'folded:';
/** The platform ref of an update replaced by a newer one before it was sent: `superseded:<newer row id>`. */
export const SUPERSEDED = 'superseded:';
const MAX_ERROR_LENGTH = 1000;
/** Undelivered rows in the first page read while looking for lane heads (headsInOrder). */
const HEAD_PAGE = 32;

export class OutboxError extends AutonomyError<'OUTBOX_INVALID'> {
  constructor(message: string, options: AutonomyErrorOptions = {}) {
    super('OUTBOX_INVALID', message, options);
  }
}

export class Outbox {
  private readonly now: () => number;
  private readonly q: Queries;
  private readonly threads: IncidentThreads;

  constructor(
    private readonly database: Database,
    private readonly audit: AuditLog,
    options: OutboxOptions,
  ) {
    this.now = options.now;
    this.q = prepareQueries(database);
    this.threads = new IncidentThreads(database);
  }

  /**
   * The thread a post belongs in (the platform ref of its incident's card in the same channel), or
   * null for the channel's top level. See incident-thread.ts.
   */
  threadOf(row: OutboxRow, message: ChatMessage): string | null {
    return row.op === 'post' ? this.threads.threadOf(row.id, row.channel, message) : null;
  }

  /**
   * Stores a message for `channel` (`slack:C123`, `discord:123`, `console:NAME`). Throws
   * OutboxError, writing nothing, when the channel, message or options are not valid. Safe inside
   * the caller's writeTransaction() (it becomes a savepoint); commits by itself otherwise.
   */
  enqueue(channel: string, message: ChatMessageInput | ChatMessage, options: EnqueueOptions): EnqueueResult {
    const parsedChannel = channelSchema.safeParse(channel);
    if (!parsedChannel.success) {
      throw new OutboxError(
        `cannot queue a message for "${String(channel)}": not a channel; use slack:C123, discord:123 or console:NAME`,
      );
    }
    const key = options.dedupeKey;
    if (typeof key !== 'string' || key.length === 0 || key.length > 200) {
      throw new OutboxError(`a message for ${channel} needs a dedupe key of 1 to 200 characters`);
    }
    const parsed = messageSchema.safeParse(message);
    if (!parsed.success) {
      const where = parsed.error.issues.map((i) => `${i.path.join('.') || '(message)'}: ${i.message}`);
      throw new OutboxError(`message ${key} for ${channel} is not valid: ${where.join('; ')}`);
    }
    const op = options.op ?? 'post';
    if (op !== 'post' && op !== 'update')
      throw new OutboxError(`unknown outbox op "${String(op)}": post or update`);
    if (op === 'post' && options.updateOf !== undefined) {
      throw new OutboxError(`message ${key}: updateOf is only for op "update"`);
    }
    return writeTransaction(this.database, () => {
      const existing = this.byKey(key);
      if (existing !== null) return { id: existing.id, created: false, row: existing };
      const target = op === 'update' ? this.checkUpdateTarget(channel, key, options.updateOf) : null;
      const at = this.now();
      const values = {
        channel,
        dedupeKey: key,
        op,
        updateOf: target?.id ?? null,
        lane: target?.lane ?? this.threads.laneOf(parsed.data),
        message: parsed.data,
        nextAttemptAt: options.notBefore ?? at,
        createdAt: at,
      };
      const storm =
        target === null
          ? this.threads.foldedInto(channel, parsed.data)
          : foldedStormOf(target.platformRef ?? '');
      if (storm !== null) {
        // About an incident folded into an alert storm: kept, never sent (storm.ts).
        const row = this.q.insertFolded.get({ ...values, platformRef: `${FOLDED}${storm}` }) as OutboxRow;
        if (parsed.data.mentions.length > 0) this.pageThroughStorm(channel, storm, parsed.data, at);
        return { id: row.id, created: true, row, folded: true };
      }
      const row = this.q.insert.get(values) as OutboxRow;
      if (target !== null) {
        this.q.supersede.run({ updateOf: target.id, newer: row.id, at, ref: `${SUPERSEDED}${row.id}` });
      }
      return { id: row.id, created: true, row };
    });
  }

  /**
   * A folded message that mentions people (an escalation) still reaches them: once per storm card
   * and set of people, one top-level notice in the channel mentions them, so a storm never hides
   * from the on-call that an incident needs them. Inside enqueue's transaction.
   */
  private pageThroughStorm(channel: string, storm: number, folded: ChatMessage, at: number): void {
    const people = [...new Set(folded.mentions)].sort();
    const key = `storm-page:${storm}:${people.join(',')}`;
    if (this.byKey(key) !== null) return;
    const notice = messageSchema.parse({
      kind: 'notice',
      severity: folded.severity ?? 'warning',
      title: 'Alert storm: an incident folded into the storm card needs people',
      body: [
        `Escalated: ${folded.title}`,
        'Incidents folded into the storm card are not posted one by one; this is said once per storm for',
        'these people. `/autonomy incidents` lists the open ones; acknowledge them to stop escalation.',
      ].join('\n'),
      mentions: people,
    });
    this.q.insert.get({
      channel,
      dedupeKey: key,
      op: 'post',
      updateOf: null,
      lane: '',
      message: notice,
      nextAttemptAt: at,
      createdAt: at,
    });
  }

  /**
   * The last `limit` messages delivered to console channels, each as it stands after its latest
   * delivered update: what the console shows again after a restart.
   */
  consoleHistory(limit: number): {
    id: string;
    channel: string;
    message: unknown;
    postedAt: number;
    updatedAt: number;
    thread: string | null;
  }[] {
    const db = this.database.db;
    const posts = db
      .select()
      .from(outbox)
      .where(
        and(
          like(outbox.channel, 'console:%'),
          eq(outbox.op, 'post'),
          eq(outbox.state, 'delivered'),
          isNotNull(outbox.platformRef),
          notLike(outbox.platformRef, `${FOLDED}%`),
        ),
      )
      .orderBy(desc(outbox.id))
      .limit(limit)
      .all();
    return posts.map((p) => {
      const latest = this.latestUpdate(p.id, 'delivered');
      const stored = storedMessage(p);
      return {
        id: p.platformRef as string,
        channel: p.channel,
        thread: stored === null ? null : this.threadOf(p, stored),
        message: latest?.message ?? p.message,
        postedAt: p.createdAt,
        updatedAt: latest?.deliveredAt ?? p.deliveredAt ?? p.createdAt,
      };
    });
  }

  /**
   * Posts (not updates) whose dedupe key starts with `prefix`, queued at or after `since`, oldest
   * first, each with the message it stands at now (its latest update, delivered or not).
   */
  postsByKeyPrefix(prefix: string, since: number): { row: OutboxRow; latest: unknown }[] {
    const db = this.database.db;
    const posts = db
      .select()
      .from(outbox)
      .where(
        and(
          gte(outbox.dedupeKey, prefix),
          lt(outbox.dedupeKey, `${prefix}\uffff`),
          eq(outbox.op, 'post'),
          gte(outbox.createdAt, since),
        ),
      )
      .orderBy(asc(outbox.id))
      .all();
    return posts.map((row) => ({ row, latest: this.latestUpdate(row.id, 'any')?.message ?? row.message }));
  }

  /**
   * The newest update queued for post `postId`: any (what the message stands at now), or only one
   * that was delivered and not superseded (what the platform shows).
   */
  private latestUpdate(postId: number, which: 'any' | 'delivered'): OutboxRow | undefined {
    return this.database.db
      .select()
      .from(outbox)
      .where(
        and(
          eq(outbox.op, 'update'),
          eq(outbox.updateOf, postId),
          ...(which === 'delivered'
            ? [eq(outbox.state, 'delivered'), notLike(outbox.platformRef, `${SUPERSEDED}%`)]
            : []),
        ),
      )
      .orderBy(desc(outbox.id))
      .limit(1)
      .get();
  }

  get(id: number): OutboxRow | null {
    return this.q.byId.get({ id }) ?? null;
  }

  /** The row with this dedupe key, or null. */
  byKey(dedupeKey: string): OutboxRow | null {
    return this.q.byKey.get({ key: dedupeKey }) ?? null;
  }

  /** The oldest unfinished (pending or sending) row of a channel's lane: the only one of it that may be sent. */
  head(channel: string, lane = ''): OutboxHead | null {
    return this.heads().find((row) => row.channel === channel && row.lane === lane) ?? null;
  }

  /** A row's state, or null when there is no such row (what the worker reads after a delivery). */
  stateOf(id: number): OutboxState | null {
    return this.q.stateOf.get({ id })?.state ?? null;
  }

  /**
   * The first unfinished row of row `after`'s lane after it: the lane's next head once `after` (its
   * head) is finished. Reads only the lane's rows after it, however long its history.
   */
  nextAfter(after: Pick<OutboxRow, 'channel' | 'lane' | 'id'>): OutboxHead | null {
    return this.q.nextAfter.get({ channel: after.channel, lane: after.lane, afterId: after.id }) ?? null;
  }

  /** Every lane's head, oldest first (pending and sending alike; the worker picks what is due). */
  heads(): OutboxHead[] {
    return [...this.headsInOrder()];
  }

  /**
   * Every lane's head, oldest first: a lane's head is its first unfinished row in id order, the
   * rows behind it are skipped. Undelivered rows are read a page at a time, HEAD_PAGE rows first and
   * twice as many each page after: a caller that stops early, as the worker does once its slots are
   * full, pays for the rows it looked at, not for every head of a burst's backlog, and one that
   * reads to the end pays a few pages.
   */
  *headsInOrder(): Generator<OutboxHead, void, undefined> {
    const seen = new Set<string>();
    let afterId = 0;
    for (let limit = HEAD_PAGE; ; limit *= 2) {
      const page = this.q.unfinishedAfter.all({ afterId, limit });
      for (const row of page) {
        afterId = row.id;
        const lane = laneKey(row);
        if (seen.has(lane)) continue;
        seen.add(lane);
        yield row;
      }
      if (page.length < limit) return;
    }
  }

  /** Rows left `sending` (by a crash) go back to `pending`, due now. Returns how many. Call at start. */
  recover(): number {
    return this.database.db
      .update(outbox)
      .set({ state: 'pending', nextAttemptAt: this.now() })
      .where(eq(outbox.state, 'sending'))
      .run().changes;
  }

  /** Takes a pending row for sending (attempts + 1); null when it is not pending any more. */
  claim(id: number): OutboxRow | null {
    return this.q.claim.get({ id }) ?? null;
  }

  markDelivered(id: number, platformRef: string): void {
    this.q.delivered.run({ id, at: this.now(), platformRef });
  }

  /** Back to pending, to be tried again at `at` (epoch ms), keeping the error that caused it. */
  markRetry(id: number, at: number, error: string): void {
    this.q.retry.run({ id, at, error: clip(error) });
  }

  /** Gives up on a row: state failed, and an `outbox.failed` audit record, in one transaction. */
  markFailed(id: number, reason: FailReason, error: string): AuditRecord | null {
    return writeTransaction(this.database, () => {
      const row = this.get(id);
      if (row === null || row.state === 'delivered' || row.state === 'failed') return null;
      const lastError = clip(error);
      this.database.db.update(outbox).set({ state: 'failed', lastError }).where(eq(outbox.id, id)).run();
      const message = messageSchema.safeParse(row.message);
      const title = message.success ? message.data.title : null;
      const what = title === null ? `message #${id}` : `message #${id} ("${clip(title, 80)}")`;
      return this.audit.appendInTx({
        kind: 'outbox.failed',
        actor: OUTBOX_ACTOR,
        trigger: 'outbox',
        outcome: `${what} to ${row.channel} was not delivered after ${plural(row.attempts, 'attempt')} (${reason}): ${lastError}`,
        data: {
          id,
          channel: row.channel,
          dedupeKey: row.dedupeKey,
          op: row.op,
          updateOf: row.updateOf,
          kind: message.success ? message.data.kind : null,
          refs: message.success ? message.data.refs : null,
          attempts: row.attempts,
          createdAt: row.createdAt,
          reason,
          lastError,
        },
      });
    });
  }

  /** Undelivered and failed rows, in total and per channel (for `status`, /metrics and /healthz). */
  backlog(): Backlog {
    const now = this.now();
    const rows = this.database.db
      .select({
        channel: outbox.channel,
        state: outbox.state,
        n: count(),
        oldest: min(outbox.createdAt),
      })
      .from(outbox)
      .where(inArray(outbox.state, ['pending', 'sending', 'failed']))
      .groupBy(outbox.channel, outbox.state)
      .all();
    const byChannel: Record<string, { pending: number; failed: number; oldestPendingAgeMs: number | null }> =
      {};
    let pending = 0;
    let failed = 0;
    let oldest: number | null = null;
    for (const r of rows) {
      const c = byChannel[r.channel] ?? { pending: 0, failed: 0, oldestPendingAgeMs: null };
      byChannel[r.channel] = c;
      if (r.state === 'failed') {
        c.failed += r.n;
        failed += r.n;
        continue;
      }
      c.pending += r.n;
      pending += r.n;
      if (r.oldest !== null) {
        const age = Math.max(0, now - r.oldest);
        c.oldestPendingAgeMs = Math.max(c.oldestPendingAgeMs ?? 0, age);
        oldest = Math.max(oldest ?? 0, age);
      }
    }
    return { pending, failed, oldestPendingAgeMs: oldest, byChannel };
  }

  /**
   * Deletes delivered and failed rows created before `before` (epoch ms); returns how many. Their
   * dedupe keys are forgotten, and an update of a purged post is posted as a new message.
   */
  purge(before: number): number {
    return this.database.db
      .delete(outbox)
      .where(and(inArray(outbox.state, ['delivered', 'failed']), lt(outbox.createdAt, before)))
      .run().changes;
  }

  private checkUpdateTarget(channel: string, key: string, updateOf: number | undefined): OutboxRow {
    if (updateOf === undefined || !Number.isSafeInteger(updateOf)) {
      throw new OutboxError(
        `message ${key}: op "update" needs updateOf, the outbox id of the message it replaces`,
      );
    }
    const target = this.get(updateOf);
    if (target === null)
      throw new OutboxError(`message ${key}: there is no outbox message #${updateOf} to update`);
    if (target.channel !== channel) {
      throw new OutboxError(
        `message ${key}: #${updateOf} was posted to ${target.channel}, not ${channel}; update it in its own channel`,
      );
    }
    return target;
  }
}

type Queries = ReturnType<typeof prepareQueries>;

/** The statements the worker runs per message, built and prepared once (drizzle's per-call cost is 10x SQLite's). */
function prepareQueries(database: Database) {
  const db = database.db;
  const p = sql.placeholder;
  const { message: _message, ...headColumns } = getTableColumns(outbox);
  return {
    byId: db
      .select()
      .from(outbox)
      .where(eq(outbox.id, p('id')))
      .prepare(),
    byKey: db
      .select()
      .from(outbox)
      .where(eq(outbox.dedupeKey, p('key')))
      .prepare(),
    stateOf: db
      .select({ state: outbox.state })
      .from(outbox)
      .where(eq(outbox.id, p('id')))
      .prepare(),
    insert: db
      .insert(outbox)
      .values({
        channel: p('channel'),
        dedupeKey: p('dedupeKey'),
        op: p('op'),
        updateOf: p('updateOf'),
        lane: p('lane'),
        message: p('message'),
        state: 'pending',
        attempts: 0,
        nextAttemptAt: p('nextAttemptAt'),
        createdAt: p('createdAt'),
      })
      .returning()
      .prepare(),
    insertFolded: db
      .insert(outbox)
      .values({
        channel: p('channel'),
        dedupeKey: p('dedupeKey'),
        op: p('op'),
        updateOf: p('updateOf'),
        lane: p('lane'),
        message: p('message'),
        state: 'delivered',
        attempts: 0,
        nextAttemptAt: p('nextAttemptAt'),
        createdAt: p('createdAt'),
        deliveredAt: p('createdAt'),
        platformRef: p('platformRef'),
      })
      .returning()
      .prepare(),
    // Word for word the WHERE of the partial index outbox_unfinished_idx (schema.ts), which holds
    // the undelivered rows in id order: a page costs its own rows, however long the backlog.
    unfinishedAfter: db
      .select(headColumns)
      .from(outbox)
      .where(and(sql`+${outbox.state} in ('pending', 'sending')`, gt(outbox.id, p('afterId'))))
      .orderBy(asc(outbox.id))
      .limit(p('limit'))
      .prepare(),
    nextAfter: db
      .select(headColumns)
      .from(outbox)
      .where(
        and(
          eq(outbox.channel, p('channel')),
          eq(outbox.lane, p('lane')),
          gt(outbox.id, p('afterId')),
          inArray(outbox.state, UNFINISHED),
        ),
      )
      .orderBy(asc(outbox.id))
      .limit(1)
      .prepare(),
    claim: db
      .update(outbox)
      .set({ state: 'sending', attempts: sql`${outbox.attempts} + 1` })
      .where(and(eq(outbox.id, p('id')), eq(outbox.state, 'pending')))
      .returning()
      .prepare(),
    delivered: db
      .update(outbox)
      .set({
        state: 'delivered',
        deliveredAt: sql`${p('at')}`,
        platformRef: sql`${p('platformRef')}`,
        lastError: null,
      })
      .where(eq(outbox.id, p('id')))
      .prepare(),
    /** A card's pending updates older than `newer` are never sent (see the header). */
    supersede: db
      .update(outbox)
      .set({
        state: 'delivered',
        deliveredAt: sql`${p('at')}`,
        platformRef: sql`${p('ref')}`,
      })
      .where(
        and(
          eq(outbox.updateOf, p('updateOf')),
          eq(outbox.op, 'update'),
          eq(outbox.state, 'pending'),
          lt(outbox.id, p('newer')),
        ),
      )
      .prepare(),
    retry: db
      .update(outbox)
      .set({ state: 'pending', nextAttemptAt: sql`${p('at')}`, lastError: sql`${p('error')}` })
      .where(eq(outbox.id, p('id')))
      .prepare(),
  };
}

/** A lane's key: its channel and its lane, which together make it one (see the header). */
export function laneKey(row: Pick<OutboxRow, 'channel' | 'lane'>): string {
  return `${row.channel}\n${row.lane}`;
}

/** The storm card a row was folded into (its platform ref `folded:<id>`), or null. */
function foldedStormOf(platformRef: string): number | null {
  return platformRef.startsWith(FOLDED) ? stormIdOf(`storm:${platformRef.slice(FOLDED.length)}`) : null;
}

/** The stored message, parsed; null when it no longer passes the schema (a row written by hand). */
export function storedMessage(row: OutboxRow): ChatMessage | null {
  const parsed = messageSchema.safeParse(row.message);
  return parsed.success ? parsed.data : null;
}

function clip(text: string, max = MAX_ERROR_LENGTH): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
