/**
 * Validator's turn (runtime/turn.ts): the facts of one failed job (the job as reported, its own
 * output's last lines when the sender included them, the incident, past incidents of the same job
 * or service with how they ended, and validator's own runs of the last 7 days whose params name the
 * job: which re-runs ran and whether they passed), the model's
 * assessment (flaky or broken, and whether a re-run is worth it, proposing its own test-run
 * actions only when it is), and the same assessment by rules when no model answers: no cause, and
 * the re-run `rerunFor()` fills from the job (the rules floor). Asked on every failure (the facts
 * say how many the incident has had), within the policy's model budgets: past those, rules.
 */
import type { Assessment } from '../runtime/assessment.js';
import { duration, oneLine } from '../runtime/data-text.js';
import { type Fact, fact, signalHistoryFacts } from '../runtime/facts.js';
import { type TurnResult, takeTurn } from '../runtime/turn.js';
import type { AgentContext, AgentProposal, AgentSignal } from '../runtime/types.js';
import { lastLines } from './findings.js';
import type { FailedJob } from './job.js';

export const TASK =
  'Tell whether one failed job is flaky (it fails now and then; a re-run will likely pass) or broken (a real failure a re-run will not fix), from its own log lines and how the same job ended before, and whether a re-run is worth it: propose a re-run from your actions only when it is. The cause names the log lines or past incidents it rests on.';

/** Lines of the job's own output shown to the model (their end: where a failure shows). */
const OUTPUT_LINES = 40;
/** How far back validator's own re-runs of the job are shown, and how many at most. */
const RECENT_MS = 7 * 86_400_000;
const MAX_RERUNS = 8;

function describe(job: FailedJob, signal: AgentSignal): string {
  const parts: string[] = [`Job ${JSON.stringify(oneLine(job.name, 200))} failed${job.ci ? ' in CI' : ''}`];
  const add = (label: string, value: string | number | null): void => {
    if (value !== null && value !== '') parts.push(`${label} ${oneLine(value, 200)}`);
  };
  add('conclusion', job.conclusion);
  add('workflow', job.workflow);
  add('repository', job.repository);
  add('branch', job.branch);
  add('commit', job.sha);
  add('run id', job.runId);
  add('job id', job.jobId);
  add('exit code in the report', job.exitCode);
  add('severity', signal.severity);
  if (signal.occurredAt !== null) add('at', new Date(signal.occurredAt).toISOString());
  return `${parts.join('; ')}.`;
}

/** Most important first: the job, its own output, the incident, then the team's history. */
export function validatorFacts(ctx: AgentContext, signal: AgentSignal, job: FailedJob): Fact[] {
  const facts: Fact[] = [fact(`signal:${signal.id}`, describe(job, signal))];
  if (job.output !== null && job.output.trim() !== '') {
    facts.push(
      fact(
        `log:${signal.id}`,
        `Last lines of the failed job's own output:\n${lastLines(job.output, OUTPUT_LINES)}`,
      ),
    );
  }
  if (signal.incident !== null) {
    const i = signal.incident;
    facts.push(
      fact(
        `incident:${i.shortId}`,
        `Incident ${i.shortId} ${i.change}: ${i.signalCount} failure signal(s) of this job so far.`,
      ),
    );
  }
  facts.push(...signalHistoryFacts(ctx, signal));
  const reruns = rerunsOf(ctx, job);
  if (reruns !== null) facts.push(reruns);
  return facts;
}

/** Validator's own action runs lately whose params name this job (its repository, ids, name or service). */
function rerunsOf(ctx: AgentContext, job: FailedJob): Fact | null {
  const now = ctx.now();
  const names = new Set(
    [job.repository, job.name, job.workflow, job.service, job.runId, job.jobId]
      .filter((v) => v !== null && v !== '')
      .map(String),
  );
  const runs = (ctx.recent?.runs({ agent: 'validator', since: now - RECENT_MS, limit: 50 }) ?? [])
    .filter((r) => Object.values(r.params ?? {}).some((v) => names.has(String(v))))
    .slice(0, MAX_RERUNS);
  if (runs.length === 0) return null;
  const lines = runs.map((r) => {
    const params = Object.entries(r.params ?? {})
      .map(([k, v]) => `${k}=${oneLine(v, 80)}`)
      .join(', ');
    return `- ${r.actionId} (${params}) ${r.status}${r.outcome ? `: ${oneLine(r.outcome, 160)}` : ''}, ${duration(now - r.startedAt)} ago`;
  });
  return fact(
    'runs:validator',
    `Validator's own runs for this job in the last 7 days, newest first:\n${lines.join('\n')}`,
  );
}

export async function validatorTurn(
  ctx: AgentContext,
  o: { signal: AgentSignal; job: FailedJob; rules: AgentProposal | null },
): Promise<TurnResult> {
  const rules = (): Assessment => ({
    summary: `${oneLine(o.job.name, 120) || 'A job'} failed${o.rules ? `: re-run with ${o.rules.actionId} to tell flaky from broken` : ''}.`,
    cause: null,
    confidence: 0,
    proposals: o.rules === null ? [] : [o.rules],
  });
  return takeTurn(ctx, {
    task: TASK,
    facts: validatorFacts(ctx, o.signal, o.job),
    rules,
    severity: o.signal.severity,
    classes: ['test-run'],
  });
}
