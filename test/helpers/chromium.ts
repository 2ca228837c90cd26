/**
 * Debian's chromium for browser tests (playwright-core never downloads a browser here). Fails
 * with the command to run when it is missing: npm test's pretest installs it.
 */
import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} is missing: install it with  apt-get install -y chromium  (npm test's pretest does)`,
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // No background networking: this machine's closed network refuses it, and tests never leave loopback.
    args: [
      '--no-sandbox',
      '--disable-background-networking',
      '--disable-gpu',
      '--disable-component-update',
      '--no-first-run',
    ],
  });
}
