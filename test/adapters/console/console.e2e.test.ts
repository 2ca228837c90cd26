/**
 * The whole bot as an on-call engineer meets it: the real process wiring (startBot), the console
 * page in Debian's chromium, a real tier 3 request from the policy's catalog, a real command run.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Bot, startBot } from '../../../src/main.js';
import { decide } from '../../../src/policy/decide.js';
import type { Proposal } from '../../../src/policy/types.js';
import { LogSink, type TempSetup, tempSetup } from '../../helpers/bot.js';
import { launchChromium } from '../../helpers/chromium.js';

let setup: TempSetup;
let bot: Bot;
let browser: Browser;
let page: Page;
let marker: string;

const MARK_ACTION = `
  - id: mark-deploy
    agent: sentinel
    description: Record a deploy marker (harmless; writes one line to a file)
    tier: 3
    class: service-affecting
    target: web
    executor:
      command: [node, -e, "require('fs').appendFileSync(process.env.MARKER_FILE, 'ran\\\\n')"]
      env: [MARKER_FILE]
    timeout: 30s
`;

beforeAll(async () => {
  setup = tempSetup();
  marker = join(setup.dir, 'marker.txt');
  setup.savePolicy(
    `${setup.policyText().replace('phase: 1 # observe-only baseline', 'phase: 3')}${MARK_ACTION}`,
  );
  bot = await startBot({
    env: { ...setup.env, MARKER_FILE: marker, PATH: process.env.PATH ?? '/usr/bin:/bin' },
    logDestination: new LogSink(),
    print: () => {},
  });
  browser = await launchChromium();
  page = await (await browser.newContext({ viewport: { width: 1100, height: 1000 } })).newPage();
  await page.goto(bot.consoleUrl as string);
  await page.getByText('live', { exact: true }).waitFor();
}, 40_000);

afterAll(async () => {
  await browser?.close();
  await bot?.stop();
  setup?.cleanup();
});

function article(title: string | RegExp) {
  return page.locator('article').filter({ has: page.getByRole('heading', { name: title }) });
}

describe('the console on the real bot', () => {
  it('kills guardian from the command box, and status shows it', async () => {
    const box = page.getByRole('textbox', { name: 'Command' });
    await box.fill('/autonomy kill guardian drill');
    await box.press('Enter');
    const replies = page.locator('#replies');
    await replies.getByRole('heading', { name: /guardian killed \(drill\)/ }).waitFor();
    expect(
      bot.controlState().killedAgents.has('guardian') || bot.control.snapshot().killedAgents.has('guardian'),
    ).toBe(true);
    await box.fill('status');
    await box.press('Enter');
    await expect
      .poll(async () => replies.locator('article').first().textContent())
      .toMatch(/guardian: phase 3, KILLED/);
  });

  it('shows a real tier 3 request; Approve (double-clicked) runs it once and the message changes', async () => {
    const proposal: Proposal = {
      agent: 'sentinel',
      actionId: 'mark-deploy',
      params: {},
      rationale: 'deploy finished',
    };
    const policy = bot.policy.current;
    const decision = decide(policy, { ...bot.control.snapshot() }, proposal, Date.now());
    expect(decision.verdict).toBe('ask');
    const { shortId } = bot.core.approvals.request(proposal, decision, { trigger: 'test', evidence: [] });
    bot.outboxWorker.poke();

    const request = article(new RegExp(`Approval ${shortId}:`));
    await request.waitFor();
    const text = (await request.textContent()) ?? '';
    expect(text).toContain('appendFileSync'); // exactly what will run is shown
    expect(text).toContain('web');
    await request.getByRole('button', { name: 'Approve' }).dblclick();

    await expect
      .poll(() => (existsSync(marker) ? readFileSync(marker, 'utf8') : ''), { timeout: 10_000 })
      .toBe('ran\n');
    await expect
      .poll(async () => request.textContent(), {
        timeout: 10_000,
      })
      .toMatch(/console:user:local/);
    // A later click (typed fallback) is refused with who decided; nothing runs again.
    const again = await bot.core.inbound.command({
      platform: 'console',
      actor: 'console:user:local',
      channel: 'console:main',
      text: `approve ${shortId}`,
    });
    expect(`${again.title} ${again.body}`).toMatch(/already approved by console:user:local/);
    await bot.core.approvals.settled();
    expect(readFileSync(marker, 'utf8')).toBe('ran\n');
    await page.screenshot({ path: join('test-results', 'console-e2e.png') });
  });
});
