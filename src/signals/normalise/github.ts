/**
 * GitHub webhooks -> signals. The route has verified the signature and read the event name and the
 * delivery id from the headers; this maps the payload.
 *
 * - `workflow_run` / `check_run`, action `completed`:
 *   conclusion failure | timed_out | startup_failure -> `failed_job` (warning);
 *   conclusion success -> resolves that workflow's (or check's) incident on that branch;
 *   cancelled, skipped, neutral, stale, action_required -> ignored: a cancelled run is superseded
 *   or stopped by a person (concurrency groups cancel runs all the time), not a failure.
 *   Fingerprint: repository + workflow (or check name) + branch, so a red main stays one incident
 *   until a green run resolves it.
 * - `security_advisory` published/updated, `repository_advisory` published/reported,
 *   `dependabot_alert` created/reopened/reintroduced/auto_reopened -> `advisory`;
 *   security_advisory withdrawn and dependabot_alert fixed/dismissed/auto_dismissed resolve it.
 *   Severity from the CVSS vector, else GitHub's rating (cvss.ts).
 * - everything else: accepted and ignored, with the reason.
 * Dedupe: one delivery (`X-GitHub-Delivery`) is one signal, `github:<delivery>`.
 */
import { z } from 'zod';
import { advisorySeverity } from '../cvss.js';
import type { SignalInput } from '../types.js';
import { boundedKey, cut, type Normalised, parseIsoTime, zodProblems } from './common.js';

export type GithubOutcome =
  | { readonly signal: SignalInput; readonly ignored: null }
  | { readonly signal: null; readonly ignored: string };

/** Conclusions that make a failed_job signal. */
export const FAILING_CONCLUSIONS = ['failure', 'timed_out', 'startup_failure'] as const;

const str = (max: number) => z.string().max(max);
const opt = (max: number) => z.string().max(max).nullish();
const repository = z.looseObject({ full_name: str(300) });
const pkg = z.looseObject({ ecosystem: opt(100), name: opt(300) });
const cvss = z.looseObject({ vector_string: opt(300), score: z.number().nullish() }).nullish();

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
    check_suite: z.looseObject({ head_branch: opt(500) }).nullish(),
  }),
});

const advisoryCore = {
  ghsa_id: str(100),
  summary: opt(2000),
  severity: opt(50),
  html_url: opt(2000),
  cvss,
  updated_at: opt(64),
};

const securityAdvisorySchema = z.looseObject({
  action: str(100),
  security_advisory: z.looseObject({
    ...advisoryCore,
    vulnerabilities: z
      .array(
        z.looseObject({
          package: pkg.nullish(),
          vulnerable_version_range: opt(500),
          first_patched_version: z.looseObject({ identifier: opt(200) }).nullish(),
        }),
      )
      .max(10_000)
      .nullish(),
  }),
});

const repositoryAdvisorySchema = z.looseObject({
  action: str(100),
  repository,
  repository_advisory: z.looseObject({
    ...advisoryCore,
    vulnerabilities: z
      .array(
        z.looseObject({
          package: pkg.nullish(),
          vulnerable_version_range: opt(500),
          patched_versions: opt(500),
        }),
      )
      .max(10_000)
      .nullish(),
  }),
});

const dependabotAlertSchema = z.looseObject({
  action: str(100),
  repository,
  alert: z.looseObject({
    number: z.number(),
    html_url: opt(2000),
    updated_at: opt(64),
    security_advisory: z.looseObject(advisoryCore),
    security_vulnerability: z
      .looseObject({
        package: pkg.nullish(),
        vulnerable_version_range: opt(500),
        first_patched_version: z.looseObject({ identifier: opt(200) }).nullish(),
      })
      .nullish(),
    dependency: z.looseObject({ package: pkg.nullish(), manifest_path: opt(1000) }).nullish(),
  }),
});

const actionOnly = z.looseObject({ action: z.string().max(100).optional() });

interface Ctx {
  readonly delivery: string;
  readonly now: number;
}

function base(ctx: Ctx) {
  return { source: 'github', dedupeKey: `github:${ctx.delivery}` } as const;
}

function occurred(value: string | null | undefined, now: number): number | null {
  const at = parseIsoTime(value);
  return at !== null && at <= now ? at : null;
}

function ignore(reason: string): Normalised<GithubOutcome> {
  return { ok: true, value: { signal: null, ignored: reason } };
}

function emit(signal: SignalInput): Normalised<GithubOutcome> {
  return { ok: true, value: { signal, ignored: null } };
}

function parse<T extends z.ZodType>(schema: T, body: unknown): Normalised<z.output<T>> {
  const parsed = schema.safeParse(body);
  return parsed.success
    ? { ok: true, value: parsed.data }
    : { ok: false, problems: zodProblems(parsed.error) };
}

function severityOf(a: { severity?: string | null; cvss?: { vector_string?: string | null } | null }) {
  const vector = a.cvss?.vector_string;
  return advisorySeverity(vector ? [{ type: 'CVSS_V3', score: vector }] : [], a.severity ?? undefined);
}

function job(
  ctx: Ctx,
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
  return emit({
    ...base(ctx),
    kind: 'failed_job',
    fingerprint: boundedKey(`github:${what}:${p.repo}:${p.key}:${branch}`),
    title: cut(`${p.repo}: ${p.name} ${verb} on ${branch}`, 300),
    service: p.repo,
    severity: failing ? 'warning' : 'info',
    payload: { repository: p.repo, name: p.name, branch, conclusion: p.conclusion, url: p.url, ...p.extra },
    occurredAt: occurred(p.at, ctx.now),
    resolves: !failing,
  });
}

function workflowRun(body: unknown, ctx: Ctx): Normalised<GithubOutcome> {
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
      event: run.event ?? null,
      displayTitle: run.display_title ?? null,
    },
  });
}

