/**
 * Every store and service of the core, built over one open database and a way to read the policy
 * in force, and the service list (service.ts) that starts, stops, kills and reports on them. No
 * HTTP and no platform: the bot (src/main.ts) hands in the chat adapters it made, adds its other
 * parts to `services` and starts the list; the CLI uses this as it is, never started, to run the
 * same chat verbs when chat is down (a kill there runs the same kill loop).
 */

import { join } from 'node:path';
import { and, desc, eq, gte, like, ne, sql } from 'drizzle-orm';
import { Approvals } from './actions/approvals/approvals.js';
import { Escalation } from './actions/approvals/escalation.js';
import { Grants } from './actions/grants.js';
import { describeExecution } from './actions/render.js';
import { restartReport } from './actions/restart-report.js';
import { Runner } from './actions/runner.js';
import { actionUsage } from './actions/usage.js';
import { screenText } from './agents/runtime/screen.js';
import { type Redact, redactorFor } from './agents/runtime/secrets.js';
import type { AuditLog } from './audit/log.js';
import type { ChatInbound } from './chat/adapter.js';
import { type ChatAdapter, chatService, type Platform } from './chat/adapter.js';
import { type ButtonKey, loadOrCreateButtonKey } from './chat/button-key.js';
import { CommandRefusal, type CommandServices, type StatusFacts } from './chat/commands/services.js';
import { createInbound } from './chat/inbound.js';
import { IncidentAlerts } from './chat/incident-alerts.js';
import { message } from './chat/message.js';
import { Outbox } from './chat/outbox.js';
import { OutboxWorker } from './chat/outbox-worker.js';
import { escalationChannels, inMaintenance, teamMentions } from './chat/routing.js';
import { IncidentSubscriptionStore, SubscriptionStore } from './chat/subscriptions.js';
import { MuteStore } from './control/mutes.js';
import { rolesOf } from './control/roles.js';
import { type ControlStore, isKilled } from './control/state.js';
import { ControlWatch } from './control/watch.js';
import { type Database, writeTransaction } from './db/connection.js';
import { auditLog, modelUsage, runs } from './db/schema.js';
import { DatabaseService } from './db/service.js';
import { registerSkillBuiltins } from './learning/builtins.js';
import { skillsList } from './learning/list.js';
import { SkillStore } from './learning/skills.js';
import { buildDigest } from './metrics/digest.js';
import { formatIssue } from './policy/errors.js';
import type { Policy } from './policy/types.js';
import { AGENTS, type AgentName } from './policy/vocabulary.js';
import type { Config } from './process/config.js';
import { Foreground } from './process/foreground.js';
import type { Clock, NewId } from './process/ids.js';
import type { Logger } from './process/log.js';
import { type HealthStatus, type ServiceHealth, ServiceList } from './service.js';
import { IncidentStore } from './signals/incidents/incidents.js';
import { SignalStore } from './signals/incidents/store.js';
import { localDay } from './time/zone.js';

export interface CoreDeps {
  readonly config: Config;
  readonly database: Database;
  readonly audit: AuditLog;
  readonly control: ControlStore;
  readonly policy: () => Policy;
  readonly policyVersion: () => number;
  readonly lastPolicyError: () => {
    at: number;
    issues: readonly { file: string; line: number; col: number; path: string; message: string }[];
  } | null;
  readonly now: Clock;
  readonly newId: NewId;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly log: Logger;
  /** The chat adapters by platform (the bot's); with any, the core delivers the outbox to them. */
  readonly adapters?: ReadonlyMap<Platform, ChatAdapter>;
  /** A delivery failed (for the bot's metrics). */
  readonly onDeliveryFailed?: (platform: Platform, permanent: boolean) => void;
  /** How often the control watch looks for changes made by other processes (default 200 ms). */
  readonly controlPollMs?: number;
  /** How often the outbox worker looks for messages nobody woke it for (default 250 ms). */
  readonly outboxPollMs?: number;
  /** At most one update of an incident's alert per this long (default 10 s). */
  readonly incidentUpdateIntervalMs?: number;
  /** The bot's own secrets by name (ingest and console tokens): redacted from what it posts. */
  readonly secrets?: () => ReadonlyMap<string, string>;
}

