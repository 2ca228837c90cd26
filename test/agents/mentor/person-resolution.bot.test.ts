/**
 * The learning loop hears a person's resolution as it hears a source's: an incident resolved with
 * `/autonomy resolve i1 <note>` wakes the mentor, through a durable job raised in the resolution's
 * transaction, and the pattern's runbook says what the person did. So does `autonomy resolve` typed
 * in the CLI (another process, here run in this one on its own connection): the running bot takes
 * its job up when it next looks for work nobody woke it for.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type Bot, type BotOptions, startBot } from '../../../src/main.js';
import { eventually, LogSink, type TempSetup, tempSetup } from '../../helpers/bot.js';
import { runCli } from '../../helpers/cli.js';

let setup: TempSetup | null = null;
let bot: Bot | null = null;

afterEach(async () => {
  await bot?.stop();
  setup?.cleanup();
  bot = null;
  setup = null;
});

type JobRow = { agent: string; reason: string; state: string };

const jobsOf = (b: Bot) => () =>
  b.database.sqlite
    .prepare('SELECT agent, reason, state FROM agent_jobs ORDER BY created_at')
    .all() as JobRow[];

/** A bot with incident i1 (DiskFull on db) open and triaged, and no mentor job. */
async function withOpenIncident(options: BotOptions = {}): Promise<{ s: TempSetup; b: Bot }> {
  setup = tempSetup({ LOG_LEVEL: 'error' });
  bot = await startBot({ env: setup.env, logDestination: new LogSink(), print: () => {}, ...options });
  const b = bot;
  const jobs = jobsOf(b);
  b.core.signals.ingest([
    {
      kind: 'alert',
      source: 'alertmanager',
      dedupeKey: 'am:disk:1',
      fingerprint: 'DiskFull:db',
      title: 'DiskFull on db',
      service: 'db',
      severity: 'critical',
      payload: { labels: { alertname: 'DiskFull', service: 'db' } },
    },
  ]);
  await eventually(() => jobs().length > 0 && jobs().every((j) => j.state === 'done'), 10_000);
  expect(jobs().some((j) => j.agent === 'mentor')).toBe(false);
  return { s: setup, b };
}

/** The mentor's job for the resolution ends done, and the pattern's runbook quotes the person. */
async function expectRunbookQuoting(s: TempSetup, b: Bot, actor: string): Promise<void> {
  const jobs = jobsOf(b);
  await eventually(
    () => jobs().some((j) => j.agent === 'mentor' && j.reason === 'resolved' && j.state === 'done'),
    10_000,
  );
  const dir = join(s.dir, 'data', 'runbooks');
  await eventually(() => existsSync(dir) && readdirSync(dir).length === 1, 5000);
  const runbook = readFileSync(join(dir, readdirSync(dir)[0] as string), 'utf8');
  expect(runbook).toContain('noting `deleted old core dumps in /var/crash`');
  expect(runbook).toContain(`resolved by \`${actor}\``);
}

describe('a person resolves an incident', () => {
  it('wakes the mentor, whose runbook of the pattern says what the person noted', async () => {
    const { s, b } = await withOpenIncident();
    const reply = await b.core.inbound.command({
      platform: 'console',
      actor: 'console:user:local',
      channel: 'console:main',
      text: 'resolve i1 deleted old core dumps in /var/crash',
    });
    expect(reply.title).toContain('i1 resolved by console:user:local');
    await expectRunbookQuoting(s, b, 'console:user:local');
  });

  it('typed in the CLI while the bot runs: the bot takes the mentor job up, and the runbook quotes the note', async () => {
    const { s, b } = await withOpenIncident({ agentLookMs: 100 });
    const typed = await runCli(['resolve', 'i1', 'deleted old core dumps in /var/crash'], {
      env: { ...s.env, USER: 'alice' },
      cwd: s.dir,
    });
    expect(typed.code).toBe(0);
    expect(typed.out).toContain('i1 resolved by cli:user:alice');
    // Written by the CLI's own connection, in its resolution's transaction; nobody woke the bot.
    expect(jobsOf(b)()).toContainEqual({ agent: 'mentor', reason: 'resolved', state: expect.any(String) });
    await expectRunbookQuoting(s, b, 'cli:user:alice');
  });
});
