/** A migrated SQLite file in a fresh temp folder, for tests that need the real schema. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
