/**
 * Channels that asked for the weekly digest (`/autonomy subscribe`). Digest recipients are the
 * policy's digest channels plus these. Every change is audited with who made it.
 */
import { eq } from 'drizzle-orm';
import type { AuditLog } from '../audit/log.js';
import { type Database, writeTransaction } from '../db/connection.js';
import { subscriptions } from '../db/schema.js';

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
