/**
 * GitHub webhooks -> signals. The route has verified the signature and read the event name and the
 * delivery id from the headers; this maps the payload.
 *
 * - `workflow_run` / `check_run`, action `completed`:
 *   conclusion failure | timed_out | startup_failure -> `failed_job` (warning);
 *   conclusion success -> resolves that workflow's (or check's) incident on that branch;
 *   cancelled, skipped, neutral, stale, action_required -> ignored: a cancelled run is superseded
 *   or stopped by a person (concurrency groups cancel runs all the time), not a failure.
 *   Fingerprint: `github:ci:<repo>:<branch>:workflow:<id>` (or `...:check:<name>`), in the family
 *   `github:ci:<repo>:<branch>`: every workflow and check that fails on one branch is one incident
 *   (subscribed to both workflow_run and check_run, a failure is one incident with both deliveries
 *   as its signals), and it is resolved when each of them has passed again, not by the first
 *   green check of a job that never failed. The payloads share repository, branch, head_sha and
 *   check suite id, which the signal keeps; the workflow's name is not in check_run.
 * - `security_advisory`, `repository_advisory`, `dependabot_alert` -> `advisory`, matched against
 *   the inventory where GitHub did not do it already: see github-advisory.ts.
 * - everything else: accepted and ignored, with the reason.
 * Dedupe: one delivery (`X-GitHub-Delivery`) is one signal, `github:<delivery>` (an advisory
 * delivery: one per matched package, `github:<delivery>:<name>@<version>`).
 */
import { z } from 'zod';
import type { Inventory } from '../advisories/inventory.js';
import { boundedKey, cut, type Normalised, shortHash } from './common.js';
import { dependabotAlert, repositoryAdvisory, securityAdvisory } from './github-advisory.js';
import {
  base,
  emit,
  type GithubCtx,
  type GithubOutcome,
  ignore,
  NO_INVENTORY,
  occurred,
  opt,
  parse,
  repository,
  str,
} from './github-common.js';

export type { GithubOutcome } from './github-common.js';

/** Conclusions that make a failed_job signal. */
export const FAILING_CONCLUSIONS = ['failure', 'timed_out', 'startup_failure'] as const;

const workflowRunSchema = z.looseObject({
  action: str(100),
  repository,
  workflow_run: z.looseObject({
    id: z.number(),
    name: opt(500),
    display_title: opt(1000),
    conclusion: opt(100),
    html_url: opt(2000),
    head_branch: opt(500),
    head_sha: opt(100),
    run_number: z.number().nullish(),
    run_attempt: z.number().nullish(),
    workflow_id: z.number().nullish(),
    check_suite_id: z.number().nullish(),
    event: opt(100),
    updated_at: opt(64),
  }),
});

const checkRunSchema = z.looseObject({
  action: str(100),
  repository,
  check_run: z.looseObject({
    id: z.number(),
    name: str(500),
    conclusion: opt(100),
    html_url: opt(2000),
    head_sha: opt(100),
    completed_at: opt(64),
    app: z.looseObject({ slug: opt(200) }).nullish(),
    check_suite: z.looseObject({ id: z.number().nullish(), head_branch: opt(500) }).nullish(),
  }),
});

const actionOnly = z.looseObject({ action: z.string().max(100).optional() });

/** A family member's part of a fingerprint, kept short enough that family + member fit a key. */
function memberKey(member: string): string {
  return member.length <= 200 ? member : `${member.slice(0, 180)}#${shortHash(member)}`;
}

