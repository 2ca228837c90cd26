/**
 * Mentor's skill drafts, in the deep sweep:
 * 1. requests that ended: a skill whose publication request was denied, expired or failed goes
 *    back to draft; a promoted skill whose rollback request was denied is kept (validated by the
 *    person who denied it);
 * 2. patterns that repeated at least `learning.promotion.occurrences` times within
 *    `learning.promotion.window` (src/learning/patterns.ts) become skill drafts (or refresh theirs
 *    when new incidents came in), with their runbook draft and the check they learned; one
 *    suggestion lists the new drafts;
 * 3. each draft is proposed for publication (`publish-skill`, tier 3: an approval request from
 *    phase 3, a suggestion in phase 2, observed in phase 1). A draft is proposed again only after
 *    a promotion window has passed since its last request, so a denial or a phase 2 suggestion is
 *    not repeated every sweep.
 */
import type { Database } from '../../db/connection.js';
import { approvalFacts, ENDED_WITHOUT_RUN } from '../../learning/approval-state.js';
import { histories, learnedCheck } from '../../learning/history.js';
import { inlineCode } from '../../learning/markdown.js';
import { findPatterns, type Pattern } from '../../learning/patterns.js';
import { skillBody } from '../../learning/skill-body.js';
import type { SkillPublication } from '../../learning/skill-file.js';
import type { Skill, SkillStore } from '../../learning/skills.js';
import { timelines } from '../../learning/timeline.js';
import { durationMs } from '../../policy/compile.js';
import type { DecisionCode } from '../../policy/types.js';
import type { AgentContext, ProposalOutcome } from '../runtime/types.js';
import { mentorSteps } from './assess.js';
import { writePatternRunbook } from './runbook.js';

export const PUBLISH_ACTION = 'publish-skill';
export const ROLLBACK_ACTION = 'rollback-skill';

/** Model-written drafts per sweep at most (the rest are written by rules): tokens stay bounded. */
const MODEL_DRAFTS_PER_SWEEP = 3;

/** Decisions that mean the policy cannot take the proposal as written (worth telling people). */
const CONFIG_PROBLEMS: ReadonlySet<DecisionCode> = new Set([
  'unknown-action',
  'not-owner',
  'bad-params',
  'out-of-scope',
  'class-not-allowed',
]);

export interface MentorDeps {
  readonly database: Database;
  readonly skills: SkillStore;
}

/** 1. Puts skills back where they belong when their request ended without a run. */
export function reconcileRequests(deps: MentorDeps, ctx: AgentContext): void {
  for (const skill of deps.skills.list(['proposed', 'promoted'])) {
    const pub = deps.skills.file(skill.id).extras.publication;
    if (pub === null || pub.approval === null || pub.verdict !== 'ask') continue;
    const facts = approvalFacts(deps.database, pub.approval);
    if (facts === null || !ENDED_WITHOUT_RUN.has(facts.state)) continue;
    if (skill.state === 'proposed' && pub.action === PUBLISH_ACTION) {
      deps.skills.withdraw(skill.id, `publication request ${pub.approval} ${facts.state}`);
      ctx.evidence(`skill:${skill.id}`);
    } else if (skill.state === 'promoted' && pub.action === ROLLBACK_ACTION && facts.state === 'denied') {
      const impact = deps.skills.file(skill.id).extras.impact;
      if (impact !== null) {
        deps.skills.validate(skill.id, facts.decidedBy ?? 'agent:mentor', impact);
        ctx.evidence(`skill:${skill.id}`);
      }
    }
  }
}

function changed(skill: Skill, pattern: Pattern): boolean {
  return (
    skill.occurrences !== pattern.incidents.length ||
    pattern.incidents.some((i) => !skill.evidence.includes(`incident:${i.id}`))
  );
}

