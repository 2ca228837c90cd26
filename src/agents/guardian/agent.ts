/**
 * guardian: security posture and drift checks (policy section 2).
 *
 * On an advisory signal it posts a follow-up to the incident's alert with what to act on (ids,
 * severity, affected package@version and where it is installed, fixed versions, links), reads the
 * advisory page from an allowlisted source when it may, adds a model-written remediation note when
 * a model is affordable (marked as such, with the pages it is based on), and proposes the guardian
 * catalog actions whose params the advisory fills. Its deep sweep checks the watched files for drift
 * and proposes the param-less config checks the policy's `checks` section does not already run.
 * Rules first: without a model or research tools everything but the note still happens.
 */

import type { Agent, AgentContext, AgentProposal, AgentSignal } from '../runtime/types.js';
import { advisoryFacts } from './advisory.js';
import { advisoryFinding } from './alert.js';
import { checkDrift } from './drift.js';
import { advisoryProposals, sweepConfigChecks } from './proposals.js';
import { readAdvisory, remediationNote } from './research.js';

async function proposeAll(ctx: AgentContext, proposals: readonly AgentProposal[]): Promise<void> {
  for (const p of proposals) {
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
  ctx.post(advisoryFinding(signal, facts, excerpts));
  const note = await remediationNote(ctx, signal, facts, excerpts);
  if (note !== null && !ctx.signal.aborted) ctx.post(note);
  await proposeAll(ctx, advisoryProposals(ctx.policy, facts, signal.service));
}

export const guardian: Agent = {
  name: 'guardian',
  handles: ['advisory'],
  onSignal: onAdvisory,
  async deep(ctx: AgentContext): Promise<void> {
    await checkDrift(ctx);
    await proposeAll(ctx, sweepConfigChecks(ctx.policy));
  },
};
