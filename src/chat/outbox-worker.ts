/**
 * Delivers the outbox (outbox.ts) through the chat adapters.
 *
 * - Per lane, strictly in order (outbox.ts: an incident's messages are a lane of their channel,
 *   everything else another): only a lane's head is sent; its next message goes only after the head
 *   is delivered or has finally failed. Lanes go in parallel, up to `maxPerChannel` at once in one
 *   channel (a burst of incidents gets its cards side by side, not one round trip after another),
 *   and `maxParallel` in all. A Retry-After holds the whole channel: no lane of it starts until then.
 * - An `update` replaces the message its post landed as (the post's platformRef). It is in its
 *   post's lane, so the post is finished first; if it failed for good, or the platform refuses the edit for
 *   good (message gone, too old), the update is posted as a new message instead.
 * - Retries: Retry-After exactly when the platform gives one, else exponential backoff with jitter.
 * - Outages: a transient failure without Retry-After (5xx, timeout, network) marks the platform
 *   failing. While it fails, one message (the oldest head not held by a Retry-After) is tried every
 *   `probeMs` (default 5 s) whatever its own backoff says; the first success anywhere on the
 *   platform ends the outage and makes every head of the platform due now (Retry-After holds are
 *   kept), so the backlog drains at the platform's rate instead of each message's backoff (which
 *   reaches 5 min). Order per lane is unchanged: only heads are ever sent.
 *   A permanent error, or an error after `maxAgeMs` (default 24 h) of trying, makes the row
 *   `failed`, audited as `outbox.failed` with the last error, and logged. Never silently dropped.
 * - No adapter for a channel's platform (e.g. Slack not configured): its rows stay pending, without
 *   attempts, until one is there.
 * - A poll loop on an unref'd timer (`pollMs`, default 250 ms) plus `poke()` after an enqueue. Each
 *   poll is one indexed query; nothing spins.
 * - `start()` puts rows a crash left `sending` back to pending (see outbox.ts: at least once).
 */
import type { Foreground } from '../process/foreground.js';
import type { Service, ServiceHealth } from '../service.js';
import { type ChatAdapter, DeliveryError, type Platform } from './adapter.js';
import type { ChatMessage } from './message.js';
import {
  type FailReason,
  laneKey,
  type Outbox,
  type OutboxHead,
  type OutboxRow,
  storedMessage,
} from './outbox.js';
import {
  describeError,
  formatMs,
  isPermanent,
  platformOfChannel,
  raceWithin,
  sleep,
  withTimeout,
} from './outbox-delivery.js';

/** The few logger methods the worker uses (a pino Logger fits). */
export interface WorkerLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** Counters for /metrics: the lead wires these to prom-client. Every callback is optional. */
export interface OutboxMetrics {
  delivered?(event: {
    readonly channel: string;
    readonly platform: Platform;
    readonly attempts: number;
  }): void;
  retried?(event: { readonly channel: string; readonly platform: Platform; readonly delayMs: number }): void;
  failed?(event: {
    readonly channel: string;
    readonly platform: Platform;
    readonly reason: FailReason;
  }): void;
}

