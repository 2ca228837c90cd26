/**
 * Incident changes become chat alerts: one post per incident to the channels routing names for its
 * service, team, responsible agent and severity, and to the channels subscribed to them
 * (routing.ts postChannels), then updates in place (with the signal count) at most every few
 * seconds, so 10,000 identical alerts make one message, not 10,000. Mutes, maintenance windows
 * and the agent's kill switch hold back posts, never storage. The card shows the incident's state,
 * its source's links and the buttons for it (incident-card.ts); everything else about the incident
 * goes into the card's thread (incident-thread.ts). Past a channel's rate of new cards
 * (`routing.storm`), new incidents fold into one storm card per channel instead (storm.ts).
 */
import { desc, eq, sql } from 'drizzle-orm';
import { type Database, writeTransaction } from '../db/connection.js';
import { preparedFor } from '../db/prepared.js';
import { incidents, type MessageRef, signals } from '../db/schema.js';
import type { Policy } from '../policy/types.js';
import type { AgentName, SignalKind } from '../policy/vocabulary.js';
import { every } from '../process/timer.js';
import type { Service } from '../service.js';
import { DEFAULT_UPDATE_INTERVAL_MS, IncidentCoalescer, type Notice } from '../signals/incidents/coalesce.js';
import type { IncidentChange } from '../signals/types.js';
import type { ButtonKey } from './button-key.js';
import { cardButtons, plainLink, sourceLinks } from './incident-card.js';
import { outboxIdOf } from './incident-thread.js';
import { type ChatMessageInput, messageSchema } from './message.js';
import type { Outbox } from './outbox.js';
import { formatMs } from './outbox-delivery.js';
import { type IncidentSubscription, inMaintenance, postChannels } from './routing.js';
import {
  STALE_STORM_LOOKBACK_MS,
  type Storm,
  type StormSettings,
  StormWatch,
  stormCard,
  stormClosedAtRestart,
  stormSettings,
} from './storm.js';

/** Which agent speaks for a kind of signal (its routes, mutes and kill switch apply). */
export const AGENT_FOR_KIND: Record<SignalKind, AgentName> = {
  alert: 'sentinel',
  health: 'sentinel',
  error_signature: 'sentinel',
  sweep_failure: 'sentinel',
  event: 'sentinel',
  failed_job: 'validator',
  advisory: 'guardian',
};

/** What a card reads for every incident change, prepared once per database. */
function cardQueries(database: Database) {
  const db = database.db;
  const id = sql.placeholder('id');
  return {
    incident: db
      .select({
        status: incidents.status,
        startedAt: incidents.startedAt,
        acknowledgedBy: incidents.acknowledgedBy,
        resolvedBy: incidents.resolvedBy,
      })
      .from(incidents)
      .where(eq(incidents.id, id))
      .prepare(),
    latestSignal: db
      .select({ source: signals.source, payload: signals.payload })
      .from(signals)
      .where(eq(signals.incidentId, id))
      .orderBy(desc(signals.receivedAt), desc(signals.id))
      .limit(1)
      .prepare(),
    refs: db.select({ refs: incidents.messageRefs }).from(incidents).where(eq(incidents.id, id)).prepare(),
    setRefs: db
      .update(incidents)
      .set({ messageRefs: sql.placeholder('refs') as unknown as MessageRef[] })
      .where(eq(incidents.id, id))
      .prepare(),
  };
}

export interface IncidentAlertsOptions {
  readonly database: Database;
  readonly outbox: Outbox;
  readonly policy: () => Policy;
  readonly now: () => number;
  readonly key: ButtonKey;
  /** Is the agent killed (no posts), is the subject muted? */
  readonly isKilled: (agent: AgentName) => boolean;
  readonly isMuted: (
    subject: { agent: AgentName; signature?: string; service?: string },
    now: number,
  ) => boolean;
  /** Channels subscribed to services' and teams' incidents (they get the card and thread too). */
  readonly subscriptions?: () => readonly IncidentSubscription[];
  /** Link to the console for the full text (AUTONOMY_PUBLIC_URL or the local URL), if any. */
  readonly consoleUrl?: () => string | null;
  readonly updateIntervalMs?: number;
  /** A promoted skill's runbook for the incident's pattern, shown on its alert. */
  readonly runbook?: (incidentId: string) => { readonly relativePath: string } | null;
  /** Called after messages were queued (to wake the outbox worker). */
  readonly onQueued?: () => void;
  /**
   * Makes source text safe to post (secrets redacted, mentions inert, cut to `max`): an alert's
   * title and service come from whoever sent the webhook. Default: only cut to `max`.
   */
  readonly screen?: (text: string, max: number) => string;
  /** Where a failed timer round is reported. */
  readonly onError?: (err: unknown) => void;
}

