/**
 * Posting an agent's finding: screened (screen.ts), then routed as incident alerts are
 * (src/chat/incident-alerts.ts, one function: postChannels): to the channels routing names for the
 * service, its team, the agent and severity, and the channels subscribed to them, held
 * back while the agent is killed, the agent, service or signature is muted, or a maintenance
 * window covers the service. Queued to the outbox in one write transaction (one dedupe key per
 * job or run, post and channel, so neither a retried handler nor a job run again after a restart
 * posts twice), then the outbox worker is woken.
 */
import { createHash } from 'node:crypto';
import { OutboxError } from '../../chat/outbox.js';
import { inMaintenance, postChannels } from '../../chat/routing.js';
import { writeTransaction } from '../../db/connection.js';
import type { Policy } from '../../policy/types.js';
import type { AgentName } from '../../policy/vocabulary.js';
import type { AgentPipelineDeps, AgentTrigger } from './pipeline-types.js';
import { screenFinding } from './screen.js';
import { type Redact, redactorFor } from './secrets.js';
import type { Finding } from './types.js';

export type PostResult =
  | { readonly queued: true; readonly channels: number }
  | { readonly queued: false; readonly held: string };

export interface PostOptions {
  /** The dedupe key of the post to `channel` (default: one per run and post). */
  readonly dedupeKey: (channel: string) => string;
  /** Pages the run read (ResearchTools.cited()). */
  readonly cited?: readonly string[];
  /** `incident` (its id or short id) puts the post in the incident's thread (src/chat/incident-thread.ts). */
  readonly refs?: { readonly run?: string; readonly approval?: string; readonly incident?: string };
}

/** A dedupe key of at most 200 characters: the prefix and a hash of the parts. */
export function dedupeKey(prefix: string, ...parts: readonly (string | number)[]): string {
  const digest = createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 40);
  return `${prefix.slice(0, 100)}:${digest}`;
}

/** The incident a run's post is about, as its `refs.incident` names it (the short id when known). */
export function incidentRef(trigger: Pick<AgentTrigger, 'incidentId' | 'incidentShortId'>): {
  incident?: string;
} {
  const ref = trigger.incidentShortId || trigger.incidentId;
  return ref ? { incident: ref } : {};
}

export class Poster {
  readonly #d: AgentPipelineDeps;
  /** Redacts this policy's secrets (and the bot's) from a text. */
  readonly redactor: (policy: Policy) => Redact;

  constructor(deps: AgentPipelineDeps) {
    this.#d = deps;
    this.redactor = deps.redactor ?? redactorFor(deps.env, deps.secrets);
  }

  /** Screens, routes and queues a finding of `agent`; says where it went or why not. */
  post(
    agent: AgentName,
    trigger: Pick<AgentTrigger, 'service' | 'signature'>,
    finding: Finding,
    o: PostOptions,
  ): PostResult {
    const d = this.#d;
    const policy = d.policy();
    const screened = screenFinding(finding, {
      redact: this.redactor(policy),
      cited: o.cited ?? [],
      citationsRequired: policy.doc.research.citations,
      ...(o.refs === undefined ? {} : { refs: o.refs }),
    });
    if (!screened.ok) return { queued: false, held: screened.reason };
    const now = d.now();
    const control = d.controlState();
    if (control.killedAll || control.killedAgents.has(agent))
      return { queued: false, held: `${agent} is killed` };
    const service = trigger.service ?? null;
    const muted = d.mutes.isMuted(
      { agent, service, ...(trigger.signature ? { signature: trigger.signature } : {}) },
      now,
    );
    if (muted !== null) return { queued: false, held: 'muted' };
    const window = inMaintenance(policy, { service, severity: screened.severity }, now);
    if (window !== null) return { queued: false, held: `maintenance window ${window.name}` };
    const subject = { agent, severity: screened.severity, service };
    const channels = postChannels(policy, subject, d.incidentSubscriptions?.list() ?? []);
    if (channels.length === 0)
      return { queued: false, held: `routing sends ${agent}'s ${screened.severity} posts nowhere` };
    try {
      writeTransaction(d.database, () => {
        for (const channel of channels)
          d.outbox.enqueue(channel, screened.message, { dedupeKey: o.dedupeKey(channel) });
      });
    } catch (err) {
      // The outbox is where a message meets its schema: a screened finding that still fails it
      // is held with the reason (no log: the run record says it).
      if (err instanceof OutboxError)
        return { queued: false, held: `could not be queued: ${err.message.slice(0, 200)}` };
      d.log.error({ err, agent }, 'could not queue an agent post');
      return { queued: false, held: 'could not be queued (see the log)' };
    }
    d.onQueued?.();
    return { queued: true, channels: channels.length };
  }
}
