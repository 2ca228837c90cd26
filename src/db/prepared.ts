/**
 * Statements prepared once per database. drizzle builds and SQLite prepares a query on every call
 * unless it is `.prepare()`d; on the hot path (every signal, every incident) that is most of a
 * statement's cost. A module that runs as plain functions (no object to hold its statements) keeps
 * them here: `preparedFor(database, build)` calls `build(database)` once per database and `build`
 * (keyed by the function itself), and hands back the same statements after.
 */
import type { Database } from './connection.js';

const cache = new WeakMap<Database, Map<unknown, unknown>>();

export function preparedFor<T>(database: Database, build: (database: Database) => T): T {
  let mine = cache.get(database);
  if (mine === undefined) {
    mine = new Map();
    cache.set(database, mine);
  }
  if (!mine.has(build)) mine.set(build, build(database));
  return mine.get(build) as T;
}
