/**
 * What became of a skill's publication or rollback request: the approval's state and who decided,
 * looked up by its short id (`a12`), so the mentor can put a skill whose request was denied or
 * expired back where it was.
 */
import { eq } from 'drizzle-orm';
import type { Database } from '../db/connection.js';
import { type ApprovalState, approvals } from '../db/schema.js';

export interface ApprovalFacts {
  readonly state: ApprovalState;
  readonly decidedBy: string | null;
  readonly reason: string | null;
}

/** Approval states after which nothing will run any more, and the action did not succeed. */
export const ENDED_WITHOUT_RUN: ReadonlySet<ApprovalState> = new Set([
  'denied',
  'expired',
  'void',
  'failed',
  'interrupted',
]);

export function approvalFacts(database: Database, shortId: string): ApprovalFacts | null {
  const m = /^a([1-9][0-9]{0,8})$/.exec(shortId);
  if (m === null) return null;
  const row = database.db
    .select({ state: approvals.state, decidedBy: approvals.decidedBy, reason: approvals.reason })
    .from(approvals)
    .where(eq(approvals.number, Number(m[1])))
    .get();
  return row ?? null;
}
