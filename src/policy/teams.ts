/**
 * Who owns a service and which `routing.services` entry names it. One rule for both: an exact
 * name wins over a glob; among globs the first in the file wins. Pure: the policy document in.
 */
import { globToRegExp } from './compile.js';
import type { PolicyDoc, TeamDoc } from './schema.js';

type SeverityRoutes = PolicyDoc['routing']['services'][string];

/** Compiled globs, shared by every lookup (a policy holds a few dozen at most; bounded anyway). */
const compiled = new Map<string, RegExp>();
const MAX_CACHED = 10_000;

/** Does `pattern` (a name, or a glob with `*`) name `service`? */
export function serviceMatches(pattern: string, service: string): boolean {
  if (!pattern.includes('*')) return pattern === service;
  let re = compiled.get(pattern);
  if (re === undefined) {
    if (compiled.size >= MAX_CACHED) compiled.clear();
    re = globToRegExp(pattern);
    compiled.set(pattern, re);
  }
  return re.test(service);
}

/** A pattern list's exact names (first wins) and globs in order, built once per (immutable) document. */
interface Lookup<T> {
  readonly exact: ReadonlyMap<string, T>;
  readonly globs: readonly (readonly [string, T])[];
}
const teamLookups = new WeakMap<object, Lookup<TeamDoc>>();
const routeLookups = new WeakMap<object, Lookup<SeverityRoutes>>();

function lookup<T>(entries: readonly (readonly [string, T])[]): Lookup<T> {
  const exact = new Map<string, T>();
  for (const [pattern, value] of entries)
    if (!pattern.includes('*') && !exact.has(pattern)) exact.set(pattern, value);
  return { exact, globs: entries.filter(([pattern]) => pattern.includes('*')) };
}

/** The first pattern that names `service`: an exact name first, then globs in order. */
function find<T>(l: Lookup<T>, service: string): T | null {
  const hit = l.exact.get(service);
  if (hit !== undefined) return hit;
  for (const [pattern, value] of l.globs) if (serviceMatches(pattern, service)) return value;
  return null;
}

/** The team that owns `service`, or null. */
export function teamOf(doc: Pick<PolicyDoc, 'teams'>, service: string): TeamDoc | null {
  let l = teamLookups.get(doc.teams);
  if (l === undefined) {
    l = lookup(doc.teams.flatMap((t) => t.services.map((s) => [s, t] as const)));
    teamLookups.set(doc.teams, l);
  }
  return find(l, service);
}

/** The `routing.services` entry for `service`, or null. */
export function serviceRouteOf(doc: Pick<PolicyDoc, 'routing'>, service: string): SeverityRoutes | null {
  let l = routeLookups.get(doc.routing.services);
  if (l === undefined) {
    l = lookup(Object.entries(doc.routing.services));
    routeLookups.set(doc.routing.services, l);
  }
  return find(l, service);
}

/** A team by name, or null. */
export function teamNamed(doc: Pick<PolicyDoc, 'teams'>, name: string): TeamDoc | null {
  return doc.teams.find((t) => t.name === name) ?? null;
}