export interface OutboxWorkerOptions {
  readonly outbox: Outbox;
  /** Adapters by platform; read at every attempt, so adding one later (a reconnect) just works. */
  readonly adapters: ReadonlyMap<Platform, ChatAdapter>;
  /** Epoch milliseconds: decides what is due and when to retry. */
  readonly now: () => number;
  readonly log: WorkerLog;
  /** [0, 1): the backoff jitter (default Math.random). */
  readonly random?: () => number;
  readonly metrics?: OutboxMetrics;
  /** How often to look for due messages without a poke (default 250 ms). */
  readonly pollMs?: number;
  /** First retry delay without Retry-After (default 1 s); doubles per attempt up to `maxDelayMs`. */
  readonly baseDelayMs?: number;
  /** Longest retry delay without Retry-After (default 5 min). */
  readonly maxDelayMs?: number;
  /** While a platform fails, how often one message probes it (default 5 s). */
  readonly probeMs?: number;
  /** The oldest undelivered message older than this makes the outbox degraded (default 60 s). */
  readonly staleMs?: number;
  /** Give up on a message still failing this long after it was queued (default 24 h). */
  readonly maxAgeMs?: number;
  /** Lanes sent to at the same time, all channels together (default 8). */
  readonly maxParallel?: number;
  /** Lanes of one channel sent to at the same time (default 4): a burst, not a flood. */
  readonly maxPerChannel?: number;
  /**
   * An adapter call that has not settled after this long counts as a transient failure (default
   * 60 s), so a hung platform cannot block a channel. If it did land after all, the retry posts
   * it again: the same at-least-once edge as a crash.
   */
  readonly sendTimeoutMs?: number;
  /** A delivery in flight is foreground work: agent jobs wait for it (process/foreground.ts). */
  readonly foreground?: Foreground;
}

export interface DrainResult {
  /** Messages delivered during the drain. */
  readonly delivered: number;
  /** Messages still undelivered when it returned (they stay in the outbox for the next start). */
  readonly pending: number;
  /** true when the deadline cut it short. */
  readonly timedOut: boolean;
}

const DEFAULTS = {
  pollMs: 250,
  baseDelayMs: 1000,
  maxDelayMs: 5 * 60_000,
  maxAgeMs: 24 * 3600_000,
  probeMs: 5000,
  staleMs: 60_000,
  maxParallel: 8,
  maxPerChannel: 4,
  sendTimeoutMs: 60_000,
};

type Settings = typeof DEFAULTS;

export class OutboxWorker implements Service {
  readonly name = 'outbox';
  private readonly outbox: Outbox;
  private readonly adapters: ReadonlyMap<Platform, ChatAdapter>;
  private readonly now: () => number;
  private readonly log: WorkerLog;
  private readonly random: () => number;
  private readonly metrics: OutboxMetrics;
  private readonly settings: Settings;
  /** Lanes being delivered now (laneKey), with the promise of their delivery loop. */
  private readonly lanes = new Map<string, Promise<void>>();
  /** How many lanes of each channel are being delivered now. */
  private readonly busyChannels = new Map<string, number>();
  /**
   * Channels with a due lane that found no free slot at the last look: their running lanes hand
   * the slot back after the message in hand, so the oldest message goes next (a card before the
   * reply its neighbour's lane holds).
   */
  private readonly waiting = new Set<string>();
  /** Channels whose platform has no adapter, already logged (logged again once it is back). */
  private readonly missing = new Set<string>();
  /** Platforms failing now (transient errors without Retry-After), and when to probe them next. */
  private readonly outages = new Map<Platform, { since: number; error: string; probeAt: number }>();
  /** Channels held by the platform's Retry-After, until (epoch ms). */
  private readonly holds = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  /** Set by stop() and drain(): lanes finish the message in hand and take no more. */
  private halted = false;
  private deliveredCount = 0;
  private attemptCount = 0;
  private readonly foreground: Foreground | null;

  constructor(options: OutboxWorkerOptions) {
    this.foreground = options.foreground ?? null;
    this.outbox = options.outbox;
    this.adapters = options.adapters;
    this.now = options.now;
    this.log = options.log;
    this.random = options.random ?? Math.random;
    this.metrics = options.metrics ?? {};
    this.settings = {
      pollMs: options.pollMs ?? DEFAULTS.pollMs,
      baseDelayMs: options.baseDelayMs ?? DEFAULTS.baseDelayMs,
      maxDelayMs: options.maxDelayMs ?? DEFAULTS.maxDelayMs,
      maxAgeMs: options.maxAgeMs ?? DEFAULTS.maxAgeMs,
      probeMs: options.probeMs ?? DEFAULTS.probeMs,
      staleMs: options.staleMs ?? DEFAULTS.staleMs,
      maxParallel: options.maxParallel ?? DEFAULTS.maxParallel,
      maxPerChannel: options.maxPerChannel ?? DEFAULTS.maxPerChannel,
      sendTimeoutMs: options.sendTimeoutMs ?? DEFAULTS.sendTimeoutMs,
    };
    for (const [name, value] of Object.entries(this.settings)) {
      if (!(Number.isFinite(value) && value > 0)) {
        throw new RangeError(`OutboxWorker option ${name} must be a number > 0, got ${String(value)}`);
      }
    }
  }

