/**
 * Matching OSV advisories against the inventory. npm only: SEMVER and ECOSYSTEM ranges are read
 * with npm's semver ordering (introduced "0" = every version, `fixed` exclusive, `last_affected`
 * inclusive, `limit` an upper bound), plus the explicit `versions` list. Other ecosystems and GIT
 * ranges (commits, not versions) are ignored with a reason. Each affected package@version becomes
 * one advisory signal with its severity, the inventory entries that hold it and the fixed versions.
 */
import semver from 'semver';
import type { SignalInput } from '../types.js';
import { advisorySeverity, type ScoredSeverity } from './cvss.js';
import type { Inventory, InventoryEntry } from './inventory.js';
import type { OsvAffected, OsvEvent, OsvRange, OsvRecord } from './osv.js';

export interface AdvisoryMatch {
  readonly record: OsvRecord;
  readonly severity: ScoredSeverity;
  readonly name: string;
  readonly version: string;
  /** Every inventory entry holding name@version (one per file). */
  readonly entries: readonly InventoryEntry[];
  /** Versions that fix it, on any branch of the package (ascending). */
  readonly fixed: readonly string[];
  /** The lowest fixed version above the installed one, or null when none is known. */
  readonly upgradeTo: string | null;
}

export interface IgnoredAdvisory {
  readonly id: string;
  readonly reason: string;
}

export interface MatchResult {
  readonly matches: readonly AdvisoryMatch[];
  /** Why a record (or part of it) produced no signal: other ecosystems, GIT ranges, no match. */
  readonly ignored: readonly IgnoredAdvisory[];
}

/** How a version compares against a range: affected, not, or the range cannot be read. */
type RangeVerdict = { readonly affected: boolean; readonly fixed: string[] } | { readonly error: string };

/** npm versions as the registry writes them; a leading `v` or `=` is tolerated. */
export function parseVersion(text: string): semver.SemVer | null {
  return semver.parse(text.trim(), { loose: true });
}

/** Evaluates one SEMVER or ECOSYSTEM range for an npm version (OSV schema, "evaluation"). */
export function inRange(version: string, range: OsvRange): RangeVerdict {
  const v = parseVersion(version);
  if (v === null) return { error: `${version} is not a semver version` };
  type Parsed = { kind: keyof OsvEvent; at: semver.SemVer | null; text: string };
  const events: Parsed[] = [];
  for (const e of range.events) {
    const kind = (['introduced', 'fixed', 'last_affected', 'limit'] as const).find((k) => e[k] !== undefined);
    if (kind === undefined) continue;
    const text = e[kind] as string;
    if (kind === 'introduced' && text === '0') {
      events.push({ kind, at: null, text });
      continue;
    }
    const at = parseVersion(text);
    if (at === null) return { error: `the range's ${kind} "${text.slice(0, 64)}" is not a semver version` };
    events.push({ kind, at, text });
  }
  // Sorted by version; introduced "0" is below everything.
  events.sort((a, b) => (a.at === null ? -1 : b.at === null ? 1 : semver.compare(a.at, b.at)));
  let affected = false;
  for (const e of events) {
    if (e.kind === 'introduced') {
      if (e.at === null || semver.gte(v, e.at)) affected = true;
    } else if (e.kind === 'fixed') {
      if (e.at !== null && semver.gte(v, e.at)) affected = false;
    } else if (e.kind === 'last_affected') {
      if (e.at !== null && semver.gt(v, e.at)) affected = false;
    }
  }
  for (const e of events) if (e.kind === 'limit' && e.at !== null && semver.gte(v, e.at)) affected = false;
  const fixed = events.filter((e) => e.kind === 'fixed').map((e) => e.text);
  return { affected, fixed };
}

