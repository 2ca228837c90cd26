/**
 * WAL checkpoints off the event loop. In WAL mode every COMMIT appends to the -wal file, and by
 * default the connection that commits also checkpoints (copies the WAL back into the database file
 * and fsyncs it) every 1000 pages: a pause of milliseconds on the bot's one thread, in the middle
 * of a webhook burst. The bot turns that off on its own connection and lets a worker thread with
 * a connection of its own run `PRAGMA wal_checkpoint(PASSIVE)` every `intervalMs`. PASSIVE never
 * waits for the writer or blocks it; what it cannot copy now it copies next time. Durability is
 * unchanged: a commit is in the WAL before it returns, whoever checkpoints it later.
 *
 * The WAL only starts over (its next frames overwrite the first ones, in pages the OS has cached)
 * when a checkpoint has copied ALL of it. Under a steady stream of commits a checkpoint on another
 * thread never quite catches up, so the -wal file would grow for as long as the stream lasts (half a
 * gigabyte in 8 s of a webhook storm), and every frame appended past its end costs the kernel a
 * fresh, zeroed page: 15% of the bot's CPU time in bench/ingest.bench.ts. So, given `writes` (the
 * group commit, SignalStore), each round is two checkpoints: the first copies the WAL while commits
 * go on, the second what came in during the first; if commits came in during the second too, the
 * thread asks for the group commit to be held (queued units wait; nothing blocks, requests are
 * still read) and copies the few frames left, then lets it go. The next commit starts the WAL
 * over. A hold lasts one small checkpoint (two fsyncs, a few ms); it is released after `maxHoldMs`
 * whatever the thread is doing.
 *
 * If the thread fails (it cannot open the file, it dies), the connection goes back to checkpointing
 * on commit, so the WAL never grows without bound; the failure goes to `onError` once.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { Database } from './connection.js';

/** SQLite's default: checkpoint on commit once the WAL holds this many pages. */
export const DEFAULT_AUTOCHECKPOINT_PAGES = 1000;

/** Commits that can wait a moment (the group commit): held while a checkpoint catches up. */
export interface WriteHold {
  /** Queue commits from now on (nothing is refused; callers just wait). */
  hold(): void;
  /** Commit what queued, and go on as before. */
  release(): void;
}

export interface CheckpointerOptions {
  /** How often the thread checkpoints (default 500 ms). */
  readonly intervalMs?: number;
  /** The writes to hold while a checkpoint catches up, so the WAL can start over (see above). */
  readonly writes?: WriteHold;
  /** The longest a hold lasts, whatever the thread is doing (default 50 ms). */
  readonly maxHoldMs?: number;
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
// Messages: the thread sends 'hold' (copied all but what came in meanwhile) and 'released' (the
// last stretch is copied); the bot answers 'hold' with 'held' once its writes wait, and sends 'stop'.
const THREAD = `
const { parentPort, workerData } = require('node:worker_threads');
const Driver = require(workerData.driver);
const db = new Driver(workerData.file, { fileMustExist: true });
db.pragma('busy_timeout = 5000');
// [{ busy, log, checkpointed }]: frames in the WAL, frames copied into the file.
const checkpoint = () => db.pragma('wal_checkpoint(PASSIVE)')[0];
let timer = null;
let stopping = false;
const later = () => { if (!stopping) timer = setTimeout(round, workerData.intervalMs); };
function round() {
  timer = null;
  // The bulk, while commits go on; then what came in meanwhile (mostly nothing to copy when idle).
  const bulk = checkpoint();
  const rest = checkpoint();
  // Frames still coming in: copy the last of them with the commits held.
  if (workerData.hold && rest.busy === 0 && rest.log > bulk.log) parentPort.postMessage('hold');
  else later();
}
parentPort.on('message', (m) => {
  if (m === 'held') {
    try { checkpoint(); } finally { parentPort.postMessage('released'); later(); }
  } else if (m === 'stop') {
    stopping = true;
    if (timer !== null) clearTimeout(timer);
    try { checkpoint(); } finally { db.close(); parentPort.close(); }
  }
});
round();
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
  const writes = options.writes;
  const worker = new Worker(THREAD, {
    eval: true,
    workerData: {
      driver: driverPath,
      file,
      intervalMs: options.intervalMs ?? 500,
      hold: writes !== undefined,
    },
  });
  // The hold, released by the thread ('released') or by the clock, whichever comes first.
  let holdTimer: NodeJS.Timeout | null = null;
  const release = () => {
    if (holdTimer === null) return;
    clearTimeout(holdTimer);
    holdTimer = null;
    writes?.release();
  };
  worker.on('message', (m) => {
    if (m === 'released') release();
    else if (m === 'hold' && writes !== undefined && !stopping) {
      if (holdTimer === null) {
        writes.hold();
        holdTimer = setTimeout(release, options.maxHoldMs ?? 50);
      }
      worker.postMessage('held');
    }
  });
  // Never what keeps the process alive: stop() is for a clean last checkpoint, not for exiting.
  worker.unref();
  database.sqlite.pragma('wal_autocheckpoint = 0');
  const fail = (err: Error) => {
    if (!running) return;
    running = false;
    release();
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
      release();
      if (running) worker.postMessage('stop');
      const timer = setTimeout(() => void worker.terminate(), 5000);
      await exited;
      clearTimeout(timer);
      fallback();
    },
  };
}