  /** Recovers rows a crash left `sending`, then delivers in the background until stop() or drain(). */
  start(): void {
    if (this.running) return;
    const recovered = this.outbox.recover();
    if (recovered > 0) {
      this.log.warn(
        { recovered },
        `outbox: ${recovered} message(s) were being sent when the bot stopped; sending them again (one may appear twice)`,
      );
    }
    this.running = true;
    this.halted = false;
    this.schedule(0);
  }

  /**
   * Deliver now (call after an enqueue) instead of at the next poll. It looks on the next turn of
   * the event loop, so poking inside a transaction never sends a row that may yet roll back.
   */
  poke(): void {
    if (this.running) this.schedule(0);
  }

  /**
   * The backlog: degraded, with the reasons, while a platform fails, the oldest undelivered message
   * is older than `staleMs`, or any message has failed for good.
   */
  health(): ServiceHealth {
    const b = this.outbox.backlog();
    const now = this.now();
    const reasons: string[] = [];
    for (const [platform, outage] of this.outages) {
      reasons.push(`${platform} failing for ${formatMs(now - outage.since)}: ${outage.error}`);
    }
    if (b.oldestPendingAgeMs !== null && b.oldestPendingAgeMs > this.settings.staleMs) {
      reasons.push(`the oldest undelivered message is ${formatMs(b.oldestPendingAgeMs)} old`);
    }
    if (b.failed > 0) reasons.push(`${b.failed} message(s) failed for good (audited as outbox.failed)`);
    const detail = `${b.pending} pending, ${b.failed} failed`;
    return reasons.length === 0
      ? { status: 'ok', detail }
      : { status: 'degraded', detail: `${detail}; ${reasons.join('; ')}` };
  }

  /** A kill or a policy change may have queued notices: send them now. */
  onKill(): undefined {
    this.poke();
    return undefined;
  }

  onPolicyChange(): void {
    this.poke();
  }

  /**
   * Stops polling and waits for the messages in hand (each bounded by sendTimeoutMs). With a
   * `deadline` (epoch ms, the SIGTERM drain) it first delivers what it can until then (drain()).
   */
  async stop(deadline?: number): Promise<void> {
    if (deadline !== undefined && this.running) await this.drain(Math.max(0, deadline - Date.now()));
    this.running = false;
    this.halted = true;
    this.clearTimer();
    await Promise.all(this.lanes.values());
  }

  /**
   * For SIGTERM: stops polling and delivers what it can until `withinMs` (real time) has passed,
   * waiting for retries that fall due before then. Messages in hand at the deadline are left to
   * finish in the background; whatever is undelivered stays in the outbox for the next start.
   */
  async drain(withinMs: number): Promise<DrainResult> {
    const started = Date.now();
    const left = () => withinMs - (Date.now() - started);
    this.running = false;
    this.clearTimer();
    const before = this.deliveredCount;
    let timedOut = false;
    for (;;) {
      if (left() <= 0) {
        timedOut = this.outbox.backlog().pending > 0;
        break;
      }
      const attempts = this.attemptCount;
      const finished = await raceWithin(this.runOnce(), left());
      if (!finished) {
        timedOut = true;
        break;
      }
      const next = this.nextDue();
      if (next === null) break;
      const wait = next - this.now();
      if (wait > left()) {
        timedOut = true;
        break;
      }
      // Due now but nothing was attempted (a lane failed on the database): do not spin.
      const idle = this.attemptCount === attempts ? 50 : 0;
      if (Math.max(wait, idle) > 0) await sleep(Math.min(Math.max(wait, idle), Math.max(0, left())));
    }
    this.halted = true;
    return { delivered: this.deliveredCount - before, pending: this.outbox.backlog().pending, timedOut };
  }

