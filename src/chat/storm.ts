/**
 * Alert storms fold: past `routing.storm.cardsPerMinute` new incident cards in a channel within a
 * minute, new incidents in that channel get no card of their own. They fold into ONE storm card per
 * channel, updated in place (how many, the top services, the worst severity, a link to the
 * console); messages about a folded incident are not posted (the outbox stores them as folded,
 * see incident-thread.ts), except approval requests. The storm ends once new incidents have come
 * in under that rate for `routing.storm.endsAfter`: its card says so, and new incidents get their
 * own cards again. Storage and triage never change: every signal is stored, every incident triaged.
 *
 * This file is the pure part: which arrival folds, into which storm, and when a storm is over (no
 * timers, no I/O); the storm card's text. IncidentAlerts (incident-alerts.ts) queues the messages.
 * Storms live in memory: at start, a storm card a previous run left raging is closed (said so on
 * it), and a storm still raging starts a new card.
 */
import { durationMs } from '../policy/compile.js';
import type { Policy } from '../policy/types.js';
import { SEVERITIES, type Severity } from '../policy/vocabulary.js';
import { plainLink } from './incident-card.js';
import { type ChatMessage, message } from './message.js';
import { formatMs } from './outbox-delivery.js';

/** The rate's span: `cardsPerMinute` is per this long. */
export const STORM_SPAN_MS = 60_000;
/** How far back, at start, storm cards a previous run left raging are looked for. */
export const STALE_STORM_LOOKBACK_MS = 7 * 24 * 3600_000;
/** Services named on the storm card, most incidents first. */
const TOP_SERVICES = 5;

export interface StormSettings {
  readonly cardsPerMinute: number;
  readonly endsAfterMs: number;
}

export interface Storm {
  readonly channel: string;
  readonly startedAt: number;
  /** The storm card's outbox row, once queued. */
  cardId: number | null;
  /** Incidents folded into it. */
  folded: number;
  readonly services: Map<string, number>;
  worst: Severity;
  /** The last time new incidents came in over the rate (the calm is counted from here). */
  lastBusyAt: number;
  /** When it ended (set by `ended()`). */
  endedAt: number | null;
  /** Its card changed since the card was last queued. */
  dirty: boolean;
  /** When its card was last queued (post or update). */
  sentAt: number;
}

/** Reads the storm settings of the policy (durations in ms). */
export function stormSettings(policy: Policy): StormSettings {
  const s = policy.doc.routing.storm;
  return { cardsPerMinute: s.cardsPerMinute, endsAfterMs: durationMs(s.endsAfter) };
}

export class StormWatch {
  /** Per channel, the times of its latest new incidents (at most cardsPerMinute of them). */
  readonly #recent = new Map<string, number[]>();
  readonly #storms = new Map<string, Storm>();

  /** The storm raging in `channel`, or null. */
  storm(channel: string): Storm | null {
    return this.#storms.get(channel) ?? null;
  }

