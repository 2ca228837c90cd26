import { afterEach, describe, expect, it } from 'vitest';
import type { AgentTrigger } from '../../../src/agents/runtime/pipeline.js';
import type { AgentContext, ProposalOutcome } from '../../../src/agents/runtime/types.js';
import { type FakeOllama, startFakeOllama } from '../../fakes/ollama-server.js';
import { type AgentKit, agentKit, fakeAgent, gate, kitPolicy } from '../../helpers/agent-kit.js';
import { eventually } from '../../helpers/bot.js';

const SIGNAL: AgentTrigger = { source: 'webhook', ref: 'sig_1', kind: 'signal', signalKind: 'alert' };

let kit: AgentKit | null = null;
let ollama: FakeOllama | null = null;

afterEach(async () => {
  await kit?.pipeline.stop(2000);
  kit?.close();
  kit = null;
  await ollama?.close();
  ollama = null;
});

function setup(options: Parameters<typeof agentKit>[0] = {}): AgentKit {
  kit = agentKit(options);
  return kit;
}

/** One run of sentinel whose body proposes each of `proposals` in turn; returns their outcomes. */
async function proposeAll(
  k: AgentKit,
  proposals: { actionId: string; params: Record<string, unknown> }[],
): Promise<{ outcomes: ProposalOutcome[]; runId: string | null; outcome: string }> {
  const outcomes: ProposalOutcome[] = [];
  const result = await k.pipeline.run(fakeAgent('sentinel'), SIGNAL, async (ctx) => {
    for (const p of proposals) outcomes.push(await ctx.propose(p));
  });
  return { outcomes, runId: result.runId, outcome: result.outcome };
}

describe('agent runs', () => {
  it('records a run with its trigger, model and tokens, outcome, evidence and audit records', async () => {
    ollama = await startFakeOllama(() => ({
      content: 'a flapping alert',
      promptTokens: 30,
      completionTokens: 12,
    }));
    const k = setup({ modelHost: ollama.url });
    const result = await k.pipeline.run(fakeAgent('sentinel'), SIGNAL, async (ctx) => {
      const answer = await ctx.model({ messages: [{ role: 'user', content: 'what is this?' }] });
      expect(answer.ok).toBe(true);
      ctx.evidence('https://runbooks.example.com/web');
      ctx.post({ kind: 'alert', title: 'web is down', severity: 'warning', body: 'since 10:00' });
    });
    expect(result).toMatchObject({ status: 'succeeded', outcome: 'posted 1 alert', tokens: 42 });
    const [row] = k.agentRuns();
    expect(row).toMatchObject({
      id: result.runId,
      agent: 'sentinel',
      actionId: null,
      triggerSource: 'webhook',
      triggerRef: 'sig_1',
      model: 'qwen2.5:7b',
      provider: 'ollama',
      status: 'succeeded',
      outcome: 'posted 1 alert',
      tokens: 42,
    });
    expect(row?.evidence).toEqual(['signal:sig_1', 'https://runbooks.example.com/web']);
    expect(row?.finishedAt).not.toBeNull();
    expect(k.auditKinds()).toEqual(['agent.start', 'agent.run']);
    const [posted] = k.messages();
    expect(posted).toMatchObject({
      channel: 'slack:C0ALERTS',
      message: { kind: 'alert', title: 'web is down' },
    });
  });

  it('records an agent that throws as failed, with its error, and a rules-only run with model null', async () => {
    const k = setup();
    const result = await k.pipeline.run(fakeAgent('sentinel'), SIGNAL, async (ctx) => {
      const answer = await ctx.model({ messages: [{ role: 'user', content: 'hi' }] });
      expect(answer).toMatchObject({ ok: false, reason: 'unavailable' });
      throw new Error('cannot parse the payload');
    });
    expect(result).toMatchObject({
      status: 'failed',
      outcome: 'failed: cannot parse the payload',
      tokens: 0,
    });
    expect(k.agentRuns()[0]).toMatchObject({
      status: 'failed',
      model: null,
      error: 'failed: cannot parse the payload',
    });
  });

  it("ends the caller's work in the transaction that records the run's end: both commit, or neither", async () => {
    const k = setup();
    const body = async (ctx: AgentContext) => {
      ctx.post({ kind: 'notice', title: 'looked', severity: 'info', body: 'nothing wrong' });
    };
    // What settle writes commits with the run's end (the dispatcher's job done).
    const seen: string[] = [];
    const ok = await k.pipeline.run(fakeAgent('sentinel'), SIGNAL, body, undefined, (result) => {
      seen.push(`${result.status} ${k.agentRuns().find((r) => r.id === result.runId)?.status}`);
    });
    expect(ok.status).toBe('succeeded');
    // Inside the transaction it already sees the run ended.
    expect(seen).toEqual(['succeeded succeeded']);
    // When settle fails, the end is not recorded (the run stays running for the restart) and run() rejects.
    await expect(
      k.pipeline.run(fakeAgent('sentinel'), SIGNAL, body, undefined, () => {
        throw new Error('the job could not be closed');
      }),
    ).rejects.toThrow('the job could not be closed');
    expect(k.agentRuns().map((r) => r.status)).toEqual(['succeeded', 'running']);
    expect(k.auditKinds()).toEqual(['agent.start', 'agent.run', 'agent.start']);
    // A skipped run is settled too (nothing recorded).
    k.control.kill('sentinel', 'slack:user:U0OPERATOR');
    const skipped: string[] = [];
    await k.pipeline.run(fakeAgent('sentinel'), SIGNAL, body, undefined, (r) => skipped.push(r.outcome));
    expect(skipped).toEqual(['sentinel is killed']);
  });

  it('does not run (and records nothing for) a killed or disabled agent', async () => {
    const k = setup({ policy: kitPolicy({ phase: 3, agents: { guardian: { enabled: false } } }) });
    k.control.kill('sentinel', 'slack:user:U0OPERATOR');
    let ran = false;
    const body = async () => {
      ran = true;
    };
    expect(await k.pipeline.run(fakeAgent('sentinel'), SIGNAL, body)).toMatchObject({ status: 'skipped' });
    expect(await k.pipeline.run(fakeAgent('guardian'), SIGNAL, body)).toMatchObject({ status: 'skipped' });
    expect(ran).toBe(false);
    expect(k.agentRuns()).toEqual([]);
  });

  it('gives each agent its own data folder, made on first use', async () => {
    const k = setup();
    let dir = '';
    await k.pipeline.run(fakeAgent('mentor', { handles: ['alert'] }), SIGNAL, async (ctx: AgentContext) => {
      dir = ctx.dataDir;
      expect(ctx.rootDataDir).toBe(k.db.dir);
      expect(ctx.trigger).toBe('signal:alert');
      expect(ctx.research).toBeNull();
    });
    expect(dir).toBe(`${k.db.dir}/agents/mentor`);
    const { existsSync } = await import('node:fs');
    expect(existsSync(dir)).toBe(true);
  });
});