  /**
   * One pass: sends every channel's due head, and behind it the channel's next messages while they
   * are due, and resolves when they are done. A CLI flush or a test can call it; the poll loop only
   * starts the channels (a slow channel never holds up the others).
   */
  async runOnce(): Promise<void> {
    this.startLanes();
    await Promise.all(this.lanes.values());
  }

  /** Starts delivery of every lane whose head is due, that is not being delivered, within the limits. */
  private startLanes(): void {
    const now = this.now();
    this.waiting.clear();
    // Heads are read a page at a time and the look ends once every slot is taken: a burst's backlog
    // of hundreds of lanes costs a look the few rows it starts, not all of them.
    for (const head of this.outbox.headsInOrder()) {
      if (this.lanes.size >= this.settings.maxParallel) break;
      if (this.lanes.has(laneKey(head)) || head.state !== 'pending' || head.nextAttemptAt > now) continue;
      if (!this.channelFree(head.channel, now)) {
        this.waiting.add(head.channel);
        continue;
      }
      const adapter = this.adapterFor(head.channel);
      if (adapter === null) continue;
      this.startLane(head, adapter, false);
    }
    this.probe(now);
  }

  /** When a row may be sent: its retry time, or its channel's Retry-After hold if that is later. */
  private dueAt(row: OutboxHead): number {
    return Math.max(row.nextAttemptAt, this.holds.get(row.channel) ?? 0);
  }

  /** The channel is not held by a Retry-After and has a lane to spare. */
  private channelFree(channel: string, now: number): boolean {
    return (
      (this.holds.get(channel) ?? 0) <= now &&
      (this.busyChannels.get(channel) ?? 0) < this.settings.maxPerChannel
    );
  }

  private startLane(head: OutboxHead, adapter: ChatAdapter, force: boolean): void {
    const key = laneKey(head);
    const channel = head.channel;
    this.busyChannels.set(channel, (this.busyChannels.get(channel) ?? 0) + 1);
    const lane = this.lane(head, adapter, force).finally(() => {
      this.lanes.delete(key);
      const busy = (this.busyChannels.get(channel) ?? 1) - 1;
      if (busy > 0) this.busyChannels.set(channel, busy);
      else this.busyChannels.delete(channel);
      // A lane of this channel waiting for the slot starts now, not on a later turn: in that gap
      // no delivery is in flight, and an agent job waiting for the foreground would take the turn
      // while cards wait. Otherwise one look on the next turn, for whatever came due meanwhile.
      if (!this.running) return;
      if (this.waiting.has(channel)) this.look();
      else this.poke();
    });
    this.lanes.set(key, lane);
  }

  /** For each failing platform whose probe is due: tries its oldest head not held by a Retry-After. */
  private probe(now: number): void {
    for (const [platform, outage] of this.outages) {
      if (outage.probeAt > now || this.lanes.size >= this.settings.maxParallel) continue;
      const adapter = this.adapters.get(platform);
      if (adapter === undefined) continue;
      let head: OutboxHead | undefined;
      for (const h of this.outbox.headsInOrder()) {
        if (
          h.state === 'pending' &&
          platformOfChannel(h.channel) === platform &&
          !this.lanes.has(laneKey(h)) &&
          this.channelFree(h.channel, now)
        ) {
          head = h;
          break;
        }
      }
      if (head === undefined) continue;
      outage.probeAt = now + this.settings.probeMs;
      this.startLane(head, adapter, true);
    }
  }

