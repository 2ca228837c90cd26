/**
 * The demo's webhook payloads, in the formats real senders use: an Alertmanager v4 notification, a
 * generic health event, a GitHub `workflow_run` delivery (the real example payload from
 * @octokit/webhooks-examples, kept in demo/payloads/, turned red), NDJSON log lines of one repeated
 * error, and an OSV advisory record. Every payload carries this run's id and time, so sending the
 * demo again to the same bot is new data, never a deduplicated repeat. Pure: data in, requests out.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../process/package-root.js';

/** What varies per run: an id (letters and digits) and the time the run started. */
export interface RunContext {
  readonly runId: string;
  readonly now: number;
}

/** One HTTP request to the bot. `auth` says how the driver authenticates it. */
export interface DemoRequest {
  readonly path: string;
  readonly contentType: string;
  readonly body: string;
  /** `bearer`: the ingest token; `github`: X-Hub-Signature-256 with the webhook secret. */
  readonly auth: 'bearer' | 'github';
  /** Extra headers (GitHub's event and delivery, an idempotency key). */
  readonly headers?: Readonly<Record<string, string>>;
}

export const DEMO_SERVICE = 'demo-api';
/** The workflow the CI step fails; rerun-demo-ci takes it as its `workflow` param. */
export const DEMO_WORKFLOW = 'test';
/** Lines of the repeated error (above the demo policy's threshold of 5, and most others). */
export const ERROR_LINES = 12;
export const ADVISORY_ID = 'GHSA-35jh-r3h4-6jhm';

const iso = (t: number) => new Date(t).toISOString();
const json = (value: unknown) => JSON.stringify(value);

/** Alertmanager webhook v4: HighErrorRate firing, critical, for demo-api. */
export function alertmanagerAlert(ctx: RunContext): DemoRequest {
  const labels = {
    alertname: 'HighErrorRate',
    service: DEMO_SERVICE,
    job: DEMO_SERVICE,
    instance: 'demo-api-0:8080',
    severity: 'critical',
  };
  const annotations = {
    summary: '7.4% of demo-api requests fail (objective: 1%)',
    description: '5xx responses on POST /checkout rose to 7.4% over the last 5 minutes.',
    runbook_url: 'https://runbooks.example.com/demo-api/high-error-rate',
  };
  return {
    path: '/hooks/alertmanager',
    contentType: 'application/json',
    auth: 'bearer',
    body: json({
      version: '4',
      groupKey: '{}:{alertname="HighErrorRate"}',
      truncatedAlerts: 0,
      status: 'firing',
      receiver: 'autonomy',
      groupLabels: { alertname: 'HighErrorRate' },
      commonLabels: labels,
      commonAnnotations: annotations,
      externalURL: 'http://alertmanager.example.com:9093',
      alerts: [
        {
          status: 'firing',
          labels,
          annotations,
          // Alertmanager sends the zero time for alerts that are still firing.
          startsAt: iso(ctx.now),
          endsAt: '0001-01-01T00:00:00Z',
          generatorURL:
            'http://prometheus.example.com:9090/graph?g0.expr=job%3Ahttp_errors%3Aratio5m%7Bjob%3D%22demo-api%22%7D+%3E+0.01',
          fingerprint: 'd3m0a1e47f5c2b19',
        },
      ],
    }),
  };
}

/** A failing health check of demo-api, as a monitoring script reports it to POST /hooks/events. */
export function healthEvent(ctx: RunContext): DemoRequest {
  return {
    path: '/hooks/events',
    contentType: 'application/json',
    auth: 'bearer',
    body: json({
      id: `demo-${ctx.runId}-health`,
      kind: 'health',
      source: 'probe:demo-api',
      title: 'demo-api /healthz failed 3 checks in a row (503 Service Unavailable)',
      service: DEMO_SERVICE,
      severity: 'warning',
      fingerprint: 'demo-api-health',
      occurredAt: iso(ctx.now - 90_000),
      details: {
        url: 'http://demo-api.internal:8080/healthz',
        status: 503,
        failures: 3,
        latencyMs: 5012,
      },
    }),
  };
}

/** The real `workflow_run` example (demo/payloads/), as kept: a green run of octo-org/octo-repo. */
export function workflowRunExample(root = packageRoot()): Record<string, unknown> {
  return JSON.parse(
    readFileSync(join(root, 'demo', 'payloads', 'workflow_run.completed.json'), 'utf8'),
  ) as Record<string, unknown>;
}

