/**
 * What validator reads from a failed_job signal: a GitHub workflow run or check run
 * (signals/normalise/github.ts) or a generic event (signals/normalise/events.ts, facts in its
 * `details`). Every value is untrusted data, checked for shape and size; it reaches an action only
 * through a param that passes the catalog's enum or pattern (runtime/params.ts). A generic event may carry
 * the job's own output (`output`, `logTail` or `lines` in its details): its last lines are kept,
 * bounded, as data for validator's assessment.
 */
import { z } from 'zod';
import { cut } from '../../signals/normalise/common.js';
import { httpUrl, tail } from '../runtime/data-text.js';
import { type Facts, factsOf } from '../runtime/params.js';
import type { AgentSignal } from '../runtime/types.js';

export interface FailedJob {
  /** The job, workflow or check name people know it by. */
  readonly name: string;
  /** true for GitHub workflow and check runs. */
  readonly ci: boolean;
  readonly workflow: string | null;
  readonly conclusion: string | null;
  /** http(s) only. */
  readonly url: string | null;
  readonly repository: string | null;
  readonly branch: string | null;
  readonly sha: string | null;
  readonly runId: number | null;
  /** A GitHub check run's id (for Actions, the job's id). */
  readonly jobId: number | null;
  readonly exitCode: number | null;
  readonly service: string | null;
  /** The job's own output (its last lines), when the sender included it; GitHub's webhooks do not. */
  readonly output: string | null;
}

/** Characters of a job's output kept (its end: where a failure shows). */
export const OUTPUT_CHARS = 4000;

const text = (max: number) =>
  z
    .string()
    .transform((s) => cut(s.trim(), max))
    .nullish()
    .catch(null);
const id = z
  .union([
    z.int().min(0),
    z
      .string()
      .regex(/^\d{1,15}$/)
      .transform(Number),
  ])
  .nullish()
  .catch(null);

/** Output text, its last OUTPUT_CHARS characters (newlines kept, controls dropped). */
const output = z
  .string()
  .transform((s) => tail(s, OUTPUT_CHARS))
  .nullish()
  .catch(null);
/** Log lines as a list of strings (the last 200). */
const lines = z
  .array(z.unknown())
  .catch([])
  .transform((xs) =>
    xs
      .slice(-200)
      .filter((x): x is string => typeof x === 'string')
      .join('\n'),
  )
  .optional();

const githubPayload = z.looseObject({
  repository: text(300),
  name: text(500),
  branch: text(500),
  conclusion: text(100),
  url: text(2000),
  sha: text(100),
  runId: id,
  checkRunId: id,
});

const eventPayload = z.looseObject({ source: text(100), details: z.unknown() });
const eventDetails = z.looseObject({
  job: text(500),
  name: text(500),
  workflow: text(500),
  check: text(500),
  conclusion: text(100),
  status: text(100),
  url: text(2000),
  log: text(2000),
  repository: text(300),
  repo: text(300),
  branch: text(500),
  sha: text(100),
  commit: text(100),
  runId: id,
  run_id: id,
  jobId: id,
  job_id: id,
  exitCode: z.int().nullish().catch(null),
  exit_code: z.int().nullish().catch(null),
  output,
  logTail: output,
  log_tail: output,
  lines,
});

function fromGithub(p: z.output<typeof githubPayload>, signal: AgentSignal): FailedJob {
  const isWorkflow = p.runId !== null && p.runId !== undefined;
  const name = p.name ?? cut(signal.title, 200);
  return {
    name,
    ci: true,
    workflow: isWorkflow ? name : null,
    conclusion: p.conclusion ?? null,
    url: httpUrl(p.url),
    repository: p.repository ?? signal.service,
    branch: p.branch === 'no branch' ? null : (p.branch ?? null),
    sha: p.sha ?? null,
    runId: p.runId ?? null,
    jobId: p.checkRunId ?? null,
    exitCode: null,
    service: signal.service,
    output: null,
  };
}

function fromEvent(source: string | null, details: unknown, signal: AgentSignal): FailedJob {
  const parsed = eventDetails.safeParse(details);
  const d = parsed.success ? parsed.data : eventDetails.parse({});
  return {
    name: d.job ?? d.name ?? d.check ?? d.workflow ?? source ?? cut(signal.title, 200),
    ci: false,
    workflow: d.workflow ?? null,
    conclusion: d.conclusion ?? d.status ?? null,
    url: httpUrl(d.url) ?? httpUrl(d.log),
    repository: d.repository ?? d.repo ?? null,
    branch: d.branch ?? null,
    sha: d.sha ?? d.commit ?? null,
    runId: d.runId ?? d.run_id ?? null,
    jobId: d.jobId ?? d.job_id ?? null,
    exitCode: d.exitCode ?? d.exit_code ?? null,
    service: signal.service,
    output: d.output || d.logTail || d.log_tail || (d.lines ? tail(d.lines, OUTPUT_CHARS) : '') || null,
  };
}

/** Reads a failed_job signal; an unknown payload still gives the title as the job's name. */
export function failedJob(signal: AgentSignal): FailedJob {
  if (signal.source === 'github') {
    const p = githubPayload.safeParse(signal.payload);
    if (p.success) return fromGithub(p.data, signal);
  }
  const e = eventPayload.safeParse(signal.payload);
  if (e.success) return fromEvent(e.data.source ?? null, e.data.details, signal);
  return fromEvent(null, {}, signal);
}

/** The facts a re-run action's params may be filled from (names as the brief lists them). */
export function jobFacts(job: FailedJob): Facts {
  return factsOf([
    [['repository', 'repo'], job.repository],
    [['workflow', 'workflowName'], job.workflow],
    [['job', 'jobName', 'check', 'checkName'], job.name],
    [['runId', 'run'], job.runId],
    [['jobId', 'checkRunId', 'checkId'], job.jobId],
    [['branch', 'ref', 'headBranch'], job.branch],
    [['sha', 'commit', 'headSha', 'revision'], job.sha],
    [['service', 'system'], job.service],
  ]);
}