  /** The platform answered: the outage is over and every head of it not held by Retry-After is due now. */
  private recovered(platform: Platform): void {
    const outage = this.outages.get(platform);
    if (outage === undefined) return;
    this.outages.delete(platform);
    const now = this.now();
    let woken = 0;
    for (const head of this.outbox.heads()) {
      if (head.state !== 'pending' || platformOfChannel(head.channel) !== platform) continue;
      if (head.nextAttemptAt <= now || (this.holds.get(head.channel) ?? 0) > now) continue;
      this.outbox.markRetry(head.id, now, head.lastError ?? '');
      woken++;
    }
    this.log.info(
      { platform, outageMs: now - outage.since, channels: woken },
      `outbox: ${platform} answers again after ${formatMs(now - outage.since)}; sending its backlog now`,
    );
    this.poke();
  }

  /**
   * When the next message could be sent (epoch ms: its retry time, or its channel's Retry-After
   * hold if later), or null when none can (empty, or no adapter).
   */
  nextDue(): number | null {
    let next: number | null = null;
    for (const head of this.outbox.heads()) {
      if (head.state !== 'pending' || !this.adapters.has(platformOfChannel(head.channel))) continue;
      const due = this.dueAt(head);
      next = next === null ? due : Math.min(next, due);
    }
    return next;
  }

  /** The poll loop: one tick now or after `delayMs`, then every pollMs while running. */
  private schedule(delayMs: number): void {
    this.clearTimer();
    this.timer = setTimeout(() => {
      this.timer = null;
      this.look();
      if (this.running && this.timer === null) this.schedule(this.settings.pollMs);
    }, delayMs);
    this.timer.unref();
  }