/** 2. Drafts (or refreshes) a skill for each repeated pattern; returns the new drafts. */
export async function draftSkills(deps: MentorDeps, ctx: AgentContext): Promise<Skill[]> {
  const learning = ctx.policy.doc.learning;
  const patterns = findPatterns(deps.database, {
    now: ctx.now(),
    windowMs: durationMs(learning.promotion.window),
    occurrences: learning.promotion.occurrences,
  });
  const created: Skill[] = [];
  let modelDrafts = 0;
  for (const pattern of patterns) {
    if (ctx.signal.aborted) break;
    const existing = deps.skills.byPattern(pattern.key);
    const fresh = existing === null || existing.state === 'stale';
    if (!fresh && !(existing.state === 'draft' && changed(existing, pattern))) continue;
    const list = histories(deps.database, pattern.incidents);
    const useModel = modelDrafts < MODEL_DRAFTS_PER_SWEEP;
    const runbook = await writePatternRunbook(
      deps.database,
      ctx,
      { ...pattern, member: pattern.incidents[0] },
      false,
      true,
    );
    const steps = await mentorSteps(ctx, pattern, timelines(deps.database, list), useModel);
    if (steps.written === 'model') modelDrafts++;
    const check = learnedCheck(list);
    const { skill } = deps.skills.draft({
      pattern,
      title: pattern.label,
      body: skillBody({
        pattern,
        histories: list,
        steps: steps.steps,
        written: steps.written,
        model: steps.model,
        check,
        runbook: runbook?.path ?? null,
        window: learning.promotion.window,
      }),
      written: steps.written,
      model: steps.model,
      check,
      runbook: runbook?.path ?? null,
      window: learning.promotion.window,
    });
    ctx.evidence(`skill:${skill.id}`);
    ctx.evidence(skill.path);
    if (fresh) created.push(skill);
  }
  if (created.length > 0) {
    ctx.post({
      kind: 'suggestion',
      severity: 'info',
      title: `${created.length} new skill draft${created.length === 1 ? '' : 's'} from repeated incidents`,
      body: [
        `These patterns came back at least ${learning.promotion.occurrences}× within ${learning.promotion.window}. Each draft is in the data folder; publishing one goes through an approval (publish-skill).`,
        '',
        ...created.map((s) => `${s.id}: ${inlineCode(s.title, 120)} (${s.occurrences}×), ${s.path}`),
      ].join('\n'),
      fields: [{ label: 'Drafts', value: created.map((s) => s.id).join(', ') }],
    });
  }
  return created;
}

function due(pub: SkillPublication | null, action: string, now: number, backoffMs: number): boolean {
  if (pub === null || pub.action !== action) return true;
  const at = Date.parse(pub.at);
  return !Number.isFinite(at) || now - at >= backoffMs;
}

/** What to remember of a proposal that did not become an approval request. */
function publication(action: string, outcome: ProposalOutcome, now: number): SkillPublication {
  return {
    action: action === ROLLBACK_ACTION ? 'rollback-skill' : 'publish-skill',
    at: new Date(now).toISOString(),
    verdict: outcome.decision.verdict,
    approval: outcome.approval ?? null,
    reason: outcome.decision.reason.slice(0, 500),
  };
}

/**
 * Proposes `action` for `skill` unless a request of the same kind was made within the backoff.
 * Records the outcome on the skill; returns it (null when not due).
 */
export async function proposeFor(
  deps: MentorDeps,
  ctx: AgentContext,
  skill: Skill,
  action: typeof PUBLISH_ACTION | typeof ROLLBACK_ACTION,
  rationale: string,
): Promise<ProposalOutcome | null> {
  const backoffMs = durationMs(ctx.policy.doc.learning.promotion.window);
  const now = ctx.now();
  if (!due(deps.skills.file(skill.id).extras.publication, action, now, backoffMs)) return null;
  const outcome = await ctx.propose({ actionId: action, params: { skill: skill.id }, rationale });
  const after = deps.skills.get(skill.id);
  if (after === null) return outcome;
  if (action === PUBLISH_ACTION && outcome.decision.verdict === 'ask' && outcome.approval !== undefined) {
    // A phase 4 grant or an earlier approval may already have promoted it: then nothing to mark.
    if (after.state === 'draft') deps.skills.markProposed(skill.id, outcome.approval, rationale);
    return outcome;
  }
  // Executed (the builtin moved the skill), suggested, observed or denied: remember when, for the backoff.
  deps.skills.notePublication(skill.id, publication(action, outcome, now));
  return outcome;
}

/** 3. Proposes every draft for publication; tells people once per sweep when the policy cannot take it. */
export async function proposeDrafts(deps: MentorDeps, ctx: AgentContext): Promise<void> {
  const problems = new Set<string>();
  let missingActions = false;
  for (const skill of deps.skills.list(['draft'])) {
    if (ctx.signal.aborted) return;
    const outcome = await proposeFor(
      deps,
      ctx,
      skill,
      PUBLISH_ACTION,
      `Publish skill ${skill.id}: the pattern came back ${skill.occurrences}× within ${ctx.policy.doc.learning.promotion.window}. Once promoted its runbook goes with new alerts of the pattern, and its impact is measured after ${ctx.policy.doc.learning.validationWindow}.`,
    );
    if (outcome === null) continue;
    ctx.evidence(`skill:${skill.id}`);
    if (outcome.decision.verdict === 'deny' && CONFIG_PROBLEMS.has(outcome.decision.code)) {
      problems.add(outcome.decision.reason);
      missingActions ||= outcome.decision.code === 'unknown-action' || outcome.decision.code === 'not-owner';
    }
  }
  if (problems.size > 0) {
    ctx.post({
      kind: 'notice',
      severity: 'warning',
      title: 'Skill drafts cannot be proposed for publication',
      body: [
        `The policy refused ${PUBLISH_ACTION}:`,
        ...[...problems].map((p) => `- ${p}`),
        ...(missingActions
          ? [
              '',
              `Add the ${PUBLISH_ACTION} and ${ROLLBACK_ACTION} actions (builtin skill-publish and skill-rollback, agent mentor) to the catalog; see policies/default.policy.yaml.`,
            ]
          : []),
      ].join('\n'),
    });
  }
}
