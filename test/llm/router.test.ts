import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createOllamaClient } from '../../adapters/ollama/ollama-client.js';
import { type Database, migrate, openDatabase } from '../../src/db/connection.js';
import { modelUsage } from '../../src/db/schema.js';
import { type DegradedReason, ModelRouter } from '../../src/llm/router.js';
import { SqliteUsage } from '../../src/llm/usage.js';
import type { Policy } from '../../src/policy/types.js';
import type { AgentName } from '../../src/policy/vocabulary.js';
import { type FakeOllama, startFakeOllama } from '../fakes/ollama-server.js';
import { makePolicy, type PolicyInput } from '../fixtures/policy.js';

const T0 = Date.parse('2026-03-02T10:00:00Z');
const LOCAL = 'qwen2.5:7b';
const BIG = 'big-model';

let dir: string;
let database: Database;
let local: FakeOllama;
let remote: FakeOllama;
let t: number;
let killed: Set<AgentName>;
let degraded: [AgentName, DegradedReason][];

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'autonomy-llm-'));
  database = openDatabase(join(dir, 'a.db'));
  migrate(database);
  local = await startFakeOllama();
  remote = await startFakeOllama();
  t = T0;
  killed = new Set();
  degraded = [];
});

afterEach(async () => {
  await local.close();
  await remote.close();
  database.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Setup {
  readonly edit?: (doc: PolicyInput) => void;
  readonly escalate?: boolean;
  readonly stream?: boolean;
}

function setup(options: Setup = {}): { router: ModelRouter; policy: Policy } {
  const policy = makePolicy({
    edit: (doc) => {
      doc.models = { local: { model: LOCAL }, maxConcurrentLocal: 2, perAgentConcurrency: 2, timeout: '5s' };
      if (options.escalate === true) {
        doc.models.escalation = [
          {
            model: BIG,
            host: remote.url,
            when: ['critical-severity', 'deep-check', 'local-failure', 'invalid-output'],
          },
        ];
      }
      options.edit?.(doc);
    },
  });
  const router = new ModelRouter({
    client: createOllamaClient({ stream: options.stream ?? false }),
    policy: () => policy,
    now: () => t,
    usage: new SqliteUsage(database, { now: () => t }),
    isKilled: (agent) => killed.has(agent),
    log: { warn: () => {}, info: () => {} },
    defaultHost: local.url,
    onDegraded: (agent, reason) => degraded.push([agent, reason]),
  });
  return { router, policy };
}

const ask = (content = 'summarise this alert') => [{ role: 'user' as const, content }];

describe('model router', () => {
  it.each([false, true])(
    'answers through the real ollama client and records tokens (stream %s)',
    async (stream) => {
      local.setScript(() => ({ content: 'all quiet', promptTokens: 42, completionTokens: 7 }));
      const { router } = setup({ stream });
      const result = await router.call('sentinel', { messages: ask(), runId: undefined });
      expect(result).toEqual({
        ok: true,
        value: undefined,
        text: 'all quiet',
        model: LOCAL,
        tokens: { prompt: 42, completion: 7 },
      });
      const rows = database.db.select().from(modelUsage).all();
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({
        agent: 'sentinel',
        model: LOCAL,
        provider: 'ollama',
        promptTokens: 42,
        completionTokens: 7,
        at: T0,
      });
      expect(local.requests[0]?.stream).toBe(stream);
    },
  );

  it('refuses without calling when the daily tokens are spent, reconciling with the reported counts', async () => {
    local.setScript(() => ({ content: 'x', promptTokens: 1500, completionTokens: 400 }));
    const { router } = setup({
      edit: (doc) => {
        doc.budgets.perAgent = { dailyTokens: 2000, callsPerHour: 100 };
      },
    });
    expect((await router.call('sentinel', { messages: ask() })).ok).toBe(true);
    const second = await router.call('sentinel', { messages: ask() });
    expect(second).toMatchObject({ ok: false, reason: 'budget' });
    expect(local.requests).toHaveLength(1);
    // another agent has its own budget; a new day starts afresh
    expect((await router.call('guardian', { messages: ask() })).ok).toBe(true);
    t += 86_400_000;
    expect((await router.call('sentinel', { messages: ask() })).ok).toBe(true);
  });

  it('honours a per-agent override and the global daily tokens', async () => {
    // A prompt of about 254 tokens, replies of up to 100: each call reserves 354 before it is made.
    const long = ask('x'.repeat(1000));
    local.setScript(() => ({ content: 'x', promptTokens: 250, completionTokens: 50 }));
    const { router } = setup({
      edit: (doc) => {
        doc.models.maxOutputTokens = 100;
        doc.budgets.agents = { mentor: { dailyTokens: 10, callsPerHour: 10 } };
        doc.budgets.global.dailyTokens = 600;
      },
    });
    expect(await router.call('mentor', { messages: long })).toMatchObject({ ok: false, reason: 'budget' });
    expect((await router.call('sentinel', { messages: long })).ok).toBe(true);
    expect(await router.call('guardian', { messages: long })).toMatchObject({ ok: false, reason: 'budget' });
    expect(local.requests).toHaveLength(1);
  });

  it('limits calls per hour per agent and overall', async () => {
    const { router } = setup({
      edit: (doc) => {
        doc.budgets.perAgent.callsPerHour = 2;
        doc.budgets.global.callsPerHour = 3;
      },
    });
    expect((await router.call('sentinel', { messages: ask() })).ok).toBe(true);
    expect((await router.call('sentinel', { messages: ask() })).ok).toBe(true);
    expect(await router.call('sentinel', { messages: ask() })).toMatchObject({ ok: false, reason: 'rate' });
    expect((await router.call('guardian', { messages: ask() })).ok).toBe(true);
    expect(await router.call('builder', { messages: ask() })).toMatchObject({ ok: false, reason: 'rate' });
    t += 3_600_001;
    expect((await router.call('sentinel', { messages: ask() })).ok).toBe(true);
    expect(local.requests).toHaveLength(4);
  });

  it('never runs more than 2 generations at once under 100 concurrent calls, serving two agents fairly', async () => {
    local.setScript(() => ({ delayMs: 3, content: 'ok' }));
    const { router } = setup();
    const calls: Promise<unknown>[] = [];
    for (let i = 0; i < 50; i++) {
      calls.push(router.call('sentinel', { messages: ask(`sentinel ${i}`) }));
      calls.push(router.call('guardian', { messages: ask(`guardian ${i}`) }));
    }
    const results = (await Promise.all(calls)) as { ok: boolean }[];
    expect(results.every((r) => r.ok)).toBe(true);
    expect(local.maxInFlight()).toBe(2);
    expect(router.limiter.stats().maxLocalInFlight).toBe(2);
    let lead = 0;
    let worst = 0;
    for (const r of local.requests) {
      lead += r.messages[0]?.content.startsWith('sentinel') ? 1 : -1;
      worst = Math.max(worst, Math.abs(lead));
    }
    expect(worst).toBeLessThanOrEqual(2);
    const sentinelOrder = local.requests
      .map((r) => r.messages[0]?.content)
      .filter((c) => c?.startsWith('sentinel'));
    expect(sentinelOrder).toEqual(Array.from({ length: 50 }, (_, i) => `sentinel ${i}`));
  });

  it('the kill switch stops running and queued calls at once', async () => {
    local.setScript(() => ({ delayMs: 10_000 }));
    const { router } = setup({
      edit: (doc) => {
        doc.models.perAgentConcurrency = 1;
      },
    });
    const pending = [1, 2, 3].map((i) => router.call('sentinel', { messages: ask(`n${i}`) }));
    await until(() => local.inFlight() === 1);
    const started = Date.now();
    killed.add('sentinel');
    expect(router.abort('sentinel')).toBe(3);
    const results = await Promise.all(pending);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(results.map((r) => (r.ok ? 'ok' : r.reason))).toEqual(['killed', 'killed', 'killed']);
    await until(() => local.aborted() === 1);
    expect(local.requests).toHaveLength(1);
    expect(await router.call('sentinel', { messages: ask() })).toMatchObject({ ok: false, reason: 'killed' });
  });

  it("a caller's signal aborts its own call", async () => {
    local.setScript(() => ({ delayMs: 10_000 }));
    const { router } = setup();
    const controller = new AbortController();
    const pending = router.call('validator', { messages: ask(), signal: controller.signal });
    await until(() => local.inFlight() === 1);
    controller.abort();
    expect(await pending).toMatchObject({ ok: false, reason: 'aborted' });
    await until(() => local.inFlight() === 0);
  });

  it('times out a slow model and reports it unavailable', async () => {
    local.setScript(() => ({ delayMs: 10_000 }));
    const { router } = setup({
      edit: (doc) => {
        doc.models.timeout = '300ms';
      },
    });
    const started = Date.now();
    const result = await router.call('sentinel', { messages: ask() });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(result).toMatchObject({ ok: false, reason: 'unavailable' });
    expect(result.ok ? '' : result.detail).toContain('timed out after 300ms');
    await until(() => local.aborted() === 1);
  });

  it('escalates critical and deep calls straight to the stronger model', async () => {
    remote.setScript(() => ({ content: 'deep answer' }));
    const { router } = setup({ escalate: true });
    expect(await router.call('guardian', { messages: ask(), severity: 'critical' })).toMatchObject({
      ok: true,
      model: BIG,
    });
    expect(await router.call('guardian', { messages: ask(), deep: true })).toMatchObject({
      ok: true,
      model: BIG,
    });
    expect(await router.call('guardian', { messages: ask(), severity: 'warning' })).toMatchObject({
      ok: true,
      model: LOCAL,
    });
    expect(remote.requests.map((r) => r.model)).toEqual([BIG, BIG]);
  });

  it('fails over to the stronger model when the local one fails, then backs off the local host', async () => {
    local.setScript(() => ({ status: 500 }));
    remote.setScript(() => ({ content: 'from big' }));
    const { router } = setup({ escalate: true });
    expect(await router.call('sentinel', { messages: ask() })).toMatchObject({
      ok: true,
      model: BIG,
      text: 'from big',
    });
    expect(await router.call('sentinel', { messages: ask() })).toMatchObject({ ok: true, model: BIG });
    expect(local.requests).toHaveLength(1);
  });

  it('backs off a failing host exponentially (policy backoff) and clears it on success', async () => {
    local.setScript(() => ({ status: 503 }));
    const { router } = setup();
    expect(await router.call('sentinel', { messages: ask() })).toMatchObject({
      ok: false,
      reason: 'unavailable',
    });
    const blocked = await router.call('sentinel', { messages: ask() });
    expect(blocked).toMatchObject({ ok: false, reason: 'unavailable' });
    expect(blocked.ok ? '' : blocked.detail).toContain('next try after');
    expect(local.requests).toHaveLength(1);
    t += 30_000; // initial 30s
    await router.call('sentinel', { messages: ask() });
    expect(local.requests).toHaveLength(2);
    t += 30_000; // now 60s (factor 2): still blocked
    await router.call('sentinel', { messages: ask() });
    expect(local.requests).toHaveLength(2);
    t += 30_000;
    local.setScript(() => ({ content: 'back' }));
    expect(await router.call('sentinel', { messages: ask() })).toMatchObject({ ok: true, text: 'back' });
    expect((await router.call('sentinel', { messages: ask() })).ok).toBe(true);
  });

  it('passes the JSON Schema as format, validates with zod and retries invalid output once', async () => {
    const schema = z.object({ action: z.enum(['restart-worker', 'none']), why: z.string() });
    local.setScript((_r, i) => ({ content: i === 0 ? 'not json {' : '{"action":"none","why":"quiet"}' }));
    const { router } = setup();
    const result = await router.call('sentinel', { messages: ask(), schema });
    expect(result).toMatchObject({ ok: true, value: { action: 'none', why: 'quiet' } });
    expect(local.requests).toHaveLength(2);
    expect(local.requests[0]?.format).toMatchObject({
      type: 'object',
      properties: { action: { enum: ['restart-worker', 'none'] } },
    });
  });

  it('drops output that stays invalid, or escalates it when the policy says so', async () => {
    const schema = z.object({ action: z.enum(['restart-worker', 'none']) });
    local.setScript(() => ({ content: '{"action":"rm -rf /","tier":0}' }));
    const plain = setup().router;
    expect(await plain.call('sentinel', { messages: ask(), schema })).toMatchObject({
      ok: false,
      reason: 'invalid-output',
    });
    expect(local.requests).toHaveLength(2);
    remote.setScript(() => ({ content: '{"action":"none"}' }));
    const escalating = setup({ escalate: true }).router;
    expect(await escalating.call('sentinel', { messages: ask(), schema })).toMatchObject({
      ok: true,
      model: BIG,
      value: { action: 'none' },
    });
    expect(local.requests).toHaveLength(4);
  });

  it('says once per agent and reason that it works on rules alone, again after a success', async () => {
    const { router } = setup({
      edit: (doc) => {
        doc.budgets.perAgent.callsPerHour = 1;
      },
    });
    expect((await router.call('sentinel', { messages: ask() })).ok).toBe(true);
    await router.call('sentinel', { messages: ask() });
    await router.call('sentinel', { messages: ask() });
    expect(degraded).toEqual([['sentinel', 'rate']]);
    expect(router.notices('sentinel')).toEqual(['rate']);
    t += 3_600_001;
    expect((await router.call('sentinel', { messages: ask() })).ok).toBe(true);
    expect(router.notices('sentinel')).toEqual([]);
    await router.call('sentinel', { messages: ask() });
    expect(degraded).toEqual([
      ['sentinel', 'rate'],
      ['sentinel', 'rate'],
    ]);
  });
});

async function until(check: () => boolean, timeoutMs = 3000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
