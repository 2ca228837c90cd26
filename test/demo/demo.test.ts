/**
 * `autonomy demo` as people run it: `npm run demo` (a real process that starts its own bot on the
 * demo policy and drives the scripted incident through the ingest hooks), with and without a model
 * server, and `autonomy demo --url` against a bot this test starts. What is checked is what a person
 * would look at: the bot's answers, its incidents, runs and approvals, and its console.
 * Uses dist/ (built by `npm test`'s pretest).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq, ne } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from '../../src/db/connection.js';
import { approvals, incidents, runs, signals } from '../../src/db/schema.js';
import { type Bot, startBot } from '../../src/main.js';
import { loadPolicyFile } from '../../src/policy/load.js';
import { type FakeOllama, json, promptText, startFakeOllama } from '../fakes/ollama-server.js';
import { eventually, LogSink, ROOT } from '../helpers/bot.js';
import { runCli } from '../helpers/cli.js';

const BIN = join(ROOT, 'dist', 'src', 'cli.js');
const DEMO_POLICY = join(ROOT, 'policies', 'examples', 'demo.policy.yaml');
/** Nothing listens here: the agents have no model server and work on rules alone. */
const NO_MODEL_SERVER = 'http://127.0.0.1:9';

interface DemoProcess {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  readonly exit: Promise<number | null>;
}

function spawnDemo(args: string[], env: Record<string, string>): DemoProcess {
  const child = spawn(process.execPath, [BIN, 'demo', '--pause', '0', ...args], {
    cwd: ROOT,
    env: { ...process.env, AUTONOMY_HOST: '127.0.0.1', AUTONOMY_PORT: '0', LOG_LEVEL: 'info', ...env },
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (c: Buffer) => {
    out += c.toString('utf8');
  });
  child.stderr?.on('data', (c: Buffer) => {
    err += c.toString('utf8');
  });
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exit };
}

/** Waits until the demo has driven every step and says how to stop it. */
async function driven(demo: DemoProcess, timeoutMs: number): Promise<string> {
  await eventually(
    () => demo.stdout().includes('Ctrl-C stops the demo bot') || demo.child.exitCode !== null,
    timeoutMs,
    50,
  );
  if (demo.child.exitCode !== null) {
    throw new Error(`the demo exited ${demo.child.exitCode}:\n${demo.stdout()}\n${demo.stderr()}`);
  }
  return demo.stdout();
}

function consoleOf(stdout: string): { url: string; token: string } {
  const m = /^Console {2}(http:\/\/127\.0\.0\.1:\d+)\/\?token=(\S+)$/m.exec(stdout);
  if (!m) throw new Error(`no console URL in:\n${stdout}`);
  return { url: m[1] as string, token: m[2] as string };
}

interface FeedMessage {
  message: { kind: string; title: string; refs: { approval?: string }; buttons: { action: string }[] };
}

async function consoleFeed(c: { url: string; token: string }): Promise<FeedMessage[]> {
  const res = await fetch(`${c.url}/api/messages`, { headers: { authorization: `Bearer ${c.token}` } });
  expect(res.status).toBe(200);
  return ((await res.json()) as { messages: FeedMessage[] }).messages;
}

async function stop(demo: DemoProcess): Promise<void> {
  if (demo.child.exitCode === null && demo.child.signalCode === null) demo.child.kill('SIGKILL');
  await demo.exit;
}

beforeAll(() => {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run \`npm run build\` (npm test does it first)`);
});

