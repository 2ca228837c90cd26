/**
 * The state changes of an approval that end or move it without a person's click: expiry, void
 * (kill switch, policy change), restart recovery; and the one helper every change goes through,
 * so each is a conditional update + its audit record + the update of its posts, in one transaction.
 */
import type { AuditLog } from '../../audit/log.js';
import { type Database, writeTransaction } from '../../db/connection.js';
import type { ApprovalState } from '../../db/schema.js';
import type { Policy } from '../../policy/types.js';
import { untrusted } from './messages.js';
import { type ApprovalRecord, type ApprovalStore, approvalShortId, IN_FLIGHT_STATES } from './store.js';
import { type ApprovalView, approvalAudit } from './view.js';

export interface TransitionOptions {
  readonly database: Database;
  readonly audit: AuditLog;
  readonly now: () => number;
  readonly policy: () => Policy;
  readonly store: ApprovalStore;
  readonly view: ApprovalView;
}

export interface StateChange {
  readonly state: ApprovalState;
  readonly decidedBy?: string | null;
  readonly decidedAt?: number | null;
  readonly reason?: string | null;
  readonly runId?: string | null;
}

const ENDS_AS_DENIAL: ReadonlySet<ApprovalState> = new Set(['denied', 'expired', 'void']);

export class ApprovalTransitions {
  constructor(private readonly o: TransitionOptions) {}

  /**
   * One state change inside the caller's write transaction: the conditional update (from `from`
   * at the record's version), its audit record, the update of every post and, with `post`, a
   * decision message. null when someone else changed the approval first (nothing written).
   */
  change(
    rec: ApprovalRecord,
    from: ApprovalState,
    set: StateChange,
    actor: string,
    trigger: string,
    post: boolean,
  ): ApprovalRecord | null {
    const now = this.o.now();
    const values = { ...set, nextEscalationAt: null, updatedAt: now };
    if (!this.o.store.transition(rec.id, from, rec.version, values)) return null;
    // Re-read: escalation may have added re-posts (message refs) since `rec` was read.
    const after = this.mustGet(rec.id);
    this.o.audit.appendInTx({
      ...approvalAudit(after, this.o.policy(), `approval.${set.state}`, actor, trigger),
      verdict: ENDS_AS_DENIAL.has(set.state) ? 'deny' : null,
      outcome: `${approvalShortId(after.number)} ${set.state}${set.reason ? `: ${untrusted(set.reason, 300)}` : ''}`,
      evidence: after.runId ? [after.runId] : [],
    });
    this.o.view.publish(after, post);
    return after;
  }

  /** A pending approval past its time becomes expired (a denial), posted. false if it had moved on. */
  expire(rec: ApprovalRecord): boolean {
    const done = writeTransaction(this.o.database, () =>
      this.change(
        rec,
        'pending',
        {
          state: 'expired',
          decidedAt: rec.expiresAt,
          reason: 'no decision before it expired (counts as a denial)',
        },
        'system:expiry',
        'timer',
        true,
      ),
    );
    return done !== null;
  }

  /** Every pending approval for which `why` gives a reason becomes void, posted. One transaction. */
  voidWhere(why: (rec: ApprovalRecord) => string | null, actor: string, trigger: string): number {
    return writeTransaction(this.o.database, () => {
      let n = 0;
      for (const rec of this.o.store.inStates(['pending'])) {
        const reason = why(rec);
        if (reason === null) continue;
        const set = { state: 'void' as const, decidedAt: this.o.now(), reason };
        if (this.change(rec, 'pending', set, actor, trigger, true) !== null) n++;
      }
      return n;
    });
  }

  /** Approvals left approved or executing by a dead process become interrupted, reported, never re-run. */
  recover(): number {
    let n = 0;
    for (const rec of this.o.store.inStates(IN_FLIGHT_STATES)) {
      const set = {
        state: 'interrupted' as const,
        reason:
          rec.state === 'executing'
            ? 'the bot stopped while this was running; it was not re-run'
            : 'the bot stopped before this started; it was not run',
      };
      const done = writeTransaction(this.o.database, () =>
        this.change(rec, rec.state, set, 'system:restart', 'startup', true),
      );
      if (done !== null) n++;
    }
    return n;
  }

  mustGet(id: string): ApprovalRecord {
    const rec = this.o.store.byId(id);
    if (rec === null) throw new Error(`approval ${id} vanished from the database`);
    return rec;
  }
}
