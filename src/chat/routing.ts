/**
 * Where messages go, read from the compiled policy. Pure functions: the policy (and, for digests,
 * the subscriptions) in, a list of channels out, each channel once, in the order the policy lists
 * them. Whether a post is held back (mutes, maintenance windows) is decided elsewhere: see
 * src/control/mutes.ts and maintenance.ts (re-exported here).
 */
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
