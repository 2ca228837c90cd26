/**
 * The learning loop hears a person's resolution as it hears a source's: an incident resolved with
 * `/autonomy resolve i1 <note>` wakes the mentor, through a durable job raised in the resolution's
 * transaction, and the pattern's runbook says what the person did.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type Bot, startBot } from '../../../src/main.js';
import { eventually, LogSink, type TempSetup, tempSetup } from '../../helpers/bot.js';

let setup: TempSetup | null = null;
let bot: Bot | null = null;

afterEach(async () => {
  await bot?.stop();
  setup?.cleanup();
  bot = null;
  setup = null;
});

type JobRow = { agent: string; reason: string; state: string };

describe('a person resolves an incident', () => {
  it('wakes the mentor, whose runbook of the pattern says what the person noted', async () => {
    setup = tempSetup({ LOG_LEVEL: 'error' });
    bot = await startBot({ env: setup.env, logDestination: new LogSink(), print: () => {} });
    const b = bot;
    const jobs = () =>
      b.database.sqlite
        .prepare('SELECT agent, reason, state FROM agent_jobs ORDER BY created_at')
        .all() as JobRow[];
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

    const reply = await b.core.inbound.command({
      platform: 'console',
      actor: 'console:user:local',
      channel: 'console:main',
      text: 'resolve i1 deleted old core dumps in /var/crash',
    });
    expect(reply.title).toContain('i1 resolved by console:user:local');

    await eventually(
      () => jobs().some((j) => j.agent === 'mentor' && j.reason === 'resolved' && j.state === 'done'),
      10_000,
    );
    const dir = join(setup.dir, 'data', 'runbooks');
    await eventually(() => existsSync(dir) && readdirSync(dir).length === 1, 5000);
    const runbook = readFileSync(join(dir, readdirSync(dir)[0] as string), 'utf8');
    expect(runbook).toContain('noting `deleted old core dumps in /var/crash`');
    expect(runbook).toContain('resolved by `console:user:local`');
  });
});
