/**
 * Opening the one SQLite file, applying migrations, and the few connection-level helpers the core
 * needs (write transactions, change detection). Everything SQLite-specific lives in src/db/.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { is, Param, Placeholder, type Query } from 'drizzle-orm';
import { type BetterSQLite3Database, drizzle } from 'drizzle-orm/better-sqlite3';
import { migrate as drizzleMigrate } from 'drizzle-orm/better-sqlite3/migrator';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import { AutonomyError } from '../process/errors.js';
import { packageRoot } from '../process/package-root.js';
import * as schema from './schema.js';

export type Schema = typeof schema;
export type Db = BetterSQLite3Database<Schema>;

/** One open database: the better-sqlite3 handle, the drizzle db over it, and where it lives. */
export interface Database {
  /** The file as given (`:memory:` allowed). */
  readonly file: string;
  readonly sqlite: BetterSqlite3.Database;
  readonly db: Db;
  close(): void;
}

export interface OpenOptions {
  /** Open without creating the file or its folder, and refuse writes. */
  readonly readonly?: boolean;
}

const MIGRATIONS_TABLE = '__drizzle_migrations';

/**
 * The size the -wal file is cut back to when it starts over (`journal_size_limit`). SQLite keeps the
 * file at its high-water mark and writes over it (cheaper than growing it again), so one long burst
 * of commits would leave a WAL of 100 MB and more beside the database for good. Up to this much is
 * kept for the next burst; the rest is given back at the first commit after a checkpoint copied it all.
 */
export const WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024;

/**
 * Opens (creating if needed, with its folder) the database file. WAL mode with synchronous=NORMAL:
 * a process crash loses nothing committed; a power loss may lose the last few commits, never
 * corrupts. Foreign keys are enforced; a writer waits up to 5 s for another one (the CLI). The WAL
 * is cut back to WAL_SIZE_LIMIT_BYTES when it starts over.
 */
