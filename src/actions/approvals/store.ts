/**
 * The approvals table as the approval state machine uses it: reads joined with the proposal (for
 * rationale and evidence) and the incident (for its short id), and conditional state changes.
 *
 * Every state change is `UPDATE ... WHERE id = ? AND state = ? AND version = ?` bumping `version`,
 * run inside the caller's write transaction: of two writers holding the same version, exactly one
 * changes the row; the other sees 0 rows changed and knows it lost.
 */
import { and, asc, eq, inArray, max } from 'drizzle-orm';
import type { Database } from '../../db/connection.js';
import {
  type ApprovalState,
  approvals,
  incidents,
  type MessageRef,
  proposals,
  runs,
} from '../../db/schema.js';

export type ApprovalRow = typeof approvals.$inferSelect;

/** An approval with what its messages show from the proposal and the incident. */
export interface ApprovalRecord extends ApprovalRow {
  readonly rationale: string | null;
  readonly evidence: readonly string[];
  readonly incidentId: string | null;
  /** The incident's short id number (`i7` → 7), when the request came from one. */
  readonly incidentNumber: number | null;
}

/** The states an approval can be left in by a crash after it was approved. */
export const IN_FLIGHT_STATES: readonly ApprovalState[] = ['approved', 'executing'];

/** `a12` → 12; anything else → null. */
export function parseApprovalId(shortId: unknown): number | null {
  if (typeof shortId !== 'string') return null;
  const m = /^a([1-9][0-9]{0,8})$/.exec(shortId.trim());
  return m ? Number(m[1]) : null;
}

export function approvalShortId(number: number): string {
  return `a${number}`;
}

/** Outbox row ids of the posts carrying this approval's buttons (kept as `outbox:<id>` refs). */
export function outboxIds(refs: readonly MessageRef[]): { channel: string; id: number }[] {
  const out: { channel: string; id: number }[] = [];
  for (const r of refs) {
    const m = /^outbox:([0-9]+)$/.exec(r.ref);
    if (m) out.push({ channel: r.channel, id: Number(m[1]) });
  }
  return out;
}

export class ApprovalStore {
  constructor(private readonly database: Database) {}

  private select() {
    const db = this.database.db;
    return db
      .select({
        row: approvals,
        rationale: proposals.rationale,
        evidence: proposals.evidence,
        incidentId: proposals.incidentId,
        incidentNumber: incidents.number,
      })
      .from(approvals)
      .innerJoin(proposals, eq(approvals.proposalId, proposals.id))
      .leftJoin(incidents, eq(proposals.incidentId, incidents.id));
  }

  private static record(r: {
    row: ApprovalRow;
    rationale: string | null;
    evidence: string[];
    incidentId: string | null;
    incidentNumber: number | null;
  }): ApprovalRecord {
    return {
      ...r.row,
      rationale: r.rationale,
      evidence: Array.isArray(r.evidence) ? r.evidence.filter((e) => typeof e === 'string') : [],
      incidentId: r.incidentId,
      incidentNumber: r.incidentNumber,
    };
  }

  byNumber(number: number): ApprovalRecord | null {
    const r = this.select().where(eq(approvals.number, number)).get();
    return r === undefined ? null : ApprovalStore.record(r);
  }

  byId(id: string): ApprovalRecord | null {
    const r = this.select().where(eq(approvals.id, id)).get();
    return r === undefined ? null : ApprovalStore.record(r);
  }

  /** Approvals in these states, oldest first (all of them when `states` is undefined). */
  inStates(states?: readonly ApprovalState[]): ApprovalRecord[] {
    const q = this.select();
    const rows =
      states === undefined
        ? q.orderBy(asc(approvals.number)).all()
        : q
            .where(inArray(approvals.state, [...states]))
            .orderBy(asc(approvals.number))
            .all();
    return rows.map((r) => ApprovalStore.record(r));
  }

  /** A pending approval with this binding hash (same action, entry, tier and params), if any. */
  pendingFor(bindingHash: string): ApprovalRecord | null {
    const r = this.select()
      .where(and(eq(approvals.bindingHash, bindingHash), eq(approvals.state, 'pending')))
      .orderBy(asc(approvals.number))
      .get();
    return r === undefined ? null : ApprovalStore.record(r);
  }

  /** The next short id number. Call inside the write transaction that inserts it. */
  nextNumber(): number {
    const r = this.database.db
      .select({ n: max(approvals.number) })
      .from(approvals)
      .get();
    return (r?.n ?? 0) + 1;
  }

  insertProposal(values: typeof proposals.$inferInsert): void {
    this.database.db.insert(proposals).values(values).run();
  }

  insertApproval(values: typeof approvals.$inferInsert): void {
    this.database.db.insert(approvals).values(values).run();
  }

  /** Is there a run record with this id? (approvals.run_id must point at one.) */
  runExists(runId: string): boolean {
    return this.database.db.select({ id: runs.id }).from(runs).where(eq(runs.id, runId)).get() !== undefined;
  }

  /** Where the request was posted (set once, in the transaction that creates the approval). */
  setRefs(id: string, refs: readonly MessageRef[]): void {
    this.database.db
      .update(approvals)
      .set({ messageRefs: [...refs] })
      .where(eq(approvals.id, id))
      .run();
  }

  /**
   * Moves the approval from `from` (at `version`) to the values in `set`, bumping the version.
   * true when this call made the change; false when someone else changed it first.
   */
  transition(
    id: string,
    from: ApprovalState,
    version: number,
    set: Partial<Omit<typeof approvals.$inferInsert, 'id' | 'version'>> & {
      state: ApprovalState;
      updatedAt: number;
    },
  ): boolean {
    const r = this.database.db
      .update(approvals)
      .set({ ...set, version: version + 1 })
      .where(and(eq(approvals.id, id), eq(approvals.state, from), eq(approvals.version, version)))
      .run();
    return r.changes === 1;
  }

  /**
   * Records that escalation level `level` was posted (conditional on the level not having moved),
   * adding the reposts to the refs that later updates edit. Leaves `version` alone: escalating
   * does not change what a click decides.
   */
  escalated(
    id: string,
    fromLevel: number,
    set: { refs: readonly MessageRef[]; nextAt: number | null; updatedAt: number },
  ): boolean {
    const r = this.database.db
      .update(approvals)
      .set({
        escalationLevel: fromLevel + 1,
        nextEscalationAt: set.nextAt,
        messageRefs: [...set.refs],
        updatedAt: set.updatedAt,
      })
      .where(
        and(eq(approvals.id, id), eq(approvals.state, 'pending'), eq(approvals.escalationLevel, fromLevel)),
      )
      .run();
    return r.changes === 1;
  }
}
