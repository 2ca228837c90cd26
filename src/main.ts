/**
 * The composition root: the only file (with cli.ts) that wires adapters to the core. One process,
 * one HTTP server. Start order: config, pid file (one bot per data folder), database (migrated),
 * audit, control (AUTONOMY_KILL), policy (an invalid file stops the start), watchers, HTTP.
 * Stop is the reverse.
 */
import { sql } from 'drizzle-orm';
import type { pino } from 'pino';
import { createHttpApp, type HealthReport, listen, type RunningServer } from '../adapters/http/server.js';
import { AuditLog } from './audit/log.js';
import { type Config, loadConfig } from './config.js';
import { type ControlSnapshot, ControlStore, readControl } from './control/state.js';
import { watchControl } from './control/watch.js';
import { type Database, migrate, openDatabase } from './db/connection.js';
import { createLogger, type Logger } from './log.js';
import { claimPidFile } from './pidfile.js';
import { PolicyError } from './policy/errors.js';
import { loadPolicyFile } from './policy/load.js';
import { PolicyRuntime } from './policy/runtime.js';
import { createVersionStore } from './policy/versions.js';
import { AGENTS } from './policy/vocabulary.js';
import { watchPolicyFile } from './policy/watch.js';

/** Who the bot itself is in the audit log, per trigger. */
export const SYSTEM_ACTOR = {
  start: 'system:start',
  watch: 'system:watch',
  signal: 'system:sighup',
  env: 'system:env',
} as const;

export interface BotOptions {
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly cwd?: string;
  readonly now?: () => number;
  /** Where logs go (default: stderr). */
  readonly logDestination?: pino.DestinationStream;
  /** How often to look for control changes made by other processes (the CLI). */
  readonly controlPollMs?: number;
}

export interface Bot {
  readonly config: Config;
  readonly url: string;
  readonly log: Logger;
  readonly database: Database;
  readonly audit: AuditLog;
  readonly control: ControlStore;
  readonly policy: PolicyRuntime;
  /** The control state the bot obeys now (refreshed within controlPollMs of any change). */
  controlState(): ControlSnapshot;
  health(): HealthReport;
  stop(): Promise<void>;
}

function applyKillAtStart(config: Config, control: ControlStore, log: Logger): void {
  if (config.killAtStart === null) return;
  const reason = `AUTONOMY_KILL=${config.killAtStart === 'all' ? 'all' : config.killAtStart.join(',')} at start`;
  const targets = config.killAtStart === 'all' ? (['all'] as const) : config.killAtStart;
  for (const target of targets) {
    const result = control.kill(target, SYSTEM_ACTOR.env, reason);
    log.warn({ target }, result.message);
  }
}

/** Starts the bot. Throws PolicyError (with every issue) when the policy file is invalid. */
export async function startBot(options: BotOptions = {}): Promise<Bot> {
  const now = options.now ?? Date.now;
  const config = loadConfig(options.env ?? process.env, options.cwd);
  const log = createLogger(config.logLevel, options.logDestination);
  const cleanups: (() => void | Promise<void>)[] = [];
  const cleanup = async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn();
  };

  try {
    // First, so a second bot on the same data folder is refused before it writes anything.
    cleanups.push(claimPidFile(config.dataDir));
    const database = openDatabase(config.dbFile);
    cleanups.push(() => database.close());
    const migrated = migrate(database);
    const audit = new AuditLog(database, { now });
    const control = new ControlStore(database, audit, { now });
    applyKillAtStart(config, control, log);

    const started = await PolicyRuntime.start(
      {
        file: config.policyFile,
        load: loadPolicyFile,
        store: createVersionStore(database, audit, now),
        now,
        log,
      },
      SYSTEM_ACTOR.start,
    );
    if (!(started instanceof PolicyRuntime)) throw new PolicyError(started);
    const policy = started;

    cleanups.push(
      watchPolicyFile(config.policyFile, () => {
        void policy.reload(SYSTEM_ACTOR.watch, 'watch');
      }),
    );

    let controlState = readControl(database);
    cleanups.push(
      watchControl(
        database,
        (next) => {
          controlState = next;
          const killed = next.killedAll ? ['all'] : [...next.killedAgents];
          log.warn({ killed, phaseOverride: next.phaseOverride }, 'control state changed');
        },
        options.controlPollMs ?? 200,
        (err) => log.error({ err }, 'cannot read control state; keeping the last one'),
      ),
    );

    const health = (): HealthReport => {
      let db: HealthReport['checks'][string];
      try {
        database.db.get(sql`select 1`);
        db = { status: 'ok', detail: config.dbFile };
      } catch (err) {
        db = { status: 'down', detail: (err as Error).message };
      }
      const reloadError = policy.lastError;
      const current = policy.current;
      const killed = controlState.killedAll ? [...AGENTS] : [...controlState.killedAgents];
      return {
        status: db.status === 'down' ? 'down' : reloadError ? 'degraded' : 'ok',
        checks: {
          database: db,
          policy: reloadError
            ? { status: 'degraded', detail: `last reload rejected (${reloadError.issues.length} error(s))` }
            : { status: 'ok', detail: `version ${policy.version}` },
        },
        policy: {
          file: current.source,
          version: policy.version,
          hash: current.hash,
          phase: controlState.phaseOverride ?? current.phase,
          lastReloadError: reloadError
            ? { at: new Date(reloadError.at).toISOString(), errors: reloadError.issues.length }
            : null,
        },
        killed: { all: controlState.killedAll, agents: killed },
      };
    };

    const app = createHttpApp({ health, onError: (err) => log.error({ err }, 'http request failed') });
    const server: RunningServer = await listen(app, config.host, config.port);
    cleanups.push(() => server.close());

    log.info(
      {
        url: server.url,
        healthz: `${server.url}/healthz`,
        db: config.dbFile,
        migrationsApplied: migrated.applied,
        dataDir: config.dataDir,
        policy: config.policyFile,
        policyVersion: policy.version,
        phase: policy.current.phase,
        killed: controlState.killedAll ? 'all' : [...controlState.killedAgents],
      },
      `autonomy is running on ${server.url} (policy phase ${policy.current.phase}, version ${policy.version})`,
    );

    let stopped = false;
    return {
      config,
      url: server.url,
      log,
      database,
      audit,
      control,
      policy,
      controlState: () => controlState,
      health,
      async stop() {
        if (stopped) return;
        stopped = true;
        log.info('autonomy is stopping');
        await cleanup();
      },
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
