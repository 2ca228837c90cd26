/**
 * The database schema (drizzle, SQLite). Migrations in migrations/ are generated from this file with
 * `npx drizzle-kit generate`; never edit them by hand, and add tables or columns by new migrations.
 *
 * Conventions, so a Postgres port can follow without a rewrite:
 * - every timestamp is an integer of epoch milliseconds (`*_at`), written from an injected clock;
 * - closed enums are text columns typed from src/policy/vocabulary.ts (no CHECK constraints, so a
 *   new value is a code change, not a migration);
 * - JSON is text (`mode: 'json'`), except in audit_log, whose `evidence` and `data` hold the exact
 *   canonical JSON the hash chain was computed over (see src/audit/chain.ts);
 * - ids are text made by the caller's injected id generator, except where order matters
 *   (audit_log.seq, outbox.id, policy_versions.id, model_usage.id are integers).
 */
import { sql } from 'drizzle-orm';
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';
import {
  ACTION_CLASSES,
  AGENTS,
  type Phase,
  SEVERITIES,
  SIGNAL_KINDS,
  type Tier,
  VERDICTS,
} from '../policy/vocabulary.js';

/** Params of a catalog action, as checked by the policy (strings and integers only). */
export type StoredParams = Record<string, string | number>;

/** Where a chat message landed, so it can be updated later (approval buttons, "decided by ..."). */
export interface MessageRef {
  readonly channel: string;
  readonly ref: string;
}

// ---------------------------------------------------------------------------------------------
// Policy and control

/** Every policy file the bot accepted: its bytes, hash, and who or what loaded it. */
export const policyVersions = sqliteTable(
  'policy_versions',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    /** SHA-256 hex of the file's bytes. */
    hash: text('hash').notNull(),
    sourcePath: text('source_path').notNull(),
    content: text('content').notNull(),
    loadedAt: integer('loaded_at').notNull(),
    /** Who or what loaded it: `system:start`, `system:watch`, `system:sighup`, `cli:user:NAME`, ... */
    actor: text('actor').notNull(),
    /** The policy in force; at most one row is active (a partial unique index). */
    active: integer('active', { mode: 'boolean' }).notNull().default(false),
  },
  (t) => [
    index('policy_versions_hash_idx').on(t.hash),
    uniqueIndex('policy_versions_one_active_uq').on(t.active).where(sql`${t.active} = 1`),
  ],
);

export const CONTROL_KINDS = ['kill', 'phase', 'budget'] as const;
export type ControlKind = (typeof CONTROL_KINDS)[number];
export const CONTROL_SCOPES = ['all', ...AGENTS] as const;
export type ControlScope = (typeof CONTROL_SCOPES)[number];

/**
 * Runtime control state, one row per (kind, scope), written by chat, the CLI and AUTONOMY_KILL:
 * - kill/all, kill/<agent>:     value 1 = killed, 0 = resumed
 * - phase/all, phase/<agent>:   value 1..4 = runtime phase override, null = none (the file decides)
 * - budget/all, budget/<agent>: value = daily token budget override, null = none
 * A row keeps who set it last, why and when; the audit log keeps the history.
 */
export const control = sqliteTable(
  'control',
  {
    kind: text('kind', { enum: CONTROL_KINDS }).notNull(),
    scope: text('scope', { enum: CONTROL_SCOPES }).notNull(),
    value: integer('value'),
    reason: text('reason'),
    actor: text('actor').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.kind, t.scope] })],
);

// ---------------------------------------------------------------------------------------------
// Signals and incidents

export const INCIDENT_STATUSES = ['open', 'acknowledged', 'resolved'] as const;
export type IncidentStatus = (typeof INCIDENT_STATUSES)[number];

