/**
 * Validator's follow-ups to a failed-job incident (the bot has already posted the incident's alert):
 * - re-run passed: "flaky" (info), re-run failed: "broken" (warning), each with the evidence a
 *   reviewer needs: exit code, duration, the output's last lines and their SHA-256;
 * - re-run not executed (observe, suggest, ask, deny): what validator would do and why not;
 * - no re-run action in the catalog: a hint for the policy owner;
 * - the model judged a re-run not worth it: that, with the job (its assessment is appended by the
 *   agent, as to every follow-up).
 * Job names, output and every other payload value are untrusted data, shown as data.
 */
import { createHash } from 'node:crypto';
import type { Decision } from '../../policy/types.js';
import { cut } from '../../signals/normalise/common.js';
import { oneLine, tail } from '../runtime/data-text.js';
import type { AgentSignal, Finding, ProposalOutcome } from '../runtime/types.js';
import type { FailedJob } from './job.js';

const TAIL_LINES = 20;
const TAIL_CHARS = 3000;

type Field = { label: string; value: string };
type Run = NonNullable<ProposalOutcome['run']>;
/** A re-run as proposed (params as checked by the turn or filled by rules). */
type Rerun = { readonly actionId: string; readonly params: Readonly<Record<string, unknown>> };

/** The last `n` lines of output, controls dropped, at most TAIL_CHARS. */
export function lastLines(output: string, n = TAIL_LINES): string {
  const lines = output.replace(/\r\n?/g, '\n').replace(/\n+$/, '').split('\n');
  return tail(lines.slice(-n).join('\n'), TAIL_CHARS);
}

export function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function jobName(job: FailedJob): string {
  return oneLine(job.name, 120) || 'a job';
}

function paramsText(params: Rerun['params']): string {
  const entries = Object.entries(params);
  return entries.length === 0 ? 'no params' : entries.map(([k, v]) => `${k}=${oneLine(v, 100)}`).join(', ');
}

/** The failed job as evidence fields. */
function jobFields(signal: AgentSignal, job: FailedJob): Field[] {
  const fields: Field[] = [];
  if (signal.incident) fields.push({ label: 'Incident', value: signal.incident.shortId });
  fields.push({ label: 'Job', value: oneLine(job.name, 300) });
  if (job.conclusion) fields.push({ label: 'Conclusion', value: oneLine(job.conclusion, 100) });
  if (job.repository) fields.push({ label: 'Repository', value: oneLine(job.repository, 300) });
  if (job.branch) fields.push({ label: 'Branch', value: oneLine(job.branch, 300) });
  if (job.sha) fields.push({ label: 'Commit', value: oneLine(job.sha, 100) });
  if (job.exitCode !== null) fields.push({ label: 'Exit code in the report', value: String(job.exitCode) });
  return fields;
}

function links(job: FailedJob): { label: string; url: string }[] {
  return job.url ? [{ label: 'Failed job', url: job.url }] : [];
}

function opening(signal: AgentSignal, job: FailedJob): string {
  const where = [
    job.branch ? `on ${oneLine(job.branch, 100)}` : '',
    job.sha ? `at ${oneLine(job.sha, 12)}` : '',
  ]
    .filter(Boolean)
    .join(' ');
  const lead = signal.incident ? `Follow-up to incident ${signal.incident.shortId}. ` : '';
  return `${lead}${jobName(job)} failed${job.ci ? ' in CI' : ''}${job.conclusion ? ` (${oneLine(job.conclusion, 40)})` : ''}${where ? ` ${where}` : ''}.`;
}

/** After the re-run executed: flaky (passed), broken (failed again), or why it did not finish. */
export function rerunFinding(signal: AgentSignal, job: FailedJob, proposal: Rerun, run: Run): Finding {
  const name = jobName(job);
  const shown = lastLines(run.outputTail);
  const digest = sha256(shown);
  const evidence: Field[] = [
    { label: 'Re-run', value: `${proposal.actionId} (${paramsText(proposal.params)})` },
    { label: 'Run', value: run.runId },
    { label: 'Exit code', value: run.exitCode === null ? 'none (no process exit)' : String(run.exitCode) },
    { label: 'Duration', value: seconds(run.wallMs) },
    { label: 'Output tail sha256', value: digest },
  ];
  const verdict =
    run.status === 'succeeded'
      ? {
          kind: 'notice' as const,
          severity: 'info' as const,
          title: `flaky: ${name} failed${job.ci ? ' in CI' : ''} but passed on re-run`,
          line: `Validator re-ran it with ${proposal.actionId} and it passed: likely flaky.`,
        }
      : run.status === 'failed'
        ? {
            kind: 'alert' as const,
            severity: 'warning' as const,
            title: `broken: ${name} fails again`,
            line: `Validator re-ran it with ${proposal.actionId} and it failed again: likely broken, not flaky.`,
          }
        : {
            kind: 'notice' as const,
            severity: signal.severity,
            title: `${name}: re-run ${run.status}, flaky or broken still unknown`,
            line: `Validator's re-run with ${proposal.actionId} was ${run.status}: ${oneLine(run.outcome, 300)}.`,
          };
  const body = [
    opening(signal, job),
    verdict.line,
    '',
    shown === ''
      ? 'The re-run printed nothing.'
      : `Output, last ${TAIL_LINES} lines (sha256 ${digest}):\n${shown}`,
  ].join('\n');
  return {
    kind: verdict.kind,
    title: cut(verdict.title, 300),
    severity: verdict.severity,
    body,
    fields: [...jobFields(signal, job), ...evidence],
    links: links(job),
  };
}

