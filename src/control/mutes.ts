/**
 * `/autonomy mute <agent|signature|service> <duration> [reason]` and `unmute`: mutes hold back
 * posts about an agent, an error signature or a service for a while. They never hold back storage
 * (signals, incidents, runs are kept as always) and never stop an agent (that is the kill switch).
 * Mutes live in the `mutes` table so the bot and the CLI share them; every change and its audit
 * record commit in one write transaction. Durations are parsed by the caller (the command parser).
 */
import { and, asc, eq, gt, isNull, sql } from 'drizzle-orm';
import type { AuditLog, AuditRecord } from '../audit/log.js';
import { type Database, writeTransaction } from '../db/connection.js';
import { preparedFor } from '../db/prepared.js';
import { MUTE_KINDS, type MuteKind, mutes } from '../db/schema.js';
import { AGENTS } from '../policy/vocabulary.js';
import type { NewId } from '../process/ids.js';

/** A mute as stored. Times are epoch ms. */
export interface Mute {
  readonly id: string;
  readonly kind: MuteKind;
  readonly target: string;
  readonly until: number;
  readonly reason: string | null;
  readonly actor: string;
  readonly createdAt: number;
  readonly liftedAt: number | null;
  readonly liftedBy: string | null;
}

/** What a post is about, for `isMuted()`: any of these may be muted. */
export interface MuteSubject {
  readonly agent?: string | null;
  readonly signature?: string | null;
  readonly service?: string | null;
}

/** What a mute or unmute did, for the reply to whoever typed it. */
export interface MuteChange {
  /** false when there was nothing to unmute (the request is still audited). */
  readonly changed: boolean;
  /** A sentence for a person. */
  readonly message: string;
  /** The mute set (mute), or the mutes lifted (unmute: possibly none). */
  readonly mutes: readonly Mute[];
  readonly audit: AuditRecord;
}

export interface MuteStoreOptions {
  /** Epoch milliseconds. */
  readonly now: () => number;
  readonly newId: NewId;
}

/** The longest mute: anything longer belongs in the policy (routing, or disabling the agent). */
export const MAX_MUTE_MS = 30 * 24 * 3600_000;

const TARGET = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,126}\*?$/;

export class MuteStore {
  private readonly now: () => number;
  private readonly newId: NewId;

  constructor(
    private readonly database: Database,
    private readonly audit: AuditLog,
    options: MuteStoreOptions,
  ) {
    this.now = options.now;
    this.newId = options.newId;
  }

  /**
   * Mutes `target` for `durationMs` from now. A mute already in force on the same target is
   * replaced (lifted, and the new one set), so there is one mute per target and the last word wins.
   */
  mute(kind: MuteKind, target: string, durationMs: number, actor: string, reason?: string): MuteChange {
    checkKind(kind);
    checkTarget(kind, target);
    checkActor(actor);
    if (!(Number.isSafeInteger(durationMs) && durationMs > 0 && durationMs <= MAX_MUTE_MS)) {
      throw new RangeError(
        `a mute lasts more than 0 and at most 30d, got ${String(durationMs)} ms; write e.g. 30m, 2h or 1d`,
      );
    }
    const why = reason?.trim() ? reason.trim() : null;
    return writeTransaction(this.database, () => {
      const at = this.now();
      const replaced = this.liftActive(kind, target, actor, at);
      const row: Mute = {
        id: this.newId('mute'),
        kind,
        target,
        until: at + durationMs,
        reason: why,
        actor,
        createdAt: at,
        liftedAt: null,
        liftedBy: null,
      };
      this.database.db.insert(mutes).values(row).run();
      const message =
        `${kind} ${target} muted until ${new Date(row.until).toISOString()}${why ? ` (${why})` : ''}: ` +
        `posts about it are held back, everything is still stored; \`unmute ${kind} ${target}\` lifts it`;
      const audit = this.audit.appendInTx({
        kind: 'mute.set',
        agent: kind === 'agent' && isAgent(target) ? target : null,
        actor,
        trigger: actor.split(':')[0] ?? null,
        outcome: message,
        data: {
          id: row.id,
          kind,
          target,
          until: row.until,
          durationMs,
          reason: why,
          replaced: replaced.map((m) => m.id),
        },
      });
      return { changed: true, message, mutes: [row], audit };
    });
  }