/** Incidents group signals by fingerprint; their timestamps feed MTTD and MTTR. */
export const incidents = sqliteTable(
  'incidents',
  {
    id: text('id').primaryKey(),
    /** The short id people type: `i7`. Assigned as max+1 inside a write transaction. */
    number: integer('number').notNull(),
    fingerprint: text('fingerprint').notNull(),
    title: text('title').notNull(),
    severity: text('severity', { enum: SEVERITIES }).notNull(),
    service: text('service'),
    status: text('status', { enum: INCIDENT_STATUSES }).notNull().default('open'),
    /** When the problem began (the earliest signal's own timestamp, else its receipt). */
    startedAt: integer('started_at').notNull(),
    /** When the bot first knew (MTTD = detected_at - started_at). */
    detectedAt: integer('detected_at').notNull(),
    acknowledgedAt: integer('acknowledged_at'),
    acknowledgedBy: text('acknowledged_by'),
    /** MTTR = resolved_at - started_at. */
    resolvedAt: integer('resolved_at'),
    resolvedBy: text('resolved_by'),
    signalCount: integer('signal_count').notNull().default(0),
    lastSignalAt: integer('last_signal_at'),
    /** Escalation path level reached (0 = first post only) and when the next level is due. */
    escalationLevel: integer('escalation_level').notNull().default(0),
    nextEscalationAt: integer('next_escalation_at'),
    /** Where the incident's alert was posted, so it can be updated (counts, ack, resolve). */
    messageRefs: text('message_refs', { mode: 'json' }).$type<MessageRef[]>().notNull().default([]),
  },
  (t) => [
    uniqueIndex('incidents_number_uq').on(t.number),
    index('incidents_escalation_idx').on(t.nextEscalationAt),
    // At most one unresolved incident per fingerprint, even with two writers racing.
    uniqueIndex('incidents_open_fingerprint_uq').on(t.fingerprint).where(sql`${t.status} <> 'resolved'`),
    index('incidents_fingerprint_idx').on(t.fingerprint, t.startedAt),
    index('incidents_status_idx').on(t.status, t.detectedAt),
    index('incidents_detected_idx').on(t.detectedAt),
    // The week's resolutions (the digest's MTTR), without reading every incident kept.
    index('incidents_resolved_idx').on(t.resolvedAt),
    // Agents' history of a service, newest first: no full scans.
    index('incidents_service_idx').on(t.service, t.detectedAt),
    // Correlation by service: its open incidents only, however many it had before.
    index('incidents_open_service_idx').on(t.service, t.lastSignalAt).where(sql`${t.status} <> 'resolved'`),
  ],
);

/** Normalised events, stored first (before anything is acknowledged) and deduplicated by key. */
export const signals = sqliteTable(
  'signals',
  {
    id: text('id').primaryKey(),
    kind: text('kind', { enum: SIGNAL_KINDS }).notNull(),
    /** Where it came from: `alertmanager`, `github`, `sweep:guardian`, `chat`, ... */
    source: text('source').notNull(),
    /** Same key = same delivery (retries, duplicate webhooks): stored once. */
    dedupeKey: text('dedupe_key').notNull(),
    /** Same fingerprint = same problem: grouped into one incident. */
    fingerprint: text('fingerprint').notNull(),
    title: text('title'),
    service: text('service'),
    severity: text('severity', { enum: SEVERITIES }).notNull(),
    payload: text('payload', { mode: 'json' }).$type<unknown>().notNull(),
    /** The source's own timestamp for the event, if it gave one. */
    occurredAt: integer('occurred_at'),
    receivedAt: integer('received_at').notNull(),
    incidentId: text('incident_id').references(() => incidents.id),
  },
  (t) => [
    uniqueIndex('signals_dedupe_key_uq').on(t.dedupeKey),
    index('signals_fingerprint_idx').on(t.fingerprint, t.receivedAt),
    // An incident's signals newest first (its card's latest signal, its timeline) without sorting
    // all of them: a flapping alert links thousands to one incident.
    index('signals_incident_received_idx').on(t.incidentId, t.receivedAt),
    index('signals_received_idx').on(t.receivedAt),
  ],
);

// ---------------------------------------------------------------------------------------------
// Agents: runs, proposals, approvals, grants