export class IncidentAlerts implements Service {
  readonly name = 'incident alerts';
  readonly #o: IncidentAlertsOptions;
  #stopTimer: (() => void) | null = null;
  readonly #coalescer: IncidentCoalescer;
  #kinds = new Map<string, SignalKind>();
  readonly #storms = new StormWatch();
  /** At most one update of a card per this long. */
  readonly #interval: number;

  constructor(options: IncidentAlertsOptions) {
    this.#o = options;
    this.#interval = Math.max(0, options.updateIntervalMs ?? DEFAULT_UPDATE_INTERVAL_MS);
    this.#coalescer = new IncidentCoalescer({ now: options.now, updateIntervalMs: options.updateIntervalMs });
  }

  /** Sends the held-back updates of incident alerts every second while started. */
  start(): void {
    this.#closeStaleStorms();
    this.#stopTimer ??= every(
      1000,
      () => this.flush(),
      (err) => this.#o.onError?.(err),
    );
  }

  stop(): void {
    this.#stopTimer?.();
    this.#stopTimer = null;
  }

  /**
   * Feed every transaction's incident changes here before its COMMIT (SignalStore.beforeCommit):
   * their cards and updates are queued with the signals, so a crash leaves both or neither. One that
   * fails is reported and rolled back alone (its writes are in a savepoint; the signals are kept).
   * A COMMIT that then fails rolls the cards back with the signals; what this remembers of them (the
   * update throttle, storm counts) may be one signal ahead, which only makes the next update or
   * storm card come a little sooner.
   */
  changedAll(changes: readonly (readonly [SignalKind, IncidentChange])[]): void {
    for (const [kind, change] of changes) {
      try {
        this.#changed(kind, change);
      } catch (err) {
        this.#o.onError?.(err);
      }
    }
  }

  #changed(kind: SignalKind, change: IncidentChange): void {
    this.#kinds.set(change.id, kind);
    const notice = this.#coalescer.push(change);
    if (notice !== null) this.#publish(notice);
  }

  /** Flushes throttled updates whose time has come; call on a timer. Returns how many were sent. */
  flush(): number {
    const due = this.#coalescer.due();
    for (const n of due) this.#publish(n);
    return due.length + this.#flushStorms();
  }

  /** Storm cards: ends the storms calm long enough, updates the changed cards (at most every update interval). */
  #flushStorms(): number {
    const o = this.#o;
    const now = o.now();
    const settings = stormSettings(o.policy());
    const ended = this.#storms.ended(now, settings);
    let sent = 0;
    writeTransaction(o.database, () => {
      for (const storm of [...ended, ...this.#storms.storms()]) {
        const due = storm.endedAt !== null || now - storm.sentAt >= this.#interval;
        if (!storm.dirty || !due) continue;
        this.#stormCard(storm, settings);
        sent++;
      }
    });
    if (sent > 0) o.onQueued?.();
    return sent;
  }

  /** Storm cards a previous run left raging (storm.ts) say they are closed. */
  #closeStaleStorms(): void {
    const o = this.#o;
    const now = o.now();
    const live = new Set(this.#storms.storms().map((s) => s.cardId));
    const cards = o.outbox.postsByKeyPrefix('storm:', now - STALE_STORM_LOOKBACK_MS);
    let queued = 0;
    writeTransaction(o.database, () => {
      for (const { row, latest } of cards) {
        const key = stormEndedKey(row.id);
        if (live.has(row.id) || o.outbox.byKey(key) !== null) continue;
        const card = messageSchema.safeParse(latest);
        if (!card.success) continue;
        o.outbox.enqueue(row.channel, stormClosedAtRestart(card.data, now), {
          dedupeKey: key,
          op: 'update',
          updateOf: row.id,
        });
        queued++;
      }
    });
    if (queued > 0) o.onQueued?.();
  }

  /** Queues the storm's card (its post, or an update of it), returns the card's outbox row. */
  #stormCard(storm: Storm, settings: StormSettings): number {
    const o = this.#o;
    const now = o.now();
    // Rendered only when it is sent: it ranks the storm's services, thousands in a big one.
    const card = () =>
      stormCard(storm, settings, {
        now,
        consoleUrl: o.consoleUrl?.() ?? null,
        screen: (t, max) => this.#screen(t, max),
      });
    storm.dirty = false;
    if (storm.cardId === null) {
      storm.sentAt = now;
      storm.cardId = o.outbox.enqueue(storm.channel, card(), {
        dedupeKey: `storm:${storm.channel}:${storm.startedAt}`,
      }).id;
      return storm.cardId;
    }
    if (storm.endedAt === null && now - storm.sentAt < this.#interval) {
      // Updated at most every interval: flush() sends the latest count when it is due.
      storm.dirty = true;
      return storm.cardId;
    }
    storm.sentAt = now;
    o.outbox.enqueue(storm.channel, card(), {
      dedupeKey:
        storm.endedAt === null ? `storm:${storm.cardId}:n${storm.folded}` : stormEndedKey(storm.cardId),
      op: 'update',
      updateOf: storm.cardId,
    });
    return storm.cardId;
  }

  /** A person acknowledged or resolved it: update its card in place (no Acknowledge any more), say so in its thread. */
  settledByPerson(
    incidentId: string,
    change: IncidentChange,
    by: string,
    what: 'acknowledged' | 'resolved',
  ): void {
    const o = this.#o;
    const kind = this.#kinds.get(incidentId) ?? 'alert';
    const base = this.#render(change, kind);
    const msg: ChatMessageInput = {
      ...base,
      title: this.#screen(`${what === 'resolved' ? 'Resolved: ' : ''}${change.title}`, 300),
      severity: what === 'resolved' ? 'info' : base.severity,
      body: `${what} by ${by} at ${new Date(o.now()).toISOString()}`,
    };
    writeTransaction(o.database, () => {
      const refs = this.#refs(incidentId);
      this.#updateCards(incidentId, refs, msg, `${what}:${change.signalCount}`);
      this.#threadNote(change, refs, `${what}:${change.signalCount}`, `${what} by ${by}`);
    });
    o.onQueued?.();
  }

  #publish(notice: Notice): void {
    const o = this.#o;
    const c = notice.change;
    const kind = this.#kinds.get(c.id) ?? 'alert';
    const agent = AGENT_FOR_KIND[kind];
    const now = o.now();
    const policy = o.policy();
    const held =
      o.isKilled(agent) ||
      o.isMuted(
        {
          agent,
          signature: kind === 'error_signature' ? c.fingerprint : undefined,
          service: c.service ?? undefined,
        },
        now,
      ) ||
      inMaintenance(policy, { service: c.service ?? undefined, severity: c.severity }, now) !== null;
    if (c.change === 'resolved') this.#kinds.delete(c.id);
    if (held) return;
    const msg = this.#render(c, kind);
    writeTransaction(o.database, () => {
      const refs = this.#refs(c.id);
      if (refs.length === 0) {
        // One card per incident and channel; everything after it goes into its thread. Past the
        // channel's rate of new cards, the incident folds into the channel's storm card instead.
        const settings = stormSettings(policy);
        const posted: MessageRef[] = [];
        const subject = { agent, severity: c.severity, service: c.service };
        for (const channel of postChannels(policy, subject, o.subscriptions?.() ?? [])) {
          const storm = this.#storms.arrive(channel, now, settings);
          if (storm !== null) {
            this.#storms.fold(storm, c);
            posted.push({ channel, ref: `storm:${this.#stormCard(storm, settings)}` });
            continue;
          }
          const r = o.outbox.enqueue(channel, msg, {
            dedupeKey: `incident:${c.id}:${c.change}:${c.signalCount}:${channel}`,
          });
          posted.push({ channel, ref: `outbox:${r.id}` });
        }
        preparedFor(o.database, cardQueries).setRefs.run({ id: c.id, refs: posted });
        return;
      }
      // A reopened incident keeps its card and thread.
      this.#updateCards(c.id, refs, msg, `update:${c.change}:${c.signalCount}`);
      if (c.change === 'resolved')
        this.#threadNote(
          c,
          refs,
          `resolved:${c.signalCount}`,
          'resolved: the source reports the condition is over',
        );
      if (c.change === 'reopened') this.#threadNote(c, refs, `reopened:${c.signalCount}`, 'firing again');
    });
    o.onQueued?.();
  }

  #refs(incidentId: string): MessageRef[] {
    const row = preparedFor(this.#o.database, cardQueries).refs.get({ id: incidentId });
    return row?.refs ?? [];
  }

  #updateCards(incidentId: string, refs: readonly MessageRef[], msg: ChatMessageInput, key: string): void {
    for (const ref of refs) {
      const updateOf = outboxIdOf(ref.ref);
      if (updateOf === null) continue;
      this.#o.outbox.enqueue(ref.channel, msg, {
        dedupeKey: `incident:${incidentId}:${key}:${ref.channel}`,
        op: 'update',
        updateOf,
      });
    }
  }

  /** A line in the incident's thread (the outbox worker puts it under the card); on resolve, the time to resolve. */
  #threadNote(c: IncidentChange, refs: readonly MessageRef[], key: string, what: string): void {
    const o = this.#o;
    const row = o.database.db
      .select({ startedAt: incidents.startedAt, resolvedAt: incidents.resolvedAt, status: incidents.status })
      .from(incidents)
      .where(eq(incidents.id, c.id))
      .get();
    const ttr =
      row?.status === 'resolved' && row.resolvedAt !== null
        ? `; resolved ${formatMs(Math.max(0, row.resolvedAt - row.startedAt))} after it started`
        : '';
    const note: ChatMessageInput = {
      kind: 'notice',
      title: this.#screen(`${c.shortId} ${what}${ttr}`, 300),
      severity: 'info',
      refs: { incident: c.shortId },
    };
    for (const ref of refs) {
      // An incident folded into a storm has no card or thread of its own in that channel.
      if (outboxIdOf(ref.ref) === null) continue;
      o.outbox.enqueue(ref.channel, note, { dedupeKey: `incident:${c.id}:note:${key}:${ref.channel}` });
    }
  }

  #screen(text: string, max: number): string {
    return this.#o.screen ? this.#o.screen(text, max) : text.slice(0, max);
  }

  /** The card; the outbox checks it against the message schema when it is queued (once). */
  #render(c: IncidentChange, kind: SignalKind): ChatMessageInput {
    const o = this.#o;
    const q = preparedFor(o.database, cardQueries);
    const row = q.incident.get({ id: c.id });
    const resolved = c.change === 'resolved' || row?.status === 'resolved';
    const status = resolved ? 'resolved' : (row?.status ?? 'open');
    const url = o.consoleUrl?.() ?? null;
    const runbook = resolved ? null : (o.runbook?.(c.id) ?? null);
    const latest = q.latestSignal.get({ id: c.id });
    const console = url === null ? null : plainLink('Open in the console', url);
    const links = [
      ...(console ? [console] : []),
      ...(latest ? sourceLinks(latest.source, latest.payload) : []),
    ];
    const now = o.now();
    const age = row === undefined ? null : formatMs(Math.max(0, now - row.startedAt));
    return {
      kind: 'alert',
      title: this.#screen(`${resolved ? 'Resolved: ' : ''}${c.title}`, 300),
      severity: resolved ? 'info' : c.severity,
      body: resolved ? 'The condition is over.' : '',
      fields: [
        { label: 'Incident', value: c.shortId },
        { label: 'Severity', value: c.severity },
        { label: 'Kind', value: kind },
        ...(c.service ? [{ label: 'Service', value: this.#screen(c.service, 200) }] : []),
        { label: 'Status', value: status },
        ...(age === null ? [] : [{ label: 'Age', value: `${age} (at this update)` }]),
        { label: 'Signals', value: String(c.signalCount) },
        ...(row?.acknowledgedBy ? [{ label: 'Acknowledged by', value: row.acknowledgedBy }] : []),
        ...(row?.resolvedBy ? [{ label: 'Resolved by', value: row.resolvedBy }] : []),
        ...(runbook ? [{ label: 'Runbook', value: runbook.relativePath }] : []),
      ],
      links: links.slice(0, 6),
      buttons: cardButtons(c.shortId, o.key.nonce('incident', c.id), { status, service: c.service }),
      refs: { incident: c.shortId },
    };
  }
}

/** The dedupe key of the update saying a storm card's storm is over (or the card closed at a restart). */
function stormEndedKey(cardId: number): string {
  return `storm:${cardId}:ended`;
}
