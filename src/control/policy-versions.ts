/**
 * Policy versions in the database: every accepted file is stored with its hash and bytes, exactly
 * one is active, and each change (or rejected reload) is audited in the same transaction.
 */
import { desc, eq } from 'drizzle-orm';
import type { AuditLog } from '../audit/log.js';
import { type Database, writeTransaction } from '../db/connection.js';
import { policyVersions } from '../db/schema.js';
import { formatIssue, type PolicyIssue } from '../policy/errors.js';
import type { PolicyVersionStore, ReloadTrigger } from '../policy/runtime.js';
import type { Policy } from '../policy/types.js';

/** At most this many errors are kept in an audit record; the count says how many there were. */
const MAX_AUDITED_ISSUES = 20;

export interface ActiveVersion {
  readonly id: number;
  readonly hash: string;
  readonly sourcePath: string;
  readonly loadedAt: number;
  readonly actor: string;
}

export function activeVersion(database: Database): ActiveVersion | null {
  const row = database.db
    .select({
      id: policyVersions.id,
      hash: policyVersions.hash,
      sourcePath: policyVersions.sourcePath,
      loadedAt: policyVersions.loadedAt,
      actor: policyVersions.actor,
    })
    .from(policyVersions)
    .where(eq(policyVersions.active, true))
    .orderBy(desc(policyVersions.id))
    .get();
  return row ?? null;
}

export function createVersionStore(
  database: Database,
  audit: AuditLog,
  now: () => number,
): PolicyVersionStore {
  return {
    activate(policy: Policy, content: string, event) {
      return writeTransaction(database, () => {
        const current = activeVersion(database);
        // Restarting on the same file keeps its version: nothing changed, nothing to audit.
        if (current !== null && current.hash === policy.hash && current.sourcePath === policy.source) {
          return current.id;
        }
        database.db
          .update(policyVersions)
          .set({ active: false })
          .where(eq(policyVersions.active, true))
          .run();
        const row = database.db
          .insert(policyVersions)
          .values({
            hash: policy.hash,
            sourcePath: policy.source,
            content,
            loadedAt: now(),
            actor: event.actor,
            active: true,
          })
          .returning({ id: policyVersions.id })
          .get();
        audit.appendInTx({
          kind: 'policy.load',
          actor: event.actor,
          trigger: event.trigger,
          outcome: `policy version ${row.id} in force (phase ${policy.phase})`,
          data: {
            version: row.id,
            file: policy.source,
            hash: policy.hash,
            previousHash: event.previousHash ?? current?.hash ?? null,
            phase: policy.phase,
            actions: policy.actions.size,
          },
        });
        return row.id;
      });
    },
    reject(event: { actor: string; trigger: ReloadTrigger; file: string; issues: readonly PolicyIssue[] }) {
      audit.append({
        kind: 'policy.reject',
        actor: event.actor,
        trigger: event.trigger,
        outcome: `rejected with ${event.issues.length} error(s); the last good policy stays in force`,
        data: {
          file: event.file,
          errorCount: event.issues.length,
          errors: event.issues.slice(0, MAX_AUDITED_ISSUES).map(formatIssue),
        },
      });
    },
    unchanged(event: { actor: string; trigger: ReloadTrigger; hash: string }) {
      audit.append({
        kind: 'policy.unchanged',
        actor: event.actor,
        trigger: event.trigger,
        outcome: 'reload asked; the file is unchanged',
        data: { hash: event.hash },
      });
    },
  };
}

/** The text of the policy version in force (what the running bot enforces), or null before any start. */
export function activeContent(database: Database): { content: string; sourcePath: string } | null {
  const row = database.db
    .select({ content: policyVersions.content, sourcePath: policyVersions.sourcePath })
    .from(policyVersions)
    .where(eq(policyVersions.active, true))
    .get();
  return row ?? null;
}