export const RUN_STATUSES = ['running', 'succeeded', 'failed', 'interrupted', 'skipped'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/** One agent run: the template's required run metadata (trigger, model, class, tier, outcome, evidence). */
export const runs = sqliteTable(
  'runs',
  {
    id: text('id').primaryKey(),
    agent: text('agent', { enum: AGENTS }).notNull(),
    /** `webhook`, `cron`, `chat`, `cli`, `approval`, `startup`, ... */
    triggerSource: text('trigger_source').notNull(),
    /** What exactly: a signal id, a sweep name, a command, an approval id. */
    triggerRef: text('trigger_ref'),
    model: text('model'),
    provider: text('provider'),
    actionId: text('action_id'),
    actionClass: text('action_class', { enum: ACTION_CLASSES }),
    tier: integer('tier').$type<Tier>(),
    verdict: text('verdict', { enum: VERDICTS }),
    /** A short sentence a person can read: what happened. */
    outcome: text('outcome'),
    evidence: text('evidence', { mode: 'json' }).$type<string[]>().notNull().default([]),
    tokens: integer('tokens').notNull().default(0),
    cpuMs: integer('cpu_ms'),
    wallMs: integer('wall_ms'),
    startedAt: integer('started_at').notNull(),
    finishedAt: integer('finished_at'),
    status: text('status', { enum: RUN_STATUSES }).notNull().default('running'),
    incidentId: text('incident_id').references(() => incidents.id),
    error: text('error'),
  },
  (t) => [
    index('runs_agent_started_idx').on(t.agent, t.startedAt),
    // The latest runs of all agents (`status`), newest first.
    index('runs_started_idx').on(t.startedAt),
    // Cooldowns and daily caps: last run and today's count per action.
    index('runs_action_started_idx').on(t.actionId, t.startedAt),
    index('runs_status_idx').on(t.status),
    index('runs_incident_idx').on(t.incidentId),
    // A job taken up again asks whether its earlier run had started actions (their trigger_ref).
    index('runs_trigger_ref_idx').on(t.triggerRef),
  ],
);

/** Every proposal an agent made, with the decision taken on it. */
export const proposals = sqliteTable(
  'proposals',
  {
    id: text('id').primaryKey(),
    agent: text('agent', { enum: AGENTS }).notNull(),
    actionId: text('action_id').notNull(),
    params: text('params', { mode: 'json' }).$type<StoredParams>().notNull(),
    rationale: text('rationale'),
    evidence: text('evidence', { mode: 'json' }).$type<string[]>().notNull().default([]),
    verdict: text('verdict', { enum: VERDICTS }).notNull(),
    /** The DecisionCode from decide(): `killed`, `needs-approval`, `cooldown`, ... */
    code: text('code').notNull(),
    reason: text('reason').notNull(),
    tier: integer('tier').$type<Tier>(),
    phase: integer('phase').$type<Phase>(),
    bindingHash: text('binding_hash'),
    decidedAt: integer('decided_at').notNull(),
    runId: text('run_id').references(() => runs.id),
    incidentId: text('incident_id').references(() => incidents.id),
  },
  (t) => [
    index('proposals_agent_decided_idx').on(t.agent, t.decidedAt),
    index('proposals_action_decided_idx').on(t.actionId, t.decidedAt),
    index('proposals_incident_idx').on(t.incidentId),
    // The week's decisions (the digest), without reading every proposal kept.
    index('proposals_decided_idx').on(t.decidedAt),
    // A run's proposals (an agent's recent actions, the team's history): read for every job.
    index('proposals_run_idx').on(t.runId),
  ],
);

export const APPROVAL_STATES = [
  'pending',
  'approved',
  'denied',
  'expired',
  'void',
  'executing',
  'succeeded',
  'failed',
  'interrupted',
] as const;
export type ApprovalState = (typeof APPROVAL_STATES)[number];

/**
 * Tier 3 approvals. `number` is the short id people type (`a12`). Every state change is an
 * UPDATE ... WHERE version = ? that bumps `version`, so two clicks cannot both win.
 */
export const approvals = sqliteTable(
  'approvals',
  {
    id: text('id').primaryKey(),
    number: integer('number').notNull(),
    proposalId: text('proposal_id')
      .notNull()
      .references(() => proposals.id),
    agent: text('agent', { enum: AGENTS }).notNull(),
    actionId: text('action_id').notNull(),
    params: text('params', { mode: 'json' }).$type<StoredParams>().notNull(),
    /** Hash of (action id, effective catalog entry and tier, params): see bindingHash() in the policy. */
    bindingHash: text('binding_hash').notNull(),
    state: text('state', { enum: APPROVAL_STATES }).notNull().default('pending'),
    requestedAt: integer('requested_at').notNull(),
    expiresAt: integer('expires_at').notNull(),
    decidedBy: text('decided_by'),
    decidedAt: integer('decided_at'),
    reason: text('reason'),
    messageRefs: text('message_refs', { mode: 'json' }).$type<MessageRef[]>().notNull().default([]),
    /** The run that executed it, once approved. */
    runId: text('run_id').references(() => runs.id),
    /** Escalation path level reached while pending, and when the next level is due. */
    escalationLevel: integer('escalation_level').notNull().default(0),
    nextEscalationAt: integer('next_escalation_at'),
    updatedAt: integer('updated_at').notNull(),
    version: integer('version').notNull().default(0),
  },
  (t) => [
    uniqueIndex('approvals_number_uq').on(t.number),
    index('approvals_state_expires_idx').on(t.state, t.expiresAt),
    index('approvals_binding_idx').on(t.bindingHash),
    index('approvals_proposal_idx').on(t.proposalId),
    // The week's approvals decided (the digest).
    index('approvals_decided_idx').on(t.decidedAt),
  ],
);

/**
 * Phase 4 standing grants: an approver's scoped, expiring "allow for N hours". `paramPattern` maps a
 * param name to an anchored regular expression its value must match (absent params: any value).
 * `entryHash` is the action's catalog entry hash when granted: a changed action voids the grant.
 */
export const grants = sqliteTable(
  'grants',
  {
    id: text('id').primaryKey(),
    agent: text('agent', { enum: AGENTS }).notNull(),
    actionId: text('action_id').notNull(),
    entryHash: text('entry_hash').notNull(),
    paramPattern: text('param_pattern', { mode: 'json' }).$type<Record<string, string>>().notNull(),
    reason: text('reason'),
    grantedBy: text('granted_by').notNull(),
    grantedAt: integer('granted_at').notNull(),
    expiresAt: integer('expires_at').notNull(),
    revokedAt: integer('revoked_at'),
    revokedBy: text('revoked_by'),
    uses: integer('uses').notNull().default(0),
    lastUsedAt: integer('last_used_at'),
  },
  (t) => [index('grants_action_expires_idx').on(t.actionId, t.expiresAt)],
);

// ---------------------------------------------------------------------------------------------
// Audit

/**
 * The hash-chained audit log. Append-only: rows are only ever inserted by src/audit/log.ts and
 * deleted by its retention purge (which appends a `purge.checkpoint`). `evidence` and `data` are the
 * canonical JSON text the hash covers; `prev_hash` of seq 1 is 64 zeros.
 */
export const auditLog = sqliteTable(
  'audit_log',
  {
    seq: integer('seq').primaryKey(),
    at: integer('at').notNull(),
    kind: text('kind').notNull(),
    agent: text('agent', { enum: AGENTS }),
    actor: text('actor'),
    trigger: text('trigger'),
    model: text('model'),
    actionClass: text('action_class', { enum: ACTION_CLASSES }),
    tier: integer('tier').$type<Tier>(),
    verdict: text('verdict', { enum: VERDICTS }),
    outcome: text('outcome'),
    /** Canonical JSON array of strings (links, ids). */
    evidence: text('evidence').notNull(),
    /** Canonical JSON, or null. */
    data: text('data'),
    prevHash: text('prev_hash').notNull(),
    hash: text('hash').notNull(),
  },
  (t) => [index('audit_log_at_idx').on(t.at)],
);

// ---------------------------------------------------------------------------------------------
// Models

/** Token use per model call, read from the model's reply: budgets and per-run accounting. */
export const modelUsage = sqliteTable(
  'model_usage',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    agent: text('agent', { enum: AGENTS }).notNull(),
    runId: text('run_id').references(() => runs.id),
    model: text('model').notNull(),
    provider: text('provider').notNull(),
    promptTokens: integer('prompt_tokens').notNull().default(0),
    completionTokens: integer('completion_tokens').notNull().default(0),
    durationMs: integer('duration_ms'),
    at: integer('at').notNull(),
  },
  (t) => [
    index('model_usage_agent_at_idx').on(t.agent, t.at),
    index('model_usage_at_idx').on(t.at),
    // A run's tokens, summed at every run's end: without it each end read every model call kept.
    index('model_usage_run_idx').on(t.runId),
  ],
);

