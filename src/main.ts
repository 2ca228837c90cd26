import type { pino } from 'pino';
import { defaultAllowedHosts } from '../adapters/console/auth.js';
import { ConsoleAdapter } from '../adapters/console/console-adapter.js';
import { mountConsole } from '../adapters/console/routes.js';
import { DiscordAdapter } from '../adapters/discord/discord-adapter.js';
import { requireBearer } from '../adapters/http/hooks/auth.js';
import { bodyReader } from '../adapters/http/hooks/body.js';
import { metricsCounters, mountHooks } from '../adapters/http/hooks/index.js';
import { registerOsvHook } from '../adapters/http/hooks/osv.js';
import { mountMetrics } from '../adapters/http/metrics-route.js';
import { createHttpApp, type HealthReport, listen, type RunningServer } from '../adapters/http/server.js';
import { createOllamaClient } from '../adapters/ollama/ollama-client.js';
import { mountSlack } from '../adapters/slack/request-guard.js';
import { SlackAdapter } from '../adapters/slack/slack-adapter.js';
import { Escalation } from './actions/approvals/escalation.js';
import { localDay } from './actions/usage.js';
import { AGENT_LIST } from './agents/index.js';
import { createMentor } from './agents/mentor/agent.js';
import { AgentDispatcher } from './agents/runtime/dispatch.js';
import { AgentPipeline } from './agents/runtime/pipeline.js';
import { sweepBodies } from './agents/runtime/sweep-bodies.js';
import { AuditLog } from './audit/log.js';
import type { ChatAdapter, Platform } from './chat/adapter.js';
import { message } from './chat/message.js';
import { OutboxWorker } from './chat/outbox-worker.js';
import { approvalChannels, inMaintenance } from './chat/routing.js';
import { createVersionStore } from './control/policy-versions.js';
import { type ControlSnapshot, ControlStore, isKilled, readControl } from './control/state.js';
import { watchControl } from './control/watch.js';
import { type Core, createCore } from './core.js';
import { startCheckpointer } from './db/checkpointer.js';
import { type Database, migrate, openDatabase } from './db/connection.js';
import { ModelRouter } from './llm/router.js';
import { SqliteUsage } from './llm/usage.js';
import { Metrics } from './metrics/prometheus.js';
import { Schedules } from './metrics/schedules.js';
import { PolicyError } from './policy/errors.js';
import { loadPolicyFile } from './policy/load.js';
import { PolicyRuntime } from './policy/runtime.js';
import { AGENTS, type AgentName } from './policy/vocabulary.js';
import { watchPolicyFile } from './policy/watch.js';
import { type Config, loadConfig } from './process/config.js';
import { startHeartbeat } from './process/heartbeat.js';
import { randomId } from './process/ids.js';
import { createLogger, type Logger } from './process/log.js';
import { claimPidFile } from './process/pidfile.js';
import { ensureToken } from './process/tokens.js';
import { createResearch } from './research/index.js';
import { InventoryLoader, inventorySpec } from './signals/advisories/inventory.js';
import { HealthMonitor } from './signals/health/probes.js';
import { firingFingerprints } from './signals/incidents/members.js';
import { SignatureMiner } from './signals/signatures/miner.js';
import { RepeatTracker } from './signals/signatures/repeats.js';
import { TemplateStore } from './signals/signatures/template-store.js';
import { Sweeps } from './signals/sweeps/sweeps.js';

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
  /** The model router the agents call (issue 6 wires the agents to it). */
  readonly router: ModelRouter;
  readonly outboxWorker: OutboxWorker;
  /** The control state the bot obeys now (refreshed within controlPollMs of any change). */
  controlState(): ControlSnapshot;
  health(): HealthReport;
  /** Drains: stops taking work, finishes or marks in-flight runs, flushes the outbox, closes. */
  stop(): Promise<void>;
}

function applyKillAtStart(config: Config, control: ControlStore, log: Logger): void {
  if (config.killAtStart === null) return;
  const reason = `AUTONOMY_KILL=${config.killAtStart === 'all' ? 'all' : config.killAtStart.join(',')} at start`;
  const targets = config.killAtStart === 'all' ? (['all'] as const) : config.killAtStart;
  for (const target of targets) log.warn({ target }, control.kill(target, SYSTEM_ACTOR.env, reason).message);
}

function newlyKilled(before: ControlSnapshot, after: ControlSnapshot): (AgentName | 'all')[] {
  const out: (AgentName | 'all')[] = [];
  if (after.killedAll && !before.killedAll) out.push('all');
  for (const a of AGENTS) if (after.killedAgents.has(a) && !before.killedAgents.has(a)) out.push(a);
  return out;
}

