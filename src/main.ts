/**
 * The composition root: builds the bot's parts, adds each to one service list (service.ts) and
 * starts it. Starting, the SIGTERM drain, a kill switch, a policy reload and `/healthz` are each one
 * loop over that list; this file only says which parts there are and what each is given.
 */
import type { pino } from 'pino';
import { chatAdapters } from '../adapters/chat-adapters.js';
import { ConsoleAdapter } from '../adapters/console/console-adapter.js';
import { HttpService } from '../adapters/http/service.js';
import { createOllamaClient } from '../adapters/ollama/ollama-client.js';
import { SlackAdapter } from '../adapters/slack/slack-adapter.js';
import { Agents } from './agents/runtime/service.js';
import type { AuditLog } from './audit/log.js';
import { AuditLog as Audit } from './audit/log.js';
import type { ChatAdapter, Platform } from './chat/adapter.js';
import { announceModelServer } from './chat/model-server-notice.js';
import type { OutboxWorker } from './chat/outbox-worker.js';
import { createVersionStore } from './control/policy-versions.js';
import { type ControlSnapshot, ControlStore, isKilled } from './control/state.js';
import { type Core, type CoreHealth, createCore } from './core.js';
import { type Database, migrate, openDatabase } from './db/connection.js';
import { ModelRouter } from './llm/router.js';
import { SqliteUsage } from './llm/usage.js';
import { Metrics } from './metrics/prometheus.js';
import { Schedules } from './metrics/schedules.js';
import { PolicyError } from './policy/errors.js';
import { loadPolicyFile } from './policy/load.js';
import { PolicyRuntime } from './policy/runtime.js';
import { PolicyService } from './policy/service.js';
import type { AgentName } from './policy/vocabulary.js';
import { type Config, loadConfig } from './process/config.js';
import { heartbeatService } from './process/heartbeat.js';
import { randomId } from './process/ids.js';
import { createLogger, type Logger } from './process/log.js';
import { claimPidFile } from './process/pidfile.js';
import { type EnsuredToken, ensureToken } from './process/tokens.js';
import { createResearch } from './research/index.js';
import { ServiceList } from './service.js';
import { HealthMonitor } from './signals/health/probes.js';
import { firingFingerprints } from './signals/incidents/members.js';
import { ingestParts } from './signals/ingest.js';
import { Sweeps } from './signals/sweeps/sweeps.js';
import { localDay } from './time/zone.js';

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
  /** Where the console URL (with its token) is printed, once (default: stdout). Never the log. */
  readonly print?: (line: string) => void;
  /** How often to look for control changes made by other processes (the CLI). */
  readonly controlPollMs?: number;
  /** Extra chat adapters (Slack, Discord) by platform. */
  readonly adapters?: readonly ChatAdapter[];
  /** At most one update of an incident's alert per this long (default 10 s). */
  readonly incidentUpdateIntervalMs?: number;
  /** How often the outbox worker looks for messages nobody woke it for (default 250 ms). */
  readonly outboxPollMs?: number;
  /** How often every agent looks for jobs nobody woke it for, the CLI's (default 5 s). */
  readonly agentLookMs?: number;
}

export interface Bot {
  readonly config: Config;
  readonly url: string;
  /** The console URL with its token (print it to people only), or null when the console is off. */
  readonly consoleUrl: string | null;
  readonly ingestToken: string;
  readonly log: Logger;
  readonly database: Database;
  readonly audit: AuditLog;
  readonly control: ControlStore;
  readonly policy: PolicyRuntime;
  readonly core: Core;
  readonly router: ModelRouter;
  readonly outboxWorker: OutboxWorker;
  /** The control state the bot obeys now (refreshed within controlPollMs of any change). */
  controlState(): ControlSnapshot;
  health(): CoreHealth;
  /** Drains: stops taking work, finishes or marks in-flight runs, flushes the outbox, closes. */
  stop(): Promise<void>;
}

/** How long the SIGTERM drain gives the parts (runs in flight, the outbox) before they are cut. */
const DRAIN_MS = 10_000;

