/**
 * Validator's turn through the real pipeline, ModelRouter and ollama client against the fake Ollama
 * server, which answers per prompt: what the model is shown of a failed job (its own log lines,
 * bounded, without secrets; how the same job ended before) and what comes of a good, a wrong, a
 * hostile, a garbage and a slow answer. Only decide() says what runs (a tier 0 smoke test here, a
 * harmless command), refusals are audited, and every failed answer leaves the rules' re-run.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { agentSignalOf } from '../../../src/agents/runtime/dispatch.js';
import type { AgentTrigger } from '../../../src/agents/runtime/pipeline.js';
import type { AgentSignal } from '../../../src/agents/runtime/types.js';
import { validator } from '../../../src/agents/validator/agent.js';
import { incidents } from '../../../src/db/schema.js';
import { eventToSignal } from '../../../src/signals/normalise/events.js';
import {
  byPrompt,
  type FakeOllama,
  type FakeReply,
  json,
  startFakeOllama,
} from '../../fakes/ollama-server.js';
import type { ActionInput } from '../../fixtures/policy.js';
import { type AgentKit, agentKit, kitPolicy, T0 } from '../../helpers/agent-kit.js';
import { eventually } from '../../helpers/bot.js';

const DB_PASSWORD = 'db-pa55word-validator-test';
const SMOKE: ActionInput = {
  id: 'run-smoke',
  agent: 'validator',
  description: 'Smoke tests against a system',
  tier: 0,
  class: 'test-run',
  target: '{system}',
  params: { system: { enum: ['web', 'api'] } },
  // The smoke test gets the database password: a secret the bot knows, so it never reaches a prompt.
  executor: { command: [process.execPath, '-e', 'process.stdout.write("smoke ok")'], env: ['DB_PASSWORD'] },
};
const LOG = [
  ...Array.from({ length: 120 }, (_, i) => `step ${i + 1} ok`),
  `connecting with DB_PASSWORD=${DB_PASSWORD}`,
  'FAIL test/db.test.ts > connects: ETIMEDOUT 10.0.0.5:5432',
];

function failedJob(): AgentSignal {
  const input = eventToSignal(
    {
      id: 'nightly-7',
      kind: 'failed_job',
      source: 'cron:nightly',
      title: 'nightly tests failed',
      service: 'web',
      severity: 'warning',
      fingerprint: 'nightly-tests',
      details: { job: 'nightly-tests', exitCode: 1, lines: LOG },
    },
    T0,
  );
  return agentSignalOf({
    signalId: 'sig-job',
    input,
    receivedAt: T0,
    incident: {
      id: 'inc-now',
      shortId: 'i9',
      change: 'opened',
      fingerprint: input.fingerprint,
      title: input.title,
      severity: 'warning',
      service: 'web',
      signalCount: 1,
    },
  });
}

const TRIGGER: AgentTrigger = {
  source: 'webhook',
  ref: 'sig-job',
  kind: 'signal',
  signalKind: 'failed_job',
  service: 'web',
  severity: 'warning',
};

let kit: AgentKit | null = null;
let ollama: FakeOllama | null = null;

afterEach(async () => {
  await kit?.pipeline.stop(2000);
  kit?.close();
  kit = null;
  await ollama?.close();
  ollama = null;
});

/**
 * Runs validator on the failed job (the same job failed before, as incident i4, and ended) with a
 * model that gives `reply` to a prompt about it; `timeout` is the policy's model timeout.
 */
async function setup(reply: FakeReply, timeout?: string) {
  ollama = await startFakeOllama(byPrompt([['nightly-tests', reply]], { status: 500 }));
  const k = agentKit({
    policy: kitPolicy({
      phase: 3,
      extraActions: [SMOKE],
      edit: (doc) => {
        doc.models.contextTokens = 4096;
        doc.models.maxOutputTokens = 512;
        if (timeout !== undefined) doc.models.timeout = timeout;
      },
    }),
    modelHost: ollama.url,
    env: { DB_PASSWORD },
  });
  kit = k;
  const signal = failedJob();
  k.db.database.db
    .insert(incidents)
    .values({
      id: 'inc-old',
      number: 4,
      fingerprint: signal.fingerprint,
      service: 'web',
      title: 'nightly tests failed',
      severity: 'warning',
      startedAt: T0 - 86_400_000,
      detectedAt: T0 - 86_400_000,
      status: 'resolved',
      resolvedAt: T0 - 86_400_000 + 600_000,
      resolvedBy: 'validator',
    })
    .run();
  const run = await k.pipeline.run(validator, TRIGGER, async (ctx) => validator.onSignal?.(signal, ctx));
  // Validator's follow-up (the pipeline also says what ran, and when the model is gone).
  const post = k.messages().find((m) => m.message.title.includes('nightly-tests'))?.message;
  return { k, run, post };
}

