/**
 * A chat platform stand-in for tests: implements the ChatAdapter contract (src/chat/adapter.ts),
 * keeps what was posted and updated, and can be scripted to fail the way real platforms do.
 *
 *   const chat = new FakeChatAdapter({ platform: 'slack', now: clock.now });
 *   chat.rateLimit(3, 1500);           // the next 3 calls answer 429 with Retry-After 1.5 s
 *   chat.serverError(2);               // the next 2 calls answer 500 (transient)
 *   chat.down(); ... chat.up();        // every call throws a transient error until up()
 *   chat.rejectChannel('slack:C404');  // permanent error (channel_not_found) for that channel
 *   chat.setLatency(20);               // each call takes 20 ms of real time
 *   chat.hang('slack:C1'); ... chat.release('slack:C1');  // calls there never answer until released
 *   chat.posts / chat.updates / chat.calls   // what happened, in order, with timestamps
 *   chat.view('slack:C1')               // the channel as a person would see it now
 *
 * Scripted failures (rateLimit, serverError) are consumed one per call, in the order they were
 * added; pass `channel` to make one apply to that channel only. Failures happen before anything
 * is recorded as posted, so a failed call never shows up in `posts`.
 */
import {
  type ChatAdapter,
  type DeliveredRef,
  DeliveryError,
  type Platform,
  type PostOptions,
} from '../../src/chat/adapter.js';
import type { ChatMessage } from '../../src/chat/message.js';

export interface FakePost {
  readonly channel: string;
  readonly ref: string;
  readonly message: ChatMessage;
  /** The ref of the message whose thread it was posted in (an incident's card), if any. */
  readonly thread?: string;
  /** `now()` when it was accepted. */
  readonly at: number;
}

export interface FakeUpdate {
  readonly channel: string;
  readonly ref: string;
  readonly message: ChatMessage;
  readonly at: number;
}

/** Every call, failed or not, in order. */
export interface FakeCall {
  readonly op: 'post' | 'update';
  readonly channel: string;
  readonly ref?: string;
  readonly title: string;
  readonly at: number;
  /** `ok`, or the platform code of the error thrown (`ratelimited`, `500`, `down`, ...). */
  readonly outcome: string;
  /** The Retry-After the failure carried, if any. */
  readonly retryAfterMs?: number;
}

export interface FakeChatAdapterOptions {
  /** Default `console`. */
  readonly platform?: Platform;
  /** The clock stamped on posts and calls (default Date.now). */
  readonly now?: () => number;
}

interface ScriptedFailure {
  remaining: number;
  readonly channel: string | null;
  readonly make: (platform: Platform) => DeliveryError;
}

export class FakeChatAdapter implements ChatAdapter {
  readonly platform: Platform;
  readonly posts: FakePost[] = [];
  readonly updates: FakeUpdate[] = [];
  readonly calls: FakeCall[] = [];
  private readonly now: () => number;
  private readonly script: ScriptedFailure[] = [];
  private readonly rejected = new Map<string, string>();
  private isDown = false;
  private readonly hung = new Map<string, (() => void)[]>();
  private latencyMs = 0;
  private nextRef = 1;
  started = false;

  constructor(options: FakeChatAdapterOptions = {}) {
    this.platform = options.platform ?? 'console';
    this.now = options.now ?? Date.now;
  }

  // -- scripting ------------------------------------------------------------------------------

  /** The next `times` calls (to `channel`, or any) answer 429 with Retry-After `retryAfterMs`. */
  rateLimit(times: number, retryAfterMs: number, channel?: string): this {
    return this.add(times, channel, (platform) => {
      return new DeliveryError('rate limited', { platform, platformCode: 'ratelimited', retryAfterMs });
    });
  }

  /** The next `times` calls (to `channel`, or any) answer a transient 500 (no Retry-After). */
  serverError(times: number, channel?: string): this {
    return this.add(times, channel, (platform) => {
      return new DeliveryError('internal server error', { platform, platformCode: '500' });
    });
  }

  /** Every call throws a transient error (connection refused) until up(). */
  down(): this {
    this.isDown = true;
    return this;
  }

  up(): this {
    this.isDown = false;
    return this;
  }

  /** Every call to `channel` fails for good (`code`, default channel_not_found) until accepted again. */
  rejectChannel(channel: string, code = 'channel_not_found'): this {
    this.rejected.set(channel, code);
    return this;
  }

  acceptChannel(channel: string): this {
    this.rejected.delete(channel);
    return this;
  }