/** Starts the bot. Throws PolicyError (with every issue) when the policy file is invalid. */
export async function startBot(options: BotOptions = {}): Promise<Bot> {
  const now = options.now ?? Date.now;
  const env = options.env ?? process.env;
  const config = loadConfig(env, options.cwd);
  const log = createLogger(config.logLevel, options.logDestination);
  const boot = new ServiceList({
    onError: (service, step, err) => log.error({ err, service }, `${step} failed`),
  });
  // First, so a second bot on the same data folder is refused before it writes anything.
  boot.add({ name: 'pid file', stop: claimPidFile(config.dataDir) });
  await boot.start();
  try {
    const database = openDatabase(config.dbFile);
    boot.add({ name: 'connection', stop: () => database.close() });
    await boot.start();
    const migrated = migrate(database);
    const audit = new Audit(database, { now });
    const control = new ControlStore(database, audit, { now });
    applyKillAtStart(config, control, log);
    const store = createVersionStore(database, audit, now);
    const started = await PolicyRuntime.start(
      { file: config.policyFile, load: loadPolicyFile, store, now, log },
      SYSTEM_ACTOR.start,
    );
    if (!(started instanceof PolicyRuntime)) throw new PolicyError(started);
    const bot = await assemble({ options, config, log, now, env, database, audit, control, policy: started });
    log.info({ ...bot.banner, migrationsApplied: migrated.applied }, bot.banner.message);
    if (bot.consoleUrl)
      (options.print ?? ((line) => process.stdout.write(`${line}\n`)))(`Console: ${bot.consoleUrl}`);
    let stopping: Promise<void> | null = null;
    return {
      ...bot.handle,
      stop() {
        stopping ??= (async () => {
          log.info('autonomy is stopping');
          await bot.services.stop(Date.now() + DRAIN_MS);
          await boot.stop(Date.now());
        })();
        return stopping;
      },
    };
  } catch (err) {
    await boot.stop(Date.now());
    throw err;
  }
}

interface Ground {
  readonly options: BotOptions;
  readonly config: Config;
  readonly log: Logger;
  readonly now: () => number;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly database: Database;
  readonly audit: AuditLog;
  readonly control: ControlStore;
  readonly policy: PolicyRuntime;
}

/** Builds every part on the opened database and policy, in start order, and starts them. */
async function assemble(g: Ground) {
  const { config, policy } = g;
  const ingestToken = ensureToken(config.dataDir, 'ingest-token', config.ingestToken ?? undefined);
  const consoleToken = config.consoleEnabled
    ? ensureToken(config.dataDir, 'console-token', config.consoleToken ?? undefined).token
    : null;
  const metrics = new Metrics();
  const adapters = chatAdapters({ ...g, policy: () => policy.current, given: g.options.adapters });
  const core = createCore({
    ...g,
    // The bot's own tokens: redacted from whatever it posts.
    secrets: () =>
      new Map(
        Object.entries({
          AUTONOMY_INGEST_TOKEN: ingestToken.token,
          AUTONOMY_CONSOLE_TOKEN: consoleToken,
        }).filter((e): e is [string, string] => e[1] !== null),
      ),
    policy: () => policy.current,
    policyVersion: () => policy.version,
    lastPolicyError: () => policy.lastError,
    newId: randomId,
    adapters,
    onDeliveryFailed: (platform, permanent) => metrics.deliveryFailure(platform, permanent),
    controlPollMs: g.options.controlPollMs,
    incidentUpdateIntervalMs: g.options.incidentUpdateIntervalMs,
    outboxPollMs: g.options.outboxPollMs,
  });
  metrics.provide(metricSources(core));
  core.services.add(new PolicyService(policy, config.policyFile, SYSTEM_ACTOR.watch));
  policy.onChange((next) => core.services.policyChanged(next));
  const router = addAgentParts(g, core, metrics);
  const http = core.services.add(
    httpService(g, core, metrics, adapters, { ingest: ingestToken.token, console: consoleToken }),
  );
  if (config.heartbeatUrl) core.services.add(heartbeatService({ url: config.heartbeatUrl, log: g.log }));
  try {
    await core.services.start();
  } catch (err) {
    await core.services.stop(Date.now());
    throw err;
  }
  const consoleUrl = consoleToken === null ? null : `${config.publicUrl ?? http.url}/?token=${consoleToken}`;
  const handle = {
    ...g,
    url: http.url,
    consoleUrl,
    ingestToken: ingestToken.token,
    core,
    router,
    outboxWorker: core.worker as OutboxWorker,
    controlState: () => core.controlWatch.snapshot(),
    health: () => core.healthReport(),
  };
  return {
    services: core.services,
    banner: banner(handle, ingestToken, adapters.keys()),
    consoleUrl,
    handle,
  };
}

/**
 * The model router, the agents, their sweeps and the calendar. Agents that lose their model (no
 * server, no budget) say so once and keep working on rules.
 */
