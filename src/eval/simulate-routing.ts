/**
 * `autonomy simulate`, routing part: where the incident cards of a period would have gone under a
 * candidate policy's routing (routing.services, teams, agents, default, plus the stored
 * subscriptions), next to where they went (the channels their cards were posted in). Read-only.
 *
 * What it replays: incidents detected in [since, now), with the service, severity and the agent of
 * their first signal's kind. What it does not: agent posts and escalations (they follow the same
 * function, postChannels, so an incident's cards stand for them), and whether a mute, maintenance
 * window or storm would have held a card back (those depend on the state at the time).
 */
import { and, asc, gte, inArray, lt } from 'drizzle-orm';
import { AGENT_FOR_KIND } from '../chat/incident-alerts.js';
import { postChannels } from '../chat/routing.js';
import type { Database } from '../db/connection.js';
import { incidentSubscriptions, incidents, signals } from '../db/schema.js';
import type { Millis, Policy } from '../policy/types.js';

export interface RoutedIncident {
  readonly shortId: string;
  readonly service: string | null;
  readonly severity: string;
  readonly before: readonly string[];
  readonly after: readonly string[];
}

export interface RoutingSimulation {
  readonly total: number;
  readonly changed: number;
  /** Cards per channel: as posted, and under the candidate. */
  readonly perChannel: ReadonlyMap<string, { before: number; after: number }>;
  /** The first incidents whose channels would change. */
  readonly examples: readonly RoutedIncident[];
}

export function simulateRouting(
  database: Database,
  candidate: Policy,
  o: { since: Millis; now: Millis; examples?: number },
): RoutingSimulation {
  const db = database.db;
  const rows = db
    .select({
      id: incidents.id,
      number: incidents.number,
      service: incidents.service,
      severity: incidents.severity,
      refs: incidents.messageRefs,
    })
    .from(incidents)
    .where(and(gte(incidents.detectedAt, o.since), lt(incidents.detectedAt, o.now)))
    .orderBy(asc(incidents.detectedAt))
    .all();
  const kinds = new Map<string, (typeof signals.$inferSelect)['kind']>();
  for (let i = 0; i < rows.length; i += 500) {
    const ids = rows.slice(i, i + 500).map((r) => r.id);
    const found = db
      .select({ incident: signals.incidentId, kind: signals.kind })
      .from(signals)
      .where(inArray(signals.incidentId, ids))
      .orderBy(asc(signals.id))
      .all();
    for (const s of found) if (s.incident !== null && !kinds.has(s.incident)) kinds.set(s.incident, s.kind);
  }
  const subs = db
    .select({
      channel: incidentSubscriptions.channel,
      scope: incidentSubscriptions.scope,
      name: incidentSubscriptions.name,
    })
    .from(incidentSubscriptions)
    .all();
  const perChannel = new Map<string, { before: number; after: number }>();
  const count = (channel: string, key: 'before' | 'after') => {
    const c = perChannel.get(channel) ?? { before: 0, after: 0 };
    c[key] += 1;
    perChannel.set(channel, c);
  };
  const examples: RoutedIncident[] = [];
  let changed = 0;
  for (const r of rows) {
    const agent = AGENT_FOR_KIND[kinds.get(r.id) ?? 'alert'];
    const before = [...new Set(r.refs.map((ref) => ref.channel))].sort();
    const after = postChannels(candidate, { agent, severity: r.severity, service: r.service }, subs).sort();
    for (const c of before) count(c, 'before');
    for (const c of after) count(c, 'after');
    if (before.join('\n') === after.join('\n')) continue;
    changed += 1;
    if (examples.length < (o.examples ?? 10))
      examples.push({ shortId: `i${r.number}`, service: r.service, severity: r.severity, before, after });
  }
  return { total: rows.length, changed, perChannel, examples };
}

/** The routing report as terminal text: cards per channel before and after, and examples. */
export function formatRoutingSimulation(report: RoutingSimulation): string {
  const lines = ['Routing: incident cards of the period, where they went -> under the candidate'];
  if (report.total === 0) return `${lines[0]}\n  no incidents in this period\n`;
  lines.push(`  ${report.changed} of ${report.total} incident(s) would go to other channels`);
  const channels = [...report.perChannel.keys()].sort();
  const width = Math.max(...channels.map((c) => c.length));
  for (const c of channels) {
    const n = report.perChannel.get(c) ?? { before: 0, after: 0 };
    lines.push(`  ${c.padEnd(width)}  ${String(n.before).padStart(5)} -> ${n.after}`);
  }
  if (report.examples.length > 0) {
    lines.push(`  Examples (${report.examples.length} of ${report.changed})`);
    for (const e of report.examples) {
      const to = (list: readonly string[]) => (list.length === 0 ? 'nowhere' : list.join(', '));
      lines.push(
        `    ${e.shortId} ${e.severity} ${e.service ?? '(no service)'}: ${to(e.before)} -> ${to(e.after)}`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}