describe('the demo policy and payloads', () => {
  it('is a valid policy: phase 3, all five agents on, a tier 2 action allowlisted and a tier 3 one', async () => {
    const loaded = await loadPolicyFile(DEMO_POLICY);
    if (!loaded.ok) throw new Error(loaded.issues.map((i) => i.message).join('\n'));
    const doc = loaded.policy.doc;
    expect(doc.rollout.phase).toBe(3);
    expect(Object.values(doc.agents).every((a) => a.enabled)).toBe(true);
    expect(doc.agents.validator.allowlist).toContain('rerun-demo-ci');
    expect(doc.actions.find((a) => a.id === 'restart-demo-service')).toMatchObject({
      tier: 3,
      class: 'service-affecting',
    });
    // Every action is a node script in demo/actions/ that exists: nothing else can run.
    for (const a of doc.actions) {
      if (!('command' in a.executor)) throw new Error(`${a.id} is not a command action`);
      const [program, script] = a.executor.command;
      expect(program).toBe('node');
      expect(existsSync(join(ROOT, script as string))).toBe(true);
    }
  });

  it('sends the real GitHub workflow_run example (from @octokit/webhooks-examples)', () => {
    const require = createRequire(import.meta.url);
    const examples = require('@octokit/webhooks-examples') as {
      name: string;
      examples: { action: string; workflow_run: { conclusion: string | null } }[];
    }[];
    const kept = JSON.parse(
      readFileSync(join(ROOT, 'demo', 'payloads', 'workflow_run.completed.json'), 'utf8'),
    );
    const real = examples
      .find((e) => e.name === 'workflow_run')
      ?.examples.filter((e) => e.action === 'completed' && e.workflow_run.conclusion === 'success');
    expect(real).toContainEqual(kept);
  });
});