export function openDatabase(file: string, options: OpenOptions = {}): Database {
  const memory = file === ':memory:' || file === '';
  if (!memory && !options.readonly) mkdirSync(dirname(resolve(file)), { recursive: true });
  const readonly = options.readonly ?? false;
  let sqlite: BetterSqlite3.Database;
  try {
    sqlite = new BetterSqlite3(file, { readonly, fileMustExist: readonly });
  } catch (cause) {
    throw new AutonomyError(
      'DB_OPEN_FAILED',
      `cannot open the database ${file}: ${(cause as Error).message}. Check AUTONOMY_DB and that its folder is writable.`,
      { cause },
    );
  }
  if (!readonly) {
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`);
  }
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('foreign_keys = ON');
  const db = drizzle(sqlite, { schema });
  return {
    file,
    sqlite,
    db,
    close() {
      if (sqlite.open) sqlite.close();
    },
  };
}

/** The data folder: the folder that holds the database file (tokens and skill drafts live there). */
export function dataDir(dbFile: string): string {
  return dirname(resolve(dbFile));
}

/** migrations/ at the package root; the same from src/ (vitest, tsx) and from dist/src/ (built). */
export function migrationsFolder(): string {
  return join(packageRoot(), 'migrations');
}

export interface MigrateResult {
  /** Migrations applied by this call (0 when the database was already current). */
  readonly applied: number;
  /** Migrations the database now has. */
  readonly total: number;
}

/**
 * Applies every pending migration in one transaction. Safe to run on every start and from the CLI
 * at the same time as a running bot: if another process migrated in between, the retry finds
 * nothing left to do.
 */
export function migrate(database: Database, folder: string = migrationsFolder()): MigrateResult {
  if (!existsSync(join(folder, 'meta', '_journal.json'))) {
    throw new AutonomyError(
      'DB_MIGRATIONS_MISSING',
      `no migrations in ${folder}: the package is incomplete`,
      {
        fix: 'reinstall it (migrations/ ships with it)',
      },
    );
  }
  const available = readMigrationFiles({ migrationsFolder: folder }).length;
  const before = appliedCount(database);
  try {
    drizzleMigrate(database.db, { migrationsFolder: folder, migrationsTable: MIGRATIONS_TABLE });
  } catch {
    // Two processes migrating at once: the loser fails on "table exists". Re-read and retry once.
    try {
      drizzleMigrate(database.db, { migrationsFolder: folder, migrationsTable: MIGRATIONS_TABLE });
    } catch (cause) {
      throw new AutonomyError(
        'DB_MIGRATE_FAILED',
        `migrating ${database.file} failed: ${(cause as Error).message}. ` +
          'Restore a backup or move the file aside and start again.',
        { cause },
      );
    }
  }
  const after = appliedCount(database);
  return { applied: Math.max(0, after - before), total: Math.max(after, available) };
}

function appliedCount(database: Database): number {
  const exists = database.sqlite
    .prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = ?")
    .get(MIGRATIONS_TABLE) as { n: number };
  if (exists.n === 0) return 0;
  const row = database.sqlite.prepare(`SELECT count(*) AS n FROM "${MIGRATIONS_TABLE}"`).get() as {
    n: number;
  };
  return row.n;
}

/** The journal mode in effect (`wal` for a file opened by openDatabase). */
export function journalMode(database: Database): string {
  return String(database.sqlite.pragma('journal_mode', { simple: true }));
}

/**
 * Runs `fn` in a write transaction (BEGIN IMMEDIATE: the write lock is taken first, so what `fn`
 * reads cannot be changed by another process before it writes). Nested calls become savepoints.
 * `fn` must be synchronous; if it throws, nothing it wrote is kept.
 */
export function writeTransaction<T>(database: Database, fn: () => T): T {
  if (database.sqlite.inTransaction) return database.sqlite.transaction(fn)();
  return database.sqlite.transaction(fn).immediate();
}

/** Runs `fn` on one consistent read snapshot (other writers go on; `fn` does not see them). */
export function readTransaction<T>(database: Database, fn: () => T): T {
  return database.sqlite.transaction(fn).deferred();
}

/**
 * A cheap stamp that changes whenever anything was committed to the file since the last call:
 * by another connection or process (PRAGMA data_version) or by this one (total_changes()).
 * Compare two stamps to know whether to re-read; costs a few microseconds.
 */
export function changeStamp(database: Database): string {
  const version = database.sqlite.pragma('data_version', { simple: true }) as number;
  const own = database.sqlite.prepare('SELECT total_changes() AS n').get() as { n: number };
  return `${version}:${own.n}`;
}

/** A statement drizzle built, bound straight to better-sqlite3 (see fastStatement). */
export interface FastStatement<Values extends Record<string, unknown>> {
  run(values: Values): { readonly changes: number };
  /** The first row, keyed by the SQL column names, or undefined. */
  get(values: Values): unknown;
}

/**
 * For the few hot paths (the audit append): drizzle's query builder writes the SQL once, and each
 * call binds `sql.placeholder()` values by name straight to the prepared better-sqlite3 statement,
 * skipping drizzle's per-call parameter and row mapping (about half the cost of a small insert).
 * Values are bound as given: pass driver values (numbers, strings, null), not Dates or objects.
 */
export function fastStatement<Values extends Record<string, unknown>>(
  database: Database,
  query: { toSQL(): Query },
): FastStatement<Values> {
  const compiled = query.toSQL();
  const stmt = database.sqlite.prepare(compiled.sql);
  const names: (string | null)[] = [];
  const constants: unknown[] = [];
  for (const param of compiled.params) {
    const value = is(param, Param) ? param.value : param;
    if (is(value, Placeholder)) {
      names.push(value.name);
      constants.push(undefined);
    } else {
      names.push(null);
      constants.push(is(param, Param) ? param.encoder.mapToDriverValue(value) : value);
    }
  }
  const bind = (values: Values): unknown[] => {
    const out = new Array<unknown>(names.length);
    for (let i = 0; i < names.length; i++) {
      const name = names[i];
      out[i] = name === null || name === undefined ? constants[i] : values[name];
    }
    return out;
  };
  return {
    run: (values) => stmt.run(bind(values)),
    get: (values) => stmt.get(bind(values)),
  };
}

/**
 * A consistent copy of the live database (SQLite's online backup API: the bot keeps running and
 * writing). Refuses to overwrite an existing file. Resolves with the number of pages copied.
 */
export async function backupDatabase(database: Database, target: string): Promise<{ pages: number }> {
  if (existsSync(target))
    throw new AutonomyError('BACKUP_EXISTS', `${target} exists`, {
      fix: 'choose a new file name (a backup never overwrites)',
    });
  mkdirSync(dirname(resolve(target)), { recursive: true });
  const result = await database.sqlite.backup(target);
  return { pages: result.totalPages };
}
