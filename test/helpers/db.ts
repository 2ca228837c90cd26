/** A migrated SQLite file in a fresh temp folder, for tests that need the real schema. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { vi } from 'vitest';
import { type Database, migrate, openDatabase } from '../../src/db/connection.js';

export interface TempDatabase {
  readonly dir: string;
  readonly database: Database;
  cleanup(): void;
}

export function tempDatabase(prefix = 'autonomy-db-'): TempDatabase {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const database = openDatabase(join(dir, 'bot.db'));
  migrate(database);
  return {
    dir,
    database,
    cleanup() {
      database.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Counts the rows that reads of `table` return on `database` from now on (drizzle's `.all()`),
 * for tests that a read stays within what it needs. Undone by vi.restoreAllMocks().
 */
export function rowsReadFrom(database: Database, table: string): () => number {
  const statement = Object.getPrototypeOf(database.sqlite.prepare('SELECT 1'));
  const all = statement.all;
  const from = new RegExp(` from "${table}"`);
  let read = 0;
  vi.spyOn(statement, 'all').mockImplementation(function (this: { source: string }, ...args: unknown[]) {
    const rows = all.apply(this, args);
    if (from.test(this.source)) read += rows.length;
    return rows;
  });
  return () => read;
}
