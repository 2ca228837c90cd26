/**
 * The demo's scripted incident, step by step: what happens, which webhook carries it, and what
 * the demo policy (policies/examples/demo.policy.yaml) makes of it. A running bot with another
 * policy may do something else; the expectations are printed only when the demo runs its own bot.
 */
import {
  ADVISORY_ID,
  alertmanagerAlert,
  DEMO_WORKFLOW,
  type DemoRequest,
  ERROR_LINES,
  failedJobEvent,
  githubWorkflowFailure,
  healthEvent,
  osvAdvisory,
  type RunContext,
  repeatedErrors,
} from './payloads.js';

export interface DemoStep {
  readonly title: string;
  /** What the demo policy lets the agents do with it. */
  readonly expect: string;
  readonly request: DemoRequest;
  /** Sent instead when the bot has the hook off (503): GitHub without a webhook secret. */
  readonly fallback?: { readonly request: DemoRequest; readonly note: string };
  /** Said before sending, e.g. why the generic hook is used. */
  readonly note?: string;
}

export function demoSteps(
  ctx: RunContext,
  workflowExample: Record<string, unknown>,
  options: { readonly github: boolean },
): DemoStep[] {
  const repo = (workflowExample.repository as { full_name: string }).full_name;
  const branch = String((workflowExample.workflow_run as { head_branch: unknown }).head_branch);
  const ciTitle = `CI: workflow "${DEMO_WORKFLOW}" of ${repo} fails on ${branch}`;
  const ciExpect =
    'validator re-runs it (rerun-demo-ci, tier 2, allowlisted: runs by itself); it passes: flaky';
  const asEvent = failedJobEvent(ctx, workflowExample);
  const ci: DemoStep = options.github
    ? {
        title: ciTitle,
        expect: ciExpect,
        request: githubWorkflowFailure(ctx, workflowExample),
        fallback: {
          request: asEvent,
          note: 'the bot has GitHub webhooks off (503): sent as a generic failed_job to /hooks/events instead',
        },
      }
    : {
        title: ciTitle,
        expect: ciExpect,
        request: asEvent,
        note: 'GITHUB_WEBHOOK_SECRET is not set here, so the failure goes to /hooks/events as a generic failed_job',
      };
  return [
    {
      title: 'demo-api health check fails 3 times in a row',
      expect:
        'sentinel triages it, collects evidence (tier 0, runs) and asks to restart demo-api (tier 3: approval)',
      request: healthEvent(ctx),
    },
    ci,
    {
      title: `demo-api logs the same error ${ERROR_LINES} times (different order and request ids)`,
      expect: "the lines become one repeated error signature, which joins demo-api's open incident",
      request: repeatedErrors(ctx),
    },
    {
      title: 'Alertmanager: HighErrorRate firing for demo-api (critical)',
      expect: "it joins demo-api's incident too and raises it to critical: one incident, not three pages",
      request: alertmanagerAlert(ctx),
    },
    {
      title: `OSV advisory ${ADVISORY_ID}: command injection in lodash < 4.17.21`,
      expect: 'guardian posts it with the affected inventory (lodash@4.17.20) and the fixed version',
      request: osvAdvisory(ctx),
    },
  ];
}
