/**
 * The built bot as a real process under abuse: a signed Slack body that used to kill it. Uses dist/
 * (`npm run build` first; `npm test` does it).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type FakeSlackApi, slackSignedHeaders, startFakeSlackApi } from '../fakes/slack-api.js';
import { getHealth, listening, ROOT, type TempSetup, tempSetup } from '../helpers/bot.js';

const BIN = join(ROOT, 'dist', 'src', 'cli.js');
const SECRET = 'slack-signing-secret-for-process-tests';

let setup: TempSetup | null = null;
let child: ChildProcess | null = null;
let api: FakeSlackApi | null = null;

beforeAll(() => {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run \`npm run build\` (npm test does it first)`);
});

afterEach(async () => {
  if (child && child.exitCode === null && child.signalCode === null) {
    child.kill('SIGKILL');
    await new Promise((r) => child?.once('exit', r));
  }
  child = null;
  await api?.close();
  api = null;
  setup?.cleanup();
  setup = null;
});

describe('the bot process and bad input', () => {
  it('survives a signed payload=null on /slack/events (400), keeps serving, and still takes commands', async () => {
    api = await startFakeSlackApi();
    setup = tempSetup({
      SLACK_BOT_TOKEN: 'xoxb-test-token',
      SLACK_SIGNING_SECRET: SECRET,
      SLACK_API_URL: api.url,
    });
    const proc = spawn(process.execPath, [BIN, 'start'], {
      env: { ...process.env, ...setup.env },
      cwd: setup.dir,
    });
    child = proc;
    const started = listening(proc);
    const url = await started.url;
    const post = (body: string) =>
      fetch(`${url}/slack/events`, {
        method: 'POST',
        headers: slackSignedHeaders(body, SECRET, Math.floor(Date.now() / 1000)),
        body,
      });

    for (const body of ['payload=null', 'payload=%5B%5D', 'foo=bar']) {
      expect((await post(body)).status).toBe(400);
    }
    // Still serving: a crash on those bodies would fail these requests.
    const health = await getHealth(url);
    expect(health.checks.database?.status).toBe('ok');
    expect(health.checks['chat:slack']?.status).toBe('ok');
    const command = new URLSearchParams({
      command: '/autonomy',
      text: 'status',
      user_id: 'U1',
      channel_id: 'C1',
      team_id: 'T1',
      trigger_id: 'trig.1',
      response_url: api.responseUrl(),
    }).toString();
    expect((await post(command)).status).toBe(200);
    expect(proc.exitCode).toBeNull();
    expect(proc.signalCode).toBeNull();
    expect(started.stderr()).not.toContain('uncaught');
    // Starting the built bot takes 2 s of CPU: over 20 s of wall clock on a loaded 2-core machine
    // (as cli-process.test.ts allows); listening() waits for its URL or its end, not a fixed time.
  }, 60_000);
});