  /** Each call waits this long (real time) before answering. */
  setLatency(ms: number): this {
    this.latencyMs = ms;
    return this;
  }

  /** Calls to `channel` wait, unanswered, until release(channel) (a platform that hangs). */
  hang(channel: string): this {
    if (!this.hung.has(channel)) this.hung.set(channel, []);
    return this;
  }

  /** Lets the calls waiting on `channel` go on (each then answers as scripted), and stops hanging. */
  release(channel: string): this {
    const waiting = this.hung.get(channel) ?? [];
    this.hung.delete(channel);
    for (const go of waiting) go();
    return this;
  }

  /** Forgets every scripted failure, rejection and outage (recordings are kept). */
  reset(): this {
    for (const channel of [...this.hung.keys()]) this.release(channel);
    this.script.length = 0;
    this.rejected.clear();
    this.isDown = false;
    this.latencyMs = 0;
    return this;
  }

  // -- reading --------------------------------------------------------------------------------

  /** Posts to `channel`, in order. */
  postsTo(channel: string): FakePost[] {
    return this.posts.filter((p) => p.channel === channel);
  }

  /** Titles posted to `channel`, in order. */
  titles(channel: string): string[] {
    return this.postsTo(channel).map((p) => p.message.title);
  }

  /** The channel as a person sees it now: each post with its latest update applied. */
  view(channel: string): { ref: string; message: ChatMessage }[] {
    return this.postsTo(channel).map((p) => {
      const latest = this.updates.filter((u) => u.ref === p.ref).at(-1);
      return { ref: p.ref, message: latest?.message ?? p.message };
    });
  }

  // -- the ChatAdapter contract ---------------------------------------------------------------

  async post(channel: string, message: ChatMessage, options?: PostOptions): Promise<DeliveredRef> {
    await this.answer('post', channel, message.title);
    const ref = `${this.platform}-msg-${this.nextRef++}`;
    const thread = options?.thread === undefined ? {} : { thread: options.thread };
    this.posts.push({ channel, ref, message, ...thread, at: this.now() });
    return { ref };
  }

  async update(channel: string, ref: string, message: ChatMessage): Promise<void> {
    await this.answer('update', channel, message.title, ref, () => {
      const original = this.posts.find((p) => p.ref === ref);
      if (original !== undefined && original.channel === channel) return null;
      return new DeliveryError(`no message ${ref} in ${channel}`, {
        platform: this.platform,
        platformCode: 'message_not_found',
        permanent: true,
      });
    });
    this.updates.push({ channel, ref, message, at: this.now() });
  }

  health(): { status: 'ok' | 'degraded' | 'down'; detail?: string } {
    return this.isDown ? { status: 'down', detail: 'fake platform is down' } : { status: 'ok' };
  }

  async start(): Promise<void> {
    this.started = true;
  }

  async stop(): Promise<void> {
    this.started = false;
  }

  private add(times: number, channel: string | undefined, make: ScriptedFailure['make']): this {
    if (times > 0) this.script.push({ remaining: times, channel: channel ?? null, make });
    return this;
  }

  /** Waits the latency, then throws the failure due for this call, if any (recording the call). */
  private async answer(
    op: 'post' | 'update',
    channel: string,
    title: string,
    ref?: string,
    check: () => DeliveryError | null = () => null,
  ): Promise<void> {
    if (this.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, this.latencyMs));
    const hung = this.hung.get(channel);
    if (hung !== undefined) await new Promise<void>((resolve) => hung.push(resolve));
    const record = (outcome: string, retryAfterMs?: number) =>
      this.calls.push({
        op,
        channel,
        title,
        at: this.now(),
        outcome,
        ...(ref === undefined ? {} : { ref }),
        ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      });
    const fail = (error: DeliveryError): never => {
      record(error.options.platformCode ?? 'error', error.options.retryAfterMs);
      throw error;
    };
    if (this.isDown) {
      fail(new DeliveryError('connect ECONNREFUSED', { platform: this.platform, platformCode: 'down' }));
    }
    const rejected = this.rejected.get(channel);
    if (rejected !== undefined) {
      fail(new DeliveryError(rejected, { platform: this.platform, platformCode: rejected, permanent: true }));
    }
    const i = this.script.findIndex((s) => s.channel === null || s.channel === channel);
    const scripted = this.script[i];
    if (scripted !== undefined) {
      scripted.remaining--;
      if (scripted.remaining <= 0) this.script.splice(i, 1);
      fail(scripted.make(this.platform));
    }
    const refused = check();
    if (refused !== null) fail(refused);
    record('ok');
  }
}
