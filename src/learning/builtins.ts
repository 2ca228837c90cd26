/**
 * The learning loop's builtin actions, for the runner: `skill-publish` promotes a skill and
 * `skill-rollback` rolls one back. They run only as catalog actions (`publish-skill`,
 * `rollback-skill` in the default policy), so decide() and, for these tier 3 actions, a person's
 * approval come first; the runner records the run like any other. Who decided is read from the
 * approval that let the run happen.
 */
import { eq } from 'drizzle-orm';
import type { BuiltinCall, BuiltinFn, BuiltinOutput } from '../actions/executors/builtin.js';
import type { Database } from '../db/connection.js';
import { approvals } from '../db/schema.js';
import type { BuiltinName } from '../policy/vocabulary.js';
import type { SkillStore } from './skills.js';

/** Who made this run happen: the approver, else the agent (a phase 4 standing grant). */
function decider(database: Database, call: BuiltinCall): string {
  if (call.approvalId !== null) {
    const row = database.db
      .select({ by: approvals.decidedBy })
      .from(approvals)
      .where(eq(approvals.id, call.approvalId))
      .get();
    if (row?.by) return row.by;
  }
  return `agent:${call.agent}`;
}

function skillParam(call: BuiltinCall): string {
  const id = call.params.skill;
  if (typeof id !== 'string')
    throw new TypeError(`${call.actionId}: param skill must be a skill id like sk-1a2b3c4d`);
  return id;
}

export function skillBuiltins(store: SkillStore, database: Database): Record<BuiltinName, BuiltinFn> {
  return {
    'skill-publish': (call): BuiltinOutput => {
      const skill = store.promote(skillParam(call), decider(database, call));
      return {
        outcome: `skill ${skill.id} promoted: its runbook goes with new alerts of its pattern`,
        evidence: [`skill:${skill.id}`, skill.path],
      };
    },
    'skill-rollback': (call): BuiltinOutput => {
      const id = skillParam(call);
      const impact = store.file(id).extras.impact;
      const skill = store.rollBack(id, decider(database, call), impact);
      return {
        outcome: `skill ${skill.id} rolled back: its runbook and check are no longer used`,
        evidence: [`skill:${skill.id}`, skill.path],
      };
    },
  };
}

/** Registers both builtins with the runner (call once at start, in the bot and in the CLI). */
export function registerSkillBuiltins(
  runner: { registerBuiltin(name: BuiltinName, fn: BuiltinFn): void },
  store: SkillStore,
  database: Database,
): void {
  for (const [name, fn] of Object.entries(skillBuiltins(store, database))) {
    runner.registerBuiltin(name as BuiltinName, fn);
  }
}