function job(
  ctx: GithubCtx,
  what: 'workflow' | 'check',
  p: {
    repo: string;
    name: string;
    key: string;
    branch: string | null;
    conclusion: string;
    url: string | null;
    at: string | null;
    extra: Record<string, unknown>;
  },
): Normalised<GithubOutcome> {
  const failing = (FAILING_CONCLUSIONS as readonly string[]).includes(p.conclusion);
  if (!failing && p.conclusion !== 'success') {
    return ignore(`${what} ${p.conclusion || 'without a conclusion'} is not a failure`);
  }
  const branch = p.branch ?? 'no branch';
  const verb = p.conclusion === 'success' ? 'passed' : p.conclusion === 'failure' ? 'failed' : p.conclusion;
  const family = boundedKey(`github:ci:${p.repo}:${branch}`);
  return emit({
    ...base(ctx),
    kind: 'failed_job',
    family,
    fingerprint: `${family}:${memberKey(`${what}:${p.key}`)}`,
    title: cut(`${p.repo}: ${p.name} ${verb} on ${branch}`, 300),
    service: p.repo,
    severity: failing ? 'warning' : 'info',
    payload: { repository: p.repo, name: p.name, branch, conclusion: p.conclusion, url: p.url, ...p.extra },
    occurredAt: occurred(p.at, ctx.now),
    resolves: !failing,
  });
}

function workflowRun(body: unknown, ctx: GithubCtx): Normalised<GithubOutcome> {
  const parsed = parse(workflowRunSchema, body);
  if (!parsed.ok) return parsed;
  const { action, repository: repo, workflow_run: run } = parsed.value;
  if (action !== 'completed') return ignore(`workflow_run ${action}: only completed runs are signals`);
  const name = run.name || `workflow ${run.workflow_id ?? run.id}`;
  return job(ctx, 'workflow', {
    repo: repo.full_name,
    name,
    key: String(run.workflow_id ?? name),
    branch: run.head_branch ?? null,
    conclusion: run.conclusion ?? '',
    url: run.html_url ?? null,
    at: run.updated_at ?? null,
    extra: {
      runId: run.id,
      runNumber: run.run_number ?? null,
      attempt: run.run_attempt ?? null,
      sha: run.head_sha ?? null,
      checkSuiteId: run.check_suite_id ?? null,
      event: run.event ?? null,
      displayTitle: run.display_title ?? null,
    },
  });
}

function checkRun(body: unknown, ctx: GithubCtx): Normalised<GithubOutcome> {
  const parsed = parse(checkRunSchema, body);
  if (!parsed.ok) return parsed;
  const { action, repository: repo, check_run: run } = parsed.value;
  if (action !== 'completed') return ignore(`check_run ${action}: only completed checks are signals`);
  return job(ctx, 'check', {
    repo: repo.full_name,
    name: run.name,
    key: run.name,
    branch: run.check_suite?.head_branch ?? null,
    conclusion: run.conclusion ?? '',
    url: run.html_url ?? null,
    at: run.completed_at ?? null,
    extra: {
      checkRunId: run.id,
      sha: run.head_sha ?? null,
      checkSuiteId: run.check_suite?.id ?? null,
      app: run.app?.slug ?? null,
    },
  });
}

const HANDLERS: Record<string, (body: unknown, ctx: GithubCtx) => Normalised<GithubOutcome>> = {
  workflow_run: workflowRun,
  check_run: checkRun,
  security_advisory: securityAdvisory,
  repository_advisory: repositoryAdvisory,
  dependabot_alert: dependabotAlert,
};

/** The events that can make signals (everything else is accepted and ignored). */
export const GITHUB_SIGNAL_EVENTS = Object.keys(HANDLERS);

/**
 * Maps one verified delivery. `body` must be the parsed JSON payload (an object); `inventory` is
 * what advisories are matched against (none given: an advisory affects nothing).
 */
export function normaliseGithub(
  event: string,
  delivery: string,
  body: unknown,
  now: number,
  inventory: () => Inventory = () => NO_INVENTORY,
): Normalised<GithubOutcome> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { ok: false, problems: [{ path: '$', message: 'expected a JSON object (the webhook payload)' }] };
  }
  const handler = Object.hasOwn(HANDLERS, event) ? HANDLERS[event] : undefined;
  if (handler === undefined) {
    const action = actionOnly.safeParse(body);
    const what = action.success && action.data.action ? `${event} ${action.data.action}` : event;
    return ignore(`${what}: not an event this bot turns into signals (${GITHUB_SIGNAL_EVENTS.join(', ')})`);
  }
  return handler(body, { delivery, now, inventory });
}
