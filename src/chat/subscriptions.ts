/**
 * What channels asked for: the weekly digest (`/autonomy subscribe digest`; recipients are the
 * policy's digest channels plus these), and a service's or team's incidents
 * (`/autonomy subscribe service|team <name>`; routing.ts adds these channels to the policy's route).
 * Every change is audited with who made it.
 */
import { and, asc, eq } from 'drizzle-orm';
import type { AuditLog } from '../audit/log.js';
import { type Database, writeTransaction } from '../db/connection.js';
import { incidentSubscriptions, type SubscriptionScope, subscriptions } from '../db/schema.js';
import type { IncidentSubscription } from './routing.js';

export class SubscriptionStore {
  constructor(
    private readonly database: Database,
    private readonly audit: AuditLog,
    private readonly now: () => number,
  ) {}

  /** true when the channel was added; false when it already was subscribed. */
  subscribe(channel: string, actor: string): boolean {
    return writeTransaction(this.database, () => {
      const added =
        this.database.db
          .insert(subscriptions)
          .values({ channel, subscribedBy: actor, at: this.now() })
          .onConflictDoNothing()
          .run().changes > 0;
      if (added)
        this.audit.appendInTx({
          kind: 'digest.subscribe',
          actor,
          outcome: `${channel} subscribed`,
          data: { channel },
        });
      return added;
    });
  }

  /** true when the channel was removed; false when it was not subscribed. */
  unsubscribe(channel: string, actor: string): boolean {
    return writeTransaction(this.database, () => {
      const removed =
        this.database.db.delete(subscriptions).where(eq(subscriptions.channel, channel)).run().changes > 0;
      if (removed) {
        this.audit.appendInTx({
          kind: 'digest.unsubscribe',
          actor,
          outcome: `${channel} unsubscribed`,
          data: { channel },
        });
      }
      return removed;
    });
  }

  list(): string[] {
    return this.database.db
      .select({ channel: subscriptions.channel })
      .from(subscriptions)
      .all()
      .map((r) => r.channel);
  }
}

/**
 * Channels subscribed to a service's (name or glob) or a team's incidents. Every new incident card
 * asks for them, so they are read once and kept until a change here (only chat commands, through
 * this store, change them: the shell has no subscribe verb).
 */
export class IncidentSubscriptionStore {
  #all: IncidentSubscription[] | null = null;

  constructor(
    private readonly database: Database,
    private readonly audit: AuditLog,
    private readonly now: () => number,
  ) {}

  /** true when the subscription was added; false when the channel already had it. */
  subscribe(channel: string, scope: SubscriptionScope, name: string, actor: string): boolean {
    this.#all = null; // read again after the change (also when it fails)
    return writeTransaction(this.database, () => {
      const added =
        this.database.db
          .insert(incidentSubscriptions)
          .values({ channel, scope, name, subscribedBy: actor, at: this.now() })
          .onConflictDoNothing()
          .run().changes > 0;
      if (added)
        this.audit.appendInTx({
          kind: 'incidents.subscribe',
          actor,
          outcome: `${channel} subscribed to ${scope} ${name}`,
          data: { channel, scope, name },
        });
      return added;
    });
  }

  /** true when the subscription was removed; false when the channel did not have it. */
  unsubscribe(channel: string, scope: SubscriptionScope, name: string, actor: string): boolean {
    this.#all = null; // read again after the change (also when it fails)
    return writeTransaction(this.database, () => {
      const t = incidentSubscriptions;
      const removed =
        this.database.db
          .delete(t)
          .where(and(eq(t.channel, channel), eq(t.scope, scope), eq(t.name, name)))
          .run().changes > 0;
      if (removed)
        this.audit.appendInTx({
          kind: 'incidents.unsubscribe',
          actor,
          outcome: `${channel} unsubscribed from ${scope} ${name}`,
          data: { channel, scope, name },
        });
      return removed;
    });
  }

  /** Every subscription, or one channel's, oldest first. */
  list(channel?: string): IncidentSubscription[] {
    const t = incidentSubscriptions;
    this.#all ??= this.database.db
      .select({ channel: t.channel, scope: t.scope, name: t.name })
      .from(t)
      .orderBy(asc(t.at), asc(t.name))
      .all();
    return channel === undefined ? [...this.#all] : this.#all.filter((s) => s.channel === channel);
  }
}
