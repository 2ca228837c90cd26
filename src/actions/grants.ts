/**
 * Phase 4 standing grants: an approver's scoped, expiring "allow for N hours" for one action and a
 * pattern over its params (DESIGN.md, rollout phase 4). A grant is itself an explicit human
 * approval: it is made only in phase 4, counts only in phase 4 (decide() checks), only for the
 * action entry it was made for (a changed entry makes it inert), and every use is audited.
 *
 * Patterns: every declared param of the action gets an anchored regular expression. "Exactly
 * these params" escapes the approved values; an approver may name a pattern instead (`web|api`,
 * `staging-.*`). `.*` has to be written out: a grant never covers a param by omission.
 */
import { and, asc, desc, eq, gt, isNull } from 'drizzle-orm';
import { z } from 'zod';
import type { AuditLog } from '../audit/log.js';
import { type Database, writeTransaction } from '../db/connection.js';
import { grants } from '../db/schema.js';
import { effectivePhase } from '../policy/decide.js';
import { bindingHash, checkParams } from '../policy/params.js';
import type { Authorisation, CompiledAction, DecisionState, Params, Policy } from '../policy/types.js';
import type { AgentName } from '../policy/vocabulary.js';
import { AutonomyError, type AutonomyErrorOptions } from '../process/errors.js';
import type { NewId } from '../process/ids.js';

/** The kill and phase facts a grant needs (a ControlSnapshot fits). */
export type ControlFacts = Pick<
  DecisionState,
  'killedAll' | 'killedAgents' | 'phaseOverride' | 'agentPhaseOverrides'
>;

export interface GrantsOptions {
  readonly database: Database;
  readonly audit: AuditLog;
  readonly now: () => number;
  readonly newId: NewId;
  readonly policy: () => Policy;
  readonly controlState: () => ControlFacts;
}

export interface GrantView {
  readonly id: string;
  readonly agent: AgentName;
  readonly actionId: string;
  /** Param name → anchored pattern its value must match. */
  readonly pattern: Readonly<Record<string, string>>;
  readonly grantedBy: string;
  readonly grantedAt: number;
  readonly expiresAt: number;
  readonly reason: string | null;
  readonly uses: number;
  readonly lastUsedAt: number | null;
  readonly revokedAt: number | null;
  readonly revokedBy: string | null;
}

export interface CreateGrant {
  readonly action: CompiledAction;
  /** The approved params: the grant covers exactly these values (unless `pattern` is given). */
  readonly params?: Params;
  /** A pattern per declared param, named by the approver (regular expressions, matched whole). */
  readonly pattern?: Readonly<Record<string, string>>;
  readonly hours: number;
  readonly by: string;
  readonly reason?: string | null;
  /** The approval it came with, for the audit. */
  readonly approvalId?: string;
}

/** A grant that cannot be made or changed as asked; the message says why and what to do. */
export class GrantRefusal extends AutonomyError {
  constructor(message: string, options?: AutonomyErrorOptions) {
    super('GRANT_REFUSED', message, options);
  }
}

const MAX_HOURS = 168;
const PATTERN_CHARS = 200;
const hoursSchema = z.int().min(1).max(MAX_HOURS);

/** A regular expression matching exactly `value`. */
export function exactPattern(value: string | number): string {
  return String(value).replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}

function compile(pattern: string): RegExp | null {
  try {
    return new RegExp(`^(?:${pattern})$`, 'u');
  } catch {
    return null;
  }
}

function view(row: typeof grants.$inferSelect): GrantView {
  return {
    id: row.id,
    agent: row.agent,
    actionId: row.actionId,
    pattern: row.paramPattern,
    grantedBy: row.grantedBy,
    grantedAt: row.grantedAt,
    expiresAt: row.expiresAt,
    reason: row.reason,
    uses: row.uses,
    lastUsedAt: row.lastUsedAt,
    revokedAt: row.revokedAt,
    revokedBy: row.revokedBy,
  };
}

export class Grants {
  constructor(private readonly o: GrantsOptions) {}

