/**
 * Where messages go, read from the compiled policy. Pure functions: the policy (and, for digests,
 * the subscriptions) in, a list of channels out, each channel once, in the order the policy lists
 * them. Whether a post is held back (mutes, maintenance windows) is decided elsewhere: see
 * src/control/mutes.ts and maintenance.ts (re-exported here).
 */
import { serviceMatches, serviceRouteOf, teamOf } from '../policy/teams.js';
import type { Policy } from '../policy/types.js';
import type { AgentName, Severity } from '../policy/vocabulary.js';

export {
  type ActiveWindow,
  inMaintenance,
  MaintenanceCalendar,
  type MaintenanceQuery,
} from './maintenance.js';

/**
 * Alerts and suggestions of `agent` at `severity`: `routing.agents.<agent>.<severity>` when the
 * policy sets it (an empty list there means "nowhere"), else `routing.default.<severity>`.
 */
export function channelsFor(policy: Policy, agent: AgentName, severity: Severity): string[] {
  const routing = policy.doc.routing;
  return unique(routing.agents[agent]?.[severity] ?? routing.default[severity]);
}

/** A channel's subscription to a service's (name or glob) or a team's incidents. */
export interface IncidentSubscription {
  readonly channel: string;
  readonly scope: 'service' | 'team';
  readonly name: string;
}

/** What a post is: who speaks, how bad, and about which service (if any). */
export interface PostSubject {
  readonly agent: AgentName;
  readonly severity: Severity;
  readonly service?: string | null;
}

/**
 * Where an incident's card and thread, and an agent's post, go. The first route that sets the
 * severity wins: the service's (`routing.services`), its team's channels (`teams`), the agent's
 * (`routing.agents`), the default; an empty list there means "nowhere". Then every channel
 * subscribed to the service (a name or glob that matches it) or to its team is added.
 */
export function postChannels(
  policy: Policy,
  subject: PostSubject,
  subscriptions: readonly IncidentSubscription[] = [],
): string[] {
  const { agent, severity } = subject;
  const service = subject.service ?? null;
  const routed = serviceChannels(policy, service, severity) ?? channelsFor(policy, agent, severity);
  return unique([...routed, ...subscribedChannels(policy, service, subscriptions)]);
}

/**
 * The route the policy gives `service` itself at `severity`: its `routing.services` entry, else its
 * team's channels; undefined when neither sets the severity (the caller falls back).
 */
export function serviceChannels(
  policy: Policy,
  service: string | null | undefined,
  severity: Severity,
): readonly string[] | undefined {
  if (service == null) return undefined;
  return serviceRouteOf(policy.doc, service)?.[severity] ?? teamOf(policy.doc, service)?.channels[severity];
}

/** The channels subscribed to `service` (by a name or glob that matches it) or to its team. */
export function subscribedChannels(
  policy: Policy,
  service: string | null | undefined,
  subscriptions: readonly IncidentSubscription[],
): string[] {
  if (service == null || subscriptions.length === 0) return [];
  const team = teamOf(policy.doc, service)?.name;
  return unique(
    subscriptions
      .filter((s) => (s.scope === 'service' ? serviceMatches(s.name, service) : s.name === team))
      .map((s) => s.channel),
  );
}

/**
 * Where an unacknowledged incident's escalations go (before the level's own channels): its
 * service's or team's route at its severity, else the default critical channels (escalation is for
 * critical incidents), plus the channels subscribed to the service or team.
 */
export function escalationChannels(
  policy: Policy,
  incident: { readonly service: string | null; readonly severity: Severity },
  subscriptions: readonly IncidentSubscription[],
): string[] {
  const routed =
    serviceChannels(policy, incident.service, incident.severity) ?? policy.doc.routing.default.critical;
  return unique([...routed, ...subscribedChannels(policy, incident.service, subscriptions)]);
}

/** Who escalations of `service`'s incidents mention besides each level's people: its team's `mention`. */
export function teamMentions(policy: Policy, service: string | null): readonly string[] {
  return service === null ? [] : (teamOf(policy.doc, service)?.mention ?? []);
}

/** Where approval requests are posted (`control.approvalChannels`; never empty). */
export function approvalChannels(policy: Policy): string[] {
  return unique(policy.doc.control.approvalChannels);
}

/**
 * Where notices about the bot itself go (a model server unreachable, then back): the channels that
 * get warnings by default, then the approval channels (the people who run the bot are there).
 */
export function botNoticeChannels(policy: Policy): string[] {
  return unique([...policy.doc.routing.default.warning, ...policy.doc.control.approvalChannels]);
}

/** Weekly digest recipients: the policy's digest channels, then every subscribed channel. */
export function digestChannels(policy: Policy, subscriptions: Iterable<string>): string[] {
  return unique([...policy.doc.metrics.digest.channels, ...subscriptions]);
}

/**
 * Where the weekly review (phase changes, promotions) goes: `evidence.review.channels`; when
 * that is empty, the digest channels; when those are empty too, the approval channels (the
 * people who decide are there), so the review is never posted nowhere.
 */
export function reviewChannels(policy: Policy): string[] {
  const doc = policy.doc;
  if (doc.evidence.review.channels.length > 0) return unique(doc.evidence.review.channels);
  if (doc.metrics.digest.channels.length > 0) return unique(doc.metrics.digest.channels);
  return unique(doc.control.approvalChannels);
}

function unique(channels: Iterable<string>): string[] {
  return [...new Set(channels)];
}