  /** Lifts the mute in force on `target`, if any. */
  unmute(kind: MuteKind, target: string, actor: string, reason?: string): MuteChange {
    checkKind(kind);
    checkActor(actor);
    const why = reason?.trim() ? reason.trim() : null;
    return writeTransaction(this.database, () => {
      const at = this.now();
      const lifted = this.liftActive(kind, target, actor, at);
      const changed = lifted.length > 0;
      const message = changed
        ? `${kind} ${target} unmuted: its posts go out again`
        : `${kind} ${target} was not muted; nothing changed`;
      const audit = this.audit.appendInTx({
        kind: 'mute.lifted',
        agent: kind === 'agent' && isAgent(target) ? target : null,
        actor,
        trigger: actor.split(':')[0] ?? null,
        outcome: message,
        data: { kind, target, changed, lifted: lifted.map((m) => m.id), reason: why },
      });
      return { changed, message, mutes: lifted, audit };
    });
  }

  /** Mutes in force at `now`, soonest to end first. */
  active(now: number): Mute[] {
    return preparedFor(this.database, activeMutes).all({ now });
  }

  /**
   * The mute that holds back a post about `subject` at `now`, or null. A `service` or `signature`
   * mute target may end in `*` (`staging-*`). When several match, the one lasting longest.
   */
  isMuted(subject: MuteSubject, now: number): Mute | null {
    let found: Mute | null = null;
    for (const m of this.active(now)) {
      if (!matches(m, subject)) continue;
      if (found === null || m.until > found.until) found = m;
    }
    return found;
  }

  private liftActive(kind: MuteKind, target: string, actor: string, at: number): Mute[] {
    const db = this.database.db;
    const live = and(
      eq(mutes.kind, kind),
      eq(mutes.target, target),
      gt(mutes.until, at),
      isNull(mutes.liftedAt),
    );
    const rows = db.select().from(mutes).where(live).all();
    if (rows.length === 0) return [];
    db.update(mutes).set({ liftedAt: at, liftedBy: actor }).where(live).run();
    return rows.map((r) => ({ ...r, liftedAt: at, liftedBy: actor }));
  }
}

/** Asked for every post (isMuted): prepared once. */
function activeMutes(database: Database) {
  return database.db
    .select()
    .from(mutes)
    .where(and(gt(mutes.until, sql.placeholder('now')), isNull(mutes.liftedAt)))
    .orderBy(asc(mutes.until), asc(mutes.createdAt))
    .prepare();
}

function matches(m: Mute, subject: MuteSubject): boolean {
  const value = subject[m.kind];
  if (value === undefined || value === null || value === '') return false;
  if (m.target === value) return true;
  return m.kind !== 'agent' && m.target.endsWith('*') && value.startsWith(m.target.slice(0, -1));
}

function isAgent(value: string): value is (typeof AGENTS)[number] {
  return (AGENTS as readonly string[]).includes(value);
}

function checkKind(kind: MuteKind): void {
  if (!(MUTE_KINDS as readonly string[]).includes(kind)) {
    throw new RangeError(`unknown mute kind "${String(kind)}": use ${MUTE_KINDS.join(', ')}`);
  }
}

function checkTarget(kind: MuteKind, target: string): void {
  if (kind === 'agent') {
    if (!isAgent(target)) throw new RangeError(`unknown agent "${target}": use one of ${AGENTS.join(', ')}`);
    return;
  }
  if (typeof target !== 'string' || !TARGET.test(target)) {
    throw new RangeError(
      `"${String(target)}" is not a ${kind} name: use letters, digits and . _ : / - (up to 128), optionally ending in *`,
    );
  }
}

function checkActor(actor: string): void {
  if (typeof actor !== 'string' || actor.trim() === '') {
    throw new TypeError('a mute change needs an actor (who asked for it, e.g. slack:user:U123)');
  }
}