  /** Every storm raging now. */
  storms(): Storm[] {
    return [...this.#storms.values()];
  }

  /**
   * A new incident for `channel` at `at`: null when it gets its own card, else the storm it folds
   * into (begun now when this one is the first over the rate). The caller calls `fold()` on it.
   */
  arrive(channel: string, at: number, s: StormSettings): Storm | null {
    const limit = Math.max(1, s.cardsPerMinute);
    const recent = this.#recent.get(channel) ?? [];
    // Busy: `limit` new incidents came in within the last minute already, so this one is past the rate.
    const busy = recent.length >= limit && (recent[recent.length - limit] as number) > at - STORM_SPAN_MS;
    recent.push(at);
    if (recent.length > limit) recent.splice(0, recent.length - limit);
    this.#recent.set(channel, recent);
    let storm = this.#storms.get(channel) ?? null;
    if (storm === null && !busy) return null;
    if (storm === null) {
      storm = {
        channel,
        startedAt: at,
        cardId: null,
        folded: 0,
        services: new Map(),
        worst: 'info',
        lastBusyAt: at,
        endedAt: null,
        dirty: true,
        sentAt: 0,
      };
      this.#storms.set(channel, storm);
    }
    if (busy) storm.lastBusyAt = at;
    return storm;
  }

  /** Counts an incident into its storm. */
  fold(storm: Storm, incident: { readonly service: string | null; readonly severity: Severity }): void {
    storm.folded += 1;
    const service = incident.service ?? '(no service)';
    storm.services.set(service, (storm.services.get(service) ?? 0) + 1);
    if (SEVERITIES.indexOf(incident.severity) > SEVERITIES.indexOf(storm.worst))
      storm.worst = incident.severity;
    storm.dirty = true;
  }

  /** The storms that have been calm for `endsAfterMs` at `at`: ended and forgotten (say so on their cards). */
  ended(at: number, s: StormSettings): Storm[] {
    const out: Storm[] = [];
    for (const storm of this.#storms.values()) {
      if (at - storm.lastBusyAt < s.endsAfterMs) continue;
      storm.endedAt = at;
      storm.dirty = true;
      this.#storms.delete(storm.channel);
      out.push(storm);
    }
    return out;
  }
}

/** The storm card: how many incidents folded, the top services, the worst severity, a console link. */
export function stormCard(
  storm: Storm,
  s: StormSettings,
  o: {
    readonly now: number;
    readonly consoleUrl: string | null;
    readonly screen: (t: string, max: number) => string;
  },
): ChatMessage {
  const n = storm.folded.toLocaleString('en-US');
  const incidents = `${n} new incident${storm.folded === 1 ? '' : 's'}`;
  const top = [...storm.services.entries()]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .slice(0, TOP_SERVICES)
    .map(([service, count]) => `${o.screen(service, 100)} (${count.toLocaleString('en-US')})`);
  const more = storm.services.size - top.length;
  const ended = storm.endedAt !== null;
  const link = o.consoleUrl === null ? null : plainLink('Incident list in the console', o.consoleUrl);
  const rate = `more than ${s.cardsPerMinute} new incident${s.cardsPerMinute === 1 ? '' : 's'} a minute`;
  return message({
    kind: 'alert',
    title: ended
      ? `Alert storm over: ${incidents} were folded into this card`
      : `Alert storm: ${incidents} folded into this card`,
    severity: ended ? 'info' : storm.worst,
    body: ended
      ? `The storm lasted ${formatMs(Math.max(0, (storm.endedAt as number) - storm.startedAt))}; new incidents get their own cards again. \`/autonomy incidents\` lists the open ones.`
      : [
          `This channel got ${rate}, so new incidents are not posted one by one until the rate stays under that for ${formatMs(s.endsAfterMs)}.`,
          'Every signal is still stored and every incident triaged; approval requests are still posted. `/autonomy incidents` lists them.',
        ].join('\n'),
    fields: [
      { label: 'Incidents', value: n },
      { label: 'Worst severity', value: storm.worst },
      {
        label: 'Top services',
        value: top.length === 0 ? '-' : `${top.join(', ')}${more > 0 ? `, and ${more} more` : ''}`,
      },
      { label: 'Started', value: new Date(storm.startedAt).toISOString() },
      ...(ended ? [{ label: 'Ended', value: new Date(storm.endedAt as number).toISOString() }] : []),
      { label: 'Status', value: ended ? 'over' : `raging (at ${new Date(o.now).toISOString()})` },
    ],
    links: link === null ? [] : [link],
  });
}

/** A storm card a previous run left raging, closed at start: its counts as they were, and why. */
export function stormClosedAtRestart(card: ChatMessage, at: number): ChatMessage {
  return message({
    ...card,
    title: `Alert storm card closed: the bot restarted at ${new Date(at).toISOString()}`,
    severity: 'info',
    body: 'Its counts are as of the restart. New incidents get their own cards again; a storm still raging starts a new card.',
    fields: card.fields.map((f) =>
      f.label === 'Status' ? { ...f, value: 'closed when the bot restarted' } : f,
    ),
  });
}
