/**
 * Repeated-error detection: a signature seen `threshold` times or more within a sliding window of
 * `windowMs` becomes a repeated-error signal, at most once per `cooldownMs` per signature, carrying
 * the count in the window. The clock is the caller's (`at` on every observation).
 *
 * Memory is bounded: at most `maxSignatures` signatures are tracked (the least recently seen is
 * dropped first), each with at most `maxPerSignature` timestamps (the count saturates there).
 */
export interface RepeatTrackerOptions {
  /** Occurrences within the window that make a repeat (>= 1). */
  readonly threshold: number;
  readonly windowMs: number;
  /** After a repeat fires, the same signature stays quiet this long. */
  readonly cooldownMs: number;
  /** Signatures tracked at most. Default 10,000. */
  readonly maxSignatures?: number;
  /** Timestamps kept per signature (>= threshold). Default max(threshold, 4,096). */
  readonly maxPerSignature?: number;
}

export interface RepeatAlert {
  readonly signature: string;
  /** Occurrences within the window, this one included. */
  readonly count: number;
  /** The oldest occurrence still in the window. */
  readonly firstAt: number;
  readonly lastAt: number;
}

interface Track {
  /** Ring buffer of timestamps, oldest at `head`. */
  times: Float64Array;
  head: number;
  size: number;
  /** When this signature last fired, or -Infinity. */
  firedAt: number;
  last: number;
}

export class RepeatTracker {
  private readonly threshold: number;
  private readonly windowMs: number;
  private readonly cooldownMs: number;
  private readonly maxSignatures: number;
  private readonly maxPerSignature: number;
  /** Least recently observed first. */
  private readonly tracks = new Map<string, Track>();

  constructor(options: RepeatTrackerOptions) {
    const { threshold, windowMs, cooldownMs } = options;
    if (!Number.isInteger(threshold) || threshold < 1) {
      throw new RangeError(`RepeatTracker: threshold must be an integer >= 1, got ${threshold}`);
    }
    if (!(windowMs > 0)) throw new RangeError(`RepeatTracker: windowMs must be > 0, got ${windowMs}`);
    if (!(cooldownMs >= 0)) throw new RangeError(`RepeatTracker: cooldownMs must be >= 0, got ${cooldownMs}`);
    this.threshold = threshold;
    this.windowMs = windowMs;
    this.cooldownMs = cooldownMs;
    this.maxSignatures = Math.max(1, options.maxSignatures ?? 10_000);
    this.maxPerSignature = Math.max(threshold, options.maxPerSignature ?? Math.max(threshold, 4096));
  }

  /** Signatures tracked now. */
  get size(): number {
    return this.tracks.size;
  }

  /**
   * Record one occurrence of `signature` at `at` (ms). Returns the repeat when this occurrence makes
   * the window reach the threshold and the signature is not cooling down; otherwise null.
   * Timestamps that go backwards are taken as the latest one seen for that signature.
   */
  observe(signature: string, at: number): RepeatAlert | null {
    let track = this.tracks.get(signature);
    if (track === undefined) {
      track = {
        times: new Float64Array(Math.min(8, this.maxPerSignature)),
        head: 0,
        size: 0,
        firedAt: -Infinity,
        last: at,
      };
      this.tracks.set(signature, track);
      if (this.tracks.size > this.maxSignatures) {
        const oldest = this.tracks.keys().next().value as string;
        this.tracks.delete(oldest);
      }
    } else {
      this.tracks.delete(signature);
      this.tracks.set(signature, track);
    }
    const now = Math.max(at, track.last);
    track.last = now;
    // Drop what left the window, then add this occurrence.
    const from = now - this.windowMs;
    while (track.size > 0 && (track.times[track.head] as number) <= from) {
      track.head = (track.head + 1) % track.times.length;
      track.size--;
    }
    push(track, now, this.maxPerSignature);
    if (track.size < this.threshold) return null;
    if (now - track.firedAt < this.cooldownMs) return null;
    track.firedAt = now;
    return { signature, count: track.size, firstAt: track.times[track.head] as number, lastAt: now };
  }
}

function push(track: Track, at: number, cap: number): void {
  if (track.size === track.times.length) {
    if (track.times.length < cap) {
      const bigger = new Float64Array(Math.min(cap, track.times.length * 2));
      for (let i = 0; i < track.size; i++)
        bigger[i] = track.times[(track.head + i) % track.times.length] as number;
      track.times = bigger;
      track.head = 0;
    } else {
      // Full: the oldest timestamp gives way (the count saturates at the cap).
      track.head = (track.head + 1) % track.times.length;
      track.size--;
    }
  }
  track.times[(track.head + track.size) % track.times.length] = at;
  track.size++;
}
