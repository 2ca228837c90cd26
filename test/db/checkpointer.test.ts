import { closeSync, mkdtempSync, openSync, readSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startCheckpointer } from '../../src/db/checkpointer.js';
import { type Database, migrate, openDatabase, WAL_SIZE_LIMIT_BYTES } from '../../src/db/connection.js';
import { sequentialIds } from '../../src/process/ids.js';
import { SignalStore } from '../../src/signals/incidents/store.js';

let dir: string;
let database: Database;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'autonomy-checkpoint-'));
  database = openDatabase(join(dir, 'autonomy.db'));
  database.sqlite.exec('CREATE TABLE blobs (id INTEGER PRIMARY KEY, data BLOB NOT NULL)');
});
afterEach(() => {
  if (database.sqlite.open) database.close();
  rmSync(dir, { recursive: true, force: true });
});

const autocheckpoint = () => database.sqlite.pragma('wal_autocheckpoint', { simple: true });
const fileBytes = () => statSync(join(dir, 'autonomy.db')).size;
const walBytes = () => statSync(join(dir, 'autonomy.db-wal')).size;
/**
 * How many times the WAL has started over: the checkpoint sequence number in its header (bytes
 * 12-15, big-endian), which SQLite counts up each time a commit starts the WAL from its first frame
 * again after a checkpoint copied all of it.
 */
function walRestarts(): number {
  const header = Buffer.alloc(16);
  const fd = openSync(join(dir, 'autonomy.db-wal'), 'r');
  try {
    readSync(fd, header, 0, 16, 0);
  } finally {
    closeSync(fd);
  }
  return header.readUInt32BE(12);
}

/** Commits `mib` MiB in 64 KiB rows, one transaction per MiB (the WAL grows by that much). */
function write(mib: number): void {
  const insert = database.sqlite.prepare('INSERT INTO blobs (data) VALUES (?)');
  const row = Buffer.alloc(64 * 1024, 7);
  for (let i = 0; i < mib; i++) {
    database.sqlite.transaction(() => {
      for (let j = 0; j < 16; j++) insert.run(row);
    })();
  }
}

async function until(condition: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) throw new Error('timed out waiting for the condition');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('WAL checkpoints on their own thread', () => {
  it('takes checkpoints off the committing connection and copies the WAL into the file in the background', async () => {
    const checkpointer = startCheckpointer(database, { intervalMs: 50 });
    try {
      expect(checkpointer.running).toBe(true);
      // The connection no longer checkpoints on commit...
      expect(autocheckpoint()).toBe(0);
      const before = fileBytes();
      write(8);
      // ...yet the 8 MiB reach the database file, copied by the thread (the committing connection
      // never did: with wal_autocheckpoint = 0 only the WAL would grow).
      await until(() => fileBytes() >= before + 8 * 1024 * 1024);
      expect([checkpointer.running, autocheckpoint()]).toEqual([true, 0]);
      const rows = database.sqlite.prepare('SELECT count(*) AS n FROM blobs').get() as { n: number };
      expect(rows.n).toBe(128);
    } finally {
      await checkpointer.stop();
    }
    // Stopped: the connection checkpoints on commit again (SQLite's default).
    expect(checkpointer.running).toBe(false);
    expect(autocheckpoint()).toBe(1000);
  });

  it('keeps the WAL small under a steady stream of group commits: it starts over after each round', async () => {
    migrate(database);
    const store = new SignalStore(database, { now: Date.now, newId: sequentialIds() });
    let holds = 0;
    const writes = {
      hold: () => {
        holds++;
        store.hold();
      },
      release: () => store.release(),
    };
    const checkpointer = startCheckpointer(database, { intervalMs: 20, writes });
    let n = 0;
    const signal = () => ({
      kind: 'alert' as const,
      source: 'test',
      dedupeKey: `k-${++n}`,
      fingerprint: 'fp',
      title: 'disk full',
      severity: 'warning' as const,
      payload: { text: 'x'.repeat(1000) },
    });
    try {
      // Commits back to back (the checkpoint thread never sees the WAL still) until the WAL has
      // started over a dozen times, each after a round that needed a hold. Without the holds it
      // never starts over: it would hold every frame ever written (about four times the file).
      // Counted in the WAL's own header, not read off its size (its high-water mark, which one
      // round slowed down by a busy machine can push anywhere). The deadline only bounds a failure.
      const end = Date.now() + 30_000;
      while ((walRestarts() < 12 || n < 20_000) && Date.now() < end) {
        await Promise.all(Array.from({ length: 20 }, () => store.ingestBatched([signal()])));
      }
      expect(walRestarts()).toBeGreaterThanOrEqual(12);
      expect(holds).toBeGreaterThanOrEqual(12);
      const stored = database.sqlite.prepare('SELECT count(*) AS n FROM signals').get() as { n: number };
      expect(stored.n).toBe(n);
    } finally {
      await checkpointer.stop();
    }
  }, 60_000);

  it('gives back what a long burst grew the WAL to, down to the limit, once the thread copied it all', async () => {
    const mib = 1024 * 1024;
    // A burst the thread does not keep up with: the WAL's frames are never all copied while it lasts.
    database.sqlite.pragma('wal_autocheckpoint = 0');
    write(WAL_SIZE_LIMIT_BYTES / mib + 24);
    expect(walBytes()).toBeGreaterThan(WAL_SIZE_LIMIT_BYTES + 20 * mib);
    const checkpointer = startCheckpointer(database, { intervalMs: 20 });
    try {
      // Once the thread copied it all, the next commit starts the WAL over, and cuts the file back
      // (SQLite alone would keep it at its high-water mark).
      const restarts = walRestarts();
      const insert = database.sqlite.prepare('INSERT INTO blobs (data) VALUES (?)');
      let small = 0;
      await until(() => {
        insert.run(Buffer.alloc(16));
        small++;
        return walRestarts() > restarts;
      }, 20_000);
      expect(walBytes()).toBeLessThanOrEqual(WAL_SIZE_LIMIT_BYTES);
      const rows = database.sqlite.prepare('SELECT count(*) AS n FROM blobs').get() as { n: number };
      expect(rows.n).toBe((WAL_SIZE_LIMIT_BYTES / mib + 24) * 16 + small);
    } finally {
      await checkpointer.stop();
    }
  }, 30_000);

  it('falls back to checkpointing on commit, and says so once, when the thread cannot work', async () => {
    const errors: Error[] = [];
    // A database whose file the thread cannot open (it never creates one).
    const elsewhere = { ...database, file: join(dir, 'missing', 'autonomy.db') };
    const checkpointer = startCheckpointer(elsewhere, { intervalMs: 50, onError: (err) => errors.push(err) });
    await until(() => !checkpointer.running);
    expect(autocheckpoint()).toBe(1000);
    expect(errors).toHaveLength(1);
    expect(errors[0]?.message).toMatch(/unable to open database file|directory does not exist/);
    await checkpointer.stop();
    expect(errors).toHaveLength(1);
  });

  it('does nothing for an in-memory database', async () => {
    const memory = openDatabase(':memory:');
    try {
      const checkpointer = startCheckpointer(memory);
      expect(checkpointer.running).toBe(false);
      await checkpointer.stop();
    } finally {
      memory.close();
    }
  });
});