/** Starts the bot. Throws PolicyError (with every issue) when the policy file is invalid. */
export async function startBot(options: BotOptions = {}): Promise<Bot> {
  const now = options.now ?? Date.now;
  const env = options.env ?? process.env;
  const config = loadConfig(env, options.cwd);
  const log = createLogger(config.logLevel, options.logDestination);
  const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const cleanups: (() => void | Promise<void>)[] = [];
  const cleanup = async () => {
    for (const fn of cleanups.splice(0).reverse()) {
      try {
        await fn();
      } catch (err) {
        log.error({ err }, 'error while stopping');
      }
    }
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
    const currentPolicy = () => policy.current;
    const ingestToken = ensureToken(config.dataDir, 'ingest-token', config.ingestToken ?? undefined);
    const consoleToken = config.consoleEnabled
      ? ensureToken(config.dataDir, 'console-token', config.consoleToken ?? undefined).token
      : null;

    // Adapters: the console is the embedded default; Slack and Discord come in through options.
    const consoleAdapter = new ConsoleAdapter({ now, newId: randomId });
    const adapters = new Map<Platform, ChatAdapter>();
    if (config.consoleEnabled) adapters.set('console', consoleAdapter);
    for (const a of options.adapters ?? []) adapters.set(a.platform, a);
    if (config.discord && !adapters.has('discord')) {
      adapters.set(
        'discord',
        new DiscordAdapter({
          token: config.discord.token,
          apiUrl: config.discord.apiUrl ?? undefined,
          fullTextUrl: config.publicUrl,
          dataDir: config.dataDir,
          logger: log.child({ chat: 'discord' }),
        }),
      );
    }

    let worker: OutboxWorker | null = null;
    // The agent pipeline is built after the core and the router; both reach it through this holder.
    let agents: AgentPipeline | null = null;
    const metrics = new Metrics();
    const botSecrets = () =>
      new Map([
        ['AUTONOMY_INGEST_TOKEN', ingestToken.token],
        ...(consoleToken === null ? [] : [['AUTONOMY_CONSOLE_TOKEN', consoleToken] as [string, string]]),
      ]);
    const core = createCore({
      secrets: botSecrets,
      config,
      database,
      audit,
      control,
      policy: currentPolicy,
      policyVersion: () => policy.version,
      lastPolicyError: () => policy.lastError,
      now,
      newId: randomId,
      env,
      log,
      onQueued: () => worker?.poke(),
      incidentUpdateIntervalMs: options.incidentUpdateIntervalMs,
      health: () => [
        ...[...adapters.values()].map((a) => ({ name: `chat:${a.platform}`, ...a.health() })),
        modelHealth(),
      ],
    });
    // Checkpoints (the WAL copied back with an fsync) on a thread of their own, not on webhooks'
    // time; the group commit waits out the last stretch of each, so the WAL starts over.
    const checkpointer = startCheckpointer(database, {
      writes: core.signals,
      onError: (err) => log.warn({ err }, 'the checkpoint thread failed: checkpointing on commit instead'),
    });
    cleanups.push(() => checkpointer.stop());
    let slack: SlackAdapter | null = null;
    if (config.slack && !adapters.has('slack')) {
      slack = new SlackAdapter({
        botToken: config.slack.botToken,
        signingSecret: config.slack.signingSecret ?? undefined,
        appToken: config.slack.appToken ?? undefined,
        apiUrl: config.slack.apiUrl ?? undefined,
        inbound: core.inbound,
        now,
        publicUrl: config.publicUrl,
        log: log.child({ chat: 'slack' }),
        groups: () => {
          const r = policy.current.doc.control.roles;
          return [
            ...new Set(
              [...r.operators, ...r.approvers, ...r.admins].filter((i) => i.startsWith('slack:group:')),
            ),
          ];
        },
        dataDir: config.dataDir,
      });
      adapters.set('slack', slack);
    }
    worker = new OutboxWorker({
      outbox: core.outbox,
      adapters,
      now,
      log: log.child({ component: 'outbox' }),
      metrics: { failed: (e) => metrics.deliveryFailure(e.platform, e.reason === 'permanent') },
    });
    metrics.provide({
      killSwitches: () => controlState,
      outbox: () => {
        const b = core.outbox.backlog();
        return { depth: b.pending, oldestAgeMs: b.oldestPendingAgeMs };
      },
      approvalsByState: () => {
        const counts: Record<string, number> = {};
        for (const a of core.approvals.list({ state: 'all' })) counts[a.state] = (counts[a.state] ?? 0) + 1;
        return counts;
      },
    });

    // The model router: the policy's local model by default, escalation, budgets, caps. Agents that
    // lose their model (no server, no budget) say so once and keep working on rules.
    const router = new ModelRouter({
      client: createOllamaClient(),
      policy: currentPolicy,
      now,
      usage: new SqliteUsage(database, {
        now,
        dayStart: (at) => localDay(at, currentPolicy().doc.triggers.timezone).startsAt,
      }),
      isKilled: (agent) => isKilled(control.snapshot(), agent),
      log: log.child({ component: 'llm' }),
      defaultHost: config.ollamaHost,
      onDegraded: (agent, reason, detail) => agents?.degraded(agent, reason, detail),
    });

    /** The model server as the agents see it: degraded while any agent works on rules alone. */
    const modelHealth = () => {
      const rulesOnly = AGENTS.filter((a) => router.notices(a).length > 0);
      return rulesOnly.length === 0
        ? { name: 'model server', status: 'ok' as const, detail: config.ollamaHost }
        : {
            name: 'model server',
            status: 'degraded' as const,
            detail: `${rulesOnly.join(', ')} on rules alone (${[...new Set(rulesOnly.flatMap((a) => router.notices(a)))].join(', ')})`,
          };
    };

    // The agents: signals that open an incident wake the agents that handle them; every proposal
    // goes through decide(); every post through the screen (no secrets, no mass mentions).
    const pipeline = new AgentPipeline({
      database,
      audit,
      now,
      newId: randomId,
      log: log.child({ component: 'agents' }),
      policy: currentPolicy,
      controlState: () => control.snapshot(),
      runner: core.runner,
      approvals: core.approvals,
      grants: core.grants,
      outbox: core.outbox,
      mutes: core.mutes,
      onQueued: () => worker?.poke(),
      router,
      metrics,
      env,
      dataDir: config.dataDir,
      research: (agent, p, signal) =>
        createResearch({
          policy: p,
          agent,
          signal,
          searchUrl: config.searchUrl,
          chromiumPath: config.chromiumPath,
        }),
      secrets: botSecrets,
      redactor: core.redactor,
    });
    agents = pipeline;
    const agentList = [...AGENT_LIST, createMentor({ database, skills: core.skills })];
    const dispatcher = new AgentDispatcher({
      agents: agentList,
      pipeline,
      policy: currentPolicy,
      isKilled: (a) => isKilled(control.snapshot(), a),
      now,
      log: log.child({ component: 'dispatch' }),
    });
    cleanups.push(core.signals.onStored(dispatcher.onStored));
    cleanups.push(async () => {
      const drained = dispatcher.stop();
      await pipeline.stop(5000);
      await drained;
    });

    // Restart recovery: what was running when the process died is reported, never re-run.
    // Agent runs (no action id) a crash cut short are only marked; actions are reported.
    const interrupted = core.runner.recoverAfterRestart().filter((r) => r.actionId !== null);
    const interruptedApprovals = core.approvals.recoverAfterRestart();
    if (interrupted.length > 0 || interruptedApprovals > 0) {
      const lines = interrupted.map((r) => `${r.runId}: ${r.agent}/${r.actionId}`);
      for (const channel of approvalChannels(policy.current)) {
        core.outbox.enqueue(
          channel,
          message({
            kind: 'notice',
            title: `${interrupted.length} action(s) were interrupted by a restart and were NOT re-run`,
            severity: 'warning',
            body: `${lines.join('\n')}${interruptedApprovals ? `\n${interruptedApprovals} approved action(s) marked interrupted.` : ''}\nCheck the targets by hand; re-propose if still needed.`,
          }),
          { dedupeKey: `restart:${now()}:${channel}` },
        );
      }
      log.warn({ runs: lines, approvals: interruptedApprovals }, 'interrupted work reported (not re-run)');
    }
    core.approvals.expireDue();

    const escalation = new Escalation({
      database,
      audit,
      now,
      messages: core.outbox,
      policy: currentPolicy,
      approvalMessage: (id) => core.approvals.pendingMessage(id),
      // A mute holds back a non-critical incident's escalation; a maintenance window holds back
      // what it covers (critical ones only when the window says holdCritical).
      isHeld: (incident, t) =>
        (incident.severity !== 'critical' &&
          core.mutes.isMuted({ service: incident.service ?? undefined }, t) !== null) ||
        inMaintenance(policy.current, { service: incident.service, severity: incident.severity }, t) !== null,
      ackNonce: (id) => core.key.nonce('incident', id),
      screen: core.screenSource,
    });
    const safely = (what: string, fn: () => unknown) => () => {
      try {
        fn();
      } catch (err) {
        log.error({ err }, `${what} failed`);
      }
    };
    const slowTimer = setInterval(
      safely('expiry and escalation', () => {
        core.approvals.expireDue();
        escalation.tick();
        worker?.poke();
      }),
      15_000,
    );
    slowTimer.unref();
    const fastTimer = setInterval(
      safely('incident updates', () => core.incidentAlerts.flush()),
      1000,
    );
    fastTimer.unref();
    cleanups.push(() => {
      clearInterval(slowTimer);
      clearInterval(fastTimer);
    });

    // Sweeps (light and deep, per agent) with the health probes in sentinel's light sweep.
    let controlState = readControl(database);
    // Probes still failing when the bot stopped (also those that joined another incident).
    const openHealth = firingFingerprints(database, 'health:').map((f) => f.slice('health:'.length));
    const probes = new HealthMonitor({ sink: core.signals, now, degradedAtStart: openHealth });
    const sweeps = new Sweeps({
      database,
      sink: core.signals,
      policy: currentPolicy,
      bodies: sweepBodies(pipeline, currentPolicy, agentList, {
        extraChecks: (agent, kind) => core.skills.checksFor(currentPolicy(), agent, kind),
      }),
      isKilled: (a) => isKilled(controlState, a),
      now,
      newId: randomId,
      probes,
      log,
      onMissed: (m) => log.warn({ agent: m.agent, kind: m.kind, count: m.count }, m.message),
    });
    sweeps.start();
    cleanups.push(() => sweeps.stop());

    // The calendar: the weekly digest, the review post, the daily retention purge.
    const schedules = new Schedules({
      database,
      audit,
      outbox: core.outbox,
      subscriptions: core.subscriptions,
      policy: currentPolicy,
      now,
      dataDir: config.dataDir,
      publicUrl: config.publicUrl,
      log: log.child({ component: 'schedules' }),
      onQueued: () => worker?.poke(),
    });
    cleanups.push(() => schedules.stop());
    await schedules.start();

    cleanups.push(
      policy.onChange((next) => {
        const voided = core.approvals.voidChanged(next);
        if (voided > 0) log.warn({ voided }, 'pending approvals voided: their actions changed in the policy');
        sweeps.reload();
        schedules.reload();
        worker?.poke();
      }),
    );
    cleanups.push(
      watchPolicyFile(config.policyFile, () => {
        void policy.reload(SYSTEM_ACTOR.watch, 'watch');
      }),
    );

    // Kill switches set by another process (the CLI): abort in-flight work here within a poll.
    cleanups.push(
      watchControl(
        database,
        (next) => {
          const killed = newlyKilled(controlState, next);
          controlState = next;
          for (const target of killed) {
            const entry = next.entries.get(`kill:${target}`);
            core.runner.killAgent(target, entry?.actor ?? 'system:control', entry?.reason ?? undefined);
            pipeline.killAgent(target);
            router.abort(target);
            core.approvals.voidForAgent(target, entry?.reason ?? null, entry?.actor ?? 'system:control');
            for (const a of target === 'all' ? AGENTS : [target]) sweeps.abortAgent(a, `${a} was killed`);
          }
          log.warn(
            { killed: next.killedAll ? ['all'] : [...next.killedAgents], phaseOverride: next.phaseOverride },
            'control state changed',
          );
          worker?.poke();
        },
        options.controlPollMs ?? 200,
        (err) => log.error({ err }, 'cannot read control state; keeping the last one'),
      ),
    );

    const health = (): HealthReport => {
      let db: HealthReport['checks'][string];
      try {
        database.sqlite.prepare('select 1').get();
        db = { status: 'ok', detail: config.dbFile };
      } catch (err) {
        db = { status: 'down', detail: (err as Error).message };
      }
      const reloadError = policy.lastError;
      const current = policy.current;
      const killed = controlState.killedAll ? [...AGENTS] : [...controlState.killedAgents];
      const backlog = core.outbox.backlog();
      const chat = Object.fromEntries([...adapters.values()].map((a) => [`chat:${a.platform}`, a.health()]));
      return {
        status: db.status === 'down' ? 'down' : reloadError ? 'degraded' : 'ok',
        checks: {
          database: db,
          policy: reloadError
            ? { status: 'degraded', detail: `last reload rejected (${reloadError.issues.length} error(s))` }
            : { status: 'ok', detail: `version ${policy.version}` },
          ...chat,
          outbox: {
            status: backlog.failed > 0 ? 'degraded' : 'ok',
            detail: `${backlog.pending} pending, ${backlog.failed} failed`,
          },
          scheduler: {
            status: 'ok',
            detail: `${sweeps.scheduled().length} sweep schedule(s), ${schedules.scheduled().length} calendar job(s)`,
          },
          modelServer: { status: 'ok', detail: 'off: agents run on rules' },
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
        outbox: {
          pending: backlog.pending,
          failed: backlog.failed,
          oldestPendingAgeMs: backlog.oldestPendingAgeMs,
        },
      };
    };

    // HTTP: one server for /healthz, /metrics, the console and the ingest hooks.
    const app = createHttpApp({ health, onError: (err) => log.error({ err }, 'http request failed') });
    mountMetrics(app, metrics, (err) => log.error({ err }, 'metrics scrape failed'));
    const counters = metricsCounters(metrics);
    const templates = new TemplateStore(database);
    const miner = SignatureMiner.restore(templates.load());
    // One inventory (lockfiles and lists the policy names) for OSV and GitHub advisories.
    const inventoryLoader = new InventoryLoader();
    const inventory = () => inventoryLoader.load(inventorySpec(policy.current));
    const hooks = mountHooks(app, {
      inventory,
      sink: core.signals,
      ingestToken: ingestToken.token,
      githubSecret: config.githubWebhookSecret,
      policy: currentPolicy,
      miner,
      repeats: (settings) => new RepeatTracker(settings),
      templates,
      counters,
      now,
      log,
    });
    registerOsvHook(app, {
      sink: core.signals,
      inventory,
      counters,
      checkAuth: requireBearer({ token: ingestToken.token, counters, hook: 'osv' }),
      readBody: bodyReader({ counters, hook: 'osv', limit: 5 * 1024 * 1024 }),
    });
    if (slack?.mode === 'http') mountSlack(app, slack, now);
    let port = config.port;
    if (consoleToken !== null) {
      consoleAdapter.seed(core.outbox.consoleHistory(500));
      mountConsole(app, {
        adapter: consoleAdapter,
        inbound: core.inbound,
        token: consoleToken,
        consoleUser: () => policy.current.doc.control.consoleUser,
        allowedHosts: () => defaultAllowedHosts(port, config.publicUrl),
        publicUrl: config.publicUrl,
        dataDir: config.dataDir,
        now,
        log,
      });
    }
    const server: RunningServer = await listen(app, config.host, config.port);
    port = Number(new URL(server.url).port);
    cleanups.push(() => consoleAdapter.stop());
    cleanups.push(() => hooks.flushTemplates());

    for (const a of adapters.values()) {
      if (a.platform === 'console') continue;
      a.attach?.(core.inbound);
      await a.start();
      cleanups.push(() => a.stop());
    }
    worker.start();
    cleanups.push(async () => {
      await worker?.drain(5000);
      await worker?.stop();
    });
    cleanups.push(async () => {
      await core.runner.close(10_000);
      await core.approvals.settled();
    });
    // Cleanups run in reverse: closing the server is the first step of a stop (no new work comes in),
    // then running actions finish or are marked, then the outbox drains, then the database closes.
    cleanups.push(() => server.close());
    if (config.heartbeatUrl) cleanups.push(startHeartbeat({ url: config.heartbeatUrl, log }));

    const consoleUrl =
      consoleToken === null ? null : `${config.publicUrl ?? server.url}/?token=${consoleToken}`;
    log.info(
      {
        url: server.url,
        healthz: `${server.url}/healthz`,
        metrics: `${server.url}/metrics`,
        hooks: `${server.url}/hooks/`,
        db: config.dbFile,
        migrationsApplied: migrated.applied,
        dataDir: config.dataDir,
        ingestToken: `${ingestToken.source} (${ingestToken.path ?? 'AUTONOMY_INGEST_TOKEN'})`,
        policy: config.policyFile,
        policyVersion: policy.version,
        phase: policy.current.phase,
        chat: [...adapters.keys()],
        dryRun: config.dryRun,
        killed: controlState.killedAll ? 'all' : [...controlState.killedAgents],
      },
      `autonomy is running on ${server.url} (policy phase ${policy.current.phase}, version ${policy.version})`,
    );
    if (consoleUrl) print(`Console: ${consoleUrl}`);

    let stopping: Promise<void> | null = null;
    return {
      config,
      url: server.url,
      consoleUrl,
      ingestToken: ingestToken.token,
      log,
      database,
      audit,
      control,
      policy,
      core,
      router,
      outboxWorker: worker,
      controlState: () => controlState,
      health,
      stop() {
        stopping ??= (async () => {
          log.info('autonomy is stopping');
          await cleanup();
        })();
        return stopping;
      },
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