  /** Makes a grant (phase 4 only), audited. Inside a caller's write transaction it joins it. */
  create(input: CreateGrant): GrantView {
    const { action } = input;
    const hours = hoursSchema.safeParse(input.hours);
    if (!hours.success) {
      throw new GrantRefusal(`a grant lasts 1 to ${MAX_HOURS} whole hours, not ${String(input.hours)}`);
    }
    const phase = effectivePhase(this.o.policy(), this.o.controlState(), action.agent);
    if (phase !== 4) {
      throw new GrantRefusal(
        `standing grants exist only in phase 4 (expand); ${action.agent} is in phase ${phase}. Approve the request on its own instead.`,
      );
    }
    const pattern = this.patternFor(input);
    return writeTransaction(this.o.database, () => {
      const now = this.o.now();
      const row = {
        id: this.o.newId('grant'),
        agent: action.agent,
        actionId: action.id,
        entryHash: action.entryHash,
        paramPattern: pattern,
        reason: input.reason ?? null,
        grantedBy: input.by,
        grantedAt: now,
        expiresAt: now + hours.data * 3_600_000,
      };
      this.o.database.db.insert(grants).values(row).run();
      this.o.audit.appendInTx({
        kind: 'grant.created',
        agent: action.agent,
        actor: input.by,
        trigger: triggerOf(input.by),
        actionClass: action.class,
        tier: action.effectiveTier,
        outcome: `${input.by} allowed ${action.id} for ${hours.data}h (${describePattern(pattern)})`,
        data: {
          grant: row.id,
          actionId: action.id,
          pattern,
          expiresAt: row.expiresAt,
          approval: input.approvalId ?? null,
        },
      });
      return view({ ...row, revokedAt: null, revokedBy: null, uses: 0, lastUsedAt: null });
    });
  }

  /**
   * The unexpired, unrevoked grant for this exact action entry whose pattern covers these params
   * (the one lasting longest when several do), as the authorisation decide() takes; else null.
   */
  findMatching(action: CompiledAction, params: Params, now: number): Authorisation | null {
    if (checkParams(action, params) !== null) return null;
    const rows = this.o.database.db
      .select()
      .from(grants)
      .where(
        and(
          eq(grants.actionId, action.id),
          eq(grants.entryHash, action.entryHash),
          isNull(grants.revokedAt),
          gt(grants.expiresAt, now),
        ),
      )
      .orderBy(desc(grants.expiresAt))
      .all();
    for (const row of rows) {
      if (covers(row.paramPattern, action, params)) {
        return {
          kind: 'grant',
          id: row.id,
          bindingHash: bindingHash(action, params),
          expiresAt: row.expiresAt,
          by: row.grantedBy,
        };
      }
    }
    return null;
  }

  /** Counts one use of a grant (call when a run it authorised starts), audited. */
  recordUse(
    id: string,
    use: { readonly params: Params; readonly runId?: string | null; readonly agent?: AgentName },
  ): void {
    writeTransaction(this.o.database, () => {
      const row = this.o.database.db.select().from(grants).where(eq(grants.id, id)).get();
      if (row === undefined) throw new GrantRefusal(`no grant ${id}`);
      const now = this.o.now();
      this.o.database.db
        .update(grants)
        .set({ uses: row.uses + 1, lastUsedAt: now })
        .where(eq(grants.id, id))
        .run();
      this.o.audit.appendInTx({
        kind: 'grant.used',
        agent: use.agent ?? row.agent,
        actor: row.grantedBy,
        trigger: 'grant',
        outcome: `${row.actionId} ran under grant ${id} by ${row.grantedBy} (use ${row.uses + 1})`,
        evidence: use.runId ? [use.runId] : [],
        data: { grant: id, actionId: row.actionId, params: { ...use.params }, run: use.runId ?? null },
      });
    });
  }