describe('npm run demo (a real process, no model server: rules only)', () => {
  let dir: string;
  let demo: DemoProcess;
  let stdout: string;
  let database: Database;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'autonomy-demo-test-'));
    demo = spawnDemo(['--wait', '15', '--data', dir], { OLLAMA_HOST: NO_MODEL_SERVER });
    stdout = await driven(demo, 40_000);
    database = openDatabase(join(dir, 'data', 'autonomy.db'), { readonly: true });
  }, 60_000);

  afterAll(async () => {
    database?.close();
    if (demo) await stop(demo);
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts a bot on the demo policy with a fresh database and prints the console URL with its token', async () => {
    expect(stdout).toMatch(/policy policies\/examples\/demo\.policy\.yaml, phase 3, fresh database/);
    const c = consoleOf(stdout);
    // The printed URL signs a browser in (and takes the token out of the address bar).
    const page = await fetch(`${c.url}/?token=${c.token}`, { redirect: 'manual' });
    expect(page.status).toBe(303);
  });

  it('drives each step through the ingest hooks in its real format, and the bot takes every one', () => {
    for (const hook of ['events', 'github', 'logs', 'alertmanager', 'osv']) {
      expect(stdout).toMatch(new RegExp(`POST /hooks/${hook} -> 202 accepted: incident i\\d`));
    }
    expect(stdout).not.toMatch(/refused/);
  });

  it('opens incidents for every signal: demo-api (health, repeated errors and the alert joined), the CI failure, the advisory', () => {
    const rows = database.db
      .select({
        kind: signals.kind,
        incident: incidents.number,
        fingerprint: incidents.fingerprint,
        title: incidents.title,
        severity: incidents.severity,
        service: incidents.service,
      })
      .from(signals)
      .innerJoin(incidents, eq(signals.incidentId, incidents.id))
      .all();
    const of = (kind: string) => rows.find((r) => r.kind === kind);
    expect(rows.map((r) => r.kind).sort()).toEqual(
      ['advisory', 'alert', 'error_signature', 'failed_job', 'health'].sort(),
    );
    // One incident for demo-api: the health degradation opened it, the rest joined (same service),
    // and its title says what it holds.
    expect(of('health')).toMatchObject({
      title:
        'demo-api /healthz failed 3 checks in a row (503 Service Unavailable) + error repeated 5× in 10m: checkout failed for order ord<*>: upstream payments-gateway timed out after <*> (request_id=<*>) + HighErrorRate: 7.4% of demo-api requests fail (objective: 1%)',
      service: 'demo-api',
    });
    expect(of('error_signature')?.incident).toBe(of('health')?.incident);
    expect(of('alert')?.incident).toBe(of('health')?.incident);
    expect(of('alert')?.severity).toBe('critical');
    expect(of('failed_job')).toMatchObject({
      title: 'octo-org/octo-repo: test failed on master',
      service: 'octo-org/octo-repo',
    });
    expect(of('advisory')).toMatchObject({
      fingerprint: expect.stringContaining('GHSA-35jh-r3h4-6jhm'),
      title: expect.stringContaining('lodash@4.17.20'),
    });
    expect(new Set(rows.map((r) => r.incident)).size).toBe(3);
  });

  it('posts an alert per incident to the console', async () => {
    const feed = await consoleFeed(consoleOf(stdout));
    const alerts = feed.filter((m) => m.message.kind === 'alert').map((m) => m.message.title);
    expect(alerts).toEqual(
      expect.arrayContaining([
        expect.stringContaining('demo-api /healthz failed'),
        expect.stringContaining('test failed on master'),
        expect.stringContaining('GHSA-35jh-r3h4-6jhm lodash@4.17.20'),
      ]),
    );
  });

  it("says the agents ran on rules, and marks each agent's post so", () => {
    expect(stdout).toMatch(
      /The agents ran on rules: no model answered, so their \d+ post\(s\) are marked "Written by: rules"/,
    );
    expect(stdout).toMatch(/\[rules\]$/m);
    expect(stdout).not.toContain('[model-written]');
  });

  // The two below need the agents wired into the bot (validator and sentinel proposing actions).
  it('runs rerun-demo-ci by itself after the CI failure (tier 2, allowlisted), touching only the demo folder', async () => {
    const ran = await eventually(
      () =>
        database.db
          .select()
          .from(runs)
          .where(eq(runs.actionId, 'rerun-demo-ci'))
          .all()
          .find((r) => r.status === 'succeeded'),
      10_000,
      100,
    );
    expect(ran).toMatchObject({ agent: 'validator', tier: 2, verdict: 'execute' });
    expect(readdirSync(join(dir, 'work', 'ci')).some((f) => f.startsWith('rerun-'))).toBe(true);
  });

  it('asks for approval of restart-demo-service (tier 3) in the console, and says so', async () => {
    const pending = await eventually(
      () =>
        database.db
          .select()
          .from(approvals)
          .where(eq(approvals.actionId, 'restart-demo-service'))
          .all()
          .find((a) => a.state === 'pending'),
      10_000,
      100,
    );
    expect(pending).toMatchObject({ agent: 'sentinel', params: { service: 'demo-api' } });
    const feed = await consoleFeed(consoleOf(stdout));
    const request = feed.find((m) => m.message.kind === 'approval' && m.message.refs.approval !== undefined);
    expect(request?.message.buttons.map((b) => b.action)).toEqual(
      expect.arrayContaining(['approve', 'deny']),
    );
    expect(stdout).toMatch(/Waiting for you: .*\(a\d+\)\./);
    expect(stdout).toMatch(/Approve or deny it in the console: http:\/\/127\.0\.0\.1:\d+\/\?token=/);
  });

  it('stops cleanly on Ctrl-C and keeps the --data folder', async () => {
    demo.child.kill('SIGINT');
    expect(await demo.exit).toBe(0);
    expect(demo.stdout()).toMatch(/demo bot stopped\n$/);
    expect(existsSync(join(dir, 'data', 'autonomy.db'))).toBe(true);
    expect(existsSync(join(dir, 'data', 'autonomy.pid'))).toBe(false);
  });
});

