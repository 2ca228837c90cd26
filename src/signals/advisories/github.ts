/**
 * GitHub advisories (`security_advisory`, `repository_advisory` webhooks) matched against the
 * inventory, as OSV records are in advisories.ts: npm only, GitHub's range syntax read as a semver
 * range (`>= 1.0.0, < 1.2.3` is `>=1.0.0 <1.2.3`; prereleases compared by order, so 1.2.3-rc.1 is
 * inside `< 1.2.3`), the patched versions as the fixes. Each installed package@version inside a
 * range is one match, with the inventory entries that hold it and what to upgrade to; everything
 * else gets a reason, in OSV's words. Pure.
 */
import semver from 'semver';
import type { Inventory, InventoryEntry } from './inventory.js';
import { lowestAbove, parseVersion, sortVersions } from './match.js';

/** One entry of an advisory's `vulnerabilities`, as the normaliser read it. */
export interface GithubVulnerability {
  readonly ecosystem: string | null;
  readonly name: string | null;
  /** GitHub's `vulnerable_version_range`, e.g. `>= 1.0.0, < 1.2.3`. */
  readonly vulnerable: string | null;
  /** `first_patched_version.identifier` (security advisories) or `patched_versions` (repository advisories). */
  readonly patched: string | null;
}

export interface GithubAdvisoryMatch {
  readonly name: string;
  readonly version: string;
  /** The range it is inside (the first, if several). */
  readonly vulnerable: string;
  /** Every inventory entry holding name@version (one per file). */
  readonly entries: readonly InventoryEntry[];
  /** Patched versions of the package over all the advisory's entries for it (ascending). */
  readonly fixed: readonly string[];
  /** The lowest patched version above the installed one, or null when none is known. */
  readonly upgradeTo: string | null;
}

export interface GithubMatchResult {
  readonly matches: readonly GithubAdvisoryMatch[];
  /** Why entries gave no match (each reason once). */
  readonly ignored: readonly string[];
}

const COMPARATOR = /^(>=|<=|>|<|=)?\s*(v?\d+(?:\.\d+){0,2}(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?)$/;

/**
 * GitHub's range (comparators joined by `,`, all must hold) as a semver range, or null when a part
 * is not `<op> <version>` (an empty or odd range matches nothing rather than everything).
 */
export function parseGithubRange(text: string): semver.Range | null {
  const parts = text.split(',').map((p) => p.trim());
  const comparators: string[] = [];
  for (const part of parts) {
    const m = COMPARATOR.exec(part);
    if (m === null) return null;
    comparators.push(`${m[1] ?? '='}${m[2]}`);
  }
  try {
    return new semver.Range(comparators.join(' '), { loose: true, includePrerelease: true });
  } catch {
    return null;
  }
}

/** The versions a patched field names: `1.2.3`, `>= 1.2.3` or `1.2.3, 2.0.1`. */
export function patchedVersions(text: string | null): string[] {
  if (text === null) return [];
  return text
    .split(',')
    .map((p) => p.trim().replace(/^(>=|>|=)\s*/, ''))
    .filter((v) => parseVersion(v) !== null);
}

/** Matches an advisory's vulnerabilities against the inventory. */
export function matchGithubAdvisory(
  vulnerabilities: readonly GithubVulnerability[],
  inventory: Inventory,
): GithubMatchResult {
  const ignored = new Set<string>();
  if (vulnerabilities.length === 0) return { matches: [], ignored: ['it lists no affected packages'] };
  if (inventory.entries.length === 0) {
    ignored.add(
      'the inventory is empty (list what you run in the policy: inventory.npmLockfiles or inventory.lists)',
    );
  }
  const found = new Map<string, { name: string; version: string; vulnerable: string }>();
  const fixedByName = new Map<string, string[]>();
  const missed = new Map<string, string>();
  for (const v of vulnerabilities) {
    const ecosystem = v.ecosystem ?? '(none)';
    if (ecosystem.toLowerCase() !== 'npm') {
      ignored.add(`${ecosystem} packages are not in the inventory (only npm is matched)`);
      continue;
    }
    if (!v.name) {
      ignored.add('an npm entry without a package name');
      continue;
    }
    const name = v.name;
    const installed = inventory.byName.get(name) ?? [];
    if (installed.length === 0) {
      if (inventory.entries.length > 0) ignored.add(`${name} is not in the inventory`);
      continue;
    }
    fixedByName.set(name, [...(fixedByName.get(name) ?? []), ...patchedVersions(v.patched)]);
    const rangeText = (v.vulnerable ?? '').trim();
    const range = parseGithubRange(rangeText);
    if (range === null) {
      ignored.add(
        `${name}: the range "${rangeText.slice(0, 100)}" cannot be read as versions; it was skipped`,
      );
      continue;
    }
    for (const version of new Set(installed.map((e) => e.version))) {
      const key = `${name}@${version}`;
      if (range.test(version)) {
        if (!found.has(key)) found.set(key, { name, version, vulnerable: rangeText });
      } else if (!missed.has(key)) missed.set(key, rangeText);
    }
  }
  for (const [key, range] of missed) {
    if (!found.has(key)) ignored.add(`${key} is outside the affected versions (${range})`);
  }
  const matches = [...found.values()].map(({ name, version, vulnerable }) => {
    const fixed = sortVersions(fixedByName.get(name) ?? []);
    return {
      name,
      version,
      vulnerable,
      entries: (inventory.byName.get(name) ?? []).filter((e) => e.version === version),
      fixed,
      upgradeTo: lowestAbove(version, fixed),
    };
  });
  return { matches, ignored: [...ignored] };
}