describe('proposals', () => {
  it('stores every verdict and acts on it: execute runs, ask waits, suggest posts, deny is only recorded', async () => {
    const k = setup();
    const { outcomes, runId, outcome } = await proposeAll(k, [
      { actionId: 's-echo', params: { msg: 'hello' } },
      { actionId: 'page-oncall', params: { severity: 'warning' } },
      { actionId: 's-restart', params: { msg: 'now' } },
      { actionId: 'no-such-action', params: {} },
      { actionId: 'restart-service', params: { service: 'payments' } },
    ]);
    expect(outcomes.map((o) => o.decision.verdict)).toEqual(['execute', 'suggest', 'ask', 'deny', 'deny']);
    expect(outcomes[0]?.run).toMatchObject({ status: 'succeeded', exitCode: 0, outputTail: 'said hello' });
    expect(outcomes[2]?.approval).toBe('a1');
    expect(outcomes[3]?.decision.code).toBe('unknown-action');
    expect(outcomes[4]?.decision.code).toBe('out-of-scope');

    // One proposals row per proposal (the approval request wrote the one for 'ask').
    const rows = k.proposals();
    expect(rows.map((r) => [r.actionId, r.verdict])).toEqual([
      ['s-echo', 'execute'],
      ['page-oncall', 'suggest'],
      ['s-restart', 'ask'],
      ['no-such-action', 'deny'],
      ['restart-service', 'deny'],
    ]);
    // The action ran as a run of its own, triggered by the agent run, and linked to its proposal.
    const [actionRun] = k.actionRuns();
    expect(actionRun).toMatchObject({
      actionId: 's-echo',
      status: 'succeeded',
      triggerSource: 'webhook',
      triggerRef: runId,
    });
    expect(rows[0]?.runId).toBe(actionRun?.id);
    expect(k.core.approvals.list()).toMatchObject([
      { shortId: 'a1', actionId: 's-restart', state: 'pending' },
    ]);

    const msgs = k.messages();
    expect(msgs.map((m) => [m.channel, m.message.kind, m.message.title])).toEqual([
      ['console:feed', 'notice', 'sentinel ran s-echo: succeeded'],
      ['console:feed', 'suggestion', 'sentinel suggests page-oncall on pagerduty'],
      ['slack:C0APPROVALS', 'approval', expect.any(String)],
    ]);
    expect(msgs[0]?.message.body).toContain('said hello');
    expect(msgs[1]?.message.body).toContain('Approve by raising the phase');

    expect(outcome).toContain('ran s-echo: succeeded');
    expect(outcome).toContain('suggested page-oncall');
    expect(outcome).toContain('proposed s-restart: waiting for approval a1');
    expect(outcome).toContain('proposed "no-such-action": denied');
    const [agentRun] = k.agentRuns();
    expect(agentRun).toMatchObject({ actionClass: 'evidence', tier: 0 });
    expect(agentRun?.evidence).toContain(`run:${actionRun?.id}`);
  });

  it('runs an allowlisted tier 2 action only where decide() says execute', async () => {
    const k = setup({ policy: kitPolicy({ phase: 2 }) });
    const before = await proposeAll(k, [{ actionId: 's-touch', params: { msg: 'one' } }]);
    expect(before.outcomes[0]?.decision).toMatchObject({ verdict: 'suggest', code: 'suggest-phase' });
    expect(k.actionRuns()).toEqual([]);
    k.policy = kitPolicy({ phase: 3 });
    const after = await proposeAll(k, [{ actionId: 's-touch', params: { msg: 'two' } }]);
    expect(after.outcomes[0]?.decision).toMatchObject({ verdict: 'execute', code: 'allowlisted' });
    expect(k.actionRuns().map((r) => r.actionId)).toEqual(['s-touch']);
  });

  it('asks once while the same request waits, and records every proposal', async () => {
    const k = setup();
    await proposeAll(k, [{ actionId: 's-restart', params: { msg: 'now' } }]);
    const second = await proposeAll(k, [{ actionId: 's-restart', params: { msg: 'now' } }]);
    expect(second.outcome).toBe('proposed s-restart: still waiting for approval a1');
    expect(k.core.approvals.list()).toHaveLength(1);
    expect(k.proposals().map((r) => r.verdict)).toEqual(['ask', 'ask']);
    expect(k.messages().filter((m) => m.message.kind === 'approval')).toHaveLength(1);
  });

  it('posts a suggestion at most once an hour per agent, action and params', async () => {
    const k = setup();
    const suggest = (severity: string) => proposeAll(k, [{ actionId: 'page-oncall', params: { severity } }]);
    await suggest('warning');
    k.clock.t += 10 * 60_000;
    const again = await suggest('warning');
    expect(again.outcome).toBe('suggested page-oncall (already suggested within the hour)');
    await suggest('critical');
    k.clock.t += 61 * 60_000;
    await suggest('warning');
    const suggestions = k.messages().filter((m) => m.message.kind === 'suggestion');
    expect(suggestions.map((m) => m.message.fields.find((f) => f.label === 'Params')?.value)).toEqual([
      '{"severity":"warning"}',
      '{"severity":"critical"}',
      '{"severity":"warning"}',
    ]);
    expect(k.proposals()).toHaveLength(4);
  });

  it('in phase 1 posts nothing for proposals and records them as observed', async () => {
    const k = setup({ policy: kitPolicy({ phase: 1 }) });
    const { outcomes, outcome } = await proposeAll(k, [
      { actionId: 'page-oncall', params: { severity: 'warning' } },
      { actionId: 's-touch', params: { msg: 'x' } },
      { actionId: 's-restart', params: { msg: 'x' } },
    ]);
    expect(outcomes.map((o) => o.decision.verdict)).toEqual(['observe', 'observe', 'observe']);
    expect(k.messages()).toEqual([]);
    expect(k.core.approvals.list()).toEqual([]);
    expect(k.actionRuns()).toEqual([]);
    expect(k.proposals().map((r) => r.verdict)).toEqual(['observe', 'observe', 'observe']);
    expect(outcome).toContain('proposed page-oncall: observed only');
  });

  it('denies params that are not plain strings and numbers as bad-params, and records them', async () => {
    const k = setup();
    const { outcomes } = await proposeAll(k, [
      { actionId: 's-echo', params: { msg: { $ne: '' } } },
      { actionId: 's-echo', params: { msg: 'hello', extra: 'x' } },
      { actionId: 's-echo', params: { msg: 'hello; rm -rf /' } },
    ]);
    expect(outcomes.map((o) => o.decision.code)).toEqual(['bad-params', 'bad-params', 'bad-params']);
    expect(k.actionRuns()).toEqual([]);
    const [first] = k.proposals();
    expect(first?.params).toEqual({ msg: 'a value of type object', '!invalid': 'msg' });
  });

  it('executes a tier 3 action under a phase 4 standing grant, and counts the use', async () => {
    const k = setup({ policy: kitPolicy({ phase: 4 }) });
    const action = k.policy.actions.get('s-restart');
    if (action === undefined) throw new Error('fixture lacks s-restart');
    const grant = k.core.grants.create({
      action,
      params: { msg: 'now' },
      hours: 2,
      by: 'slack:user:U0APPROVER',
    });
    const { outcomes } = await proposeAll(k, [
      { actionId: 's-restart', params: { msg: 'now' } },
      { actionId: 's-restart', params: { msg: 'later' } },
    ]);
    expect(outcomes.map((o) => o.decision.code)).toEqual(['granted', 'needs-approval']);
    expect(k.core.grants.get(grant.id)?.uses).toBe(1);
    expect(k.actionRuns().map((r) => r.actionId)).toEqual(['s-restart']);
  });
});

