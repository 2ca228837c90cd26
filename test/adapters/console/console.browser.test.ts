/**
 * The console page in a real browser: Debian's chromium driven by playwright-core, against the
 * bot's real HTTP server on 127.0.0.1. Commands run through the real command set on a real SQLite
 * control store; clicks go to a recording stand-in for the approvals core, which updates the
 * message the way the outbox would.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultAllowedHosts } from '../../../adapters/console/auth.js';
import { ConsoleAdapter } from '../../../adapters/console/console-adapter.js';
import { mountConsole } from '../../../adapters/console/routes.js';
import { createHttpApp, listen, type RunningServer } from '../../../adapters/http/server.js';
import { AuditLog } from '../../../src/audit/log.js';
import type { ChatInbound, InboundClick } from '../../../src/chat/adapter.js';
import { runCommand } from '../../../src/chat/commands/execute.js';
import type { CommandServices } from '../../../src/chat/commands/services.js';
import { type ChatMessage, message } from '../../../src/chat/message.js';
import { ControlStore } from '../../../src/control/state.js';
import { type Database, migrate, openDatabase } from '../../../src/db/connection.js';
import { randomId } from '../../../src/process/ids.js';
import { makePolicy } from '../../fixtures/policy.js';
import { ROOT } from '../../helpers/bot.js';
import { CHROMIUM, launchChromium } from '../../helpers/chromium.js';

const TOKEN = 'console-token-for-the-browser-test-0123456789';
const USER = 'console:user:local';
/** The bits of the browser's globals the tests read (the test build has no DOM types). */
type Doc = { document: { activeElement: unknown } };
const XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>';

let dir: string;
let database: Database;
let server: RunningServer;
let browser: Browser;
let context: BrowserContext;
/** One signed-in tab shared by the tests (a new tab costs more than the test itself). */
let page: Page;
let adapter: ConsoleAdapter;
const clicks: InboundClick[] = [];
const refs = new Map<string, { channel: string; ref: string; message: ChatMessage }>();

function approval(target: string, nonce: string): ChatMessage {
  return message({
    kind: 'approval',
    title: `Approve restart-service checkout (${target})`,
    severity: 'warning',
    body: 'Will run: systemctl restart checkout\nTarget: checkout (tier 3: service-affecting)',
    fields: [
      { label: 'Requested by', value: 'sentinel' },
      { label: 'Expires', value: 'in 30 minutes' },
    ],
    buttons: [
      { action: 'approve', label: 'Approve', style: 'primary', target, nonce },
      { action: 'deny', label: 'Deny', style: 'danger', target, nonce },
    ],
    refs: { approval: target },
    mentions: ['console:user:local'],
  });
}

function services(control: ControlStore, audit: AuditLog): CommandServices {
  const policy = makePolicy({
    edit: (doc) => {
      doc.control.roles = { operators: [USER], approvers: [USER], admins: [USER] };
      doc.control.consoleUser = USER;
    },
  });
  const none = () => [];
  return {
    now: Date.now,
    policy: () => policy,
    control,
    audit,
    status: () => ({
      pendingApprovals: [],
      openIncidents: [],
      mutes: [],
      budgets: [],
      lastRuns: [],
      outbox: { pending: 0, failed: 0, oldestPendingAgeMs: null },
      lastPolicyError: null,
      policyVersion: 1,
      health: [{ name: 'database', status: 'ok' }],
      grants: [],
    }),
    onKill: () => ({ aborted: 0, voided: 0 }),
    approvals: { list: none, decide: async () => message({ kind: 'reply', title: 'typed decision' }) },
    incidents: {
      list: none,
      get: () => null,
      acknowledge: (id) => `${id} acknowledged`,
      resolve: (id) => `${id} resolved`,
    },
    mutes: { mute: () => 'muted', unmute: () => 'unmuted' },
    subscriptions: { subscribe: () => true, unsubscribe: () => true },
    runTrail: () => null,
    skills: none,
    digest: async () => message({ kind: 'reply', title: 'digest posted' }),
  };
}

