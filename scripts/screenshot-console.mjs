/**
 * Regenerates docs/console.png, the README's picture of the console after `npm run demo`: runs the
 * built demo (dist/), opens its console in Debian's chromium (playwright-core, headless), waits
 * until the approval request of restart-demo-service is on the page, and saves a 1280x900
 * screenshot. Plain JS so it runs with node after a build:
 *
 *   npm run build && node scripts/screenshot-console.mjs [--out docs/console.png] [--anyway]
 *
 * --anyway takes the picture even when no approval request appears (it says so, and exits 1).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(ROOT, 'dist', 'src', 'cli.js');
const CHROMIUM = process.env.AUTONOMY_CHROMIUM || '/usr/bin/chromium';
const args = process.argv.slice(2);
const outAt = args.indexOf('--out');
const OUT = resolve(ROOT, outAt >= 0 ? (args[outAt + 1] ?? '') : join('docs', 'console.png'));
const ANYWAY = args.includes('--anyway');

function fail(message) {
  process.stderr.write(`error: ${message}\n`);
  process.exit(1);
}

if (!existsSync(BIN)) fail(`${BIN} is missing: run \`npm run build\` first`);
if (!existsSync(CHROMIUM)) fail(`${CHROMIUM} is missing: install it with  apt-get install -y chromium`);

const demo = spawn(process.execPath, [BIN, 'demo', '--pause', '300', '--wait', '30'], {
  cwd: ROOT,
  env: { ...process.env, AUTONOMY_HOST: '127.0.0.1', AUTONOMY_PORT: '0' },
  stdio: ['ignore', 'pipe', 'inherit'],
});
let stdout = '';
const driven = new Promise((done, failed) => {
  demo.stdout.on('data', (chunk) => {
    stdout += chunk.toString('utf8');
    process.stdout.write(chunk);
    if (stdout.includes('Ctrl-C stops the demo bot')) done();
  });
  demo.once('exit', (code) => failed(new Error(`the demo exited (${code}) before it had driven every step`)));
});

let status = 0;
let browser;
try {
  await driven;
  const consoleUrl = /^Console {2}(http:\/\/\S+)$/m.exec(stdout)?.[1];
  if (!consoleUrl) throw new Error('the demo printed no console URL');
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-background-networking',
      '--disable-gpu',
      '--disable-component-update',
      '--no-first-run',
    ],
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1 });
  await page.goto(consoleUrl);
  await page.getByText('live', { exact: true }).waitFor({ timeout: 15_000 });
  const request = page
    .locator('article.kind-approval')
    .filter({ has: page.getByRole('button', { name: 'Approve' }) })
    .first();
  try {
    await request.waitFor({ timeout: 30_000 });
    await request.scrollIntoViewIfNeeded();
  } catch {
    if (!ANYWAY)
      throw new Error('no approval request appeared in the console within 30 s (use --anyway to take it)');
    process.stderr.write('warning: no approval request in the console; taking the picture anyway\n');
    status = 1;
  }
  mkdirSync(dirname(OUT), { recursive: true });
  await page.screenshot({ path: OUT });
  process.stdout.write(`\nsaved ${OUT}\n`);
} catch (err) {
  process.stderr.write(`error: ${err.message}\n`);
  status = 1;
} finally {
  await browser?.close();
  demo.kill('SIGTERM');
}
process.exitCode = status;