describe('kill switch', () => {
  it('a kill mid-generation aborts the model request; the run ends interrupted and nothing more is posted', async () => {
    ollama = await startFakeOllama(() => ({ content: 'slow answer', delayMs: 20_000 }));
    const k = setup({ modelHost: ollama.url });
    let after: { ok: boolean; reason?: string } | null = null;
    let proposed: ProposalOutcome | null = null;
    const run = k.pipeline.run(fakeAgent('sentinel'), SIGNAL, async (ctx) => {
      ctx.post({ kind: 'alert', title: 'first finding', severity: 'warning', body: '' });
      const answer = await ctx.model({ messages: [{ role: 'user', content: 'think hard' }] });
      after = answer.ok ? { ok: true } : { ok: false, reason: answer.reason };
      ctx.post({ kind: 'alert', title: 'after the kill', severity: 'warning', body: '' });
      proposed = await ctx.propose({ actionId: 's-echo', params: { msg: 'late' } });
    });
    await eventually(() => ollama?.inFlight() === 1);
    k.kill('sentinel');
    const result = await run;
    expect(result).toMatchObject({
      status: 'interrupted',
      outcome: 'stopped: sentinel was killed; posted 1 alert',
    });
    expect(k.agentRuns()[0]).toMatchObject({ status: 'interrupted' });
    await eventually(() => proposed !== null);
    expect(after).toEqual({ ok: false, reason: 'aborted' });
    await eventually(() => ollama?.aborted() === 1);
    expect(k.messages().map((m) => m.message.title)).toEqual(['first finding']);
    expect(k.proposals()).toEqual([]);
    expect(k.actionRuns()).toEqual([]);
  });

  it("a kill mid-command stops the command and posts nothing about the run's result", async () => {
    const k = setup();
    let outcome: ProposalOutcome | null = null;
    const run = k.pipeline.run(fakeAgent('sentinel'), SIGNAL, async (ctx) => {
      outcome = await ctx.propose({ actionId: 's-sleep', params: {} });
    });
    await eventually(() => k.core.runner.inFlight().length === 1);
    k.kill('sentinel');
    expect(await run).toMatchObject({ status: 'interrupted', outcome: 'stopped: sentinel was killed' });
    await eventually(() => outcome !== null, 5000);
    expect(k.actionRuns()[0]).toMatchObject({ actionId: 's-sleep', status: 'interrupted' });
    expect(k.messages()).toEqual([]);
  });

  it('stops every run at shutdown and takes no new ones', async () => {
    const k = setup();
    const held = gate();
    const run = k.pipeline.run(fakeAgent('guardian', { handles: ['advisory'] }), SIGNAL, () => held.promise);
    await eventually(() => k.pipeline.inFlight().length === 1);
    await k.pipeline.stop(2000);
    expect(await run).toMatchObject({ status: 'interrupted', outcome: 'stopped: the bot is shutting down' });
    expect(await k.pipeline.run(fakeAgent('guardian'), SIGNAL, async () => {})).toMatchObject({
      status: 'skipped',
    });
    held.open();
  });
});

