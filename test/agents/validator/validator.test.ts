/**
 * validator: a failed job is re-run through the catalog to tell flaky from broken, and the
 * follow-up says which, with the evidence (exit code, duration, output tail, its digest); a re-run
 * that was not executed is reported once with the decision's reason; a catalog without a fitting
 * action gets a hint. Failed-job signals come from real GitHub payloads (@octokit/webhooks-examples)
 * through the real normaliser, and from the generic events schema.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { agentSignalOf } from '../../../src/agents/runtime/dispatch.js';
import type { AgentProposal, AgentSignal, ProposalOutcome } from '../../../src/agents/runtime/types.js';
import { validator } from '../../../src/agents/validator/agent.js';
import { eventToSignal } from '../../../src/signals/normalise/events.js';
import { normaliseGithub } from '../../../src/signals/normalise/github.js';
import type { IncidentChange, SignalInput } from '../../../src/signals/types.js';
import { type FakeContext, fakeContext, SUGGESTED } from '../../fakes/agent-context.js';
import { type ActionInput, makePolicy } from '../../fixtures/policy.js';

const NOW = Date.parse('2026-12-01T10:00:00Z');
type Example = { name: string; examples: Record<string, unknown>[] };
const require = createRequire(import.meta.url);
const GITHUB_EXAMPLES = require('@octokit/webhooks-examples') as Example[];

function example(event: string, pick: (e: Record<string, unknown>) => boolean): Record<string, unknown> {
  const found = GITHUB_EXAMPLES.find((w) => w.name === event)?.examples.find(pick);
  if (!found) throw new Error(`no ${event} example matches`);
  return structuredClone(found);
}

function asAgentSignal(input: SignalInput, change: IncidentChange['change'] = 'opened'): AgentSignal {
  return agentSignalOf({
    signalId: 'sig-job',
    input,
    receivedAt: 0,
    incident: {
      id: 'inc-4',
      shortId: 'i4',
      change,
      fingerprint: input.fingerprint,
      title: input.title,
      severity: input.severity,
      service: input.service ?? null,
      signalCount: 1,
    },
  });
}

/** The real workflow_run example (the examples hold only green runs), red. */
function failedWorkflow(): { signal: SignalInput; runId: number; repo: string; name: string } {
  const run = example(
    'workflow_run',
    (e) => (e.workflow_run as { conclusion: string }).conclusion === 'success',
  );
  const wr = run.workflow_run as { conclusion: string; id: number };
  wr.conclusion = 'failure';
  const out = normaliseGithub('workflow_run', 'd-1', run, NOW);
  if (!out.ok || out.value.signal === null) throw new Error('the workflow_run example no longer normalises');
  return {
    signal: out.value.signal,
    runId: wr.id,
    repo: (run.repository as { full_name: string }).full_name,
    // The normaliser names a workflow without a name `workflow <id>`.
    name: (out.value.signal.payload as { name: string }).name,
  };
}

const RERUN_WORKFLOW: ActionInput = {
  id: 'rerun-workflow',
  agent: 'validator',
  description: 'Re-run the failed jobs of a workflow run and wait for the result',
  tier: 2,
  class: 'test-run',
  target: 'ci',
  params: {
    repository: { pattern: '[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+', maxLength: 200 },
    runId: { type: 'integer', min: 1 },
  },
  executor: { command: ['rerun-and-wait', '{repository}', '{runId}'] },
};

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const OUTPUT = Array.from({ length: 30 }, (_, i) => `line ${i + 1}`).join('\n');

function ran(status: 'succeeded' | 'failed', exitCode: number): (p: AgentProposal) => ProposalOutcome {
  return () => ({
    decision: { verdict: 'execute', code: 'allowlisted', tier: 2, phase: 3, reason: 'phase 3: allowlisted' },
    run: {
      runId: 'run_9',
      status,
      outcome: `exit ${exitCode}`,
      exitCode,
      wallMs: 84_250,
      outputTail: `${OUTPUT}\n`,
    },
  });
}

function fields(ctx: FakeContext, i = 0): Record<string, string> {
  return Object.fromEntries((ctx.posts[i]?.fields ?? []).map((f) => [f.label, f.value]));
}

const policy = makePolicy({ extraActions: [RERUN_WORKFLOW] });