  /** Ends a grant now, audited. Returns a sentence for the reply; refuses unknown or ended grants. */
  revoke(id: string, actor: string, reason?: string | null): string {
    return writeTransaction(this.o.database, () => {
      const row = this.o.database.db.select().from(grants).where(eq(grants.id, id)).get();
      if (row === undefined)
        throw new GrantRefusal(`no grant ${id}; \`/autonomy status\` lists the standing grants`);
      if (row.revokedAt !== null) {
        throw new GrantRefusal(
          `grant ${id} was already revoked by ${row.revokedBy ?? 'unknown'} at ${new Date(row.revokedAt).toISOString()}`,
        );
      }
      const now = this.o.now();
      if (row.expiresAt <= now) {
        throw new GrantRefusal(`grant ${id} already expired at ${new Date(row.expiresAt).toISOString()}`);
      }
      this.o.database.db
        .update(grants)
        .set({ revokedAt: now, revokedBy: actor })
        .where(eq(grants.id, id))
        .run();
      const message = `grant ${id} (${row.actionId}, by ${row.grantedBy}) revoked: ${row.actionId} needs an approval again`;
      this.o.audit.appendInTx({
        kind: 'grant.revoked',
        agent: row.agent,
        actor,
        trigger: triggerOf(actor),
        outcome: message,
        data: { grant: id, actionId: row.actionId, reason: reason ?? null, uses: row.uses },
      });
      return message;
    });
  }

  /** Grants in force at `now` (unexpired, unrevoked), soonest to expire first. */
  list(now: number): GrantView[] {
    return this.o.database.db
      .select()
      .from(grants)
      .where(and(isNull(grants.revokedAt), gt(grants.expiresAt, now)))
      .orderBy(asc(grants.expiresAt))
      .all()
      .map(view);
  }

  get(id: string): GrantView | null {
    const row = this.o.database.db.select().from(grants).where(eq(grants.id, id)).get();
    return row === undefined ? null : view(row);
  }

  private patternFor(input: CreateGrant): Record<string, string> {
    const { action } = input;
    const out: Record<string, string> = {};
    if (input.pattern !== undefined) {
      for (const name of Object.keys(input.pattern)) {
        if (!action.params.has(name)) {
          throw new GrantRefusal(
            `${action.id} has no param ${JSON.stringify(name)}; its params: ${[...action.params.keys()].join(', ') || 'none'}`,
          );
        }
      }
      for (const name of action.params.keys()) {
        const p = input.pattern[name];
        if (typeof p !== 'string' || p === '') {
          throw new GrantRefusal(
            `the grant needs a pattern for ${action.id}'s param ${name} (write .* to allow any value)`,
          );
        }
        if (p.length > PATTERN_CHARS || compile(p) === null) {
          throw new GrantRefusal(
            `the pattern for ${name} is not a regular expression of at most ${PATTERN_CHARS} characters`,
          );
        }
        out[name] = p;
      }
      return out;
    }
    const params = input.params;
    const bad = checkParams(action, params);
    if (params === undefined || bad !== null) {
      throw new GrantRefusal(`a grant needs the approved params or a pattern: ${bad ?? 'none given'}`);
    }
    for (const name of action.params.keys()) out[name] = exactPattern(params[name] as string | number);
    return out;
  }
}

/** Does `pattern` cover these (already checked) params? A param without a pattern is not covered. */
function covers(pattern: Readonly<Record<string, string>>, action: CompiledAction, params: Params): boolean {
  if (typeof pattern !== 'object' || pattern === null) return false;
  for (const name of action.params.keys()) {
    const p = pattern[name];
    if (typeof p !== 'string') return false;
    const re = compile(p);
    if (re === null || !re.test(String(params[name]))) return false;
  }
  return true;
}

function describePattern(pattern: Readonly<Record<string, string>>): string {
  const parts = Object.entries(pattern).map(([k, v]) => `${k} ~ /${v}/`);
  return parts.length ? parts.join(', ') : 'no params';
}

/** `slack:user:U1` → `chat`, `cli:user:ana` → `cli`, `system:...` → `system`. */
export function triggerOf(actor: string): string {
  const p = actor.slice(0, actor.indexOf(':'));
  if (p === 'slack' || p === 'discord' || p === 'console') return 'chat';
  return p === '' ? 'system' : p;
}
