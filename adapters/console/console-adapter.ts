/**
 * The console adapter: the embedded default chat platform. Messages for `console:*` channels live
 * in a bounded in-memory feed (the newest `capacity`); every post and update is pushed to the live
 * viewers (server-sent events, see routes.ts). The feed is rebuilt at start from stored messages
 * with `seed()`, so a restart keeps what people saw and later updates still find their message.
 */
import {
  type ChatAdapter,
  type DeliveredRef,
  DeliveryError,
  type PostOptions,
} from '../../src/chat/adapter.js';
import { type ButtonAction, type ChatMessage, messageSchema } from '../../src/chat/message.js';
import type { Clock, NewId } from '../../src/process/ids.js';

/** One message in the feed, as the JSON API and the stream show it. */
export interface FeedItem {
  readonly id: string;
  readonly channel: string;
  readonly message: ChatMessage;
  /** The id of the message (an incident's card) whose thread this one is in; absent at top level. */
  readonly thread?: string;
  /** Epoch ms. */
  readonly postedAt: number;
  readonly updatedAt: number;
  /** Feed revision of its last change; increases across the whole feed (the `after` cursor). */
  readonly seq: number;
}

export interface FeedEvent {
  readonly type: 'post' | 'update';
  readonly item: FeedItem;
}

/** A live viewer: gets every change, and `close()` when the adapter stops. */
export interface FeedSubscriber {
  event(event: FeedEvent): void;
  close(): void;
}

/** A stored message to restore at start (from the outbox: delivered console posts, updates applied). */
export interface SeedMessage {
  readonly id: string;
  readonly channel: string;
  readonly message: unknown;
  readonly thread?: string | null;
  readonly postedAt: number;
  readonly updatedAt: number;
}

export interface ConsoleAdapterOptions {
  readonly now: Clock;
  readonly newId: NewId;
  /** How many messages the feed keeps (oldest dropped first). Default 500. */
  readonly capacity?: number;
}

export interface FeedQuery {
  /** Only this channel. */
  readonly channel?: string;
  /** Only items posted or updated after this revision (`seq`). */
  readonly after?: number;
}

const CONSOLE_PREFIX = 'console:';

export class ConsoleAdapter implements ChatAdapter {
  readonly platform = 'console' as const;
  readonly capacity: number;
  readonly #now: Clock;
  readonly #newId: NewId;
  /** Insertion order is feed order (oldest first). */
  readonly #items = new Map<string, FeedItem>();
  readonly #subscribers = new Set<FeedSubscriber>();
  #seq = 0;

  constructor(options: ConsoleAdapterOptions) {
    this.#now = options.now;
    this.#newId = options.newId;
    this.capacity = options.capacity ?? 500;
    if (!Number.isInteger(this.capacity) || this.capacity < 1) {
      throw new Error(`console feed capacity must be a positive integer, got ${this.capacity}`);
    }
  }

  /** The latest revision: pass it back as `after` to get only what changed since. */
  get cursor(): number {
    return this.#seq;
  }

  async post(channel: string, message: ChatMessage, options?: PostOptions): Promise<DeliveredRef> {
    checkChannel(channel);
    const at = this.#now();
    const item: FeedItem = {
      id: this.#newId('msg'),
      channel,
      message,
      ...(options?.thread === undefined ? {} : { thread: options.thread }),
      postedAt: at,
      updatedAt: at,
      seq: ++this.#seq,
    };
    this.#items.set(item.id, item);
    this.#trim();
    this.#emit({ type: 'post', item });
    return { ref: item.id };
  }

