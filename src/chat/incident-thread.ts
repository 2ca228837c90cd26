/**
 * Which thread a message about an incident goes into: the incident's card in the same channel.
 * The card's outbox row is named in `incidents.message_refs` (`outbox:<id>`); once that row is
 * delivered its platform ref (Slack `ts`, Discord message id, console id) is the thread. The card
 * is queued before anything about it in a channel and the outbox keeps per-channel order, so by
 * the time a reply is sent its card is delivered (or finally failed). No card in that channel (the
 * routes differ) or a card that failed: the message goes to the channel's top level. An incident
 * folded into an alert storm (storm.ts) is named as `storm:<id>` (the storm card's outbox row): what
 * is said about it is not posted (foldedInto), except approval requests.
 */
import { eq, sql } from 'drizzle-orm';
import type { Database } from '../db/connection.js';
import { incidents, outbox } from '../db/schema.js';
import type { ChatMessage } from './message.js';

const SHORT = /^i([1-9][0-9]{0,8})$/;

/** `outbox:12` -> 12, or null. */
export function outboxIdOf(ref: string): number | null {
  const m = /^outbox:([1-9][0-9]*)$/.exec(ref);
  return m === null ? null : Number(m[1]);
}

export class IncidentThreads {
  readonly #q: ReturnType<typeof prepare>;

  constructor(database: Database) {
    this.#q = prepare(database);
  }

  /**
   * The platform ref of the incident card that message `rowId` in `channel` is a reply to, or null
   * (post it at top level): the message is the card itself, names no incident, or the card is not
   * in that channel or was never delivered. `refs.incident` may be a short id (`i7`) or the id.
   */
  threadOf(rowId: number, channel: string, message: ChatMessage): string | null {
    const ref = this.#refIn(channel, message);
    const cardId = ref === null ? null : outboxIdOf(ref);
    if (cardId === null || cardId === rowId) return null;
    const card = this.#q.card.get({ id: cardId });
    return card?.state === 'delivered' && card.platformRef !== null ? card.platformRef : null;
  }

  /**
   * The outbox id of the storm card that a post to `channel` folds into (storm.ts), or null (post
   * it): the message is about an incident folded into a storm in that channel and is not about an
   * approval (approval requests and their outcomes are always posted) nor a reply to a person.
   */
  foldedInto(channel: string, message: ChatMessage): number | null {
    if (message.refs.approval !== undefined || message.kind === 'approval' || message.kind === 'reply')
      return null;
    const ref = this.#refIn(channel, message);
    return ref === null ? null : stormIdOf(ref);
  }

  /**
   * The outbox lane of a message (outbox.ts): `incident:<number>` for one about an incident (its
   * card, updates, thread replies, approval requests), '' for the rest of the channel.
   */
  laneOf(message: ChatMessage): string {
    const incident = message.refs.incident;
    if (incident === undefined) return '';
    const short = SHORT.exec(incident);
    if (short !== null) return `incident:${short[1]}`;
    const row = this.#q.numberOf.get({ id: incident });
    return row === undefined ? '' : `incident:${row.number}`;
  }

  /** The message ref (`outbox:<id>`, `storm:<id>`) of the incident the message is about, in `channel`. */
  #refIn(channel: string, message: ChatMessage): string | null {
    const incident = message.refs.incident;
    if (incident === undefined) return null;
    const short = SHORT.exec(incident);
    const row =
      short === null
        ? this.#q.byId.get({ id: incident })
        : this.#q.byNumber.get({ number: Number(short[1]) });
    return row?.refs.find((r) => r.channel === channel)?.ref ?? null;
  }
}

/** `storm:12` (the incident folded into the storm card posted as outbox row 12) -> 12, or null. */
export function stormIdOf(ref: string): number | null {
  const m = /^storm:([1-9][0-9]*)$/.exec(ref);
  return m === null ? null : Number(m[1]);
}

function prepare(database: Database) {
  const db = database.db;
  const p = sql.placeholder;
  return {
    byNumber: db
      .select({ refs: incidents.messageRefs })
      .from(incidents)
      .where(eq(incidents.number, p('number')))
      .prepare(),
    numberOf: db
      .select({ number: incidents.number })
      .from(incidents)
      .where(eq(incidents.id, p('id')))
      .prepare(),
    byId: db
      .select({ refs: incidents.messageRefs })
      .from(incidents)
      .where(eq(incidents.id, p('id')))
      .prepare(),
    card: db
      .select({ state: outbox.state, platformRef: outbox.platformRef })
      .from(outbox)
      .where(eq(outbox.id, p('id')))
      .prepare(),
  };
}