  /** Starts what is due now; a failure to read the outbox is logged and the next poll tries again. */
  private look(): void {
    try {
      this.startLanes();
    } catch (error) {
      this.log.error({ err: error }, 'outbox: looking for messages to deliver failed; trying again');
    }
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private adapterFor(channel: string): ChatAdapter | null {
    const platform = platformOfChannel(channel);
    const adapter = this.adapters.get(platform) ?? null;
    if (adapter === null && !this.missing.has(channel)) {
      this.missing.add(channel);
      this.log.warn(
        { channel, platform },
        `outbox: no ${platform} adapter is running; messages for ${channel} wait until it is configured`,
      );
    } else if (adapter !== null) {
      this.missing.delete(channel);
    }
    return adapter;
  }

  /**
   * Sends a lane's messages in order, while they are due and the channel is not held by a
   * Retry-After (another lane's 429 holds this one too); a retry or a failure ends the loop.
   */
  private async lane(first: OutboxHead, adapter: ChatAdapter, force: boolean): Promise<void> {
    let row: OutboxHead | null = first;
    try {
      while (
        row !== null &&
        !this.halted &&
        row.state === 'pending' &&
        (this.dueAt(row) <= this.now() || (force && row === first))
      ) {
        await this.deliver(row, adapter);
        const state = this.outbox.stateOf(row.id);
        if (state === null || state === 'pending' || state === 'sending') return;
        // An older message of another lane waits for a slot: hand this one back (heads go oldest first).
        if (this.waiting.has(row.channel)) return;
        row = this.outbox.nextAfter(row);
      }
    } catch (error) {
      // The database went away (closed at shutdown) or a bug: the row stays for the next pass or start.
      this.log.error({ err: error, channel: first.channel }, 'outbox: delivery to a channel stopped');
    }
  }

  private async deliver(row: OutboxHead, adapter: ChatAdapter): Promise<void> {
    const claimed = this.outbox.claim(row.id);
    if (claimed === null) return;
    this.attemptCount++;
    const platform = adapter.platform;
    const message = storedMessage(claimed);
    if (message === null) {
      this.fail(claimed, platform, 'invalid', 'the stored message does not pass the message schema');
      return;
    }
    const end = this.foreground?.begin();
    try {
      const ref = await this.send(claimed, message, adapter);
      this.outbox.markDelivered(claimed.id, ref);
      this.deliveredCount++;
      this.holds.delete(claimed.channel);
      this.recovered(platform);
      this.metrics.delivered?.({ channel: claimed.channel, platform, attempts: claimed.attempts });
    } catch (error) {
      this.failed(claimed, platform, error);
    } finally {
      end?.();
    }
  }

  /** Posts, or updates the message a post landed as; returns the platform's ref of the message. */
  private async send(row: OutboxRow, message: ChatMessage, adapter: ChatAdapter): Promise<string> {
    const timeout = this.settings.sendTimeoutMs;
    if (row.op === 'update' && row.updateOf !== null) {
      const target = this.outbox.get(row.updateOf);
      if (target !== null && (target.state === 'pending' || target.state === 'sending')) {
        throw new Error(`waiting for message #${target.id}, which this one updates, to be delivered`);
      }
      if (target?.state === 'delivered' && target.platformRef !== null) {
        try {
          await withTimeout(
            adapter.update(row.channel, target.platformRef, message),
            timeout,
            adapter.platform,
          );
          return target.platformRef;
        } catch (error) {
          if (!isPermanent(error)) throw error;
          this.log.warn(
            { id: row.id, channel: row.channel, err: describeError(error) },
            'outbox: the platform refused to edit the message; posting the update as a new message',
          );
        }
      }
    }
    // A message about an incident goes into the thread of the incident's card in this channel.
    const thread = this.outbox.threadOf({ ...row, op: 'post' }, message);
    const delivered = await withTimeout(
      adapter.post(row.channel, message, thread === null ? undefined : { thread }),
      timeout,
      adapter.platform,
    );
    return delivered.ref;
  }

  private failed(row: OutboxRow, platform: Platform, error: unknown): void {
    const text = describeError(error);
    if (isPermanent(error)) {
      this.fail(row, platform, 'permanent', text);
      return;
    }
    const now = this.now();
    const age = now - row.createdAt;
    if (age >= this.settings.maxAgeMs) {
      this.fail(row, platform, 'max-age', `still failing ${formatMs(age)} after it was queued: ${text}`);
      return;
    }
    const retryAfter = error instanceof DeliveryError ? error.options.retryAfterMs : undefined;
    const honoured = retryAfter !== undefined && Number.isFinite(retryAfter);
    const delayMs = honoured ? Math.max(0, retryAfter) : this.backoff(row.attempts);
    if (honoured) {
      // Still not accepting: an outage goes on (with this reason) until a message is delivered.
      this.holds.set(row.channel, now + delayMs);
      const outage = this.outages.get(platform);
      if (outage !== undefined) outage.error = text;
    } else {
      // The platform did not answer (or answered 5xx): probe it until it does.
      const outage = this.outages.get(platform);
      if (outage === undefined) {
        this.outages.set(platform, { since: now, error: text, probeAt: now + this.settings.probeMs });
        this.log.warn(
          { platform, err: text },
          `outbox: ${platform} is failing; probing it every ${formatMs(this.settings.probeMs)}`,
        );
      } else {
        outage.error = text;
      }
    }
    this.outbox.markRetry(row.id, now + delayMs, text);
    this.metrics.retried?.({ channel: row.channel, platform, delayMs });
    this.log.info(
      { id: row.id, channel: row.channel, attempts: row.attempts, delayMs, err: text },
      'outbox: delivery failed; will retry',
    );
  }

  private fail(row: OutboxRow, platform: Platform, reason: FailReason, error: string): void {
    this.outbox.markFailed(row.id, reason, error);
    this.metrics.failed?.({ channel: row.channel, platform, reason });
    this.log.error(
      { id: row.id, channel: row.channel, attempts: row.attempts, reason, err: error },
      `outbox: gave up on message #${row.id} to ${row.channel} (audited as outbox.failed)`,
    );
  }

  /** base * 2^(attempts-1), at most max, with "equal jitter": between half of that and all of it. */
  private backoff(attempts: number): number {
    const { baseDelayMs, maxDelayMs } = this.settings;
    const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** Math.min(30, Math.max(0, attempts - 1)));
    return Math.round(ceiling / 2 + (ceiling / 2) * this.random());
  }
}
