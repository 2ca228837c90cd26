/**
 * Request-level idempotency for hooks whose requests store no per-item rows (/hooks/logs: lines
 * are mined, not stored): the sender's `Idempotency-Key`s seen recently, in memory, bounded. A
 * retry with the same key within `ttlMs` is answered as a duplicate and counted once. (Across a
 * restart the key is forgotten, as are the repeat counts it fed: see the report on a durable
 * `ingest_deliveries` table.)
 */
import type { Clock } from '../../../src/process/ids.js';

export interface RecentKeysOptions {
  readonly now: Clock;
  /** How long a key is remembered (default 24 h). */
  readonly ttlMs?: number;
  /** Keys remembered at most (oldest forgotten first; default 100,000). */
  readonly max?: number;
}

export const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,200}$/;

export class RecentKeys {
  private readonly now: Clock;
  private readonly ttlMs: number;
  private readonly max: number;
  /** key -> when it was claimed; insertion order = oldest first. */
  private readonly keys = new Map<string, number>();

  constructor(options: RecentKeysOptions) {
    this.now = options.now;
    this.ttlMs = options.ttlMs ?? 24 * 60 * 60_000;
    this.max = Math.max(1, options.max ?? 100_000);
  }

  get size(): number {
    return this.keys.size;
  }

  /** Claims `key`: true when it is new (the caller goes on), false when seen within the TTL. */
  claim(key: string): boolean {
    const at = this.now();
    this.expire(at);
    const seen = this.keys.get(key);
    if (seen !== undefined && at - seen < this.ttlMs) return false;
    this.keys.delete(key);
    this.keys.set(key, at);
    while (this.keys.size > this.max) this.keys.delete(this.keys.keys().next().value as string);
    return true;
  }

  /** Forgets a claim (the request failed after claiming: a retry must go through). */
  release(key: string): void {
    this.keys.delete(key);
  }

  private expire(at: number): void {
    for (const [key, when] of this.keys) {
      if (at - when < this.ttlMs) return;
      this.keys.delete(key);
    }
  }
}
