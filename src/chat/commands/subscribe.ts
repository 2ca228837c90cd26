/**
 * `/autonomy subscribe|unsubscribe [digest|service <name>|team <name>]`, `subscriptions` and
 * `incidents [service <name>|team <name>]`: what a channel gets besides the policy's routes, and
 * one service's or team's open incidents. A team must be one the policy names (else: did you mean,
 * and the list); a service may be any name or glob (alerts name services the policy never lists).
 */
import { closest, distance } from 'fastest-levenshtein';
import { serviceMatches, teamOf } from '../../policy/teams.js';
import type { Policy } from '../../policy/types.js';
import type { IncidentFilter, SubscriptionTarget } from './grammar.js';
import { CommandRefusal, type CommandServices, type IncidentSummary } from './services.js';

/** Refuses a team the policy does not name, with the closest name and the list. */
function knownTeam(policy: Policy, name: string): void {
  const names = policy.doc.teams.map((t) => t.name);
  if (names.includes(name)) return;
  if (names.length === 0)
    throw new CommandRefusal(`No team ${name}: the policy names no teams yet (add them under teams:)`);
  const best = closest(name, names);
  const hint =
    distance(name, best) <= Math.max(2, Math.floor(best.length / 3)) ? ` Did you mean ${best}?` : '';
  throw new CommandRefusal(`No team ${name}.${hint} The policy's teams: ${names.join(', ')}`);
}

/** The reply's sentence for a (un)subscribe; throws CommandRefusal for an unknown team. */
export function changeSubscription(
  s: CommandServices,
  verb: 'subscribe' | 'unsubscribe',
  target: SubscriptionTarget,
  channel: string,
  actor: string,
): string {
  const policy = s.policy();
  if (target.scope === 'digest') {
    if (verb === 'subscribe')
      return s.subscriptions.subscribe(channel, actor)
        ? `${channel} now gets the weekly digest`
        : `${channel} already gets the weekly digest`;
    if (s.subscriptions.unsubscribe(channel, actor)) return `${channel} no longer gets the weekly digest`;
    return `${channel} was not subscribed${policy.doc.metrics.digest.channels.includes(channel) ? " (it is in the policy's digest channels: change the policy to stop it)" : ''}`;
  }
  const { scope, name } = target;
  const subs = s.incidentSubscriptions;
  if (subs === undefined) throw new CommandRefusal(`Subscriptions to a ${scope} are not available here`);
  if (scope === 'team' && verb === 'subscribe') knownTeam(policy, name);
  const what = `${scope} ${name}'s incidents`;
  if (verb === 'subscribe')
    return subs.subscribe(channel, scope, name, actor)
      ? `${channel} now gets ${what} (their cards and threads), besides what the policy routes here`
      : `${channel} already gets ${what}`;
  if (subs.unsubscribe(channel, scope, name, actor))
    return `${channel} no longer gets ${what} by subscription (the policy's routes still apply)`;
  const mine = subs.list(channel);
  return `${channel} was not subscribed to ${scope} ${name}${mine.length > 0 ? `; its subscriptions: ${mine.map((m) => `${m.scope} ${m.name}`).join(', ')}` : ''}`;
}

/** This channel's subscriptions, one a line. */
export function listSubscriptions(s: CommandServices, channel: string): { title: string; body: string } {
  const lines = (s.incidentSubscriptions?.list(channel) ?? []).map((m) => `${m.scope} ${m.name}`);
  if (s.subscriptions.list?.().includes(channel)) lines.unshift('digest');
  if (lines.length === 0)
    return {
      title: `${channel} has no subscriptions`,
      body: 'Add one with `/autonomy subscribe service <name>`, `subscribe team <name>` or `subscribe digest`.',
    };
  return { title: `${channel} subscribes to ${lines.length}`, body: lines.join('\n') };
}

/** The open incidents the filter names; throws CommandRefusal for an unknown team. */
export function filterIncidents(
  policy: Policy,
  list: readonly IncidentSummary[],
  filter: IncidentFilter,
): readonly IncidentSummary[] {
  if (filter === null) return list;
  if (filter.scope === 'team') knownTeam(policy, filter.name);
  return list.filter((i) => {
    if (i.service === null) return false;
    if (filter.scope === 'service') return serviceMatches(filter.name, i.service);
    return teamOf(policy.doc, i.service)?.name === filter.name;
  });
}