  async update(channel: string, ref: string, message: ChatMessage): Promise<void> {
    checkChannel(channel);
    const old = this.#items.get(ref);
    if (old && old.channel !== channel) {
      throw new DeliveryError(`console message ${ref} is in ${old.channel}, not ${channel}`, {
        platform: 'console',
        platformCode: 'channel_mismatch',
        permanent: true,
      });
    }
    const at = this.#now();
    // A message that fell out of the bounded feed comes back at the end, so the change is seen.
    const item: FeedItem = {
      id: ref,
      channel,
      message,
      ...(old?.thread === undefined ? {} : { thread: old.thread }),
      postedAt: old?.postedAt ?? at,
      updatedAt: at,
      seq: ++this.#seq,
    };
    this.#items.set(ref, item);
    this.#trim();
    this.#emit({ type: 'update', item });
  }

  /**
   * Restores the feed from stored messages (call once at start, before serving). Malformed stored
   * messages are skipped and counted, never shown half-parsed.
   */
  seed(history: readonly SeedMessage[]): { readonly restored: number; readonly skipped: number } {
    let skipped = 0;
    const sorted = [...history].sort((a, b) => a.postedAt - b.postedAt);
    for (const h of sorted) {
      const parsed = messageSchema.safeParse(h.message);
      if (!parsed.success || !h.channel.startsWith(CONSOLE_PREFIX)) {
        skipped++;
        continue;
      }
      this.#items.delete(h.id);
      this.#items.set(h.id, {
        id: h.id,
        channel: h.channel,
        message: parsed.data,
        ...(h.thread == null ? {} : { thread: h.thread }),
        postedAt: h.postedAt,
        updatedAt: h.updatedAt,
        seq: ++this.#seq,
      });
    }
    this.#trim();
    return { restored: sorted.length - skipped, skipped };
  }

  /** The feed, oldest first. */
  list(query: FeedQuery = {}): FeedItem[] {
    const after = query.after ?? 0;
    return [...this.#items.values()].filter(
      (i) => i.seq > after && (query.channel === undefined || i.channel === query.channel),
    );
  }

  get(id: string): FeedItem | undefined {
    return this.#items.get(id);
  }

  /**
   * The nonce of the newest message that carries buttons for `target` (an approval `a12`), so a
   * script may decide without knowing it. Prefers a button of the same action.
   */
  buttonNonce(target: string, action: ButtonAction): { nonce: string; channel: string } | null {
    const items = [...this.#items.values()].reverse();
    for (const item of items) {
      const buttons = item.message.buttons.filter((b) => b.target === target);
      const button = buttons.find((b) => b.action === action) ?? buttons[0];
      if (button) return { nonce: button.nonce, channel: item.channel };
    }
    return null;
  }

  /** Live changes; returns the unsubscribe function. */
  subscribe(subscriber: FeedSubscriber): () => void {
    this.#subscribers.add(subscriber);
    return () => {
      this.#subscribers.delete(subscriber);
    };
  }

  health(): { readonly status: 'ok'; readonly detail: string } {
    return {
      status: 'ok',
      detail: `${this.#items.size} message(s) in the feed, ${this.#subscribers.size} live viewer(s)`,
    };
  }

  async start(): Promise<void> {}

  /** Ends every live stream (viewers reconnect to the next process). */
  async stop(): Promise<void> {
    const subscribers = [...this.#subscribers];
    this.#subscribers.clear();
    for (const s of subscribers) s.close();
  }

  #trim(): void {
    while (this.#items.size > this.capacity) {
      const oldest = this.#items.keys().next().value;
      if (oldest === undefined) break;
      this.#items.delete(oldest);
    }
  }

  #emit(event: FeedEvent): void {
    for (const s of [...this.#subscribers]) {
      try {
        s.event(event);
      } catch {
        // A broken viewer must not stop delivery to the others (or fail the post); drop it.
        this.#subscribers.delete(s);
        s.close();
      }
    }
  }
}

function checkChannel(channel: string): void {
  if (!channel.startsWith(CONSOLE_PREFIX)) {
    throw new DeliveryError(`the console adapter only delivers to console:* channels, not ${channel}`, {
      platform: 'console',
      platformCode: 'channel_not_found',
      permanent: true,
    });
  }
}
