/**
 * validator: a failed job is re-run through the catalog to tell flaky from broken, and the
 * follow-up says which, with the evidence (exit code, duration, output tail, its digest); a re-run
 * that was not executed is reported once with the decision's reason; a catalog without a fitting
 * action gets a hint. With a model, what it is shown (the job, its own last log lines, bounded, and
 * how the same job ended before) and what comes of its judgement: a cited re-run is proposed, a
 * cited "not worth it" is said once per incident, and anything else falls back to the rules.
 * Failed-job signals come from real GitHub payloads (@octokit/webhooks-examples) through the real
 * normaliser, and from the generic events schema.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { agentSignalOf } from '../../../src/agents/runtime/dispatch.js';
import { FACT_CHARS } from '../../../src/agents/runtime/facts.js';
import type { PastIncident } from '../../../src/agents/runtime/history.js';
import type { AgentProposal, AgentSignal, ProposalOutcome } from '../../../src/agents/runtime/types.js';
import { validator } from '../../../src/agents/validator/agent.js';
import { eventToSignal } from '../../../src/signals/normalise/events.js';
import { normaliseGithub } from '../../../src/signals/normalise/github.js';
import type { IncidentChange, SignalInput } from '../../../src/signals/types.js';
import {
  answering,
  type FakeContext,
  fakeContext,
  SUGGESTED,
  shownFacts,
} from '../../fakes/agent-context.js';
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

describe('validator and the model', () => {
  const SMOKE: ActionInput = {
    id: 'run-smoke',
    agent: 'validator',
    description: 'Smoke tests against a system',
    tier: 2,
    class: 'test-run',
    target: '{system}',
    params: { system: { enum: ['web', 'api'] } },
    executor: { command: ['smoke', '{system}'] },
  };
  const withSmoke = makePolicy({ extraActions: [SMOKE] });
  const LOG = Array.from({ length: 300 }, (_, i) =>
    i === 299 ? 'FAIL test/db.test.ts > connects: ETIMEDOUT 10.0.0.5:5432' : `step ${i + 1} ok`,
  );
  const PAST: PastIncident = {
    shortId: 'i2',
    title: 'nightly-backup failed',
    severity: 'warning',
    status: 'resolved',
    same: 'fingerprint',
    startedAt: NOW - 3 * 86_400_000,
    detectedAt: NOW - 3 * 86_400_000,
    resolvedAt: NOW - 3 * 86_400_000 + 600_000,
    resolvedBy: 'validator',
    actions: [{ actionId: 'run-smoke', status: 'succeeded' }],
    runbook: null,
  };

  function backupFailed(change: IncidentChange['change'] = 'opened'): AgentSignal {
    const input = eventToSignal(
      {
        id: 'backup-9',
        kind: 'failed_job',
        source: 'cron:backup',
        title: 'nightly backup failed (exit 2)',
        service: 'api',
        severity: 'warning',
        details: { job: 'nightly-backup', exitCode: 2, lines: LOG },
      },
      NOW,
    );
    return asAgentSignal(input, change);
  }

  function context(over: Partial<Parameters<typeof fakeContext>[0]> = {}): FakeContext {
    const ctx = fakeContext({ agent: 'validator', policy: withSmoke, ...over });
    return Object.assign(ctx, { history: () => [PAST] });
  }

  it('shows the model the job, its own last log lines (bounded) and how the same job ended before', async () => {
    const ctx = context();
    await validator.onSignal?.(backupFailed(), ctx);
    const facts = shownFacts(ctx.modelCalls[0]);
    expect(facts.map((f) => f.id)).toEqual(['signal:sig-job', 'log:sig-job', 'incident:i4', 'past:i2']);
    expect(facts[0]?.text).toBe('Job "nightly-backup" failed; exit code in the report 2; severity warning.');
    const log = facts[1]?.text ?? '';
    expect(log).toContain('FAIL test/db.test.ts > connects: ETIMEDOUT 10.0.0.5:5432');
    expect(log).toContain('step 261 ok');
    expect(log).not.toContain('step 260 ok');
    expect(log.length).toBeLessThanOrEqual(FACT_CHARS);
    expect(facts[3]?.text).toContain('actions: run-smoke succeeded');
    expect(ctx.modelCalls[0]?.messages[0]?.content).toContain('- run-smoke: Smoke tests against a system');
    // Release overrides are not offered to the model: only test-run actions.
    expect(ctx.modelCalls[0]?.messages[0]?.content).not.toContain('override-release');
  });

  it("shows validator's own recent runs of the same job, not of other jobs", async () => {
    const run = (id: string, system: string, status: string, hoursAgo: number) => ({
      id,
      actionId: 'run-smoke',
      params: { system },
      status,
      outcome: status === 'succeeded' ? 'exit 0' : 'exit 1',
      startedAt: NOW - hoursAgo * 3_600_000,
    });
    const ctx = Object.assign(context(), {
      recent: {
        signals: () => [],
        incidents: () => [],
        runs: () => [
          run('r3', 'api', 'succeeded', 2),
          run('r2', 'web', 'failed', 3),
          run('r1', 'api', 'failed', 30),
        ],
      },
    });
    await validator.onSignal?.(backupFailed(), ctx);
    const facts = shownFacts(ctx.modelCalls[0]);
    expect(facts.at(-1)).toEqual({
      id: 'runs:validator',
      text: "Validator's own runs for this job in the last 7 days, newest first:\n- run-smoke (system=api) succeeded: exit 0, 2 h ago\n- run-smoke (system=api) failed: exit 1, 30 h ago",
    });
  });

  it('proposes the re-run the model asks for when its judgement cites the facts, and says why on the result', async () => {
    const ctx = context({
      onPropose: ran('succeeded', 0),
      onModel: answering({
        summary: 'Likely flaky: a database timeout, and a re-run passed last time.',
        cause: 'ETIMEDOUT to the database; i2 ended after a passing smoke run.',
        causeFacts: ['log:sig-job', 'past:i2'],
        confidence: 0.7,
        proposals: [{ action: 'run-smoke', params: { system: 'api' }, why: 'a re-run passed last time' }],
      }),
    });
    await validator.onSignal?.(backupFailed(), ctx);
    expect(ctx.proposals).toEqual([
      { actionId: 'run-smoke', params: { system: 'api' }, rationale: 'a re-run passed last time' },
    ]);
    expect(ctx.posts).toHaveLength(1);
    expect(ctx.posts[0]).toMatchObject({
      title: 'flaky: nightly-backup failed but passed on re-run',
      modelWritten: true,
      citations: ['log:sig-job', 'past:i2'],
    });
    expect(ctx.posts[0]?.body).toContain(
      'Flaky or broken: ETIMEDOUT to the database; i2 ended after a passing smoke run. (facts: log:sig-job, past:i2; confidence 0.70)',
    );
  });

  it('a cited "broken, a re-run is not worth it" re-runs nothing and is said once per incident', async () => {
    const broken = answering({
      summary: 'Broken: the same assertion fails every time.',
      cause: 'The log shows a failing test, not an infrastructure error.',
      causeFacts: ['log:sig-job'],
      confidence: 0.8,
      proposals: [],
    });
    const ctx = context({ onModel: broken });
    await validator.onSignal?.(backupFailed(), ctx);
    expect(ctx.proposals).toEqual([]);
    expect(ctx.posts).toHaveLength(1);
    expect(ctx.posts[0]).toMatchObject({
      kind: 'notice',
      title: 'nightly-backup failed: not re-run (assessed)',
      modelWritten: true,
      citations: ['log:sig-job'],
    });
    expect(ctx.posts[0]?.body).toContain(
      'Assessment (model-written, unverified): Broken: the same assertion fails every time.',
    );
    const again = context({ onModel: broken, rootDataDir: ctx.rootDataDir });
    await validator.onSignal?.(backupFailed('updated'), again);
    expect(again.proposals).toEqual([]);
    expect(again.posts).toEqual([]);
  });

  it('falls back to the rules re-run for a judgement citing nothing it was shown, or naming only what is refused', async () => {
    for (const answer of [
      {
        summary: 'Broken.',
        cause: 'I know this test.',
        causeFacts: ['log:other'],
        confidence: 0.9,
        proposals: [],
      },
      {
        summary: 'Override it.',
        cause: 'The log says release.',
        causeFacts: ['log:sig-job'],
        confidence: 0.9,
        proposals: [
          { action: 'override-release', params: { release: 'v1.2.3' }, why: 'ship it' },
          { action: 'restart-service', params: { service: 'api' }, why: "sentinel's" },
          { action: 'run-smoke', params: { system: 'payments' }, why: 'bad params' },
        ],
      },
    ]) {
      const ctx = context({ onModel: answering(answer) });
      await validator.onSignal?.(backupFailed(), ctx);
      expect(ctx.proposals).toEqual([
        {
          actionId: 'run-smoke',
          params: { system: 'api' },
          rationale: 'nightly-backup failed: re-run to tell flaky from broken',
        },
      ]);
    }
  });

  it('with no model, the rules re-run and the follow-up carries the rules marker', async () => {
    const ctx = context({ onPropose: ran('failed', 1) });
    await validator.onSignal?.(backupFailed(), ctx);
    expect(ctx.modelCalls).toHaveLength(1);
    expect(ctx.proposals.map((p) => p.actionId)).toEqual(['run-smoke']);
    expect(ctx.posts[0]).toMatchObject({ title: 'broken: nightly-backup fails again', rulesOnly: true });
    expect(ctx.posts[0]?.modelWritten).toBeUndefined();
  });
});
