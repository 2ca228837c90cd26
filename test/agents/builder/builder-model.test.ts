/**
 * Builder's deep sweep through the real pipeline, router and ollama client against the fake
 * Ollama: what the model is shown (its own maintenance actions only, less the policy's checks; its
 * candidates, its recent runs, CI failures, job events and incidents of in-scope services as
 * bounded JSON facts, no secrets), and what comes of its answer: a plan backed by facts is proposed
 * through decide() (which runs what is allowlisted) and posted once, marked model-written; a wrong,
 * hostile or garbage answer changes nothing the policy forbids and the rules' maintenance is
 * proposed instead.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { builder } from '../../../src/agents/builder/agent.js';
import { TASK } from '../../../src/agents/builder/assess.js';
import type { AgentTrigger } from '../../../src/agents/runtime/pipeline.js';
import type { ChatMessage } from '../../../src/chat/message.js';
import { runs } from '../../../src/db/schema.js';
import {
  byPrompt,
  type FakeOllama,
  type FakeReply,
  json,
  startFakeOllama,
} from '../../fakes/ollama-server.js';
import type { ActionInput } from '../../fixtures/policy.js';
import { type AgentKit, agentKit, kitPolicy, T0 } from '../../helpers/agent-kit.js';
import { HOUR, IncidentFactory } from '../../helpers/learning.js';

const NODE = process.execPath;
const GITHUB_PAT = `ghp_${'Q1w2E3r4'.repeat(5)}`;

function maintenance(id: string, target: string, params: ActionInput['params'] = {}): ActionInput {
  return {
    id,
    agent: 'builder',
    description: `harmless ${id}`,
    tier: 2,
    class: 'maintenance',
    target,
    params,
    executor: { command: [NODE, '-e', `process.stdout.write("did ${id}")`] },
  };
}

let kit: AgentKit | null = null;
let ollama: FakeOllama | null = null;

afterEach(async () => {
  await kit?.pipeline.stop(2000);
  kit?.close();
  kit = null;
  await ollama?.close();
  ollama = null;
});

const TRIGGER: AgentTrigger = { source: 'cron', ref: 'sweep_1', kind: 'deep' };

/**
 * A kit whose builder has: b-prune (no input: the rules' pick), b-vacuum (a service to choose:
 * only the model can), b-renew (run by the policy's checks), and b-upgrade (architecture change);
 * and a database with a CI failure on web, a deploy event, an incident on web, one on the
 * out-of-scope payments, and b-prune's failed run yesterday.
 */
async function sweep(reply: FakeReply) {
  ollama = await startFakeOllama(byPrompt([[TASK.slice(0, 50), reply]], { content: 'not for this test' }));
  const k = agentKit({
    policy: kitPolicy({
      phase: 3,
      extraActions: [
        maintenance('b-prune', 'ci'),
        maintenance('b-vacuum', '{service}', { service: { enum: ['web', 'api'] } }),
        maintenance('b-renew', 'web'),
        {
          ...maintenance('b-upgrade', 'ci'),
          class: 'architecture-change',
          tier: 3,
          description: 'upgrade the runtime',
        },
      ],
      agents: { builder: { allowlist: ['b-prune', 'b-vacuum'] } },
      edit: (doc) => {
        // Only the builder actions above (the fixture's own need input the model is not asked about here).
        doc.actions = (doc.actions ?? []).filter((a) => a.agent !== 'builder' || a.id.startsWith('b-'));
        doc.checks = [{ action: 'b-renew', params: {}, sweep: 'deep' }];
        doc.models.maxOutputTokens = 512;
      },
    }),
    modelHost: ollama.url,
  });
  kit = k;
  const f = new IncidentFactory(k.db.database);
  const ci = f.occur(
    {
      kind: 'failed_job',
      fingerprint: 'gh:web:ci',
      service: 'web',
      source: 'github',
      title: `CI web: npm ci failed: ENOSPC no space left on device (token ${GITHUB_PAT})`,
    },
    T0 - 3 * HOUR,
    null,
  );
  f.occur(
    { kind: 'event', fingerprint: 'deploy:web', service: 'web', title: 'deploy web v2.3.1' },
    T0 - 2 * HOUR,
  );
  f.occur(
    { kind: 'alert', fingerprint: 'am:pay', service: 'payments', title: 'payments disk full' },
    T0 - HOUR,
  );
  k.db.database.db
    .insert(runs)
    .values({
      id: 'run_prune_1',
      agent: 'builder',
      triggerSource: 'cron',
      actionId: 'b-prune',
      actionClass: 'maintenance',
      tier: 2,
      verdict: 'execute',
      outcome: 'failed (exit 1): disk full while pruning',
      startedAt: T0 - 20 * HOUR,
      finishedAt: T0 - 20 * HOUR + 1000,
      status: 'failed',
    })
    .run();
  const run = await k.pipeline.run(builder, TRIGGER, async (ctx) => builder.deep?.(ctx));
  const record = k.runsOf('builder').find((r) => r.id === run.runId);
  const made = k.proposals().filter((p) => p.agent === 'builder');
  const posts = k.messages().map((m) => m.message as ChatMessage & { title?: string; body?: string });
  return { k, run, record, made, posts, ci };
}

