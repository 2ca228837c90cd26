/**
 * The weekly digest in the console, in a real browser: a digest built from a real database (chart
 * drawn into the data folder) is posted to the console feed; Debian's chromium shows the chart
 * image, loaded through the signed-in session, with alt text that states the numbers.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultAllowedHosts } from '../../../adapters/console/auth.js';
import { ConsoleAdapter } from '../../../adapters/console/console-adapter.js';
import { mountConsole } from '../../../adapters/console/routes.js';
import { createHttpApp, listen, type RunningServer } from '../../../adapters/http/server.js';
import { message } from '../../../src/chat/message.js';
import { type Database, migrate, openDatabase } from '../../../src/db/connection.js';
import { incidents } from '../../../src/db/schema.js';
import { buildDigest } from '../../../src/metrics/digest.js';
import { randomId } from '../../../src/process/ids.js';
import { makePolicy } from '../../fixtures/policy.js';
import { ROOT } from '../../helpers/bot.js';
import { launchChromium } from '../../helpers/chromium.js';

const TOKEN = 'console-token-for-the-digest-test-0123456789';
const NOW = Date.UTC(2026, 2, 30, 9);

let dir: string;
let database: Database;
let server: RunningServer;
let browser: Browser;
let page: Page;
let adapter: ConsoleAdapter;
let alt = '';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'autonomy-digest-browser-'));
  database = openDatabase(join(dir, 'autonomy.db'));
  migrate(database);
  for (let i = 1; i <= 3; i++) {
    const at = NOW - i * 2 * 86_400_000;
    database.db
      .insert(incidents)
      .values({
        id: `i${i}`,
        number: i,
        fingerprint: `f${i}`,
        title: `incident ${i}`,
        severity: 'warning',
        status: 'resolved',
        startedAt: at,
        detectedAt: at + 60_000,
        resolvedAt: at + i * 20 * 60_000,
      })
      .run();
  }
  const digest = await buildDigest({ database, policy: makePolicy(), now: NOW, dataDir: dir });
  alt = digest.message.image?.alt ?? '';
  adapter = new ConsoleAdapter({ now: Date.now, newId: randomId });
  const app = createHttpApp({ health: () => ({ status: 'ok', checks: {} }), onError: () => {} });
  let port = 0;
  mountConsole(app, {
    adapter,
    inbound: {
      command: async () => message({ kind: 'reply', title: 'ok' }),
      click: async () => message({ kind: 'reply', title: 'ok' }),
    },
    token: TOKEN,
    consoleUser: () => 'console:user:local',
    allowedHosts: () => defaultAllowedHosts(port, null),
    publicUrl: null,
    now: Date.now,
    log: pino({ level: 'silent' }),
    dataDir: dir,
  });
  server = await listen(app, '127.0.0.1', 0);
  port = Number(new URL(server.url).port);
  await adapter.post('console:main', digest.message);
  // A message whose image is not a digest chart: described, never fetched.
  await adapter.post(
    'console:main',
    message({ kind: 'notice', title: 'Odd image', image: { path: '../console-token', alt: 'odd one' } }),
  );

  browser = await launchChromium();
  const context = await browser.newContext({ viewport: { width: 1100, height: 1400 } });
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

describe('the digest in the console', () => {
  it('shows the chart image, loaded with the session, with alt text that states the numbers', async () => {
    const digest = page.locator('article.kind-digest');
    await digest.waitFor();
    const img = digest.locator('figure.chart img');
    await img.waitFor();
    expect(await img.getAttribute('src')).toBe('/api/digests/2026-03-23.png');
    expect(await img.getAttribute('alt')).toBe(alt);
    expect(alt).toContain('Incidents: 0, 0, 0, 0, 0, 0, 0, 3.');
    // The browser really decoded a 960 x 600 PNG (a broken image has a natural width of 0).
    await expect
      .poll(() => img.evaluate((e) => (e as unknown as { naturalWidth: number }).naturalWidth))
      .toBe(960);
    expect(await digest.locator('.body').textContent()).toContain('Last 8 weeks');
    mkdirSync(join(ROOT, 'test-results'), { recursive: true });
    await digest.screenshot({ path: join(ROOT, 'test-results', 'digest-console.png') });
  });

  it('describes any other image instead of fetching it', async () => {
    const odd = page.locator('article').filter({ has: page.getByRole('heading', { name: 'Odd image' }) });
    await odd.getByText('Chart (not shown here): odd one').waitFor();
    expect(await odd.locator('img').count()).toBe(0);
  });
});
