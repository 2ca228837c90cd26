import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
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

/**
 * DESIGN.md, "Layout": layers only point down. From the ground up:
 *   0  policy, process (config, log, ids, tokens, pidfile, heartbeat, package-root), service.ts
 *   1  db, audit, llm, time
 *   2  control, signals
 *   3  chat
 *   4  actions
 *   5  metrics, learning
 *   6  agents, research, eval
 *   7  composition: main.ts, cli.ts, core.ts, demo/
 * A file may import from its own layer or below, never above. Keys are what sits directly under
 * src/ (a folder, or a file at its root); anything not listed fails the test, so a new folder is
 * placed on purpose.
 */
const LAYERS: Readonly<Record<string, number>> = {
  policy: 0,
  process: 0,
  'service.ts': 0,
  db: 1,
  audit: 1,
  llm: 1,
  time: 1,
  control: 2,
  signals: 2,
  chat: 3,
  actions: 4,
  metrics: 5,
  learning: 5,
  agents: 6,
  research: 6,
  eval: 6,
  'main.ts': 7,
  'cli.ts': 7,
  'core.ts': 7,
  demo: 7,
};

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** `src/chat/outbox.ts` -> `chat`; `src/main.ts` -> `main.ts`. */
function place(file: string): string {
  return file.split('/')[1] ?? file;
}

interface Edge {
  readonly to: string;
  /** The module specifier as written. */
  readonly spec: string;
}

/** The file a relative specifier names (`./x.js` is `./x.ts` on disk), or null. */
function resolveImport(from: string, spec: string): string | null {
  const base = resolve(dirname(join(ROOT, from)), spec);
  const candidates = [base.replace(/\.js$/, '.ts'), base, `${base}.ts`, join(base, 'index.ts')];
  const hit = candidates.find((c) => c.endsWith('.ts') && existsSync(c) && statSync(c).isFile());
  return hit === undefined ? null : relative(ROOT, hit).split('\\').join('/');
}

/**
 * Every relative import of each file: static, `export ... from`, `import type` and `import()` alike
 * (a type-only import is an edge too). TypeScript's own scanner reads them, so comments and strings
 * that look like imports are not counted.
 */
function importGraph(sources: readonly string[]): {
  graph: Map<string, Edge[]>;
  unresolved: string[];
} {
  const graph = new Map<string, Edge[]>();
  const unresolved: string[] = [];
  for (const file of sources) {
    const text = readFileSync(join(ROOT, file), 'utf8');
    const edges: Edge[] = [];
    for (const { fileName: spec } of ts.preProcessFile(text, true, true).importedFiles) {
      if (!spec.startsWith('.')) continue;
      const to = resolveImport(file, spec);
      if (to === null) unresolved.push(`${file} imports '${spec}', which is no file`);
      else if (!edges.some((e) => e.to === to)) edges.push({ to, spec });
    }
    graph.set(file, edges);
  }
  return { graph, unresolved };
}

/** Strongly connected components with more than one file (or a file importing itself): Tarjan's. */
function cycles(graph: ReadonlyMap<string, readonly Edge[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next += 1;
    stack.push(v);
    onStack.add(v);
    for (const { to } of graph.get(v) ?? []) {
      if (!graph.has(to)) continue;
      if (!index.has(to)) {
        visit(to);
        low.set(v, Math.min(low.get(v) as number, low.get(to) as number));
      } else if (onStack.has(to)) {
        low.set(v, Math.min(low.get(v) as number, index.get(to) as number));
      }
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop() as string;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || (graph.get(v) ?? []).some((e) => e.to === v)) out.push(component.sort());
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return out;
}

/** One closed path through a component, starting at its first file: `a -> b -> c -> a`. */
function cyclePath(component: readonly string[], graph: ReadonlyMap<string, readonly Edge[]>): string {
  const members = new Set(component);
  const start = component[0] as string;
  const cameFrom = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift() as string;
    for (const { to } of graph.get(v) ?? []) {
      if (!members.has(to) || cameFrom.has(to)) continue;
      cameFrom.set(to, v);
      if (to === start) queue.length = 0;
      else queue.push(to);
    }
  }
  const path = [start];
  for (let v = cameFrom.get(start); v !== undefined && v !== start; v = cameFrom.get(v)) path.unshift(v);
  return [start, ...path].join(' -> ');
}

describe('architecture boundary', () => {
  const sources = files(join(ROOT, 'src'))
    .map((p) => relative(ROOT, p).split('\\').join('/'))
    .sort();
  const { graph, unresolved } = importGraph(sources);

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

  it('imports nothing outside src/ but from the composition roots (adapters import src/, never back)', () => {
    const outside = [...graph]
      .filter(([from]) => !COMPOSITION_ROOTS.has(from))
      .flatMap(([from, edges]) =>
        edges
          .filter((e) => !e.to.startsWith('src/'))
          .map(({ to, spec }) => `${from} imports '${spec}' (${to})`),
      );
    expect(outside).toEqual([]);
  });

  it('resolves every relative import in src/ to a file (so the graph below is whole)', () => {
    expect(unresolved).toEqual([]);
  });

  it('places every folder and root file of src/ in a layer', () => {
    const unplaced = [...new Set(sources.map(place))].filter((p) => !Object.hasOwn(LAYERS, p));
    expect(unplaced.map((p) => `src/${p} has no layer: add it to LAYERS in test/boundary.test.ts`)).toEqual(
      [],
    );
  });

  it('imports only from the same layer or below', () => {
    const upward = [...graph].flatMap(([from, edges]) =>
      edges
        .filter((e) => e.to.startsWith('src/'))
        .flatMap(({ to, spec }) => {
          const a = LAYERS[place(from)];
          const b = LAYERS[place(to)];
          if (a === undefined || b === undefined || b <= a) return [];
          return [`${from} (layer ${a}) imports '${spec}' (${to}, layer ${b})`];
        }),
    );
    expect(upward).toEqual([]);
  });

  it('has no import cycle among src/ files (type-only imports count)', () => {
    const found = cycles(graph).map((c) => `${c.length} file(s): ${cyclePath(c, graph)}`);
    expect(found).toEqual([]);
  });
});