function shownFacts(): { id: string; text: string }[] {
  const data = ollama?.requests[0]?.messages[1]?.content ?? '';
  expect(data).toMatch(/^<facts>\n\[.*\]\n<\/facts>$/s);
  return JSON.parse(data.slice('<facts>\n'.length, -'\n</facts>'.length));
}

const plan = (over: Record<string, unknown> = {}) =>
  json({
    summary: 'web ran out of disk in CI and pruning failed yesterday.',
    cause: 'CI on web failed for disk space, and the last prune failed for disk space too',
    causeFacts: ['run:run_prune_1', 'incident:i1'],
    confidence: 0.75,
    proposals: [
      {
        action: 'b-vacuum',
        params: { service: 'web' },
        why: 'Vacuum the web database to free disk before the next CI run.',
      },
    ],
    ...over,
  });

describe("builder's deep sweep with a real model client", () => {
  it('shows the model its own maintenance only and the facts of what happened lately, without secrets', async () => {
    await sweep(plan());
    const request = ollama?.requests[0];
    const system = request?.messages[0]?.content ?? '';
    expect(system).toContain('You are the builder agent');
    expect(system).toContain('- b-prune: harmless b-prune (no params)');
    expect(system).toContain('- b-vacuum: harmless b-vacuum (params: service (one of: web, api))');
    expect(system).not.toContain('b-renew'); // the policy's checks run it
    expect(system).not.toContain('b-upgrade'); // not maintenance
    expect(system).not.toContain('s-echo'); // sentinel's
    const facts = shownFacts();
    const ids = facts.map((x) => x.id);
    expect(ids.slice(0, 3)).toEqual(['maintenance:b-prune', 'maintenance:b-vacuum', 'run:run_prune_1']);
    expect(facts[0]?.text).toBe(
      'Maintenance b-prune: harmless b-prune. Needs no input. Ran 1× in the last 7 d; last 20 h ago: failed.',
    );
    expect(facts[1]?.text).toContain('Needs params (see the action list). Not run in the last 7 d.');
    expect(facts.find((x) => x.id === 'run:run_prune_1')?.text).toBe(
      'builder ran b-prune (params not recorded) 20 h ago: failed ("failed (exit 1): disk full while pruning").',
    );
    const ci = facts.find((x) => x.text.startsWith('CI or job failure'));
    expect(ci?.text).toContain('on "web" (warning) 3 h ago: "CI web: npm ci failed: ENOSPC');
    expect(facts.some((x) => x.text.startsWith('Event from') && x.text.includes('deploy web v2.3.1'))).toBe(
      true,
    );
    expect(ids).toEqual(expect.arrayContaining(['incident:i1', 'incident:i2']));
    expect(JSON.stringify(facts)).not.toContain('payments'); // out of scope
    expect(JSON.stringify(request)).not.toContain(GITHUB_PAT);
    expect(request?.options).toEqual({ num_ctx: 8192, num_predict: 512 });
  });

  it("proposes the model's plan through decide(), and posts it once, marked model-written with its facts", async () => {
    const { k, made, posts, record } = await sweep(plan());
    expect(made.map((p) => [p.actionId, p.params, p.verdict])).toEqual([
      ['b-vacuum', { service: 'web' }, 'execute'],
    ]);
    expect(made[0]?.rationale).toBe(
      'model-written, unverified: Vacuum the web database to free disk before the next CI run.',
    );
    expect(k.actionRuns().map((r) => [r.actionId, r.status])).toEqual(
      expect.arrayContaining([['b-vacuum', 'succeeded']]),
    );
    const suggestion = posts.find((m) => JSON.stringify(m).includes('Maintenance planned by builder'));
    const text = JSON.stringify(suggestion);
    console.log(text);
    expect(text).toContain('Assessment (model-written, unverified)');
    expect(text).toContain('facts: run:run_prune_1, incident:i1; confidence 0.75');
    expect(text).toContain('b-vacuum service=web: Vacuum the web database');
    expect(text).toContain('a model (untrusted text: check before acting on it)');
    expect(record?.model).toBe(k.policy.doc.models.local.model);
    expect(record?.evidence).toEqual(expect.arrayContaining(['run:run_prune_1', 'incident:i1']));
  });

  it('proposes an action the model names twice only once', async () => {
    const twice = { action: 'b-vacuum', params: { service: 'api' }, why: 'vacuum api' };
    const { made } = await sweep(
      plan({ proposals: [twice, twice, { ...twice, params: { service: 'web' } }] }),
    );
    expect(made.map((p) => [p.actionId, p.params])).toEqual([
      ['b-vacuum', { service: 'api' }],
      ['b-vacuum', { service: 'web' }],
    ]);
  });

  it('a plan citing no fact it was shown is not taken: the rules propose, and nothing is posted', async () => {
    const { made, posts } = await sweep(plan({ causeFacts: ['signal:made-up', 'https://evil.example/'] }));
    expect(made.map((p) => [p.actionId, p.rationale])).toEqual([
      ['b-prune', "builder's deep sweep: pre-approved maintenance"],
    ]);
    expect(posts.some((m) => JSON.stringify(m).includes('Maintenance planned by builder'))).toBe(false);
  });

  it("a hostile plan is refused and audited; only the rules' maintenance is proposed", async () => {
    const { k, made } = await sweep(
      plan({
        tier: 0,
        approved: true,
        command: 'docker system prune -af',
        proposals: [
          { action: 'b-upgrade', params: {}, why: 'upgrade now' },
          { action: 's-restart', params: { msg: 'now' }, why: 'restart web' },
          { action: 'b-vacuum', params: { service: 'payments' }, why: 'vacuum payments', tier: 0 },
        ],
      }),
    );
    // tier, approved, command, proposals[2].tier, b-upgrade, s-restart, b-vacuum (bad params)
    expect(k.auditKinds().filter((kind) => kind === 'model.refused')).toHaveLength(7);
    expect(made.map((p) => [p.actionId, p.params])).toEqual([['b-prune', {}]]);
    expect(
      k
        .actionRuns()
        .filter((r) => r.id !== 'run_prune_1')
        .map((r) => r.actionId),
    ).toEqual(['b-prune']);
  });

  it('garbage twice: the rules propose, and the run names no model', async () => {
    const { made, record } = await sweep({ content: 'prune everything {' });
    expect(ollama?.requests).toHaveLength(2);
    expect(made.map((p) => p.actionId)).toEqual(['b-prune']);
    expect(record?.model).toBeNull();
  });
});