async function post(channel: string, m: ChatMessage): Promise<string> {
  const { ref } = await adapter.post(channel, m);
  const target = m.refs.approval;
  if (target) refs.set(target, { channel, ref, message: m });
  return ref;
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} is missing: the console browser test needs it. Install it with: apt-get install -y chromium`,
    );
  }
  mkdirSync(join(ROOT, 'test-results'), { recursive: true });
  dir = mkdtempSync(join(tmpdir(), 'autonomy-console-'));
  database = openDatabase(join(dir, 'autonomy.db'));
  migrate(database);
  const audit = new AuditLog(database, { now: Date.now });
  const control = new ControlStore(database, audit, { now: Date.now });
  const commandServices = services(control, audit);
  adapter = new ConsoleAdapter({ now: Date.now, newId: randomId });

  // The stand-in for the approvals core: records the click, decides, updates the message once.
  const inbound: ChatInbound = {
    command: (cmd) => runCommand(commandServices, cmd),
    async click(click) {
      clicks.push(click);
      const posted = refs.get(click.target);
      if (!posted) return message({ kind: 'reply', title: `No approval ${click.target}` });
      const verb = click.action === 'approve' ? 'Approved' : 'Denied';
      const decided = message({
        kind: 'decision',
        title: `${verb}: restart-service checkout (${click.target})`,
        severity: 'info',
        body: `${verb} by ${click.actor}${click.reason ? `: ${click.reason}` : ''}`,
        refs: { approval: click.target },
      });
      await adapter.update(posted.channel, posted.ref, decided);
      return message({
        kind: 'reply',
        title: `${click.target} ${click.action === 'approve' ? 'approved' : 'denied'}`,
      });
    },
  };

  const app = createHttpApp({ health: () => ({ status: 'ok', checks: {} }), onError: () => {} });
  let port = 0;
  mountConsole(app, {
    adapter,
    inbound,
    token: TOKEN,
    consoleUser: () => USER,
    allowedHosts: () => defaultAllowedHosts(port, null),
    publicUrl: null,
    now: Date.now,
    log: pino({ level: 'silent' }),
    pollMs: 300,
  });
  server = await listen(app, '127.0.0.1', 0);
  port = Number(new URL(server.url).port);

  await post(
    'console:main',
    message({ kind: 'notice', title: 'autonomy started', body: 'policy version 1, phase 1' }),
  );
  await post(
    'console:main',
    message({
      kind: 'alert',
      title: `Disk almost full ${XSS}`,
      severity: 'critical',
      body: `line one\n${XSS}\nline three`,
      fields: [{ label: 'Host', value: `db-1 ${XSS}` }],
      links: [
        { label: 'Runbook', url: 'https://runbooks.example.com/disk' },
        { label: 'Sneaky', url: 'javascript:window.__xss=3' },
      ],
    }),
  );
  await post('console:approvals', approval('a12', 'nonce-a12-0001'));
  await post('console:approvals', approval('a13', 'nonce-a13-0001'));

  browser = await launchChromium();
  context = await browser.newContext({ viewport: { width: 1100, height: 1000 } });
  page = await context.newPage();
  await page.goto(`${server.url}/?token=${TOKEN}`);
  await page.getByText('live', { exact: true }).waitFor();
}, 30_000);

afterAll(async () => {
  await browser?.close();
  await adapter?.stop();
  await server?.close();
  database?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function article(title: string | RegExp) {
  return page.locator('article').filter({ has: page.getByRole('heading', { name: title }) });
}

describe('the console page in Chromium', () => {
  it('signs in from the printed URL and drops the token from the address bar', async () => {
    expect(page.url()).toBe(`${server.url}/`);
    const cookies = await context.cookies();
    expect(cookies).toEqual([
      expect.objectContaining({ name: 'autonomy_console', httpOnly: true, sameSite: 'Strict' }),
    ]);
    expect(cookies[0]?.value).not.toContain(TOKEN);
  });

  it('shows message text as text: no element is created from it, the text is visible', async () => {
    const alert = article(/Disk almost full/);
    await expect.poll(() => alert.count()).toBe(1);
    expect(await alert.getByRole('heading').textContent()).toBe(`Disk almost full ${XSS}`);
    expect(await alert.locator('.body').textContent()).toBe(`line one\n${XSS}\nline three`);
    expect(await alert.locator('dd').textContent()).toBe(`db-1 ${XSS}`);
    expect(await page.locator('main img, main script').count()).toBe(0);
    expect(await page.evaluate(() => (globalThis as { __xss?: number }).__xss)).toBeUndefined();
    // http(s) links become links that open safely; anything else stays text.
    const runbook = alert.getByRole('link', { name: 'Runbook' });
    expect(await runbook.getAttribute('href')).toBe('https://runbooks.example.com/disk');
    expect(await runbook.getAttribute('rel')).toBe('noopener noreferrer');
    expect(await alert.getByRole('link', { name: 'Sneaky' }).count()).toBe(0);
    await alert.getByText('Sneaky (link not shown').waitFor();
  });

  it('runs /autonomy kill guardian from the command box and status shows it', async () => {
    const box = page.getByRole('textbox', { name: 'Command' });
    await box.fill('/autonomy kill guardian flapping');
    await box.press('Enter');
    const replies = page.locator('#replies');
    await replies.getByText('› /autonomy kill guardian flapping').waitFor();
    await replies
      .getByRole('heading', { name: /guardian/i })
      .first()
      .waitFor();
    const killReply = (await replies.locator('article').first().textContent()) ?? '';
    expect(killReply).toMatch(/guardian/i);

    await box.fill('status');
    await page.getByRole('button', { name: 'Run' }).click();
    await replies.getByText('› /autonomy status').waitFor();
    await expect
      .poll(async () => replies.locator('article').first().textContent())
      .toMatch(/guardian: phase \d, KILLED/);
  });

  it('Approve runs once and the message changes in place', async () => {
    const before = await page.locator('#feed > li').count();
    const request = article(/Approve restart-service checkout \(a12\)/);
    // A double click sends one request: the buttons are disabled while it is on its way.
    await request.getByRole('button', { name: 'Approve' }).dblclick();
    const decided = article('Approved: restart-service checkout (a12)');
    await decided.waitFor();
    await decided.getByText('a12 approved').waitFor();
    expect(await decided.getByRole('button').count()).toBe(0);
    expect(await request.count()).toBe(0);
    expect(await page.locator('#feed > li').count()).toBe(before);
    expect(clicks.filter((c) => c.target === 'a12')).toEqual([
      {
        platform: 'console',
        actor: USER,
        channel: 'console:approvals',
        action: 'approve',
        target: 'a12',
        nonce: 'nonce-a12-0001',
      },
    ]);
  });

  it('Deny asks for a reason inline and sends it with the click', async () => {
    const request = article(/Approve restart-service checkout \(a13\)/);
    await request.getByRole('button', { name: 'Deny' }).click();
    const reason = request.getByLabel('Reason for denying (optional)');
    await expect
      .poll(() => reason.evaluate((e) => e === (globalThis as unknown as Doc).document.activeElement))
      .toBe(true);
    await reason.fill('not during the sale');
    await reason.press('Enter');
    await article('Denied: restart-service checkout (a13)').waitFor();
    expect(clicks.filter((c) => c.target === 'a13')).toEqual([
      expect.objectContaining({ action: 'deny', nonce: 'nonce-a13-0001', reason: 'not during the sale' }),
    ]);
  });

  it('shows new messages live, and one message whole on its own page', async () => {
    const long = `${'A long investigation note. '.repeat(200)}\nThe end.`;
    const ref = await post(
      'console:ops',
      message({ kind: 'suggestion', title: 'Rotate the logs', body: long }),
    );
    await article('Rotate the logs').waitFor();
    expect(await page.locator('#feed > li').first().textContent()).toContain('Rotate the logs');
    // Folded in the feed, whole after one click.
    const fold = article('Rotate the logs').getByRole('button', { name: 'Show the whole message' });
    expect(await fold.getAttribute('aria-expanded')).toBe('false');
    await page.screenshot({ path: join(ROOT, 'test-results', 'console.png'), fullPage: false });
    await fold.click();
    expect(await article('Rotate the logs').getByRole('button', { name: 'Fold it again' }).count()).toBe(1);

    await page.goto(`${server.url}/messages/${ref}`);
    const whole = article('Rotate the logs');
    await whole.waitFor();
    expect(await whole.locator('.body').textContent()).toBe(long);
    expect(await page.locator('article').count()).toBe(1);
  });

  it("folds an incident's thread under its card, and keeps it when the card is updated", async () => {
    const card = message({
      kind: 'alert',
      title: 'DiskFull on db-7',
      severity: 'critical',
      refs: { incident: 'i7' },
    });
    await page.goto(`${server.url}/`);
    const { ref: cardRef } = await adapter.post('console:main', card);
    await article('DiskFull on db-7').waitFor();
    await adapter.post(
      'console:main',
      message({ kind: 'notice', title: 'Triage i7: disk on db-7', refs: { incident: 'i7' } }),
      { thread: cardRef },
    );
    await adapter.post(
      'console:main',
      message({ kind: 'notice', title: 'i7 acknowledged by console:user:local', refs: { incident: 'i7' } }),
      { thread: cardRef },
    );
    const cardLi = page
      .locator('#feed > li')
      .filter({ has: page.getByRole('heading', { name: 'DiskFull on db-7' }) });
    const summary = cardLi.locator('details.thread > summary');
    await page.getByText('2 replies in the thread').waitFor();
    // Folded: the replies are not top-level items of the feed, and hidden until opened.
    expect(await page.locator('#feed > li > article').filter({ hasText: 'Triage i7' }).count()).toBe(0);
    expect(await page.getByRole('heading', { name: 'Triage i7: disk on db-7' }).isVisible()).toBe(false);
    await summary.click();
    await page.getByRole('heading', { name: 'Triage i7: disk on db-7' }).waitFor();
    await page.screenshot({
      path: join(ROOT, 'test-results', 'console-incident-thread.png'),
      fullPage: false,
    });
    await adapter.update(
      'console:main',
      cardRef,
      message({ ...card, title: 'DiskFull on db-7 (acknowledged)' }),
    );
    await article('DiskFull on db-7 (acknowledged)').waitFor();
    expect(await page.getByText('2 replies in the thread').count()).toBe(1);
  });

  it('never shows a masked link from untrusted text: links name their host, link syntax stays text', async () => {
    const evil = 'http://evil.example.net/x';
    const syntax = `[good](${evil}) <${evil}|good> <a href="${evil}">good</a>`;
    await page.goto(`${server.url}/`);
    await adapter.post(
      'console:main',
      message({
        kind: 'suggestion',
        title: 'Masked link check',
        body: `The model said: ${syntax}`,
        fields: [{ label: 'Reason', value: syntax }],
        links: [{ label: 'Official docs', url: evil }],
      }),
    );
    const art = article('Masked link check');
    await art.waitFor();
    const anchors = await art
      .locator('a[href^="http"]')
      .evaluateAll((as) =>
        as.map((a) => ({ text: a.textContent ?? '', href: a.getAttribute('href') ?? '' })),
      );
    expect(anchors).toEqual([{ text: 'Official docs (evil.example.net)', href: evil }]);
    expect(await art.locator('.body').textContent()).toContain(syntax);
  });

  it('falls back to polling when the live stream cannot connect', async () => {
    const tab = await context.newPage();
    await tab.route('**/api/stream', (route) => route.abort());
    await tab.goto(`${server.url}/`);
    await tab.getByText('live updates interrupted').waitFor();
    await post('console:main', message({ kind: 'notice', title: 'seen by polling' }));
    await tab.getByRole('heading', { name: 'seen by polling' }).waitFor();
    await tab.close();
  });

  it('without a session shows how to get in, not the console', async () => {
    const stranger = await browser.newPage();
    const res = await stranger.goto(`${server.url}/`);
    expect(res?.status()).toBe(401);
    await stranger.getByText('Open the URL that autonomy printed at start').waitFor();
    await stranger.close();
  });
});