function checkRun(body: unknown, ctx: Ctx): Normalised<GithubOutcome> {
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
    extra: { checkRunId: run.id, sha: run.head_sha ?? null, app: run.app?.slug ?? null },
  });
}

function advisory(
  ctx: Ctx,
  p: {
    ghsa: string;
    fingerprint: string;
    summary: string;
    repo: string | null;
    advisory: { severity?: string | null; cvss?: { vector_string?: string | null } | null };
    resolves: boolean;
    at: string | null;
    payload: Record<string, unknown>;
  },
): Normalised<GithubOutcome> {
  const scored = severityOf(p.advisory);
  return emit({
    ...base(ctx),
    kind: 'advisory',
    fingerprint: boundedKey(p.fingerprint),
    title: cut(`${p.ghsa}${p.repo ? ` in ${p.repo}` : ''}: ${p.summary}`, 300),
    service: p.repo,
    severity: scored.severity,
    payload: { ghsa: p.ghsa, severityBasis: scored.basis, score: scored.score, ...p.payload },
    occurredAt: occurred(p.at, ctx.now),
    resolves: p.resolves,
  });
}

function securityAdvisory(body: unknown, ctx: Ctx): Normalised<GithubOutcome> {
  const parsed = parse(securityAdvisorySchema, body);
  if (!parsed.ok) return parsed;
  const { action, security_advisory: a } = parsed.value;
  if (action !== 'published' && action !== 'updated' && action !== 'withdrawn') {
    return ignore(`security_advisory ${action}: only published, updated and withdrawn are signals`);
  }
  return advisory(ctx, {
    ghsa: a.ghsa_id,
    fingerprint: `github:advisory:${a.ghsa_id}`,
    summary: a.summary ?? 'security advisory',
    repo: null,
    advisory: a,
    resolves: action === 'withdrawn',
    at: a.updated_at ?? null,
    payload: {
      action,
      url: a.html_url ?? null,
      packages: (a.vulnerabilities ?? []).slice(0, 50).map((v) => ({
        ecosystem: v.package?.ecosystem ?? null,
        name: v.package?.name ?? null,
        vulnerable: v.vulnerable_version_range ?? null,
        fixed: v.first_patched_version?.identifier ?? null,
      })),
    },
  });
}

function repositoryAdvisory(body: unknown, ctx: Ctx): Normalised<GithubOutcome> {
  const parsed = parse(repositoryAdvisorySchema, body);
  if (!parsed.ok) return parsed;
  const { action, repository: repo, repository_advisory: a } = parsed.value;
  if (action !== 'published' && action !== 'reported') {
    return ignore(`repository_advisory ${action}: only published and reported are signals`);
  }
  return advisory(ctx, {
    ghsa: a.ghsa_id,
    fingerprint: `github:advisory:${a.ghsa_id}`,
    summary: a.summary ?? 'repository advisory',
    repo: repo.full_name,
    advisory: a,
    resolves: false,
    at: a.updated_at ?? null,
    payload: {
      action,
      url: a.html_url ?? null,
      packages: (a.vulnerabilities ?? []).slice(0, 50).map((v) => ({
        ecosystem: v.package?.ecosystem ?? null,
        name: v.package?.name ?? null,
        vulnerable: v.vulnerable_version_range ?? null,
        fixed: v.patched_versions ?? null,
      })),
    },
  });
}

const DEPENDABOT_OPEN = ['created', 'reopened', 'reintroduced', 'auto_reopened'];
const DEPENDABOT_CLOSE = ['fixed', 'dismissed', 'auto_dismissed'];

function dependabotAlert(body: unknown, ctx: Ctx): Normalised<GithubOutcome> {
  const parsed = parse(dependabotAlertSchema, body);
  if (!parsed.ok) return parsed;
  const { action, repository: repo, alert } = parsed.value;
  const opens = DEPENDABOT_OPEN.includes(action);
  if (!opens && !DEPENDABOT_CLOSE.includes(action)) {
    return ignore(`dependabot_alert ${action}: not an opening or closing of the alert`);
  }
  const a = alert.security_advisory;
  const v = alert.security_vulnerability;
  const name = v?.package?.name ?? alert.dependency?.package?.name ?? null;
  return advisory(ctx, {
    ghsa: a.ghsa_id,
    fingerprint: `github:dependabot:${repo.full_name}:${alert.number}`,
    summary: `${name ? `${name}: ` : ''}${a.summary ?? 'dependabot alert'}${opens ? '' : ` (${action})`}`,
    repo: repo.full_name,
    advisory: a,
    resolves: !opens,
    at: alert.updated_at ?? null,
    payload: {
      action,
      alert: alert.number,
      url: alert.html_url ?? null,
      ecosystem: v?.package?.ecosystem ?? alert.dependency?.package?.ecosystem ?? null,
      package: name,
      manifest: alert.dependency?.manifest_path ?? null,
      vulnerable: v?.vulnerable_version_range ?? null,
      fixed: v?.first_patched_version?.identifier ?? null,
    },
  });
}

const HANDLERS: Record<string, (body: unknown, ctx: Ctx) => Normalised<GithubOutcome>> = {
  workflow_run: workflowRun,
  check_run: checkRun,
  security_advisory: securityAdvisory,
  repository_advisory: repositoryAdvisory,
  dependabot_alert: dependabotAlert,
};

/** The events that can make signals (everything else is accepted and ignored). */
export const GITHUB_SIGNAL_EVENTS = Object.keys(HANDLERS);

/** Maps one verified delivery. `body` must be the parsed JSON payload (an object). */
export function normaliseGithub(
  event: string,
  delivery: string,
  body: unknown,
  now: number,
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
  return handler(body, { delivery, now });
}