describe('validator on a failed job', () => {
  it('re-runs a failed workflow with the catalog action its facts fill; passing means flaky', async () => {
    const w = failedWorkflow();
    const ctx = fakeContext({ agent: 'validator', policy, onPropose: ran('succeeded', 0) });
    await validator.onSignal?.(asAgentSignal(w.signal), ctx);
    expect(ctx.proposals).toEqual([
      {
        actionId: 'rerun-workflow',
        params: { repository: w.repo, runId: w.runId },
        rationale: `${w.name} failed in CI: re-run to tell flaky from broken`,
      },
    ]);
    expect(ctx.posts).toHaveLength(1);
    expect(ctx.posts[0]).toMatchObject({
      kind: 'notice',
      severity: 'info',
      title: `flaky: ${w.name} failed in CI but passed on re-run`,
    });
    const shown = Array.from({ length: 20 }, (_, i) => `line ${i + 11}`).join('\n');
    expect(fields(ctx)).toMatchObject({
      Incident: 'i4',
      Job: w.name,
      Conclusion: 'failure',
      Repository: w.repo,
      'Exit code': '0',
      Duration: '84.3 s',
      'Output tail sha256': sha256(shown),
    });
    expect(ctx.posts[0]?.body).toContain(shown);
    expect(ctx.posts[0]?.body).not.toContain('line 10\n');
    expect(ctx.posts[0]?.body).toContain('Follow-up to incident i4.');
    expect(ctx.evidenceRefs).toContain('incident:i4');
  });

  it('a re-run that fails again is broken: a warning with exit code, output tail and digest', async () => {
    const w = failedWorkflow();
    const ctx = fakeContext({ agent: 'validator', policy, onPropose: ran('failed', 1) });
    await validator.onSignal?.(asAgentSignal(w.signal), ctx);
    expect(ctx.posts[0]).toMatchObject({
      kind: 'alert',
      severity: 'warning',
      title: `broken: ${w.name} fails again`,
    });
    const shown = Array.from({ length: 20 }, (_, i) => `line ${i + 11}`).join('\n');
    expect(fields(ctx)).toMatchObject({ 'Exit code': '1', 'Output tail sha256': sha256(shown) });
    expect(ctx.posts[0]?.body).toContain(`Output, last 20 lines (sha256 ${sha256(shown)}):\n${shown}`);
  });

  it('when the re-run is not executed, says once per incident what it would do and why not', async () => {
    const w = failedWorkflow();
    const ctx = fakeContext({ agent: 'validator', policy });
    await validator.onSignal?.(asAgentSignal(w.signal), ctx);
    expect(ctx.posts).toHaveLength(1);
    expect(ctx.posts[0]?.title).toBe(`${w.name} failed: re-run with rerun-workflow suggested`);
    expect(ctx.posts[0]?.body).toContain(
      `validator would re-run it with rerun-workflow (repository=${w.repo}, runId=${w.runId})`,
    );
    expect(ctx.posts[0]?.body).toContain(`Not executed: ${SUGGESTED.reason}.`);

    // The same red workflow fails again (same incident): nothing new to say.
    const later = fakeContext({ agent: 'validator', policy, rootDataDir: ctx.rootDataDir });
    await validator.onSignal?.(asAgentSignal(w.signal, 'updated'), later);
    expect(later.posts).toEqual([]);

    // It was resolved and fails again: news.
    const reopened = fakeContext({ agent: 'validator', policy, rootDataDir: ctx.rootDataDir });
    await validator.onSignal?.(asAgentSignal(w.signal, 'reopened'), reopened);
    expect(reopened.posts).toHaveLength(1);
  });

  it('names the approval it waits for', async () => {
    const w = failedWorkflow();
    const ctx = fakeContext({
      agent: 'validator',
      policy,
      onPropose: () => ({
        decision: {
          verdict: 'ask',
          code: 'needs-approval',
          tier: 3,
          phase: 3,
          reason: 'tier 3 needs an approval',
        },
        approval: 'a12',
      }),
    });
    await validator.onSignal?.(asAgentSignal(w.signal), ctx);
    expect(ctx.posts[0]?.title).toBe(
      `${w.name} failed: re-run with rerun-workflow waiting for approval (approval a12)`,
    );
  });

  it('without a fitting test-run action, says the job failed and how to add one', async () => {
    const w = failedWorkflow();
    // The default catalog: run-tests (no params: a regression check, not a re-run of this job),
    // rerun-ci-job (needs a jobId, which a workflow run does not have), override-release (never by rules).
    const ctx = fakeContext({ agent: 'validator', policy: makePolicy() });
    await validator.onSignal?.(asAgentSignal(w.signal), ctx);
    expect(ctx.proposals).toEqual([]);
    expect(ctx.posts).toHaveLength(1);
    expect(ctx.posts[0]?.title).toBe(`${w.name} failed: no re-run action in the catalog`);
    expect(ctx.posts[0]?.body).toContain('Hint: add a test-run action for validator');
    expect(ctx.posts[0]?.body).toContain(`repository=${w.repo}`);
    expect(ctx.posts[0]?.body).toContain(`runId=${w.runId}`);
    const again = fakeContext({ agent: 'validator', policy: makePolicy(), rootDataDir: ctx.rootDataDir });
    await validator.onSignal?.(asAgentSignal(w.signal, 'updated'), again);
    expect(again.posts).toEqual([]);
  });

  it('re-runs a failed check run by its job id', async () => {
    const failed = example(
      'check_run',
      (e) => e.action === 'completed' && (e.check_run as { conclusion: string }).conclusion === 'failure',
    );
    const out = normaliseGithub('check_run', 'd-2', failed, NOW);
    if (!out.ok || out.value.signal === null) throw new Error('the check_run example no longer normalises');
    const ctx = fakeContext({ agent: 'validator', policy: makePolicy() });
    await validator.onSignal?.(asAgentSignal(out.value.signal), ctx);
    expect(ctx.proposals.map((p) => [p.actionId, p.params])).toEqual([
      ['rerun-ci-job', { jobId: (failed.check_run as { id: number }).id }],
    ]);
  });

  it('reads a generic failed_job event; an unsafe log link is left out and its text stays data', async () => {
    const input = eventToSignal(
      {
        id: 'backup-1',
        kind: 'failed_job',
        source: 'cron:backup',
        title: 'nightly backup failed (exit 2)',
        service: 'api',
        severity: 'critical',
        details: { job: 'nightly-backup @everyone', exitCode: 2, log: 'javascript:alert(1)' },
      },
      NOW,
    );
    const smoke: ActionInput = {
      id: 'run-smoke',
      agent: 'validator',
      description: 'Smoke tests against a system',
      tier: 2,
      class: 'test-run',
      target: '{system}',
      params: { system: { enum: ['web', 'api'] } },
      executor: { command: ['smoke', '{system}'] },
    };
    const ctx = fakeContext({
      agent: 'validator',
      policy: makePolicy({ extraActions: [smoke] }),
      onPropose: ran('succeeded', 0),
    });
    await validator.onSignal?.(asAgentSignal(input), ctx);
    expect(ctx.proposals.map((p) => [p.actionId, p.params])).toEqual([['run-smoke', { system: 'api' }]]);
    expect(ctx.posts[0]?.title).toBe('flaky: nightly-backup @everyone failed but passed on re-run');
    expect(ctx.posts[0]?.links).toEqual([]);
    expect(fields(ctx)['Exit code in the report']).toBe('2');
  });

  it('posts nothing when it is killed while the re-run is decided', async () => {
    const w = failedWorkflow();
    const kill = new AbortController();
    const ctx = fakeContext({
      agent: 'validator',
      policy,
      signal: kill.signal,
      onPropose: (p) => {
        kill.abort();
        return ran('failed', 1)(p);
      },
    });
    await validator.onSignal?.(asAgentSignal(w.signal), ctx);
    expect(ctx.proposals).toHaveLength(1);
    expect(ctx.posts).toEqual([]);
  });

  it('ignores the green run that resolves the incident', async () => {
    const w = failedWorkflow();
    const ctx = fakeContext({ agent: 'validator', policy, onPropose: ran('succeeded', 0) });
    await validator.onSignal?.({ ...asAgentSignal(w.signal), resolves: true }, ctx);
    expect(ctx.proposals).toEqual([]);
    expect(ctx.posts).toEqual([]);
  });
});
