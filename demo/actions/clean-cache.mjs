/**
 * Demo action clean-demo-cache (builder, maintenance, tier 2, allowlisted): removes the files in
 * the demo folder's cache/ (making a few stale ones first if it is empty, so there is something to
 * clean). Never looks outside the demo folder.
 */
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { report, subFolder } from './demo-folder.mjs';

const cache = subFolder('cache');
if (readdirSync(cache).length === 0) {
  for (let i = 1; i <= 3; i++) writeFileSync(join(cache, `build-${i}.tmp`), 'stale\n');
}
const files = readdirSync(cache);
for (const name of files) rmSync(join(cache, name), { force: true, recursive: true });
report(`removed ${files.length} stale file(s) from ${cache}`);