/** The example turned into this run's failure: conclusion failure, named, timed now. */
export function githubWorkflowFailure(ctx: RunContext, example: Record<string, unknown>): DemoRequest {
  const payload = structuredClone(example);
  const run = payload.workflow_run as Record<string, unknown>;
  run.conclusion = 'failure';
  run.status = 'completed';
  // GitHub names the run after its workflow; the example leaves it empty.
  run.name = DEMO_WORKFLOW;
  run.run_started_at = iso(ctx.now - 240_000);
  run.updated_at = iso(ctx.now - 60_000);
  return {
    path: '/hooks/github',
    contentType: 'application/json',
    auth: 'github',
    headers: {
      'x-github-event': 'workflow_run',
      'x-github-delivery': `demo-${ctx.runId}-ci`,
      'user-agent': 'GitHub-Hookshot/demo',
    },
    body: json(payload),
  };
}

/** The same failure as a generic event, for a bot the demo cannot sign GitHub deliveries for. */
export function failedJobEvent(ctx: RunContext, example: Record<string, unknown>): DemoRequest {
  const run = example.workflow_run as Record<string, unknown>;
  const repo = (example.repository as Record<string, unknown>).full_name as string;
  const branch = String(run.head_branch);
  return {
    path: '/hooks/events',
    contentType: 'application/json',
    auth: 'bearer',
    body: json({
      id: `demo-${ctx.runId}-ci`,
      kind: 'failed_job',
      source: 'ci:github-actions',
      title: `${repo}: ${DEMO_WORKFLOW} failed on ${branch}`,
      service: repo,
      severity: 'warning',
      fingerprint: `${repo}:${DEMO_WORKFLOW}:${branch}`,
      occurredAt: iso(ctx.now - 60_000),
      details: {
        repository: repo,
        workflow: DEMO_WORKFLOW,
        branch,
        runId: run.id,
        sha: run.head_sha,
        conclusion: 'failure',
        url: run.html_url,
      },
    }),
  };
}

/** A UUID-shaped request id, the same for the same run and line. */
function requestId(ctx: RunContext, line: number): string {
  const h = createHash('sha256').update(`${ctx.runId}:${line}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** ERROR_LINES pino-style NDJSON lines of one error, each with its own order and request id. */
export function repeatedErrors(ctx: RunContext): DemoRequest {
  const lines: string[] = [];
  for (let i = 0; i < ERROR_LINES; i++) {
    lines.push(
      json({
        level: 50,
        time: ctx.now - (ERROR_LINES - i) * 5000,
        service: DEMO_SERVICE,
        msg: `checkout failed for order ord-${40_000 + ((i * 7919) % 50_000)}: upstream payments-gateway timed out after 5000ms (request_id=${requestId(ctx, i)})`,
      }),
    );
  }
  return {
    path: '/hooks/logs',
    contentType: 'application/x-ndjson',
    auth: 'bearer',
    headers: { 'idempotency-key': `demo-${ctx.runId}-logs` },
    body: `${lines.join('\n')}\n`,
  };
}

/** The OSV record of GHSA-35jh-r3h4-6jhm (lodash command injection), as osv.dev serves it. */
export function osvAdvisory(ctx: RunContext): DemoRequest {
  return {
    path: '/hooks/osv',
    contentType: 'application/json',
    auth: 'bearer',
    body: json({
      schema_version: '1.6.0',
      id: ADVISORY_ID,
      // A new revision per run, so a second demo run against the same bot is news, not a duplicate.
      modified: iso(ctx.now),
      published: '2021-05-06T16:05:51Z',
      aliases: ['CVE-2021-23337'],
      summary: 'Command Injection in lodash',
      details:
        '`lodash` versions prior to 4.17.21 are vulnerable to Command Injection via the template function.',
      severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H' }],
      affected: [
        {
          package: { ecosystem: 'npm', name: 'lodash', purl: 'pkg:npm/lodash' },
          ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '4.17.21' }] }],
        },
        {
          package: { ecosystem: 'npm', name: 'lodash-es', purl: 'pkg:npm/lodash-es' },
          ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '4.17.21' }] }],
        },
        {
          package: { ecosystem: 'npm', name: 'lodash.template', purl: 'pkg:npm/lodash.template' },
          ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { last_affected: '4.5.0' }] }],
        },
      ],
      references: [
        { type: 'ADVISORY', url: 'https://nvd.nist.gov/vuln/detail/CVE-2021-23337' },
        {
          type: 'WEB',
          url: 'https://github.com/lodash/lodash/commit/3469357cff396a26c363f8c1b5a91dde28ba4b1c',
        },
        { type: 'PACKAGE', url: 'https://github.com/lodash/lodash' },
      ],
      database_specific: {
        cwe_ids: ['CWE-77', 'CWE-94'],
        severity: 'HIGH',
        github_reviewed: true,
        github_reviewed_at: '2021-05-06T15:58:37Z',
        nvd_published_at: '2021-02-15T13:15:00Z',
      },
    }),
  };
}