describe('npm run demo with a model server (the fake Ollama)', () => {
  let ollama: FakeOllama;
  beforeAll(async () => {
    ollama = await startFakeOllama();
  });
  afterAll(() => ollama.close());

  it("shows the model's assessments, marked model-written, and removes its temp folder when stopped", async () => {
    // A good model: it cites the first fact it was shown, and sentinel proposes the restart.
    ollama.setScript((request) => {
      const facts = /<facts>\n(.*)\n<\/facts>/s.exec(promptText(request))?.[1];
      const first = (JSON.parse(facts ?? '[]') as { id: string }[])[0]?.id ?? 'none';
      const restart = promptText(request).includes('restart-demo-service');
      return json({
        summary: 'demo-api fails its health checks while its upstream times out.',
        cause: 'The upstream payments-gateway times out.',
        causeFacts: [first],
        confidence: 0.8,
        proposals: restart
          ? [{ action: 'restart-demo-service', params: { service: 'demo-api' }, why: 'it is down' }]
          : [],
      });
    });
    const demo = spawnDemo(['--wait', '15'], { OLLAMA_HOST: ollama.url });
    try {
      const stdout = await driven(demo, 40_000);
      expect(stdout.match(/-> 202 accepted/g)).toHaveLength(5);
      expect(stdout).toMatch(/\[model-written\]$/m);
      expect(stdout).toMatch(
        /\d+ agent post\(s\) carry the model's assessment, marked "Written by: a model"/,
      );
      const folder = /^Bot log {2}(.+)\/bot\.log$/m.exec(stdout)?.[1] as string;
      expect(existsSync(folder)).toBe(true);
      demo.child.kill('SIGTERM');
      expect(await demo.exit).toBe(0);
      expect(existsSync(folder)).toBe(false);
    } finally {
      await stop(demo);
    }
  }, 60_000);
});