// ---------------------------------------------------------------------------------------------
// Chat

export const OUTBOX_STATES = ['pending', 'sending', 'delivered', 'failed'] as const;
export type OutboxState = (typeof OUTBOX_STATES)[number];
export const OUTBOX_OPS = ['post', 'update'] as const;
export type OutboxOp = (typeof OUTBOX_OPS)[number];

/**
 * Messages on their way to chat. Delivered in id order per lane of a channel (an incident's
 * messages, or everything else); `sending` rows left by a crash go back to `pending` at start. An `update` row edits the message that outbox row `update_of`
 * posted (its `platform_ref`).
 */
export const outbox = sqliteTable(
  'outbox',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    channel: text('channel').notNull(),
    dedupeKey: text('dedupe_key').notNull(),
    op: text('op', { enum: OUTBOX_OPS }).notNull().default('post'),
    updateOf: integer('update_of'),
    /**
     * `incident:<number>` for what is said about an incident (its card, updates, thread), '' for
     * the rest: each lane of a channel is delivered in order, lanes side by side.
     */
    lane: text('lane').notNull().default(''),
    /** The platform-neutral message model (src/chat), as JSON. */
    message: text('message', { mode: 'json' }).$type<unknown>().notNull(),
    state: text('state', { enum: OUTBOX_STATES }).notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: integer('next_attempt_at').notNull(),
    lastError: text('last_error'),
    createdAt: integer('created_at').notNull(),
    deliveredAt: integer('delivered_at'),
    /** The platform's id of the posted message (Slack ts, Discord message id, console id). */
    platformRef: text('platform_ref'),
  },
  (t) => [
    uniqueIndex('outbox_dedupe_key_uq').on(t.dedupeKey),
    index('outbox_state_next_idx').on(t.state, t.nextAttemptAt),
    index('outbox_lane_idx').on(t.channel, t.lane, t.id),
    // The undelivered rows in order, where the worker looks for lane heads (outbox.ts,
    // headsInOrder): as big as the backlog, whatever the history. The unary + is SQLite's way to
    // keep a term off other indexes: the query says the same, so only this one answers it, in order,
    // instead of the state index and a sort of every undelivered row.
    index('outbox_unfinished_idx').on(t.id).where(sql`+${t.state} in ('pending', 'sending')`),
    // A card's latest update (incident and storm cards, restart recovery of storm cards).
    index('outbox_update_of_idx').on(t.updateOf),
  ],
);