function addAgentParts(g: Ground, core: Core, metrics: Metrics): ModelRouter {
  const { config, log, now, database } = g;
  const policy = () => g.policy.current;
  const killed = (agent: AgentName) => isKilled(core.controlWatch.snapshot(), agent);
  const poke = () => core.worker?.poke();
  let agents: Agents | null = null;
  const router = core.services.add(
    new ModelRouter({
      client: createOllamaClient(),
      policy,
      now,
      usage: new SqliteUsage(database, {
        now,
        dayStart: (at) => localDay(at, policy().doc.triggers.timezone).startsAt,
      }),
      isKilled: killed,
      log: log.child({ component: 'llm' }),
      defaultHost: config.ollamaHost,
      onDegraded: (agent, reason, detail) => agents?.pipeline.degraded(agent, reason, detail),
      onServerChange: (change) => {
        log.warn(
          { server: change.server, up: change.up },
          `model server ${change.up ? 'back' : 'unreachable'}`,
        );
        announceModelServer(
          { policy, announce: core.commands.announce ?? (() => {}), screen: core.screenSource },
          change,
        );
      },
    }),
  );
  // Every proposal goes through decide(); every post through the screen (no secrets, no mass mentions).
  agents = core.services.add(
    new Agents({
      ...g,
      ...core,
      newId: randomId,
      log: log.child({ component: 'agents' }),
      policy,
      controlState: () => g.control.snapshot(),
      onQueued: poke,
      router,
      metrics,
      dataDir: config.dataDir,
      research: (agent, p, signal) =>
        createResearch({
          policy: p,
          agent,
          signal,
          searchUrl: config.searchUrl,
          chromiumPath: config.chromiumPath,
        }),
      isKilled: killed,
      lookMs: g.options.agentLookMs,
    }),
  );
  // Probes still failing when the bot stopped (also those that joined another incident) stay degraded.
  const openHealth = firingFingerprints(database, 'health:').map((f) => f.slice('health:'.length));
  core.services.add(
    new Sweeps({
      database,
      sink: core.signals,
      policy,
      bodies: agents.sweepBodies({
        extraChecks: (agent, kind) => core.skills.checksFor(policy(), agent, kind),
      }),
      isKilled: killed,
      now,
      newId: randomId,
      probes: new HealthMonitor({ sink: core.signals, now, degradedAtStart: openHealth }),
      log,
      onMissed: (m) => log.warn({ agent: m.agent, kind: m.kind, count: m.count }, m.message),
    }),
  );
  core.services.add(
    new Schedules({
      ...g,
      ...core,
      policy,
      dataDir: config.dataDir,
      publicUrl: config.publicUrl,
      log: log.child({ component: 'schedules' }),
      onQueued: poke,
    }),
  );
  return router;
}

/** One HTTP server: /healthz, /metrics, the webhook ingest, Slack's events and the console. */
function httpService(
  g: Ground,
  core: Core,
  metrics: Metrics,
  adapters: ReadonlyMap<Platform, ChatAdapter>,
  tokens: { readonly ingest: string; readonly console: string | null },
): HttpService {
  const { config, policy } = g;
  const slack = adapters.get('slack');
  const consoleAdapter = adapters.get('console');
  if (consoleAdapter instanceof ConsoleAdapter) consoleAdapter.seed(core.outbox.consoleHistory(500));
  return new HttpService({
    ...config,
    ...g,
    health: () => core.healthReport(),
    foreground: core.foreground,
    metrics,
    hooks: {
      ...ingestParts(g.database, () => policy.current, g.log),
      sink: core.signals,
      ingestToken: tokens.ingest,
      githubSecret: config.githubWebhookSecret,
      policy: () => policy.current,
    },
    slack: slack instanceof SlackAdapter ? slack : null,
    console:
      tokens.console !== null && consoleAdapter instanceof ConsoleAdapter
        ? {
            adapter: consoleAdapter,
            inbound: core.inbound,
            token: tokens.console,
            consoleUser: () => policy.current.doc.control.consoleUser,
          }
        : null,
  });
}

function metricSources(core: Core): Parameters<Metrics['provide']>[0] {
  return {
    killSwitches: () => core.controlWatch.snapshot(),
    outbox: () => {
      const b = core.outbox.backlog();
      return { depth: b.pending, oldestAgeMs: b.oldestPendingAgeMs };
    },
    approvalsByState: () => {
      const counts: Record<string, number> = {};
      for (const a of core.approvals.list({ state: 'all' })) counts[a.state] = (counts[a.state] ?? 0) + 1;
      return counts;
    },
  };
}

/** The start line: where everything is, once. */
function banner(bot: Omit<Bot, 'stop'>, ingestToken: EnsuredToken, chat: Iterable<Platform>) {
  const { url, config, policy } = bot;
  const snap = bot.controlState();
  return {
    message: `autonomy is running on ${url} (policy phase ${policy.current.phase}, version ${policy.version})`,
    url,
    healthz: `${url}/healthz`,
    metrics: `${url}/metrics`,
    hooks: `${url}/hooks/`,
    db: config.dbFile,
    dataDir: config.dataDir,
    ingestToken: `${ingestToken.source} (${ingestToken.path ?? 'AUTONOMY_INGEST_TOKEN'})`,
    policy: config.policyFile,
    policyVersion: policy.version,
    phase: policy.current.phase,
    chat: [...chat],
    services: bot.core.services.names(),
    dryRun: config.dryRun,
    killed: snap.killedAll ? 'all' : [...snap.killedAgents],
  };
}

function applyKillAtStart(config: Config, control: ControlStore, log: Logger): void {
  if (config.killAtStart === null) return;
  const reason = `AUTONOMY_KILL=${config.killAtStart === 'all' ? 'all' : config.killAtStart.join(',')} at start`;
  const targets = config.killAtStart === 'all' ? (['all'] as const) : config.killAtStart;
  for (const target of targets) log.warn({ target }, control.kill(target, SYSTEM_ACTOR.env, reason).message);
}
