/**
 * validator: validation and regression checks (policy section 2).
 *
 * On a failed job (a GitHub workflow or check run, or a generic failed_job event) it tries to tell
 * flaky from broken. Its turn (assess.ts) asks the model, once per incident, from the job, its own
 * output's last lines and how the same job ended before: flaky or broken, and whether a re-run is
 * worth it (proposing its own test-run actions only then). When the model's cause cites those facts
 * its proposals are the ones made (none: it judged a re-run not worth it); otherwise (and when all
 * it named was refused), by rules, the
 * first validator `test-run` action in the catalog whose params it can all fill from the job
 * (repository, workflow, job, runId, jobId, branch, sha, service; each value must pass the param's
 * enum or pattern). An action without params is a regression check, not a re-run of this job, so
 * rules never pick it (the policy's `checks` run those in the sweeps). Release overrides are never
 * proposed by rules, nor offered to the model.
 *
 * Then it follows up on the incident's alert: re-run passed -> "flaky" (info), failed again ->
 * "broken" (warning), both with exit code, duration, output tail and its digest; not executed ->
 * what it would do and why not; no fitting action -> a hint; the model judged a re-run not worth
 * it -> its assessment. The last three are said once per incident (again when it reopens). Each
 * carries the model's assessment (marked model-written, citing fact ids) or the rules marker.
 */

import type { Params, Policy } from '../../policy/types.js';
import { chosenProposals, withAssessment } from '../runtime/assessment-post.js';
import { oneLine } from '../runtime/data-text.js';
import { actionsOf, fillFromFacts } from '../runtime/params.js';
import type { Agent, AgentContext, AgentProposal, AgentSignal, Finding } from '../runtime/types.js';
import { validatorTurn } from './assess.js';
import { judgedFinding, noActionFinding, notRunFinding, rerunFinding } from './findings.js';
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
  const byRules: AgentProposal | null =
    rerun === null
      ? null
      : {
          ...rerun,
          rationale: `${oneLine(job.name, 120)} failed${job.ci ? ' in CI' : ''}: re-run to tell flaky from broken`,
        };
  const turn = await validatorTurn(ctx, { signal, job, rules: byRules });
  if (ctx.signal.aborted) return;
  const told = (f: Finding): Finding => withAssessment(f, turn, 'Flaky or broken');
  // The model's judgement counts only when its cause cites the facts: else the rules' re-run.
  const proposals = chosenProposals(turn, byRules === null ? [] : [byRules]);
  if (proposals.length === 0) {
    const [key, finding] =
      rerun === null
        ? ['no-rerun-action', noActionFinding(signal, job)]
        : ['no-rerun-judged', judgedFinding(signal, job)];
    if (!ctx.signal.aborted && (await firstTime(ctx, signal, key))) ctx.post(told(finding));
    return;
  }
  for (const proposal of proposals) {
    if (ctx.signal.aborted) return;
    const outcome = await ctx.propose(proposal);
    if (ctx.signal.aborted) return;
    if (outcome.run) {
      ctx.post(told(rerunFinding(signal, job, proposal, outcome.run)));
      continue;
    }
    if (await firstTime(ctx, signal, `not-run:${proposal.actionId}:${outcome.decision.code}`)) {
      ctx.post(told(notRunFinding(signal, job, proposal, outcome)));
    }
  }
}

export const validator: Agent = {
  name: 'validator',
  handles: ['failed_job'],
  onSignal: onFailedJob,
};