/** Channels that asked for the weekly digest (in addition to the policy's digest channels). */
export const subscriptions = sqliteTable('subscriptions', {
  channel: text('channel').primaryKey(),
  subscribedBy: text('subscribed_by').notNull(),
  at: integer('at').notNull(),
});

export const SUBSCRIPTION_SCOPES = ['service', 'team'] as const;
export type SubscriptionScope = (typeof SUBSCRIPTION_SCOPES)[number];

/**
 * Channels that asked for the incidents of a service or a team (`/autonomy subscribe service api`),
 * in addition to where the policy's routing sends them.
 */
export const incidentSubscriptions = sqliteTable(
  'incident_subscriptions',
  {
    channel: text('channel').notNull(),
    scope: text('scope', { enum: SUBSCRIPTION_SCOPES }).notNull(),
    /** The service or team name as typed (a service may be a glob the policy's routing accepts). */
    name: text('name').notNull(),
    subscribedBy: text('subscribed_by').notNull(),
    at: integer('at').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.channel, t.scope, t.name] }),
    index('incident_subs_scope_idx').on(t.scope, t.name),
  ],
);

// ---------------------------------------------------------------------------------------------
// Learning loop

/** draft -> proposed (an approval request) -> promoted -> validated | rolled_back; stale when unused. */
export const SKILL_STATES = ['draft', 'proposed', 'promoted', 'validated', 'rolled_back', 'stale'] as const;
export type SkillState = (typeof SKILL_STATES)[number];

/** Repeated patterns turned into skill drafts, promoted after validation, or rolled back. */
export const skills = sqliteTable(
  'skills',
  {
    id: text('id').primaryKey(),
    /** Identifies the repeated pattern (e.g. an error signature's fingerprint). */
    patternKey: text('pattern_key').notNull(),
    title: text('title'),
    state: text('state', { enum: SKILL_STATES }).notNull().default('draft'),
    /** Where the draft lives (relative to the data folder). */
    path: text('path'),
    occurrences: integer('occurrences').notNull().default(0),
    evidence: text('evidence', { mode: 'json' }).$type<string[]>().notNull().default([]),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
    promotedAt: integer('promoted_at'),
    rolledBackAt: integer('rolled_back_at'),
  },
  (t) => [index('skills_pattern_idx').on(t.patternKey), index('skills_state_idx').on(t.state)],
);

// ---------------------------------------------------------------------------------------------
// Mutes, error signatures, sweeps

export const MUTE_KINDS = ['agent', 'signature', 'service'] as const;
export type MuteKind = (typeof MUTE_KINDS)[number];

/** `/autonomy mute`: holds back posts (never storage) for an agent, error signature or service. */
export const mutes = sqliteTable(
  'mutes',
  {
    id: text('id').primaryKey(),
    kind: text('kind', { enum: MUTE_KINDS }).notNull(),
    target: text('target').notNull(),
    until: integer('until').notNull(),
    reason: text('reason'),
    actor: text('actor').notNull(),
    createdAt: integer('created_at').notNull(),
    liftedAt: integer('lifted_at'),
    liftedBy: text('lifted_by'),
  },
  (t) => [index('mutes_target_idx').on(t.kind, t.target, t.until)],
);