describe('working on rules alone', () => {
  it('says so once per agent and reason, until a model call succeeds again', async () => {
    ollama = await startFakeOllama(() => ({ status: 503 }));
    const k = setup({ modelHost: ollama.url });
    const ask = () =>
      k.pipeline.run(fakeAgent('sentinel'), SIGNAL, async (ctx) => {
        await ctx.model({ messages: [{ role: 'user', content: 'hello' }] });
      });
    await ask();
    await ask();
    k.pipeline.degraded('sentinel', 'unavailable', 'still down');
    const notices = () => k.messages().filter((m) => m.message.kind === 'notice');
    expect(notices().map((m) => m.message.title)).toEqual([
      'sentinel works on rules alone: no model is reachable',
    ]);
    expect(notices()[0]?.message.body).toContain('keeps handling signals and sweeps with its rules');

    // The server is back: a successful call ends the episode, and says so once; the next outage is said again.
    ollama.setScript(() => ({ content: 'fine' }));
    k.clock.t += 60 * 60_000;
    await ask();
    await ask();
    ollama.setScript(() => ({ status: 503 }));
    k.clock.t += 60 * 60_000;
    await ask();
    expect(notices().map((m) => m.message.title)).toEqual([
      'sentinel works on rules alone: no model is reachable',
      'sentinel has its model again',
      'sentinel works on rules alone: no model is reachable',
    ]);
  });
});
