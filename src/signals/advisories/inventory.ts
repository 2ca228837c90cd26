/**
 * The inventory advisories are matched against: which npm packages, at which versions, the
 * policy says we run (`inventory.npmLockfiles`, `inventory.lists`). Lockfiles v1 (`dependencies`)
 * and v2/v3 (`packages`) are read; list files hold `name@version` lines. Paths are relative to the
 * policy file. Each file is re-read only when its mtime or size changes. A file that cannot be read
 * or parsed is a problem (reported with the file and what to do), never a crash.
 */
import { readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import semver from 'semver';
import { z } from 'zod';
import type { Policy } from '../../policy/types.js';

export interface InventoryEntry {
  /** The file as the policy names it (relative to the policy file), for people. */
  readonly file: string;
  readonly name: string;
  readonly version: string;
  /** From the lockfile: only in devDependencies (false for list files). */
  readonly dev: boolean;
}

export interface InventoryProblem {
  readonly file: string;
  readonly message: string;
}

export interface Inventory {
  readonly entries: readonly InventoryEntry[];
  /** Entries by package name. */
  readonly byName: ReadonlyMap<string, readonly InventoryEntry[]>;
  /** Files that could not be read or parsed (their entries are missing). */
  readonly problems: readonly InventoryProblem[];
}

export interface InventorySpec {
  readonly npmLockfiles: readonly string[];
  readonly lists: readonly string[];
  /** The folder paths are relative to (the policy file's). */
  readonly baseDir: string;
}

/** The inventory section of a policy, with paths resolved against the policy file's folder. */
export function inventorySpec(policy: Policy): InventorySpec {
  return {
    npmLockfiles: policy.doc.inventory.npmLockfiles,
    lists: policy.doc.inventory.lists,
    baseDir: dirname(resolve(policy.source)),
  };
}

export function buildInventory(
  entries: readonly InventoryEntry[],
  problems: readonly InventoryProblem[] = [],
): Inventory {
  const byName = new Map<string, InventoryEntry[]>();
  const seen = new Set<string>();
  const unique: InventoryEntry[] = [];
  for (const e of entries) {
    const key = `${e.file}\0${e.name}\0${e.version}`;
    if (seen.has(key)) continue;
    seen.add(key);
    unique.push(e);
    const list = byName.get(e.name);
    if (list) list.push(e);
    else byName.set(e.name, [e]);
  }
  return { entries: unique, byName, problems };
}

// ---------------------------------------------------------------------------------------------
// Parsers (pure: text in, entries and problems out)

const lockPackage = z
  .object({
    name: z.string().optional(),
    version: z.string().optional(),
    link: z.boolean().optional(),
    dev: z.boolean().optional(),
  })
  .loose();

interface V1Dependency {
  version?: string | undefined;
  dev?: boolean | undefined;
  dependencies?: Record<string, V1Dependency> | undefined;
}
const v1Dependency: z.ZodType<V1Dependency> = z.lazy(() =>
  z
    .object({
      version: z.string().optional(),
      dev: z.boolean().optional(),
      dependencies: z.record(z.string(), v1Dependency).optional(),
    })
    .loose(),
);

const lockfile = z
  .object({
    lockfileVersion: z.int().min(1).max(3).optional(),
    packages: z.record(z.string(), lockPackage).optional(),
    dependencies: z.record(z.string(), v1Dependency).optional(),
  })
  .loose();

export interface ParsedFile {
  readonly entries: InventoryEntry[];
  readonly problems: InventoryProblem[];
}

/** A package-lock.json (or npm-shrinkwrap.json): `packages` (v2, v3) or `dependencies` (v1). */
export function parseLockfile(text: string, file: string): ParsedFile {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return problem(
      file,
      `not JSON (${(err as Error).message}); point inventory.npmLockfiles at a package-lock.json`,
    );
  }
  const parsed = lockfile.safeParse(json);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    const where = first ? `${first.path.join('.') || '(root)'}: ${first.message}` : 'unknown shape';
    return problem(
      file,
      `not an npm lockfile (${where}); point inventory.npmLockfiles at a package-lock.json`,
    );
  }
  const lock = parsed.data;
  const entries: InventoryEntry[] = [];
  const problems: InventoryProblem[] = [];
  if (lock.packages !== undefined) {
    for (const [path, pkg] of Object.entries(lock.packages)) {
      // "" is the project itself; paths outside node_modules are workspace folders, not installs.
      const at = path.lastIndexOf('node_modules/');
      if (at === -1 || pkg.link === true || pkg.version === undefined) continue;
      const name = pkg.name ?? path.slice(at + 'node_modules/'.length);
      if (semver.valid(pkg.version) === null) continue; // git, file: or tarball installs have no semver
      entries.push({ file, name, version: pkg.version, dev: pkg.dev === true });
    }
  } else if (lock.dependencies !== undefined) {
    const walk = (deps: Record<string, V1Dependency>, depth: number): void => {
      if (depth > 64) return;
      for (const [name, dep] of Object.entries(deps)) {
        if (dep.version !== undefined && semver.valid(dep.version) !== null) {
          entries.push({ file, name, version: dep.version, dev: dep.dev === true });
        }
        if (dep.dependencies !== undefined) walk(dep.dependencies, depth + 1);
      }
    };
    walk(lock.dependencies, 0);
  } else {
    problems.push({
      file,
      message: 'has neither "packages" nor "dependencies"; run npm install to write a full lockfile',
    });
  }
  return { entries, problems };
}

