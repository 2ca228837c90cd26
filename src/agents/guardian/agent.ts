/**
 * guardian: security posture and drift checks (policy section 2).
 *
 * On an advisory signal it reads the advisory page from an allowlisted source when it may, takes its
 * turn (assess.ts: the model judges, from the advisory, where the package is installed, the page and
 * the team's history, whether the vulnerable package is really used here and how badly, and
 * proposes remediations of guardian's catalog), and posts a follow-up to the incident's alert with
 * what to act on (ids, severity, affected package@version and where it is installed, fixed versions,
 * links) and the model's assessment (marked model-written, citing fact ids) or the rules marker.
 * It proposes the model's remediations when its assessment cites the facts (none: it judged none
 * needed), else (and when all it named was refused) the catalog actions whose params the advisory
 * fills (the rules floor). For a critical advisory the rules' remediations are always proposed too.
 *
 * Its deep sweep checks the watched files for drift (alerts by rules), asks the model whether what
 * drifted matters (a model-written assessment is posted only when it cites the drift), and proposes
 * the param-less config checks the policy's `checks` section does not already run, plus the
 * model's proposals. Without a model or research tools everything but the assessment still happens.
 */

import { chosenProposals, supported, withAssessment } from '../runtime/assessment-post.js';
import type { Agent, AgentContext, AgentProposal, AgentSignal, Finding } from '../runtime/types.js';
import { advisoryFacts } from './advisory.js';
import { advisoryFinding } from './alert.js';
import { advisoryTurn, driftTurn } from './assess.js';
import { checkDrift, type DriftChange, watchedFiles } from './drift.js';
import { advisoryProposals, sweepConfigChecks } from './proposals.js';
import { readAdvisory } from './research.js';

/** Proposes each once (same action and params), in order, until the run is stopped. */
async function proposeAll(ctx: AgentContext, proposals: readonly AgentProposal[]): Promise<void> {
  const seen = new Set<string>();
  for (const p of proposals) {
    const key = `${p.actionId}\u0000${JSON.stringify(p.params)}`;
    if (seen.has(key)) continue;
    seen.add(key);
    if (ctx.signal.aborted) return;
    await ctx.propose(p);
  }
}

async function onAdvisory(signal: AgentSignal, ctx: AgentContext): Promise<void> {
  if (signal.kind !== 'advisory' || signal.resolves) return;
  ctx.evidence(`signal:${signal.id}`);
  if (signal.incident) ctx.evidence(`incident:${signal.incident.shortId}`);
  const facts = advisoryFacts(signal);
  const excerpts = await readAdvisory(ctx, facts);
  if (ctx.signal.aborted) return;
  const rules = advisoryProposals(ctx.policy, facts, signal.service);
  const turn = await advisoryTurn(ctx, { signal, advisory: facts, excerpts, rules });
  if (ctx.signal.aborted) return;
  ctx.post(withAssessment(advisoryFinding(signal, facts, excerpts), turn, 'Exposure'));
  // A critical advisory's remediation is never dropped on the model's word: the advisory's text is
  // untrusted and could talk a model out of it. A person still approves what the remediation runs.
  const chosen = chosenProposals(turn, rules);
  await proposeAll(ctx, signal.severity === 'critical' ? [...chosen, ...rules] : chosen);
}

/** The frame of the model's drift assessment (withAssessment adds it). */
function driftAssessment(changes: readonly DriftChange[]): Finding {
  return {
    kind: 'suggestion',
    title: `drift: assessment of ${changes.length} changed file${changes.length === 1 ? '' : 's'}`,
    severity: 'warning',
    body: `Guardian's deep sweep reported drift in: ${changes.map((c) => c.file).join(', ')}.`,
    fields: changes.slice(0, 10).map((c) => ({ label: 'File', value: c.path })),
  };
}

async function onDeepSweep(ctx: AgentContext): Promise<void> {
  const { changes } = await checkDrift(ctx);
  const checks = sweepConfigChecks(ctx.policy);
  if (ctx.signal.aborted) return;
  const watched = watchedFiles(ctx.policy).map((w) => w.file);
  const turn = await driftTurn(ctx, { changes, watched, rules: checks });
  if (ctx.signal.aborted) return;
  // By rules (or an answer citing nothing) the drift alerts already said it all: nothing more is posted.
  const judged = turn !== null && supported(turn);
  if (judged) ctx.post(withAssessment(driftAssessment(changes), turn, 'Why it matters'));
  await proposeAll(ctx, [...checks, ...(judged ? turn.assessment.proposals : [])]);
}

export const guardian: Agent = {
  name: 'guardian',
  handles: ['advisory'],
  onSignal: onAdvisory,
  deep: onDeepSweep,
};
