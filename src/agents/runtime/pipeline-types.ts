/**
 * What the agent pipeline (pipeline.ts) is given and what it hands back: its dependencies (the
 * core's stores and services, as narrow interfaces so tests can pass the real ones or small
 * fakes), the trigger of a run, and a finished run's result.
 */

import type { Approvals } from '../../actions/approvals/approvals.js';
import type { Env } from '../../actions/executors/command.js';
import type { ControlFacts, Grants } from '../../actions/grants.js';
import type { Runner } from '../../actions/runner.js';
import type { AuditLog } from '../../audit/log.js';
import type { Outbox } from '../../chat/outbox.js';
import type { IncidentSubscriptionStore } from '../../chat/subscriptions.js';
import type { MuteStore } from '../../control/mutes.js';
import type { Database } from '../../db/connection.js';
import type { ModelRouter } from '../../llm/router.js';
import type { Metrics } from '../../metrics/prometheus.js';
import type { Policy } from '../../policy/types.js';
import type { AgentName, Severity, SignalKind } from '../../policy/vocabulary.js';
import type { Clock, NewId } from '../../process/ids.js';
import type { Logger } from '../../process/log.js';
import type { Redact } from './secrets.js';
import type { ResearchTools } from './types.js';

/** What started an agent run. */
export interface AgentTrigger {
  /** `webhook`, `probe`, `sweep` (signals), `cron` (scheduled sweeps), `chat`, `cli`, ... */
  readonly source: string;
  /** What exactly: the signal id, the sweep run id. */
  readonly ref: string | null;
  /** A signal, or the light or deep sweep. */
  readonly kind: 'signal' | 'light' | 'deep';
  /** For signal runs: the signal's kind (the context's trigger reads `signal:<kind>`). */
  readonly signalKind?: SignalKind;
  /** The incident (incidents.id) the signal opened, reopened or resolved. */
  readonly incidentId?: string | null;
  /** How people name that incident (`i7`, as its card and commands do): what the run's posts show. */
  readonly incidentShortId?: string | null;
  /** The service the run is about: its mutes and maintenance windows hold back the run's posts. */
  readonly service?: string | null;
  /** The error signature (fingerprint) the run is about, for signature mutes. */
  readonly signature?: string | null;
  /** The signal's severity: where suggestions of this run are routed (default info). */
  readonly severity?: Severity;
  /**
   * The durable job (agent_jobs.id) the run works on. Its posts are keyed by the job, not the run:
   * a job taken up again after a stop or crash that cut its run short posts nothing twice.
   */
  readonly job?: string | null;
}

export interface AgentRunResult {
  /** null when the run did not start (skipped). */
  readonly runId: string | null;
  readonly status: 'succeeded' | 'failed' | 'interrupted' | 'skipped';
  /** A sentence a person can read. */
  readonly outcome: string;
  readonly tokens: number;
  readonly wallMs: number;
}

/** Makes the research tools of one run (src/research/); null when the policy gives the agent none. */
export type ResearchFactory = (agent: AgentName, policy: Policy, signal: AbortSignal) => ResearchTools | null;

export interface AgentPipelineDeps {
  readonly database: Database;
  readonly audit: AuditLog;
  readonly now: Clock;
  readonly newId: NewId;
  readonly log: Logger;
  /** The policy in force now. */
  readonly policy: () => Policy;
  /** Kill switches and phase overrides as the database has them now (ControlStore.snapshot fits). */
  readonly controlState: () => ControlFacts;
  readonly runner: Pick<Runner, 'execute'>;
  readonly approvals: Pick<Approvals, 'request'>;
  /** Phase 4 standing grants (core.grants); without them no grant ever counts. */
  readonly grants?: Pick<Grants, 'findMatching' | 'recordUse'>;
  readonly outbox: Pick<Outbox, 'enqueue'>;
  readonly mutes: Pick<MuteStore, 'isMuted'>;
  /** Channels subscribed to services' and teams' incidents (routing adds them); absent: none. */
  readonly incidentSubscriptions?: Pick<IncidentSubscriptionStore, 'list'>;
  /** Wakes the outbox worker after messages were queued. */
  readonly onQueued?: () => void;
  /** The model router; absent: every agent works on rules alone. */
  readonly router?: Pick<ModelRouter, 'call'> | null;
  readonly metrics?: Pick<Metrics, 'decision'>;
  readonly research?: ResearchFactory;
  /** The bot's env: the values of secrets named there are redacted from every post. */
  readonly env: Env;
  /** More secrets to redact by name (tokens generated into the data folder). */
  readonly secrets?: () => ReadonlyMap<string, string>;
  /** The bot's redactor (core.redactor) to share instead of building one from `env` and `secrets`. */
  readonly redactor?: (policy: Policy) => Redact;
  /** The bot's data folder (each agent gets `<dataDir>/agents/<agent>`). */
  readonly dataDir: string;
}
