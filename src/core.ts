/**
 * Every store and service of the core, built over one open database and a way to read the policy
 * in force. No adapters, no HTTP, no timers: the bot (src/main.ts) adds those, and the CLI uses
 * this as it is to run the same chat verbs when chat is down.
 */
import { join } from 'node:path';
import { and, desc, eq, gte, like, ne, sql } from 'drizzle-orm';
import { Approvals } from './actions/approvals/approvals.js';
import { Grants } from './actions/grants.js';
import { describeExecution } from './actions/render.js';
import { Runner } from './actions/runner.js';
import { actionUsage, localDay } from './actions/usage.js';
import { screenText } from './agents/runtime/screen.js';
import { type Redact, redactorFor } from './agents/runtime/secrets.js';
import type { AuditLog } from './audit/log.js';
import type { ChatInbound } from './chat/adapter.js';
import { type ButtonKey, loadOrCreateButtonKey } from './chat/button-key.js';
import type { AgentOrAll } from './chat/commands/grammar.js';
import {
  CommandRefusal,
  type CommandServices,
  type Health,
  type StatusFacts,
} from './chat/commands/services.js';
import { createInbound } from './chat/inbound.js';
import { IncidentAlerts } from './chat/incident-alerts.js';
import { message } from './chat/message.js';
import { Outbox } from './chat/outbox.js';
import { SubscriptionStore } from './chat/subscriptions.js';
import { MuteStore } from './control/mutes.js';
import { rolesOf } from './control/roles.js';
import { type ControlStore, isKilled } from './control/state.js';
import type { Database } from './db/connection.js';
import { auditLog, modelUsage, runs } from './db/schema.js';
import { registerSkillBuiltins } from './learning/builtins.js';
import { skillsList } from './learning/list.js';
import { SkillStore } from './learning/skills.js';
import { buildDigest } from './metrics/digest.js';
import { formatIssue } from './policy/errors.js';
import type { Policy } from './policy/types.js';
import { AGENTS, type AgentName } from './policy/vocabulary.js';
import type { Config } from './process/config.js';
import type { Clock, NewId } from './process/ids.js';
import type { Logger } from './process/log.js';
import { IncidentStore } from './signals/incidents/incidents.js';
import { SignalStore } from './signals/incidents/store.js';

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
  /** Health of the parts only the bot process has (adapters, outbox worker, model server). */
  readonly health?: () => readonly Health[];
  /** Wakes the outbox worker after messages were queued (the bot's; the CLI has none). */
  readonly onQueued?: () => void;
  /** At most one update of an incident's alert per this long (default 10 s). */
  readonly incidentUpdateIntervalMs?: number;
  /** The bot's own secrets by name (ingest and console tokens): redacted from what it posts. */
  readonly secrets?: () => ReadonlyMap<string, string>;
}

export interface Core {
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
  readonly commands: CommandServices;
  readonly inbound: ChatInbound;
  /** Kill's teeth: abort in-flight runs and void pending approvals of the target. */
  onKill(target: AgentOrAll, actor: string, reason: string | null): { aborted: number; voided: number };
}

