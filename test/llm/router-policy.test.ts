/**
 * The policy's model section as the router applies it, through the real ollama client against the
 * fake server: num_ctx and num_predict on every call, what a reply is charged (a server claiming
 * huge counts cannot empty a budget), prompts too large for the context, the low-confidence
 * escalation with budgets checked before it, and the health from a real probe.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createOllamaClient } from '../../adapters/ollama/ollama-client.js';
import { type Database, migrate, openDatabase } from '../../src/db/connection.js';
import { modelUsage } from '../../src/db/schema.js';
import { ModelRouter } from '../../src/llm/router.js';
import { SqliteUsage } from '../../src/llm/usage.js';
import { byPrompt, type FakeOllama, json, startFakeOllama } from '../fakes/ollama-server.js';
import { makePolicy, type PolicyInput } from '../fixtures/policy.js';

const T0 = Date.parse('2026-03-02T10:00:00Z');
const LOCAL = 'small-model';
const BIG = 'big-model';

let dir: string;
let database: Database;
let local: FakeOllama;
let remote: FakeOllama;
let routers: ModelRouter[];

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'autonomy-llm-policy-'));
  database = openDatabase(join(dir, 'a.db'));
  migrate(database);
  local = await startFakeOllama();
  remote = await startFakeOllama();
  routers = [];
});

afterEach(async () => {
  for (const r of routers) r.stop();
  await local.close();
  await remote.close();
  database.close();
  rmSync(dir, { recursive: true, force: true });
});

function setup(edit?: (doc: PolicyInput) => void, escalateWhen?: string[]): ModelRouter {
  const policy = makePolicy({
    edit: (doc) => {
      doc.models = {
        local: { model: LOCAL, contextTokens: 4096 },
        maxConcurrentLocal: 2,
        perAgentConcurrency: 2,
        timeout: '5s',
        maxOutputTokens: 300,
      };
      if (escalateWhen !== undefined) {
        doc.models.escalation = [
          { model: BIG, host: remote.url, contextTokens: 32768, when: escalateWhen as never },
        ];
      }
      edit?.(doc);
    },
  });
  const router = new ModelRouter({
    client: createOllamaClient(),
    policy: () => policy,
    now: () => T0,
    usage: new SqliteUsage(database, { now: () => T0 }),
    isKilled: () => false,
    log: { warn: () => {}, info: () => {} },
    defaultHost: local.url,
    probeEveryMs: 60_000,
  });
  routers.push(router);
  return router;
}

const ask = (content = 'summarise this alert') => [{ role: 'user' as const, content }];
const assessment = z.object({ summary: z.string(), confidence: z.number().min(0).max(1) });

describe('the model section of the policy', () => {
  it("sends each model's num_ctx and the num_predict cap on every call", async () => {
    local.setScript(() => ({ status: 500 }));
    remote.setScript(() => ({ content: 'from big' }));
    const router = setup(undefined, ['local-failure']);
    expect(await router.call('sentinel', { messages: ask() })).toMatchObject({ ok: true, model: BIG });
    expect(local.requests[0]?.options).toEqual({ num_ctx: 4096, num_predict: 300 });
    expect(remote.requests[0]?.options).toEqual({ num_ctx: 32768, num_predict: 300 });
  });

  it('a model without contextTokens gets the policy default', async () => {
    const router = setup((doc) => {
      doc.models.local = { model: LOCAL };
      doc.models.contextTokens = 2048;
    });
    expect((await router.call('guardian', { messages: ask() })).ok).toBe(true);
    expect(local.requests[0]?.options).toEqual({ num_ctx: 2048, num_predict: 300 });
  });

  it('a server claiming 80,000 tokens is charged at most the prompt estimate plus num_predict', async () => {
    local.setScript(() => ({ content: 'fine', promptTokens: 80_000, completionTokens: 80_000 }));
    const router = setup((doc) => {
      doc.budgets.perAgent = { dailyTokens: 5000, callsPerHour: 100 };
    });
    const prompt = ask('x'.repeat(400)); // about 104 tokens
    const first = await router.call('sentinel', { messages: prompt });
    expect(first).toMatchObject({ ok: true, tokens: { completion: 300 } });
    const rows = database.db.select().from(modelUsage).all();
    expect(rows[0]?.promptTokens).toBeLessThanOrEqual(104);
    expect((rows[0]?.promptTokens ?? 0) + (rows[0]?.completionTokens ?? 0)).toBeLessThanOrEqual(104 + 300);
    // 5000 tokens last at least 12 such calls, whatever the server claims.
    for (let i = 0; i < 11; i++) expect((await router.call('sentinel', { messages: prompt })).ok).toBe(true);
  });

  it('a reply without counts is charged by estimate, not as free', async () => {
    local.setScript(() => ({ content: 'y'.repeat(400), promptTokens: 0, completionTokens: 0 }));
    const router = setup();
    const result = await router.call('builder', { messages: ask('x'.repeat(400)) });
    expect(result).toMatchObject({ ok: true, tokens: { prompt: 104, completion: 100 } });
  });

  it('refuses a prompt that does not fit the context with the reply cap, without calling', async () => {
    const router = setup();
    const result = await router.call('sentinel', { messages: ask('x'.repeat(4 * 4000)) });
    expect(result).toMatchObject({ ok: false, reason: 'too-large' });
    expect(result.ok ? '' : result.detail).toContain('4096 context tokens');
    expect(local.requests).toHaveLength(0);
  });

  it('asks the escalation model again when the answer is below lowConfidence', async () => {
    local.setScript(
      byPrompt(
        [['unsure', json({ summary: 'maybe', confidence: 0.2 })]],
        json({ summary: 'sure', confidence: 0.9 }),
      ),
    );
    remote.setScript(() => json({ summary: 'checked', confidence: 0.8 }));
    const router = setup(
      (doc) => {
        doc.models.lowConfidence = 0.6;
      },
      ['low-confidence'],
    );
    const call = (text: string) =>
      router.call('sentinel', { messages: ask(text), schema: assessment, confidence: (v) => v.confidence });
    expect(await call('unsure case')).toMatchObject({ ok: true, model: BIG, value: { summary: 'checked' } });
    expect(await call('clear case')).toMatchObject({ ok: true, model: LOCAL, value: { summary: 'sure' } });
    expect(remote.requests).toHaveLength(1);
  });

  it('keeps the local answer when the escalation model fails or its budget is spent', async () => {
    local.setScript(() => json({ summary: 'maybe', confidence: 0.1 }));
    remote.setScript(() => ({ status: 500 }));
    const failing = setup(undefined, ['low-confidence']);
    const opts = {
      messages: ask(),
      schema: assessment,
      confidence: (v: { confidence: number }) => v.confidence,
    };
    expect(await failing.call('sentinel', opts)).toMatchObject({ ok: true, model: LOCAL });
    expect(remote.requests).toHaveLength(1);

    remote.setScript(() => json({ summary: 'checked', confidence: 0.9 }));
    const capped = setup(
      (doc) => {
        doc.budgets.perAgent = { dailyTokens: 1_000_000, callsPerHour: 1 };
      },
      ['low-confidence'],
    );
    remote.resetStats();
    expect(await capped.call('validator', opts)).toMatchObject({ ok: true, model: LOCAL });
    expect(remote.requests).toHaveLength(0);
  });

  it('critical-severity and deep-check go to the escalation model only when listed', async () => {
    const listed = setup(undefined, ['deep-check']);
    expect(await listed.call('guardian', { messages: ask(), deep: true })).toMatchObject({ model: BIG });
    expect(await listed.call('guardian', { messages: ask(), severity: 'critical' })).toMatchObject({
      model: LOCAL,
    });
  });
});

describe('the model server in the health report', () => {
  it('is degraded until probed, ok when the server answers, degraded while it is down', async () => {
    const router = setup(undefined, ['local-failure']);
    expect(router.health()).toMatchObject({ status: 'degraded' });
    expect(router.health().detail).toContain('not checked yet');
    await router.start();
    expect(local.probes()).toBe(1);
    expect(remote.probes()).toBe(1);
    expect(router.health()).toMatchObject({ status: 'ok' });
    expect(router.health().detail).toContain(`${LOCAL} at ${local.url}: ollama 0.0.0-fake`);

    local.setUp(false);
    await router.checkServers();
    const down = router.health();
    expect(down.status).toBe('degraded');
    expect(down.detail).toContain(`${LOCAL} at ${local.url}: unreachable`);
    expect(down.detail).toContain('the agents work on rules alone');

    local.setUp(true);
    await router.checkServers();
    expect(router.health().status).toBe('ok');
  });

  it('says degraded when nothing listens at the host', async () => {
    const url = local.url;
    await local.close();
    const router = setup();
    await router.start();
    const h = router.health();
    expect(h.status).toBe('degraded');
    expect(h.detail).toContain(`${LOCAL} at ${url}: unreachable`);
    local = await startFakeOllama();
  });
});
