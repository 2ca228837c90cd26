import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AuditLog } from '../src/audit/log.js';
import { ControlStore } from '../src/control/state.js';
import { migrate, openDatabase } from '../src/db/connection.js';
import { type Bot, startBot } from '../src/main.js';
import { PolicyError } from '../src/policy/errors.js';
import { TemplateStore } from '../src/signals/signatures/template-store.js';
import { startFakeOllama } from './fakes/ollama-server.js';
import { eventually, getHealth, type HealthBody, LogSink, type TempSetup, tempSetup } from './helpers/bot.js';

let setup: TempSetup;
const bots: Bot[] = [];

async function start(extraEnv: Record<string, string> = {}) {
  setup = tempSetup(extraEnv);
  const logs = new LogSink();
  const bot = await startBot({ env: setup.env, logDestination: logs, controlPollMs: 50 });
  bots.push(bot);
  return { bot, logs };
}

afterEach(async () => {
  for (const bot of bots.splice(0)) await bot.stop();
  setup?.cleanup();
});

describe('the bot process', () => {
  it('starts on the embedded defaults, answers /healthz and logs where everything is', async () => {
    const ollama = await startFakeOllama();
    try {
      const { bot, logs } = await start({ OLLAMA_HOST: ollama.url });
      const res = await fetch(`${bot.url}/healthz`);
      expect(res.status).toBe(200);
      const body = (await res.json()) as HealthBody;
      expect(body.status).toBe('ok');
      expect(body.checks.database?.status).toBe('ok');
      expect(body.checks.model).toMatchObject({ status: 'ok' });
      expect(body.checks.model?.detail).toContain(
        `llama3.2:3b, qwen2.5:14b at ${ollama.url}: ollama 0.0.0-fake`,
      );
      await checkStarted(bot, logs);
    } finally {
      await ollama.close();
    }
  });

  it('says degraded on /healthz, naming the model server, when nothing answers at OLLAMA_HOST', async () => {
    const ollama = await startFakeOllama();
    const url = ollama.url;
    await ollama.close();
    const { bot } = await start({ OLLAMA_HOST: url });
    const res = await fetch(`${bot.url}/healthz`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as HealthBody;
    expect(body.status).toBe('degraded');
    expect(body.checks.model?.status).toBe('degraded');
    expect(body.checks.model?.detail).toContain(`llama3.2:3b, qwen2.5:14b at ${url}: unreachable`);
  });

  async function checkStarted(bot: Bot, logs: LogSink): Promise<void> {
    const body = (await (await fetch(`${bot.url}/healthz`)).json()) as HealthBody;
    expect(body.policy).toMatchObject({ version: 1, phase: 1, lastReloadError: null });
    expect(body.killed).toEqual({ all: false, agents: [] });

    const banner = logs.records.find((r) => String(r.msg).startsWith('autonomy is running on'));
    expect(banner).toMatchObject({ url: bot.url, db: setup.dbFile, policy: setup.policyFile, phase: 1 });
    expect(existsSync(join(setup.dir, 'data', 'autonomy.pid'))).toBe(true);
    expect((await fetch(`${bot.url}/nope`)).status).toBe(404);
  }

  it('takes an Alertmanager webhook with its ingest token and counts it on /metrics', async () => {
    const { bot } = await start();
    const token = readFileSync(join(setup.dir, 'data', 'ingest-token'), 'utf8').trim();
    const body = JSON.stringify({
      version: '4',
      status: 'firing',
      alerts: [
        {
          status: 'firing',
          labels: { alertname: 'DiskFull', service: 'db', severity: 'critical' },
          annotations: { summary: 'disk 95% full' },
          startsAt: '2026-12-03T09:00:00Z',
        },
      ],
    });
    const post = (auth: string) =>
      fetch(`${bot.url}/hooks/alertmanager`, {
        method: 'POST',
        body,
        headers: { authorization: auth, 'content-type': 'application/json' },
      });
    const first = await post(`Bearer ${token}`);
    expect([first.status, await first.json()]).toEqual([
      202,
      { accepted: 1, duplicates: 0, incidents: ['i1'] },
    ]);
    expect((await post(`Bearer ${token}`)).status).toBe(202);
    expect((await post('Bearer not-the-token-at-all')).status).toBe(401);
    const metrics = await (await fetch(`${bot.url}/metrics`)).text();
    expect(metrics).toContain('autonomy_ingest_items_total{hook="alertmanager",outcome="stored"} 1');
    expect(metrics).toContain('autonomy_ingest_items_total{hook="alertmanager",outcome="duplicate"} 1');
    expect(metrics).toContain('autonomy_ingest_rejections_total{reason="unauthorized"} 1');
  });

  it('refuses to start on an invalid policy, reporting every error, and leaves nothing running', async () => {
    setup = tempSetup();
    setup.savePolicy(
      setup
        .policyText()
        .replace('phase: 1 # observe-only baseline', 'phase: 7')
        .replace(/approvalTimeout: .*/, 'approvalTimeout: 30 minutes'),
    );
    const err = await startBot({ env: setup.env, logDestination: new LogSink() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PolicyError);
    const issues = (err as PolicyError).issues;
    expect(issues.map((i) => i.path)).toEqual(
      expect.arrayContaining(['rollout.phase', 'control.approvalTimeout']),
    );
    for (const i of issues) expect(i.line).toBeGreaterThan(0);
    expect(existsSync(join(setup.dir, 'data', 'autonomy.pid'))).toBe(false);
  });

  it('reloads the policy when the file is saved, and keeps the last good one when the save is invalid', async () => {
    const { bot } = await start();
    const original = setup.policyText();

    setup.savePolicy(original.replace('phase: 1 # observe-only baseline', 'phase: 2'));
    await eventually(() => bot.policy.version === 2, 3000);
    expect(bot.policy.current.phase).toBe(2);
    expect(bot.audit.records({ kind: 'policy.load' }).at(-1)).toMatchObject({
      actor: 'system:watch',
      trigger: 'watch',
    });

    setup.savePolicy(original.replace('phase: 1 # observe-only baseline', 'phase: [oops'));
    await eventually(() => bot.policy.lastError !== null, 3000);
    expect(bot.policy.current.phase).toBe(2);
    expect(bot.policy.version).toBe(2);
    const health = await getHealth(bot.url);
    expect(health.status).toBe('degraded');
    expect(health.policy.lastReloadError?.errors).toBeGreaterThan(0);
    const rejected = bot.audit.records({ kind: 'policy.reject' }).at(-1);
    expect((rejected?.data as { errors: string[] } | undefined)?.errors[0]).toMatch(
      /bot\.policy\.yaml:\d+:\d+/,
    );

    // A good save clears the error.
    setup.savePolicy(original);
    await eventually(() => bot.policy.version === 3 && bot.policy.lastError === null, 3000);
    expect(bot.policy.current.phase).toBe(1);
  });

  it('obeys a kill switch set by another process on the same database within a second', async () => {
    const { bot, logs } = await start();
    const other = openDatabase(setup.dbFile);
    try {
      const control = new ControlStore(other, new AuditLog(other, { now: Date.now }), { now: Date.now });
      const at = Date.now();
      control.kill('guardian', 'cli:user:oncall', 'drill');
      await eventually(() => bot.controlState().killedAgents.has('guardian'), 1000, 10);
      expect(Date.now() - at).toBeLessThan(1000);
      const health = await getHealth(bot.url);
      expect(health.killed.agents).toEqual(['guardian']);
      expect(logs.messages()).toContain('control state changed');
    } finally {
      other.close();
    }
  });

  it('announces a kill typed in the console in the channel, with who, why and how to undo it', async () => {
    const { bot } = await start();
    const reply = await bot.core.inbound.command({
      platform: 'console',
      actor: 'console:user:local',
      channel: 'console:main',
      text: 'kill guardian flapping checks',
    });
    expect(reply.title).toMatch(/guardian/);
    type Posted = { kind: string; title: string; fields?: { label: string; value: string }[] };
    const find = () =>
      bot.core.outbox
        .consoleHistory(50)
        .map((m) => m.message as Posted)
        .find((m) => m.kind === 'notice' && m.title.includes('killed guardian'));
    await eventually(() => find() !== undefined, 5000);
    const announced = find();
    expect(announced?.title).toContain('console:user:local');
    expect(announced?.fields).toEqual(
      expect.arrayContaining([
        { label: 'Why', value: 'flapping checks' },
        { label: 'Undo', value: '/autonomy resume guardian (admins)' },
      ]),
    );
  });

  it('starts with everything killed when AUTONOMY_KILL=all, audited', async () => {
    const { bot } = await start({ AUTONOMY_KILL: 'all' });
    expect(bot.controlState().killedAll).toBe(true);
    const record = bot.audit.records({ kind: 'control.kill' }).at(-1);
    expect(record).toMatchObject({ actor: 'system:env' });
    expect(record?.outcome).toContain('AUTONOMY_KILL=all');
  });

  it('refuses a second bot on the same data folder, naming the first', async () => {
    const { bot } = await start();
    const err = await startBot({
      env: { ...setup.env, AUTONOMY_KILL: 'all' },
      logDestination: new LogSink(),
    }).catch((e: unknown) => e);
    expect(String((err as Error).message)).toMatch(/another autonomy \(pid \d+\) is running/);
    // The first one is unharmed, and the refused start wrote nothing.
    expect((await fetch(`${bot.url}/healthz`)).status).toBe(200);
    expect(bot.audit.records()).toHaveLength(1);
  });

  it('keeps the same policy version across a restart on the same file', async () => {
    const first = await start();
    await first.bot.stop();
    bots.pop();
    const second = await startBot({ env: setup.env, logDestination: new LogSink() });
    bots.push(second);
    expect(second.policy.version).toBe(1);
    expect(second.audit.records({ kind: 'policy.load' })).toHaveLength(1);
    expect(second.audit.verify().ok).toBe(true);
  });

  it('checks signature templates stored under older rules once, says so at start, and saves them at stop', async () => {
    setup = tempSetup();
    const database = openDatabase(setup.dbFile);
    migrate(database);
    // Stored apart under masking 13, before a name of several words with its pid was one value.
    const record = (signature: string, template: string, firstSeen: number) => ({
      signature,
      template,
      count: 3,
      firstSeen,
      lastSeen: firstSeen + 10,
      aliases: [],
      masking: 13,
    });
    new TemplateStore(database).save([
      record('s_older', 'Sandbox: <*> deny(<*>) file-write-create <*>', 1_000),
      record('s_younger', 'Sandbox: Google Chrome Helper(<*>) deny(<*>) file-write-create <*>', 2_000),
    ]);
    database.close();
    const checked =
      "signature templates stored under older rules: the most recently seen were checked once against today's rules (merged ones keep the older id)";

    const logs = new LogSink();
    const first = await startBot({ env: setup.env, logDestination: logs });
    expect(logs.records.find((r) => r.msg === checked)).toMatchObject({ templates: 1, checked: 2 });
    await first.stop();

    const again = new LogSink();
    const second = await startBot({ env: setup.env, logDestination: again });
    bots.push(second);
    expect(again.messages()).not.toContain(checked);
    const stored = new TemplateStore(second.database).load();
    expect(stored).toEqual([expect.objectContaining({ signature: 's_older', aliases: ['s_younger'] })]);
  });
});