export function createCore(d: CoreDeps): Core {
  const { database, audit, control, now, newId } = d;
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
  });
  const skills = new SkillStore({ database, dataDir: d.config.dataDir, now, audit });
  registerSkillBuiltins(runner, skills, database);
  const key = loadOrCreateButtonKey(join(d.config.dataDir, 'button-key'));
  const controlState = () => control.snapshot();
  const grants = new Grants({ database, audit, now, newId, policy: d.policy, controlState });
  const queued = () => d.onQueued?.();
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
    onListenerError: (err) => d.log.error({ err }, 'incident alert failed'),
  });
  const incidents = new IncidentStore(database, audit, { now });
  // Alert titles and services are the sender's text: screened like every agent post.
  const redact = redactorFor(d.env, d.secrets);
  const screenSource = (text: string, max: number) => screenText(text, max, redact(d.policy()));
  const incidentAlerts = new IncidentAlerts({
    database,
    outbox,
    policy: d.policy,
    now,
    key,
    isKilled: (agent) => isKilled(control.snapshot(), agent),
    isMuted: (subject, t) => mutes.isMuted(subject, t) !== null,
    consoleUrl: () => d.config.publicUrl,
    onQueued: queued,
    updateIntervalMs: d.incidentUpdateIntervalMs,
    runbook: (incidentId) => skills.runbookForIncident(incidentId),
    screen: screenSource,
  });
  signals.onStored((stored) => {
    for (const s of stored) if (s.incident !== null) incidentAlerts.changed(s.input.kind, s.incident);
  });
  const subscriptions = new SubscriptionStore(database, audit, now);

  const onKill = (target: AgentOrAll, actor: string, reason: string | null) => {
    const { aborted } = runner.killAgent(target, actor, reason ?? undefined);
    const voided = approvals.voidForAgent(target, reason, actor);
    queued();
    return { aborted, voided };
  };

  const budgets = () => {
    const policy = d.policy();
    const snap = control.snapshot();
    const used = new Map<string, number>();
    for (const row of database.db
      .select({
        agent: modelUsage.agent,
        tokens: sql<number>`sum(${modelUsage.promptTokens} + ${modelUsage.completionTokens})`,
      })
      .from(modelUsage)
      .where(gte(modelUsage.at, localDay(now(), policy.doc.triggers.timezone).startsAt))
      .groupBy(modelUsage.agent)
      .all()) {
      used.set(row.agent, Number(row.tokens ?? 0));
    }
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
      health: [{ name: 'database', status: 'ok' }, ...(d.health?.() ?? [])],
      grants: grants
        .list(t)
        .map((g) => ({ id: g.id, actionId: g.actionId, expiresAt: g.expiresAt, grantedBy: g.grantedBy })),
    };
  };

  const commands: CommandServices = {
    now,
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
      acknowledge: (shortId, actor) => {
        const r = incidents.acknowledge(shortId, actor);
        if (!r.ok) throw new CommandRefusal(r.message);
        if (r.changed) {
          incidentAlerts.settledByPerson(
            r.incident.id,
            toChange(r.incident, 'updated'),
            actor,
            'acknowledged',
          );
        }
        return r.message;
      },
      resolve: (shortId, actor, note) => {
        const r = incidents.resolve(shortId, actor, note ?? undefined);
        if (!r.ok) throw new CommandRefusal(r.message);
        if (r.changed)
          incidentAlerts.settledByPerson(r.incident.id, toChange(r.incident, 'resolved'), actor, 'resolved');
        return r.message;
      },
    },
    mutes: {
      mute: (kind, target, ms, actor, reason) =>
        mutes.mute(kind, target, ms, actor, reason ?? undefined).message,
      unmute: (kind, target, actor) => mutes.unmute(kind, target, actor).message,
    },
    subscriptions,
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
      });
      for (const warning of digest.warnings) d.log.warn({ week: digest.weekStart }, warning);
      outbox.enqueue(
        channel,
        { ...digest.message, body: `${digest.message.body}\n(requested by ${actor})` },
        { dedupeKey: `digest:now:${channel}:${now()}` },
      );
      queued();
      return message({ kind: 'reply', title: `Digest posted to ${channel}`, audience: actor });
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
  });

  return {
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
    commands,
    inbound,
    onKill,
  };
}

function toChange(
  i: {
    id: string;
    shortId: string;
    fingerprint: string;
    title: string;
    severity: 'info' | 'warning' | 'critical';
    service: string | null;
    signalCount: number;
  },
  change: 'updated' | 'resolved',
) {
  return {
    id: i.id,
    shortId: i.shortId,
    change,
    fingerprint: i.fingerprint,
    title: i.title,
    severity: i.severity,
    service: i.service,
    signalCount: i.signalCount,
  } as const;
}

export type { AgentName };
