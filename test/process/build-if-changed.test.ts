/** `npm start` rebuilds only when a source changed since the last build (scripts/build-if-changed.mjs). */
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs script without types
import { staleReason } from '../../scripts/build-if-changed.mjs';

const stale = staleReason as (root: string) => string | null;
let root: string;
afterEach(() => rmSync(root, { recursive: true, force: true }));

function file(path: string, at: number): void {
  mkdirSync(join(root, path, '..'), { recursive: true });
  writeFileSync(join(root, path), 'x');
  utimesSync(join(root, path), at / 1000, at / 1000);
}

describe('build only when sources changed', () => {
  it('builds when nothing is built, skips when the build is newer, builds again after an edit', () => {
    root = mkdtempSync(join(tmpdir(), 'autonomy-build-'));
    const t = Date.UTC(2026, 11, 1);
    file('src/cli.ts', t);
    file('adapters/slack/render.ts', t);
    file('package.json', t);
    expect(stale(root)).toBe('dist/src/cli.js is missing');
    file('dist/src/cli.js', t + 1000);
    expect(stale(root)).toBe('no build made by npm start yet');
    file('dist/.built-at', t + 1000);
    expect(stale(root)).toBeNull();
    file('adapters/slack/render.ts', t + 5000);
    expect(stale(root)).toBe('adapters/slack/render.ts changed since the last build');
  });

  it('does not build again for what the build itself wrote (the bundled console script)', () => {
    root = mkdtempSync(join(tmpdir(), 'autonomy-build-'));
    const t = Date.UTC(2026, 11, 1);
    file('adapters/console/browser/main.ts', t);
    file('dist/src/cli.js', t + 1000);
    file('dist/.built-at', t + 1000);
    // The build writes the generated module after its stamp's time.
    file('adapters/console/page-script.gen.ts', t + 3000);
    expect(stale(root)).toBeNull();
    file('adapters/console/browser/main.ts', t + 5000);
    expect(stale(root)).toBe('adapters/console/browser/main.ts changed since the last build');
  });
});