export interface Core {
  /**
   * The parts in start order: the database, the chat adapters, the outbox worker, restart recovery,
   * the runner, approvals, incident alerts, escalation and the control watch. The bot adds its own.
   */
  readonly services: ServiceList;
  readonly controlWatch: ControlWatch;
  /** Requests being answered and messages being delivered: agent jobs take their turn around them. */
  readonly foreground: Foreground;
  /** The outbox worker (only when adapters were given). */
  readonly worker: OutboxWorker | null;
  /** Takes the policy's and the bot's secrets out of a text (one per policy, cached): share it. */
  readonly redactor: (policy: Policy) => Redact;
  /** Source text (an alert's title, a service) made safe to post: secrets redacted, mentions inert, cut to `max`. */
  readonly screenSource: (text: string, max: number) => string;
  readonly outbox: Outbox;
  readonly mutes: MuteStore;
  readonly runner: Runner;
  readonly key: ButtonKey;
  readonly grants: Grants;
  readonly approvals: Approvals;
  readonly signals: SignalStore;
  readonly incidents: IncidentStore;
  readonly incidentAlerts: IncidentAlerts;
  readonly skills: SkillStore;
  readonly subscriptions: SubscriptionStore;
  readonly incidentSubscriptions: IncidentSubscriptionStore;
  readonly commands: CommandServices;
  readonly inbound: ChatInbound;
  /**
   * Kill's teeth, after a kill switch was written: the control watch reads it and runs the kill loop
   * over `services` (runs aborted, approvals voided, sweeps and model calls stopped).
   */
  onKill(): { aborted: number; voided: number };
  /** What `/healthz` answers; `status` shows the same checks. */
  healthReport(): CoreHealth;
}

/** The health report: one check per part that reports, and what people look for first. */
export interface CoreHealth {
  readonly status: HealthStatus;
  readonly checks: Readonly<Record<string, ServiceHealth>>;
  readonly policy: {
    readonly file: string;
    readonly version: number;
    readonly hash: string;
    readonly phase: number;
    readonly lastReloadError: { readonly at: string; readonly errors: number } | null;
  };
  readonly killed: { readonly all: boolean; readonly agents: readonly AgentName[] };
  readonly outbox: {
    readonly pending: number;
    readonly failed: number;
    readonly oldestPendingAgeMs: number | null;
  };
}

