/**
 * Mentor's follow-up of published skills, in the deep sweep:
 * - impact: once `learning.validationWindow` has passed since a skill's promotion, its pattern's
 *   recurrence and median time to resolve before and after are compared (src/learning/impact.ts).
 *   Improved: the skill is validated. Not improved: a `rollback-skill` proposal (tier 3: a person
 *   decides) with the numbers in its rationale, and a suggestion that shows them. No incidents on
 *   either side: "not enough data yet", recorded on the skill, nothing else.
 * - stale: a draft, promoted or validated skill whose pattern was not seen for
 *   `learning.staleAfter` (counted from the later of its last incident and its promotion or
 *   creation) is marked stale: its runbook link and check stop until the pattern comes back.
 */
import { impactRecord, measureImpact } from '../../learning/impact.js';
import { lastSeen } from '../../learning/patterns.js';
import { durationMs } from '../../policy/compile.js';
import type { AgentContext } from '../runtime/types.js';
import { type MentorDeps, proposeFor, ROLLBACK_ACTION } from './skills.js';

/** Validates, or proposes rolling back, every promoted skill whose validation window has passed. */
export async function validateSkills(deps: MentorDeps, ctx: AgentContext): Promise<void> {
  const windowMs = durationMs(ctx.policy.doc.learning.validationWindow);
  const now = ctx.now();
  for (const skill of deps.skills.list(['promoted'])) {
    if (ctx.signal.aborted) return;
    if (skill.promotedAt === null || skill.promotedAt + windowMs > now) continue;
    const impact = measureImpact(deps.database, skill.patternKey, skill.promotedAt, windowMs, skill.evidence);
    const record = impactRecord(impact, now);
    ctx.evidence(`skill:${skill.id}`);
    if (impact.verdict === 'improved') {
      deps.skills.validate(skill.id, 'agent:mentor', record);
      ctx.post({
        kind: 'notice',
        severity: 'info',
        title: `Skill ${skill.id} validated`,
        body: `It helped: ${impact.summary} (the ${ctx.policy.doc.learning.validationWindow} before and after its promotion).`,
      });
      continue;
    }
    const previous = deps.skills.file(skill.id).extras.impact;
    if (previous?.verdict !== impact.verdict || previous.summary !== impact.summary) {
      deps.skills.noteImpact(skill.id, record);
    }
    if (impact.verdict === 'insufficient') continue;
    const rationale = `Roll back skill ${skill.id}: no improvement after promotion (${impact.summary}; ${impact.before.incidents} incidents before, ${impact.after.incidents} after, ${ctx.policy.doc.learning.validationWindow} each).`;
    const outcome = await proposeFor(deps, ctx, skill, ROLLBACK_ACTION, rationale);
    if (outcome === null) continue;
    ctx.post({
      kind: 'suggestion',
      severity: 'warning',
      title: `Skill ${skill.id} did not help: rollback proposed`,
      body: `${rationale}\nDecision: ${outcome.decision.reason}`,
      fields: [
        { label: 'Recurrence', value: `${record.before.perWeek}/wk → ${record.after.perWeek}/wk` },
        {
          label: 'MTTR (min)',
          value: `${record.before.mttrMinutes ?? 'n/a'} → ${record.after.mttrMinutes ?? 'n/a'}`,
        },
        ...(outcome.approval === undefined ? [] : [{ label: 'Approval', value: outcome.approval }]),
      ],
    });
  }
}

/** Marks skills stale whose pattern was not seen for `learning.staleAfter`. Returns their ids. */
export function markStale(deps: MentorDeps, ctx: AgentContext): string[] {
  const staleAfter = durationMs(ctx.policy.doc.learning.staleAfter);
  const now = ctx.now();
  const seen = lastSeen(deps.database, now - staleAfter, now);
  const marked: string[] = [];
  for (const skill of deps.skills.list(['draft', 'promoted', 'validated'])) {
    const since = Math.max(seen.get(skill.patternKey) ?? 0, skill.promotedAt ?? skill.createdAt);
    if (now - since < staleAfter) continue;
    deps.skills.markStale(
      skill.id,
      `no incident of its pattern for ${ctx.policy.doc.learning.staleAfter} (since ${new Date(since).toISOString()})`,
    );
    ctx.evidence(`skill:${skill.id}`);
    marked.push(skill.id);
  }
  if (marked.length > 0) {
    ctx.post({
      kind: 'notice',
      severity: 'info',
      title: `${marked.length} skill${marked.length === 1 ? '' : 's'} marked stale`,
      body: `Their patterns were not seen for ${ctx.policy.doc.learning.staleAfter}: ${marked.join(', ')}. A stale skill is drafted again if its pattern comes back.`,
    });
  }
  return marked;
}
