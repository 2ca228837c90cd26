import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

// DESIGN.md: the core in src/ decides and adapters translate. Only the two composition roots may
// import adapters or platform SDKs.
const ROOT = join(import.meta.dirname, '..');
const COMPOSITION_ROOTS = new Set(['src/main.ts', 'src/cli.ts']);
const FORBIDDEN = [
  /from ['"](\.\.\/)+adapters\//,
  /from ['"]@slack\/bolt['"]/,
  /from ['"]discord\.js['"]/,
  /from ['"]ollama['"]/,
  /from ['"]hono['"]/,
  /from ['"]@hono\//,
];

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
  });
}

describe('architecture boundary', () => {
  const sources = files(join(ROOT, 'src')).map((p) => relative(ROOT, p));

  it('finds the core sources', () => {
    expect(sources).toContain('src/main.ts');
    expect(sources.length).toBeGreaterThan(5);
  });

  it('keeps adapters and platform SDKs out of the core', () => {
    const offenders = sources
      .filter((p) => !COMPOSITION_ROOTS.has(p))
      .flatMap((p) => {
        const text = readFileSync(join(ROOT, p), 'utf8');
        return FORBIDDEN.filter((re) => re.test(text)).map((re) => `${p} matches ${re}`);
      });
    expect(offenders).toEqual([]);
  });
});
