/**
 * No floods: turns the stream of incident changes (one per stored signal) into few chat messages.
 * Per incident: ONE post when it opens, then updates of that message, at most one per
 * `updateIntervalMs` (default 10 s), always carrying the latest change (so the latest count).
 * Transitions (reopened, resolved) go out at once, folding in any update still waiting.
 * 10,000 identical alerts in a minute: 1 post and about 6 updates.
 *
 * Pure: no timers, no I/O. The caller feeds `push()` with every change, sends what it returns, and
 * calls `due()` when `nextDueAt()` comes (a timer it owns), sending what that returns.
 */
import type { Clock } from '../../process/ids.js';
import type { IncidentChange } from '../types.js';

export interface Notice {
  /** `post`: a new message for this incident; `update`: edit the incident's message. */
  readonly kind: 'post' | 'update';
  /** The latest change (its signalCount is the count to show). */
  readonly change: IncidentChange;
  /** Changes folded into this one since the last notice. */
  readonly folded: number;
}

export interface CoalesceOptions {
  readonly now: Clock;
  /** At most one update per incident per this long (default 10 s). */
  readonly updateIntervalMs?: number;
  /** Incidents remembered at most (least recently changed forgotten first; default 10,000). */
  readonly maxTracked?: number;
}

interface Entry {
  lastSentAt: number;
  pending: IncidentChange | null;
  folded: number;
}

export const DEFAULT_UPDATE_INTERVAL_MS = 10_000;

export class IncidentCoalescer {
  private readonly now: Clock;
  private readonly interval: number;
  private readonly maxTracked: number;
  /** Insertion order = least recently changed first. */
  private readonly entries = new Map<string, Entry>();

  constructor(options: CoalesceOptions) {
    this.now = options.now;
    this.interval = Math.max(0, options.updateIntervalMs ?? DEFAULT_UPDATE_INTERVAL_MS);
    this.maxTracked = Math.max(1, options.maxTracked ?? 10_000);
  }

  /** Incidents with an update waiting. */
  get waiting(): number {
    let n = 0;
    for (const e of this.entries.values()) if (e.pending !== null) n++;
    return n;
  }

  /** One change in; the notice to send now, or null when it is folded into a later update. */
  push(change: IncidentChange): Notice | null {
    const at = this.now();
    const entry = this.entries.get(change.id);
    if (entry !== undefined) {
      this.entries.delete(change.id);
      this.entries.set(change.id, entry);
    }
    if (change.change === 'opened' || entry === undefined) {
      // An incident we never saw: a new message, unless it is only an update of one posted before
      // this process started (then the caller edits the message it finds, or posts if none).
      this.track(change.id, { lastSentAt: at, pending: null, folded: 0 });
      return { kind: change.change === 'opened' ? 'post' : 'update', change, folded: 0 };
    }
    if (change.change === 'updated') {
      const pending = entry.pending;
      const latest = pending !== null && pending.signalCount > change.signalCount ? pending : change;
      if (at - entry.lastSentAt >= this.interval) {
        const folded = entry.folded;
        entry.pending = null;
        entry.folded = 0;
        entry.lastSentAt = at;
        return { kind: 'update', change: latest, folded };
      }
      entry.pending = latest;
      entry.folded += 1;
      return null;
    }
    // reopened, resolved: people need to know now.
    const folded = entry.folded;
    entry.pending = null;
    entry.folded = 0;
    entry.lastSentAt = at;
    return { kind: 'update', change, folded };
  }

  /** Updates whose interval has passed, to send now. */
  due(): Notice[] {
    const at = this.now();
    const out: Notice[] = [];
    for (const entry of this.entries.values()) {
      if (entry.pending === null || at - entry.lastSentAt < this.interval) continue;
      out.push({ kind: 'update', change: entry.pending, folded: entry.folded - 1 });
      entry.pending = null;
      entry.folded = 0;
      entry.lastSentAt = at;
    }
    return out;
  }

  /** When due() next has something (epoch ms), or null when nothing waits. */
  nextDueAt(): number | null {
    let next: number | null = null;
    for (const entry of this.entries.values()) {
      if (entry.pending === null) continue;
      const at = entry.lastSentAt + this.interval;
      if (next === null || at < next) next = at;
    }
    return next;
  }

  private track(id: string, entry: Entry): void {
    this.entries.set(id, entry);
    while (this.entries.size > this.maxTracked) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }
}