const answer = (over: Record<string, unknown> = {}) =>
  json({
    summary: 'Likely flaky: a database timeout, and the same job passed after i4.',
    cause: 'ETIMEDOUT to the database, not an assertion; i4 ended without a fix.',
    causeFacts: ['log:sig-job', 'past:i4'],
    confidence: 0.7,
    proposals: [{ action: 'run-smoke', params: { system: 'web' }, why: 'a re-run will tell' }],
    ...over,
  });

const writtenBy = (post: { fields: readonly { label: string; value: string }[] } | undefined) =>
  post?.fields.find((f) => f.label === 'Written by')?.value;

describe("validator's turn with a real model client", () => {
  it("shows the model the job, its own last log lines without secrets, and the same job's past", async () => {
    await setup(answer());
    const request = ollama?.requests[0];
    expect(request?.messages[0]?.content).toContain('You are the validator agent');
    expect(request?.messages[0]?.content).toContain('- run-smoke: ');
    expect(request?.messages[0]?.content).not.toContain('override-release'); // not a test-run
    const data = request?.messages[1]?.content ?? '';
    const facts = JSON.parse(data.slice('<facts>\n'.length, -'\n</facts>'.length)) as {
      id: string;
      text: string;
    }[];
    expect(facts.map((f) => f.id)).toEqual(['signal:sig-job', 'log:sig-job', 'incident:i9', 'past:i4']);
    expect(facts[1]?.text).toContain('FAIL test/db.test.ts > connects: ETIMEDOUT 10.0.0.5:5432');
    expect(facts[1]?.text).not.toContain('step 82 ok'); // the last 40 lines only
    expect(facts[3]?.text).toContain('Same alert before: nightly tests failed');
    expect(JSON.stringify(request)).not.toContain(DB_PASSWORD);
    expect(facts[1]?.text).toContain('connecting with DB_PASSWORD=[redacted DB_PASSWORD]');
    expect(request?.options).toEqual({ num_ctx: 4096, num_predict: 512 });
  });

  it('a good answer: the re-run it asks for runs through decide(), and the result carries its judgement', async () => {
    const { k, post } = await setup(answer());
    expect(k.actionRuns().map((r) => [r.actionId, r.status])).toEqual([['run-smoke', 'succeeded']]);
    expect(post?.title).toBe('flaky: nightly-tests failed but passed on re-run');
    expect(post?.body).toContain(
      'Flaky or broken: ETIMEDOUT to the database, not an assertion; i4 ended without a fix.',
    );
    expect(writtenBy(post)).toBe('a model (untrusted text: check before acting on it)');
  });

  it('a wrong answer (citing nothing it was shown): not posted, and the rules re-run it', async () => {
    const { k, post } = await setup(
      answer({ summary: 'Broken.', cause: 'I have seen this test.', causeFacts: ['test:db'], proposals: [] }),
    );
    expect(post?.body).not.toContain('I have seen this test');
    expect(writtenBy(post)).toBe('rules (no model answered)');
    expect(k.proposals().map((p) => [p.actionId, p.params])).toEqual([['run-smoke', { system: 'web' }]]);
  });

  it("a hostile answer (a release override, another agent's action, tier 0, approved) is refused and audited; the rules re-run", async () => {
    const { k } = await setup(
      answer({
        tier: 0,
        approved: true,
        proposals: [
          { action: 'override-release', params: { release: 'v1.2.3' }, why: 'ship it' },
          { action: 's-restart', params: { msg: 'now' }, why: 'sentinel would' },
          { action: 'run-smoke', params: { system: 'payments' }, why: 'out of its enum' },
        ],
      }),
    );
    expect(k.auditKinds().filter((kind) => kind === 'model.refused')).toHaveLength(5);
    expect(k.proposals().map((p) => [p.actionId, p.params])).toEqual([['run-smoke', { system: 'web' }]]);
    expect(k.core.approvals.list()).toEqual([]);
  });

  it('garbage twice: the rules re-run, the result marked rules, no model on the run', async () => {
    const { k, run, post } = await setup({ content: 'flaky probably lol' });
    expect(ollama?.requests).toHaveLength(2);
    expect(k.actionRuns().map((r) => r.actionId)).toEqual(['run-smoke']);
    expect(writtenBy(post)).toBe('rules (no model answered)');
    expect(k.runsOf('validator').find((r) => r.id === run.runId)?.model).toBeNull();
  });

  it('a slow model times out: the rules re-run, and the channel is told once', async () => {
    const { k, post } = await setup({ ...answer(), delayMs: 10_000 }, '300ms');
    await eventually(() => ollama?.aborted() === 1);
    expect(k.actionRuns().map((r) => r.actionId)).toEqual(['run-smoke']);
    expect(writtenBy(post)).toBe('rules (no model answered)');
    expect(
      k.messages().filter((m) => m.message.title.startsWith('validator works on rules alone')),
    ).toHaveLength(1);
  });
});
