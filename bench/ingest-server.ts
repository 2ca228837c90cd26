/**
 * The servers bench/ingest.bench.ts loads, each in a child process of its own (so the load tool
 * and the server do not share an event loop):
 * - `bare`: node:http answering 202 to everything after reading the body (the baseline);
 * - `app`: the bot's real HTTP app with the real hooks, storing into a fresh SQLite file (WAL,
 *   synchronous=NORMAL, migrated), every signal committed before its 202.
 * Prints nothing; sends `{port}` to the parent when listening, answers `stats` with the stored
 * signal count, exits on `stop`. Never imported: forked by ingest.bench.ts with `bare` or `app`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { metricsCounters, mountHooks } from '../adapters/http/hooks/index.js';
import { createHttpApp, listen } from '../adapters/http/server.js';
import { AuditLog } from '../src/audit/log.js';
import { startCheckpointer } from '../src/db/checkpointer.js';
import { type Database, migrate, openDatabase } from '../src/db/connection.js';
import { Metrics } from '../src/metrics/prometheus.js';
import { loadPolicyFile } from '../src/policy/load.js';
import { randomId } from '../src/process/ids.js';
import { packageRoot } from '../src/process/package-root.js';
import { SignalStore } from '../src/signals/incidents/store.js';
import { SignatureMiner } from '../src/signals/signatures/miner.js';
import { RepeatTracker } from '../src/signals/signatures/repeats.js';
import { TemplateStore } from '../src/signals/signatures/template-store.js';

/** The parent passes the token to use (never a real one: a fresh temp database). */
const TOKEN = process.env.AUTONOMY_BENCH_TOKEN ?? '';

/** CPU time this process used so far (user + system), in microseconds. */
function cpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

function send(message: unknown): void {
  process.send?.(message);
}

async function bare(): Promise<void> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(202, { 'content-type': 'application/json' });
      res.end('{"accepted":1,"duplicates":0,"incidents":[]}');
    });
  });
  server.listen(0, '127.0.0.1', () => send({ port: (server.address() as AddressInfo).port }));
  process.on('message', (m) => {
    if (m === 'cpu') send({ cpu: cpuMicros() });
    if (m === 'stats') send({ signals: null });
    if (m === 'stop') server.close(() => process.exit(0));
  });
}

async function app(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'autonomy-bench-ingest-'));
  const database: Database = openDatabase(join(dir, 'autonomy.db'));
  migrate(database);
  const loaded = await loadPolicyFile(join(packageRoot(), 'policies', 'default.policy.yaml'));
  if (!loaded.ok) throw new Error('the default policy does not load');
  const now = Date.now;
  const audit = new AuditLog(database, { now });
  const store = new SignalStore(database, { now, newId: randomId, audit });
  // As the bot does (src/main.ts): checkpoints on their own thread, the group commit held for the last stretch.
  const checkpointer = startCheckpointer(database, { writes: store });
  const http = createHttpApp({
    health: () => ({ status: 'ok', checks: {} }),
    onError: (err) => process.stderr.write(`bench app error: ${err.stack ?? err.message}\n`),
  });
  mountHooks(http, {
    sink: store,
    ingestToken: TOKEN,
    githubSecret: null,
    policy: () => loaded.policy,
    miner: new SignatureMiner({ now }),
    repeats: (s) => new RepeatTracker(s),
    templates: new TemplateStore(database),
    // As the bot counts (src/main.ts): into its Prometheus metrics.
    counters: metricsCounters(new Metrics()),
    now,
    log: pino({ level: 'silent' }),
  });
  const server = await listen(http, '127.0.0.1', 0);
  send({ port: Number(new URL(server.url).port) });
  process.on('message', (m) => {
    if (m === 'cpu') send({ cpu: cpuMicros() });
    if (m === 'stats') {
      const n = database.sqlite.prepare('SELECT count(*) AS n FROM signals').get() as { n: number };
      send({ signals: n.n });
    }
    if (m === 'stop') {
      void server.close().then(async () => {
        await checkpointer.stop();
        database.close();
        rmSync(dir, { recursive: true, force: true });
        process.exit(0);
      });
    }
  });
}

const mode = process.argv[2];
if (mode === 'bare') await bare();
else if (mode === 'app') await app();
