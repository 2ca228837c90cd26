/**
 * validator: validation and regression checks (policy section 2).
 *
 * On a failed job (a GitHub workflow or check run, or a generic failed_job event) it tries to tell
 * flaky from broken: it proposes the first validator `test-run` action in the catalog whose params
 * it can all fill from the job (repository, workflow, job, runId, jobId, branch, sha, service; each
 * value must pass the param's enum or pattern). An action without params is a regression check,
 * not a re-run of this job, so it is never picked (the policy's `checks` run those in the sweeps).
 * Release overrides are never proposed by rules.
 *
 * Then it follows up on the incident's alert: re-run passed -> "flaky" (info), failed again ->
 * "broken" (warning), both with exit code, duration, output tail and its digest; not executed ->
 * what it would do and why not; no fitting action -> a hint. The last two are said once per
 * incident (again when it reopens).
 */

import type { Params, Policy } from '../../policy/types.js';
import { oneLine } from '../runtime/data-text.js';
import { actionsOf, fillFromFacts } from '../runtime/params.js';
import type { Agent, AgentContext, AgentSignal } from '../runtime/types.js';
import { noActionFinding, notRunFinding, rerunFinding } from './findings.js';
import { type FailedJob, failedJob, jobFacts } from './job.js';
import { firstTime } from './once.js';

/** The re-run validator proposes for a failed job, or null when the catalog has none that fits. */
export function rerunFor(policy: Policy, job: FailedJob): { actionId: string; params: Params } | null {
  const facts = jobFacts(job);
  for (const action of actionsOf(policy, 'validator', ['test-run'])) {
    if (action.params.size === 0) continue;
    const params = fillFromFacts(policy, action, facts);
    if (params !== null) return { actionId: action.id, params };
  }
  return null;
}

async function onFailedJob(signal: AgentSignal, ctx: AgentContext): Promise<void> {
  if (signal.kind !== 'failed_job' || signal.resolves) return;
  const job = failedJob(signal);
  ctx.evidence(`signal:${signal.id}`);
  if (signal.incident) ctx.evidence(`incident:${signal.incident.shortId}`);
  if (job.url) ctx.evidence(job.url);
  const rerun = rerunFor(ctx.policy, job);
  if (rerun === null) {
    if (!ctx.signal.aborted && (await firstTime(ctx, signal, 'no-rerun-action'))) {
      ctx.post(noActionFinding(signal, job));
    }
    return;
  }
  if (ctx.signal.aborted) return;
  const outcome = await ctx.propose({
    actionId: rerun.actionId,
    params: rerun.params,
    rationale: `${oneLine(job.name, 120)} failed${job.ci ? ' in CI' : ''}: re-run to tell flaky from broken`,
  });
  if (ctx.signal.aborted) return;
  if (outcome.run) {
    ctx.post(rerunFinding(signal, job, rerun, outcome.run));
    return;
  }
  if (await firstTime(ctx, signal, `not-run:${rerun.actionId}:${outcome.decision.code}`)) {
    ctx.post(notRunFinding(signal, job, rerun, outcome));
  }
}

export const validator: Agent = {
  name: 'validator',
  handles: ['failed_job'],
  onSignal: onFailedJob,
};
