/**
 * WAL checkpoints off the event loop. In WAL mode every COMMIT appends to the -wal file, and by
 * default the connection that commits also checkpoints (copies the WAL back into the database file
 * and fsyncs it) every 1000 pages: a pause of milliseconds on the bot's one thread, in the middle
 * of a webhook burst. The bot turns that off on its own connection and lets a worker thread with
 * a connection of its own run `PRAGMA wal_checkpoint(PASSIVE)` every `intervalMs`. PASSIVE never
 * waits for the writer or blocks it; what it cannot copy now it copies next time. Durability is
 * unchanged: a commit is in the WAL before it returns, whoever checkpoints it later.
 *
 * If the thread fails (it cannot open the file, it dies), the connection goes back to checkpointing
 * on commit, so the WAL never grows without bound; the failure goes to `onError` once.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { Database } from './connection.js';

/** SQLite's default: checkpoint on commit once the WAL holds this many pages. */
export const DEFAULT_AUTOCHECKPOINT_PAGES = 1000;

export interface CheckpointerOptions {
  /** How often the thread checkpoints (default 200 ms). */
  readonly intervalMs?: number;
  /** Called once if the thread fails; the connection checkpoints on commit from then on. */
  readonly onError?: (err: Error) => void;
}

export interface Checkpointer {
  /** False once the thread failed (or for a database without a file). */
  readonly running: boolean;
  /** Stops the thread (after one last checkpoint) and gives the connection its own checkpoints back. */
  stop(): Promise<void>;
}

// A plain script (not a module of ours): it runs the same from src/ under vitest and from dist/.
const THREAD = `
const { parentPort, workerData } = require('node:worker_threads');
const Driver = require(workerData.driver);
const db = new Driver(workerData.file, { fileMustExist: true });
db.pragma('busy_timeout = 5000');
const checkpoint = () => db.pragma('wal_checkpoint(PASSIVE)');
checkpoint();
const timer = setInterval(checkpoint, workerData.intervalMs);
parentPort.on('message', (m) => {
  if (m !== 'stop') return;
  clearInterval(timer);
  try { checkpoint(); } finally { db.close(); parentPort.close(); }
});
`;

const driverPath = createRequire(import.meta.url).resolve('better-sqlite3');

/** Moves `database`'s checkpoints to a thread of their own (no-op for `:memory:` or read-only). */
export function startCheckpointer(database: Database, options: CheckpointerOptions = {}): Checkpointer {
  const file = database.file;
  if (file === ':memory:' || file === '' || database.sqlite.readonly) {
    return { running: false, stop: async () => {} };
  }
  const fallback = () => {
    if (database.sqlite.open) database.sqlite.pragma(`wal_autocheckpoint = ${DEFAULT_AUTOCHECKPOINT_PAGES}`);
  };
  let running = true;
  let stopping = false;
  const worker = new Worker(THREAD, {
    eval: true,
    workerData: { driver: driverPath, file, intervalMs: options.intervalMs ?? 200 },
  });
  // Never what keeps the process alive: stop() is for a clean last checkpoint, not for exiting.
  worker.unref();
  database.sqlite.pragma('wal_autocheckpoint = 0');
  const fail = (err: Error) => {
    if (!running) return;
    running = false;
    fallback();
    if (!stopping) options.onError?.(err);
  };
  worker.once('error', fail);
  const exited = new Promise<void>((resolve) => {
    worker.once('exit', (code) => {
      fail(new Error(`the checkpoint thread stopped (exit code ${code})`));
      resolve();
    });
  });
  return {
    get running() {
      return running;
    },
    async stop() {
      if (stopping) return exited;
      stopping = true;
      if (running) worker.postMessage('stop');
      const timer = setTimeout(() => void worker.terminate(), 5000);
      await exited;
      clearTimeout(timer);
      fallback();
    },
  };
}