/** The npm package name an affected entry is about (its `name`, else its purl), or null. */
function npmName(a: OsvAffected): string | null {
  const pkg = a.package;
  if (pkg === undefined) return null;
  if (pkg.name !== '') return pkg.name;
  const purl = pkg.purl ?? '';
  if (!purl.startsWith('pkg:npm/')) return null;
  let rest = purl.slice('pkg:npm/'.length).split(/[?#]/)[0] as string;
  const at = rest.lastIndexOf('@');
  if (at > 0) rest = rest.slice(0, at);
  try {
    return decodeURIComponent(rest) || null;
  } catch {
    return null;
  }
}

/** Matches every record against the inventory. Pure. */
export function matchAdvisories(records: readonly OsvRecord[], inventory: Inventory): MatchResult {
  const matches: AdvisoryMatch[] = [];
  const ignored: IgnoredAdvisory[] = [];
  for (const record of records) {
    const ignore = (reason: string) => ignored.push({ id: record.id, reason });
    if (record.withdrawn !== undefined) {
      ignore(`withdrawn at ${record.withdrawn}`);
      continue;
    }
    const affectedList = record.affected ?? [];
    if (affectedList.length === 0) {
      ignore('lists no affected packages');
      continue;
    }
    /** name@version -> what matched it, merged over the record's affected entries. */
    const found = new Map<string, { name: string; version: string; a: OsvAffected }>();
    /** Fixed versions per package name, over all the record's entries for it (branches). */
    const fixedByName = new Map<string, Set<string>>();
    /** name@version outside one affected entry's ranges (maybe inside another's). */
    const missed = new Set<string>();
    for (const a of affectedList) {
      const ecosystem = a.package?.ecosystem ?? '(none)';
      if (ecosystem.toLowerCase() !== 'npm') {
        ignore(`${ecosystem} packages are not in the inventory (only npm is matched)`);
        continue;
      }
      const name = npmName(a);
      if (name === null) {
        ignore('an npm entry without a package name or purl');
        continue;
      }
      const installed = inventory.byName.get(name) ?? [];
      if (installed.length === 0) {
        ignore(`${name} is not in the inventory`);
        continue;
      }
      const versions = [...new Set(installed.map((e) => e.version))];
      const explicit = new Set(a.versions ?? []);
      for (const range of a.ranges ?? []) {
        if (range.type !== 'GIT') continue;
        ignore(`a GIT range (commits of ${range.repo ?? 'a repository'}) cannot be matched to npm versions`);
      }
      const semverRanges = (a.ranges ?? []).filter((r) => r.type !== 'GIT');
      if (semverRanges.length === 0 && explicit.size === 0) continue;
      for (const version of versions) {
        let hit = explicit.has(version);
        const fixed = fixedByName.get(name) ?? new Set<string>();
        fixedByName.set(name, fixed);
        for (const range of semverRanges) {
          const verdict = inRange(version, range);
          if ('error' in verdict) {
            ignore(`${name}: ${verdict.error}; that range was skipped`);
            continue;
          }
          for (const f of verdict.fixed) fixed.add(f);
          if (verdict.affected) hit = true;
        }
        const key = `${name}@${version}`;
        if (!hit) {
          missed.add(key);
          continue;
        }
        if (!found.has(key)) found.set(key, { name, version, a });
      }
    }
    for (const key of missed) if (!found.has(key)) ignore(`${key} is outside the affected versions`);
    for (const { name, version, a } of found.values()) {
      const fixed = fixedByName.get(name) ?? new Set<string>();
      const severity = advisorySeverity(
        [...(record.severity ?? []), ...(a.severity ?? [])],
        record.database_specific?.severity,
      );
      const sortedFixed = sortVersions([...fixed]);
      const upgradeTo = lowestAbove(version, sortedFixed);
      const entries = (inventory.byName.get(name) ?? []).filter((e) => e.version === version);
      matches.push({ record, severity, name, version, entries, fixed: sortedFixed, upgradeTo });
    }
  }
  return { matches, ignored: dedupe(ignored) };
}

/** The versions among `list` that parse, ascending, each once. */
export function sortVersions(list: readonly string[]): string[] {
  return [...new Set(list)]
    .filter((f) => parseVersion(f) !== null)
    .sort((a, b) => semver.compare(parseVersion(a) as semver.SemVer, parseVersion(b) as semver.SemVer));
}

/** The lowest of `sortedFixed` above `version` (what to upgrade to), or null. */
export function lowestAbove(version: string, sortedFixed: readonly string[]): string | null {
  const v = parseVersion(version);
  if (v === null) return null;
  return (
    sortedFixed.find((f) => {
      const p = parseVersion(f);
      return p !== null && semver.gt(p, v);
    }) ?? null
  );
}

/** `upgrade to X`, `fixed in A, B` or `no fix yet`: the end of an advisory signal's title. */
export function fixText(upgradeTo: string | null, fixed: readonly string[]): string {
  if (upgradeTo) return `upgrade to ${upgradeTo}`;
  return fixed.length > 0 ? `fixed in ${fixed.join(', ')}` : 'no fix yet';
}

function dedupe(list: IgnoredAdvisory[]): IgnoredAdvisory[] {
  const seen = new Set<string>();
  return list.filter((i) => {
    const key = `${i.id}\0${i.reason}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

const MAX_DETAILS = 4000;

/** The signal for one match: kind advisory, one per advisory id + modified + package@version. */
export function advisorySignal(m: AdvisoryMatch): SignalInput {
  const r = m.record;
  const fix = fixText(m.upgradeTo, m.fixed);
  const summary = r.summary?.trim() || r.aliases?.[0] || 'security advisory';
  const files = [...new Set(m.entries.map((e) => e.file))];
  return {
    kind: 'advisory',
    source: 'osv',
    dedupeKey: `osv:${r.id}:${r.modified}:${m.name}@${m.version}`,
    fingerprint: `advisory:${r.id}`,
    title: truncate(`${r.id} ${m.name}@${m.version}: ${summary} (${m.severity.basis}; ${fix})`, 300),
    service: null,
    severity: m.severity.severity,
    occurredAt: timestampOf(r.published ?? r.modified),
    payload: {
      id: r.id,
      aliases: r.aliases ?? [],
      modified: r.modified,
      published: r.published ?? null,
      summary: r.summary ?? null,
      details: r.details === undefined ? null : truncate(r.details, MAX_DETAILS),
      severity: { level: m.severity.severity, score: m.severity.score, basis: m.severity.basis },
      package: { ecosystem: 'npm', name: m.name, version: m.version },
      affected: m.entries.map((e) => ({ file: e.file, name: e.name, version: e.version, dev: e.dev })),
      files,
      fixed: m.fixed,
      upgradeTo: m.upgradeTo,
      references: (r.references ?? []).slice(0, 10).map((ref) => ref.url),
    },
  };
}

/** Matches records and returns the signals to store (empty when nothing we run is affected). */
export function advisorySignals(
  records: readonly OsvRecord[],
  inventory: Inventory,
): {
  readonly signals: SignalInput[];
  readonly result: MatchResult;
} {
  const result = matchAdvisories(records, inventory);
  return { signals: result.matches.map(advisorySignal), result };
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function timestampOf(text: string): number | null {
  const t = Date.parse(text);
  return Number.isNaN(t) ? null : t;
}