const WHAT_NOW: Record<Decision['verdict'], string> = {
  observe: 'observed only',
  suggest: 'suggested',
  ask: 'waiting for approval',
  deny: 'denied',
  execute: 'executed without a result',
};

/** The re-run was decided but not executed: what validator would do, and the decision's reason. */
export function notRunFinding(
  signal: AgentSignal,
  job: FailedJob,
  proposal: Rerun,
  outcome: ProposalOutcome,
): Finding {
  const d = outcome.decision;
  const approval = outcome.approval ? ` (approval ${outcome.approval})` : '';
  return {
    kind: 'notice',
    title: cut(
      `${jobName(job)} failed: re-run with ${proposal.actionId} ${WHAT_NOW[d.verdict]}${approval}`,
      300,
    ),
    severity: signal.severity,
    body: [
      opening(signal, job),
      `To tell flaky from broken, validator would re-run it with ${proposal.actionId} (${paramsText(proposal.params)}).`,
      `Not executed: ${d.reason}${approval}.`,
    ].join('\n'),
    fields: [
      ...jobFields(signal, job),
      { label: 'Would run', value: `${proposal.actionId} (${paramsText(proposal.params)})` },
      { label: 'Decision', value: `${d.verdict}: ${d.reason}` },
    ],
    links: links(job),
  };
}

/** What validator could fill a re-run action's params from, for the hint. */
function offered(job: FailedJob): string {
  const pairs: [string, string | number | null][] = [
    ['repository', job.repository],
    ['workflow', job.workflow],
    ['job', job.name],
    ['runId', job.runId],
    ['jobId', job.jobId],
    ['branch', job.branch],
    ['sha', job.sha],
    ['service', job.service],
  ];
  return pairs
    .filter(([, v]) => v !== null && v !== '')
    .map(([k, v]) => `${k}=${oneLine(v, 80)}`)
    .join(', ');
}

/** No validator test-run action can be filled from this job: say so, and how to add one. */
export function noActionFinding(signal: AgentSignal, job: FailedJob): Finding {
  return {
    kind: 'notice',
    title: cut(`${jobName(job)} failed: no re-run action in the catalog`, 300),
    severity: signal.severity,
    body: [
      opening(signal, job),
      'Validator cannot tell flaky from broken: no validator action of class test-run in the catalog takes params it can fill from this job.',
      `This job offers: ${offered(job) || 'nothing validator can use'}.`,
      'Hint: add a test-run action for validator with params named after these (repository or repo, workflow, job, runId, jobId, branch, sha, service or system), each with an enum or a pattern. Its command must wait for the result and exit non-zero when the job fails again. For example:',
      '  - id: rerun-workflow',
      '    agent: validator',
      '    description: Re-run the failed jobs of a workflow run',
      '    tier: 2',
      '    class: test-run',
      '    target: ci',
      '    params:',
      '      repository: { pattern: "[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", maxLength: 200 }',
      '      runId: { type: integer, min: 1 }',
      '    executor:',
      '      command: [scripts/rerun-and-wait.sh, "{repository}", "{runId}"] # gh run rerun, then gh run watch --exit-status',
    ].join('\n'),
    fields: jobFields(signal, job),
    links: links(job),
  };
}

/** The model judged a re-run not worth it (its assessment, appended by the agent, says why). */
export function judgedFinding(signal: AgentSignal, job: FailedJob): Finding {
  return {
    kind: 'notice',
    title: cut(`${jobName(job)} failed: not re-run (assessed)`, 300),
    severity: signal.severity,
    body: [
      opening(signal, job),
      'Validator does not re-run it: the assessment below says a re-run is not worth it.',
    ].join('\n'),
    fields: jobFields(signal, job),
    links: links(job),
  };
}