export function createCore(d: CoreDeps): Core {
  const { database, audit, control, now, newId } = d;
  const services = new ServiceList({
    onError: (service, step, err) => d.log.error({ err, service }, `${service}: ${step} failed`),
  });
  const outbox = new Outbox(database, audit, { now });
  const mutes = new MuteStore(database, audit, { now, newId });
  const runner = new Runner({
    database,
    audit,
    now,
    newId,
    log: d.log,
    env: d.env,
    dryRun: d.config.dryRun,
    requiredFields: () => d.policy().doc.evidence.required,
  });
  const skills = new SkillStore({ database, dataDir: d.config.dataDir, now, audit });
  registerSkillBuiltins(runner, skills, database);
  const key = loadOrCreateButtonKey(join(d.config.dataDir, 'button-key'));
  const controlState = () => control.snapshot();
  const grants = new Grants({ database, audit, now, newId, policy: d.policy, controlState });
  const foreground = new Foreground();
  const worker =
    d.adapters === undefined
      ? null
      : new OutboxWorker({
          outbox,
          adapters: d.adapters,
          now,
          log: d.log.child({ component: 'outbox' }),
          metrics: { failed: (e) => d.onDeliveryFailed?.(e.platform, e.reason === 'permanent') },
          foreground,
          ...(d.outboxPollMs === undefined ? {} : { pollMs: d.outboxPollMs }),
        });
  // Wakes the outbox worker (the CLI has none) after messages were queued, so a card goes out at
  // once rather than at the worker's next poll.
  const queued = () => worker?.poke();
  const messages = {
    enqueue: (...args: Parameters<Outbox['enqueue']>) => {
      const r = outbox.enqueue(...args);
      queued();
      return r;
    },
  };
  const approvals = new Approvals({
    database,
    audit,
    now,
    newId,
    messages,
    executor: runner,
    describe: (a, p) => describeExecution(a, p).display,
    policy: d.policy,
    controlState,
    key,
    grants,
    isApprover: (id, groups) => rolesOf(d.policy(), { id, groups }).has('approver'),
    usage: (actionId, t) => actionUsage(database, actionId, t, d.policy().doc.triggers.timezone),
    onError: (err, context) => d.log.error({ err, context }, 'approval run failed'),
  });
  const signals = new SignalStore(database, {
    now,
    newId,
    audit,
    onListenerError: (err) =>
      d.log.error({ err }, 'work on stored signals failed (their card or agent jobs)'),
  });
  const incidents = new IncidentStore(database, audit, { now });
  // Alert titles and services are the sender's text: screened like every agent post.
  const redact = redactorFor(d.env, d.secrets);
  const screenSource = (text: string, max: number) => screenText(text, max, redact(d.policy()));
  const incidentSubscriptions = new IncidentSubscriptionStore(database, audit, now);
  const incidentAlerts = new IncidentAlerts({
    database,
    outbox,
    policy: d.policy,
    now,
    key,
    isKilled: (agent) => isKilled(control.snapshot(), agent),
    isMuted: (subject, t) => mutes.isMuted(subject, t) !== null,
    subscriptions: () => incidentSubscriptions.list(),
    consoleUrl: () => d.config.publicUrl,
    onQueued: queued,
    updateIntervalMs: d.incidentUpdateIntervalMs,
    runbook: (incidentId) => skills.runbookForIncident(incidentId),
    screen: screenSource,
    onError: (err) => d.log.error({ err }, 'an incident card or update could not be queued'),
  });
  // The chat alert of a signal's incident, queued in the transaction that stores the signal: a crash
  // never leaves an incident whose card is never sent (the agents' jobs are in agents/runtime/service.ts).
  signals.beforeCommit((stored) =>
    incidentAlerts.changedAll(
      stored.flatMap((s) => (s.incident === null ? [] : [[s.input.kind, s.incident] as const])),
    ),
  );
  const subscriptions = new SubscriptionStore(database, audit, now);

  const escalation = new Escalation({
    database,
    audit,
    now,
    messages,
    policy: d.policy,
    approvalMessage: (id) => approvals.pendingMessage(id),
    // A mute holds back a non-critical incident's escalation; a maintenance window holds back
    // what it covers (critical ones only when the window says holdCritical).
    isHeld: (incident, t) =>
      (incident.severity !== 'critical' &&
        mutes.isMuted({ service: incident.service ?? undefined }, t) !== null) ||
      inMaintenance(d.policy(), { service: incident.service, severity: incident.severity }, t) !== null,
    // Escalations go where the incident's team is, and mention its people too.
    incidentChannels: (incident, policy) =>
      escalationChannels(policy, incident, incidentSubscriptions.list()),
    incidentMentions: (incident, policy) => teamMentions(policy, incident.service),
    ackNonce: (id) => key.nonce('incident', id),
    screen: screenSource,
    beforeTick: () => approvals.expireDue(),
    afterTick: queued,
    onError: (err) => d.log.error({ err }, 'expiry and escalation failed'),
  });
  // The one kill path: whoever wrote a kill switch, the watch hands it to the kill loop.
  const controlWatch = new ControlWatch({
    database,
    onKill: (order) => services.kill(order),
    onChange: (next) =>
      d.log.warn(
        { killed: next.killedAll ? ['all'] : [...next.killedAgents], phaseOverride: next.phaseOverride },
        'control state changed',
      ),
    intervalMs: d.controlPollMs,
    onError: (err) => d.log.error({ err }, 'cannot read control state; keeping the last one'),
  });
  const onKill = () => controlWatch.check();

  // Per agent, a range of its (agent, at) index: one query over all agents would read every call kept.
  const tokensSince = database.db
    .select({ tokens: sql<number>`sum(${modelUsage.promptTokens} + ${modelUsage.completionTokens})` })
    .from(modelUsage)
    .where(and(eq(modelUsage.agent, sql.placeholder('agent')), gte(modelUsage.at, sql.placeholder('since'))))
    .prepare();
  const budgets = () => {
    const policy = d.policy();
    const snap = control.snapshot();
    const since = localDay(now(), policy.doc.triggers.timezone).startsAt;
    const used = new Map(
      AGENTS.map((agent) => [agent, Number(tokensSince.get({ agent, since })?.tokens ?? 0)]),
    );
    return AGENTS.map((agent) => {
      const override = snap.budgetOverrides.get(agent);
      return {
        agent,
        usedToday: used.get(agent) ?? 0,
        dailyTokens:
          override ??
          policy.doc.budgets.agents[agent]?.dailyTokens ??
          policy.doc.budgets.perAgent.dailyTokens,
        overriddenBy: override !== undefined ? (snap.entries.get(`budget:${agent}`)?.actor ?? null) : null,
      };
    });
  };

  const pendingApprovals = () =>
    approvals.list({ state: 'pending' }).map((a) => ({
      shortId: a.shortId,
      agent: a.agent,
      actionId: a.actionId,
      state: a.state,
      display: a.display,
      expiresAt: a.expiresAt,
    }));
  const openIncidents = () => incidents.list({ status: 'unresolved' }).map((i) => ({ ...i }));

  const status = (): StatusFacts => {
    const t = now();
    const backlog = outbox.backlog();
    const err = d.lastPolicyError();
    return {
      pendingApprovals: pendingApprovals(),
      openIncidents: openIncidents(),
      mutes: mutes
        .active(t)
        .map((m) => ({ kind: m.kind, target: m.target, until: m.until, actor: m.actor, reason: m.reason })),
      budgets: budgets(),
      lastRuns: database.db
        .select({
          id: runs.id,
          agent: runs.agent,
          actionId: runs.actionId,
          status: runs.status,
          startedAt: runs.startedAt,
        })
        .from(runs)
        .orderBy(desc(runs.startedAt))
        .limit(5)
        .all(),
      outbox: {
        pending: backlog.pending,
        failed: backlog.failed,
        oldestPendingAgeMs: backlog.oldestPendingAgeMs,
      },
      lastPolicyError: err ? { at: err.at, errors: err.issues.map(formatIssue) } : null,
      policyVersion: d.policyVersion(),
      health: services.health().checks,
      grants: grants
        .list(t)
        .map((g) => ({ id: g.id, actionId: g.actionId, expiresAt: g.expiresAt, grantedBy: g.grantedBy })),
    };
  };

  // A person's acknowledgement or resolution commits with its card's update: a crash never leaves
  // a card offering Acknowledge on an incident someone acknowledged.
  const settle = (what: 'acknowledged' | 'resolved', shortId: string, actor: string, note?: string | null) =>
    writeTransaction(database, () => {
      const r =
        what === 'acknowledged'
          ? incidents.acknowledge(shortId, actor)
          : incidents.resolve(shortId, actor, note ?? undefined);
      if (!r.ok) throw new CommandRefusal(r.message);
      if (r.change !== null) incidentAlerts.settledByPerson(r.incident.id, r.change, actor, what);
      return r.message;
    });
  const commands: CommandServices = {
    now,
    // Control changes said in the channel and the approval channels (a CLI change too: the running
    // bot delivers what the CLI queued).
    announce: (channel, msg, dedupeKey) => messages.enqueue(channel, msg, { dedupeKey }),
    policy: d.policy,
    control,
    audit,
    status,
    onKill,
    approvals: {
      list: pendingApprovals,
      decide: (shortId, input) => approvals.decide(shortId, { ...input, via: 'command' }),
    },
    incidents: {
      list: openIncidents,
      get: (shortId) => {
        const incident = incidents.get(shortId);
        return incident === null ? null : { ...incident };
      },
      acknowledge: (shortId, actor) => settle('acknowledged', shortId, actor),
      resolve: (shortId, actor, note) => settle('resolved', shortId, actor, note),
    },
    mutes: {
      mute: (kind, target, ms, actor, reason) =>
        mutes.mute(kind, target, ms, actor, reason ?? undefined).message,
      unmute: (kind, target, actor) => mutes.unmute(kind, target, actor).message,
    },
    subscriptions,
    incidentSubscriptions,
    runTrail: (runId) => {
      const run = database.db.select().from(runs).where(eq(runs.id, runId)).get();
      if (run === undefined) return null;
      const records = database.db
        .select()
        .from(auditLog)
        .where(
          and(like(auditLog.evidence, `%"run:${runId.replace(/[%_"\\]/g, '')}"%`), ne(auditLog.kind, '')),
        )
        .orderBy(auditLog.seq)
        .limit(50)
        .all();
      return [
        `${run.id}: ${run.agent}/${run.actionId ?? '-'} tier ${run.tier ?? '-'} ${run.status}, trigger ${run.triggerSource}, model ${run.model ?? 'rules'}`,
        ...(run.outcome ? [`outcome: ${run.outcome}`] : []),
        ...records.map(
          (r) =>
            `#${r.seq} ${new Date(r.at).toISOString()} ${r.kind}${r.actor ? ` by ${r.actor}` : ''}${r.outcome ? `: ${r.outcome}` : ''}`,
        ),
      ];
    },
    skills: () =>
      skillsList(database, d.policy(), now()).map((r) => ({
        ...r,
        impact: r.impact === '—' ? null : r.impact,
      })),
    digest: async (channel, actor) => {
      const digest = await buildDigest({
        database,
        policy: d.policy(),
        now: now(),
        dataDir: d.config.dataDir,
        weekSoFar: true,
      });
      for (const warning of digest.warnings) d.log.warn({ week: digest.weekStart }, warning);
      outbox.enqueue(
        channel,
        { ...digest.message, body: `${digest.message.body}\n(requested by ${actor})` },
        { dedupeKey: `digest:now:${channel}:${now()}` },
      );
      queued();
      return message({
        kind: 'reply',
        title: `Digest posted to ${channel}`,
        body: digest.period,
        audience: actor,
      });
    },
  };

  const inbound = createInbound({
    services: commands,
    policy: d.policy,
    audit,
    key,
    approvalClick: (click) => approvals.click(click),
    incidentId: (shortId) => incidents.get(shortId)?.id ?? null,
    acknowledge: (shortId, actor) => commands.incidents.acknowledge(shortId, actor),
    foreground,
  });

  services.add(
    new DatabaseService(database, {
      writes: signals,
      onError: (err) => d.log.warn({ err }, 'the checkpoint thread failed: checkpointing on commit instead'),
    }),
  );
  for (const adapter of d.adapters?.values() ?? []) services.add(chatService(adapter, inbound));
  if (worker !== null) services.add(worker);
  services.add(restartReport({ runner, approvals, outbox, policy: d.policy, now, log: d.log }));
  services.add(runner);
  services.add(approvals);
  services.add(incidentAlerts);
  services.add(escalation);
  services.add(controlWatch);

  const healthReport = (): CoreHealth => {
    const { status, checks } = services.health();
    const policy = d.policy();
    const err = d.lastPolicyError();
    const snap = controlWatch.snapshot();
    const backlog = outbox.backlog();
    return {
      status,
      checks: Object.fromEntries(checks.map(({ name, ...h }) => [name, h])),
      policy: {
        file: policy.source,
        version: d.policyVersion(),
        hash: policy.hash,
        phase: snap.phaseOverride ?? policy.phase,
        lastReloadError: err ? { at: new Date(err.at).toISOString(), errors: err.issues.length } : null,
      },
      killed: { all: snap.killedAll, agents: snap.killedAll ? [...AGENTS] : [...snap.killedAgents] },
      outbox: {
        pending: backlog.pending,
        failed: backlog.failed,
        oldestPendingAgeMs: backlog.oldestPendingAgeMs,
      },
    };
  };

  return {
    services,
    controlWatch,
    foreground,
    worker,
    healthReport,
    screenSource,
    redactor: redact,
    outbox,
    mutes,
    runner,
    key,
    grants,
    approvals,
    signals,
    incidents,
    incidentAlerts,
    skills,
    subscriptions,
    incidentSubscriptions,
    commands,
    inbound,
    onKill,
  };
}

export type { AgentName };