/**
 * Mined error-signature templates, so signature ids stay stable across restarts. `record` is the
 * miner's own JSON (src/signals/signatures/miner.ts snapshot()); the other columns are for queries.
 */
export const signatureTemplates = sqliteTable(
  'signature_templates',
  {
    signature: text('signature').primaryKey(),
    template: text('template').notNull(),
    record: text('record', { mode: 'json' }).$type<unknown>().notNull(),
    count: integer('count').notNull().default(0),
    firstSeenAt: integer('first_seen_at').notNull(),
    lastSeenAt: integer('last_seen_at').notNull(),
  },
  (t) => [index('signature_templates_last_seen_idx').on(t.lastSeenAt)],
);

export const SWEEP_KINDS = ['light', 'deep'] as const;
export type SweepKind = (typeof SWEEP_KINDS)[number];
export const SWEEP_STATUSES = ['running', 'succeeded', 'failed', 'missed', 'skipped', 'interrupted'] as const;
export type SweepStatus = (typeof SWEEP_STATUSES)[number];

/** One scheduled sweep of one agent: for overlap prevention, missed runs and failure streaks. */
export const sweepRuns = sqliteTable(
  'sweep_runs',
  {
    id: text('id').primaryKey(),
    agent: text('agent', { enum: AGENTS }).notNull(),
    kind: text('kind', { enum: SWEEP_KINDS }).notNull(),
    scheduledAt: integer('scheduled_at').notNull(),
    startedAt: integer('started_at'),
    finishedAt: integer('finished_at'),
    status: text('status', { enum: SWEEP_STATUSES }).notNull(),
    error: text('error'),
  },
  (t) => [index('sweep_runs_agent_kind_idx').on(t.agent, t.kind, t.scheduledAt)],
);

// ---------------------------------------------------------------------------------------------
// Durable agent work

/**
 * Why an agent job was raised (README, "Durable agent work"): an incident opened, reopened or
 * resolved, a signal that joined no incident, a health probe of an open incident getting worse.
 */
export const JOB_REASONS = ['opened', 'reopened', 'resolved', 'unlinked', 'health-worse'] as const;
export type JobReason = (typeof JOB_REASONS)[number];
/**
 * queued -> running (claimed with a lease) -> done; skipped: raised or claimed while its agent was
 * killed (audited, never replayed on resume); closed: no longer worth doing (the incident resolved
 * before it was taken, the policy no longer sends it to the agent, or it failed too often).
 */
export const JOB_STATES = ['queued', 'running', 'done', 'skipped', 'closed'] as const;
export type JobState = (typeof JOB_STATES)[number];

/** One agent's work on one stored signal, written in the transaction that stored the signal. */
export const agentJobs = sqliteTable(
  'agent_jobs',
  {
    id: text('id').primaryKey(),
    agent: text('agent', { enum: AGENTS }).notNull(),
    reason: text('reason', { enum: JOB_REASONS }).notNull(),
    /** The signal that raised it: one job per (subject, agent, reason). */
    subject: text('subject').notNull(),
    fingerprint: text('fingerprint').notNull(),
    incidentId: text('incident_id').references(() => incidents.id),
    /** The incident change as it was when the job was raised (JSON), null for an unlinked signal. */
    change: text('change', { mode: 'json' }).$type<unknown>(),
    /** 2 critical, 1 warning, 0 info: jobs are taken worst first, then oldest first. */
    severityRank: integer('severity_rank').notNull(),
    state: text('state', { enum: JOB_STATES }).notNull().default('queued'),
    attempts: integer('attempts').notNull().default(0),
    /** While running: when the claim lapses and the job may be taken up again. */
    leaseUntil: integer('lease_until'),
    createdAt: integer('created_at').notNull(),
    finishedAt: integer('finished_at'),
    outcome: text('outcome'),
    runId: text('run_id'),
  },
  (t) => [
    uniqueIndex('agent_jobs_subject_uq').on(t.subject, t.agent, t.reason),
    // Worst first, then oldest: the index holds the claim's order (severity descending), so taking
    // the next job reads one entry however long the queue (ascending, every claim sorted it).
    index('agent_jobs_claim_idx').on(t.agent, t.state, sql`${t.severityRank} desc`, t.createdAt),
    index('agent_jobs_waiting_idx').on(t.agent, t.fingerprint).where(sql`${t.state} = 'queued'`),
  ],
);
