#!/usr/bin/env node
/**
 * `npm start` without a needless build: runs `npm run build` only when a source the build reads
 * (src/, adapters/, bench/, the console bundler, the tsconfig files, package.json) is newer than the last build this
 * script made (the stamp dist/.built-at: tsc rewrites only the files that changed), or the built
 * entry point dist/src/cli.js is missing. Then `npm start` runs the built code.
 *
 *   node scripts/build-if-changed.mjs          # builds when needed, says why
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SOURCES = [
  'src',
  'adapters',
  'bench',
  'scripts/bundle-console.mjs',
  'tsconfig.json',
  'tsconfig.build.json',
  'package.json',
];
/** Written by the build itself (the bundled console script): never a reason to build again. */
const GENERATED = /\.gen\.ts$/;
const BUILT = join('dist', 'src', 'cli.js');
const STAMP = join('dist', '.built-at');

/** The newest source file under `path` (mtime ms and path), or null. */
function newest(path) {
  if (!existsSync(path) || GENERATED.test(path)) return null;
  const st = statSync(path);
  if (!st.isDirectory()) return { at: st.mtimeMs, path };
  let best = null;
  for (const name of readdirSync(path)) {
    const n = newest(join(path, name));
    if (n !== null && (best === null || n.at > best.at)) best = n;
  }
  return best;
}

/** Why the build in `root` is out of date, or null when dist/ is newer than every source. */
export function staleReason(root) {
  const built = join(root, BUILT);
  if (!existsSync(built)) return `${BUILT} is missing`;
  const stamp = join(root, STAMP);
  if (!existsSync(stamp)) return 'no build made by npm start yet';
  const builtAt = statSync(stamp).mtimeMs;
  for (const s of SOURCES) {
    const n = newest(join(root, s));
    if (n !== null && n.at > builtAt) return `${n.path.slice(root.length + 1)} changed since the last build`;
  }
  return null;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
  const why = staleReason(root);
  if (why !== null) {
    process.stderr.write(`building first: ${why}\n`);
    const started = Date.now();
    const r = spawnSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' });
    if (r.status !== 0) process.exit(r.status ?? 1);
    // The stamp's time is when the build started: a file saved during the build is built next time.
    writeFileSync(join(root, STAMP), `${new Date(started).toISOString()}\n`);
    const t = new Date(started);
    utimesSync(join(root, STAMP), t, t);
  }
}