describe('autonomy demo --url (drives a bot that is already running)', () => {
  const SECRET = 'demo-test-github-secret';
  let dir: string;
  let bot: Bot;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'autonomy-demo-url-'));
    bot = await startBot({
      env: {
        PATH: process.env.PATH,
        AUTONOMY_POLICY: DEMO_POLICY,
        AUTONOMY_DB: join(dir, 'data', 'autonomy.db'),
        AUTONOMY_HOST: '127.0.0.1',
        AUTONOMY_PORT: '0',
        AUTONOMY_DEMO_DIR: join(dir, 'work'),
        GITHUB_WEBHOOK_SECRET: SECRET,
        OLLAMA_HOST: NO_MODEL_SERVER,
        LOG_LEVEL: 'warn',
      },
      cwd: ROOT,
      logDestination: new LogSink(),
      print: () => {},
    });
  });
  afterAll(async () => {
    await bot?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const demo = (env: Record<string, string>, ...args: string[]) =>
    runCli(['demo', '--pause', '0', '--wait', '0', ...args], { env, cwd: ROOT });

  const signalCount = () => bot.database.db.select().from(signals).all().length;
  const dbFile = () => bot.config.dbFile;
  const signalsBesidesRepeats = () =>
    bot.database.db.select().from(signals).where(ne(signals.kind, 'error_signature')).all().length;

  it('reads the ingest token from the data folder of AUTONOMY_DB; without GITHUB_WEBHOOK_SECRET the CI failure is a generic event', async () => {
    const r = await demo({ AUTONOMY_DB: dbFile() }, '--url', bot.url);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain(`ingest token from ${join(bot.config.dataDir, 'ingest-token')}`);
    expect(r.out).toMatch(/what happens next is up to that policy/);
    expect(r.out).toMatch(/GITHUB_WEBHOOK_SECRET is not set here/);
    expect(r.out.match(/-> 202 accepted/g)).toHaveLength(5);
    // The console token is in the data folder too: the demo shows what the bot posted.
    expect(r.out).toMatch(/The console shows \d+ new message\(s\):/);
    const job = bot.database.db.select().from(signals).where(eq(signals.kind, 'failed_job')).get();
    expect(job).toMatchObject({ source: 'events', title: 'octo-org/octo-repo: test failed on master' });
    expect(job?.incidentId).not.toBeNull();
  });

  it('without a URL drives AUTONOMY_HOST:AUTONOMY_PORT, signs the CI failure with GITHUB_WEBHOOK_SECRET, and a second run is new data', async () => {
    const port = new URL(bot.url).port;
    const env = {
      AUTONOMY_INGEST_TOKEN: bot.ingestToken,
      AUTONOMY_HOST: '127.0.0.1',
      AUTONOMY_PORT: port,
      GITHUB_WEBHOOK_SECRET: SECRET,
    };
    // Every step is new data for the bot, however often the demo runs (the repeated error only
    // fires again once its signature's cooldown is over).
    const before = signalsBesidesRepeats();
    const r = await demo(env, '--url');
    expect(r.code).toBe(0);
    expect(r.out).toContain(`driving the bot at http://127.0.0.1:${port}`);
    expect(r.out).toMatch(/POST \/hooks\/github -> 202 accepted: incident i\d+/);
    expect(signalsBesidesRepeats() - before).toBe(4);
    const again = await demo(env, '--url');
    expect(again.code).toBe(0);
    expect(again.out).not.toMatch(/duplicate/);
    expect(again.out).toMatch(/POST \/hooks\/logs -> 202 accepted: .*in its cooldown/);
    expect(signalsBesidesRepeats() - before).toBe(8);
  });

  it('a wrong ingest token: exit 1 with one line saying how to fix it, and nothing stored', async () => {
    const before = signalCount();
    const r = await demo({ AUTONOMY_INGEST_TOKEN: 'not-the-token-of-that-bot-0123456789' }, '--url', bot.url);
    expect(r.code).toBe(1);
    expect(r.err).toBe(
      `error [DEMO_REFUSED]: the bot at ${bot.url} refused the ingest token from AUTONOMY_INGEST_TOKEN (401): set AUTONOMY_INGEST_TOKEN ` +
        'to its token, or AUTONOMY_DB to its database (the token is in the ingest-token file next to it)\n',
    );
    expect(signalCount()).toBe(before);
  });

  it('a GitHub secret that is not the bot’s: exit 1 and what to do', async () => {
    const r = await demo(
      { AUTONOMY_INGEST_TOKEN: bot.ingestToken, GITHUB_WEBHOOK_SECRET: 'another-secret' },
      '--url',
      bot.url,
    );
    expect(r.code).toBe(1);
    expect(r.err).toMatch(
      /^error \[DEMO_REFUSED\]: .*refused the GitHub signature \(401\): GITHUB_WEBHOOK_SECRET here must be the bot's secret/,
    );
  });

  it('no bot at the URL, or no token anywhere: exit 1 and what to do', async () => {
    const closed = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
    });
    const down = await demo(
      { AUTONOMY_INGEST_TOKEN: bot.ingestToken },
      '--url',
      `http://127.0.0.1:${closed}`,
    );
    expect(down.code).toBe(1);
    expect(down.err).toBe(
      `error [DEMO_UNREACHABLE]: cannot reach the bot at http://127.0.0.1:${closed} (ECONNREFUSED): start one with \`npm start\`, or pass its address with --url URL\n`,
    );
    const empty = mkdtempSync(join(tmpdir(), 'autonomy-demo-none-'));
    try {
      const none = await demo({ AUTONOMY_DB: join(empty, 'autonomy.db') }, '--url', bot.url);
      expect(none.code).toBe(1);
      expect(none.err).toMatch(
        /^error \[DEMO_NO_TOKEN\]: no ingest token: set AUTONOMY_INGEST_TOKEN to the bot's token/,
      );
      expect(existsSync(join(empty, 'ingest-token'))).toBe(false);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('bad numbers are usage errors (exit 2)', async () => {
    const r = await demo({}, '--url', bot.url, '--pause', 'soon');
    expect(r.code).toBe(2);
    expect(r.err).toBe('error [CLI_USAGE]: --pause "soon": a whole number\n');
  });
});
