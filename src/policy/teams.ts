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

/** The first of `entries` whose pattern names `service`: an exact name first, then globs in order. */
function firstMatch<T>(entries: readonly (readonly [string, T])[], service: string): T | null {
  for (const [pattern, value] of entries) if (pattern === service) return value;
  for (const [pattern, value] of entries)
    if (pattern.includes('*') && serviceMatches(pattern, service)) return value;
  return null;
}

/** The team that owns `service`, or null. */
export function teamOf(doc: Pick<PolicyDoc, 'teams'>, service: string): TeamDoc | null {
  return firstMatch(
    doc.teams.flatMap((t) => t.services.map((s) => [s, t] as const)),
    service,
  );
}

/** The `routing.services` entry for `service`, or null. */
export function serviceRouteOf(doc: Pick<PolicyDoc, 'routing'>, service: string): SeverityRoutes | null {
  return firstMatch(Object.entries(doc.routing.services), service);
}

/** A team by name, or null. */
export function teamNamed(doc: Pick<PolicyDoc, 'teams'>, name: string): TeamDoc | null {
  return doc.teams.find((t) => t.name === name) ?? null;
}