const NAME = /^(@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9._~-][a-z0-9._~-]*$/i;

/** Lines of `name@version` or `@scope/name@version`; blank lines and `#` comments are skipped. */
export function parseList(text: string, file: string): ParsedFile {
  const entries: InventoryEntry[] = [];
  const problems: InventoryProblem[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/\s+#.*$/, '').trim();
    if (line === '' || line.startsWith('#')) return;
    const at = line.lastIndexOf('@');
    const name = at > 0 ? line.slice(0, at) : '';
    const version = at > 0 ? line.slice(at + 1) : '';
    if (!NAME.test(name) || semver.valid(version) === null) {
      problems.push({
        file: `${file}:${i + 1}`,
        message: `"${line.slice(0, 80)}" is not name@version; write e.g. lodash@4.17.21 or @scope/pkg@1.2.3`,
      });
      return;
    }
    entries.push({ file, name, version, dev: false });
  });
  return { entries, problems };
}

function problem(file: string, message: string): ParsedFile {
  return { entries: [], problems: [{ file, message }] };
}

// ---------------------------------------------------------------------------------------------
// Loading with a cache

export interface InventoryFs {
  stat(path: string): { mtimeMs: number; size: number };
  read(path: string): string;
}

const nodeFs: InventoryFs = {
  stat: (path) => statSync(path),
  read: (path) => readFileSync(path, 'utf8'),
};

interface CacheEntry {
  readonly mtimeMs: number;
  readonly size: number;
  readonly parsed: ParsedFile;
}

/** Loads inventories; keeps each file's parse until its mtime or size changes. */
export class InventoryLoader {
  readonly #fs: InventoryFs;
  readonly #cache = new Map<string, CacheEntry>();

  constructor(fs: InventoryFs = nodeFs) {
    this.#fs = fs;
  }

  load(spec: InventorySpec): Inventory {
    const entries: InventoryEntry[] = [];
    const problems: InventoryProblem[] = [];
    const used = new Set<string>();
    const files = [
      ...spec.npmLockfiles.map((f) => ({ f, parse: parseLockfile, kind: 'lock' })),
      ...spec.lists.map((f) => ({ f, parse: parseList, kind: 'list' })),
    ];
    for (const { f, parse, kind } of files) {
      const path = resolve(spec.baseDir, f);
      const key = `${kind}:${path}`;
      used.add(key);
      const parsed = this.#read(key, path, f, parse, kind === 'lock' ? 'npmLockfiles' : 'lists');
      entries.push(...parsed.entries);
      problems.push(...parsed.problems);
    }
    for (const key of this.#cache.keys()) if (!used.has(key)) this.#cache.delete(key);
    return buildInventory(entries, problems);
  }

  #read(
    key: string,
    path: string,
    shown: string,
    parse: (text: string, file: string) => ParsedFile,
    section: string,
  ): ParsedFile {
    let stat: { mtimeMs: number; size: number };
    try {
      stat = this.#fs.stat(path);
    } catch (err) {
      this.#cache.delete(key);
      const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      return problem(shown, `cannot read ${path} (${code}); fix inventory.${section} in the policy`);
    }
    const cached = this.#cache.get(key);
    if (cached && cached.mtimeMs === stat.mtimeMs && cached.size === stat.size) return cached.parsed;
    let text: string;
    try {
      text = this.#fs.read(path);
    } catch (err) {
      this.#cache.delete(key);
      const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      return problem(shown, `cannot read ${path} (${code}); fix inventory.${section} in the policy`);
    }
    const parsed = parse(text, shown);
    this.#cache.set(key, { mtimeMs: stat.mtimeMs, size: stat.size, parsed });
    return parsed;
  }
}
