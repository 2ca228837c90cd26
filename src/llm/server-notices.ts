/**
 * When a model server the policy uses goes down and comes back, people hear it once each way, and a
 * server that flaps never floods the channel. The router feeds every probe answer (and every call a
 * server answered) into `observe()`; `notify` is called only for a change worth saying:
 *
 * - down is believed after `confirmDown` failed probes in a row (2: about a minute at the 30 s probe
 *   interval), so one slow or lost probe says nothing; up is believed at the first answer.
 * - a notice is said only when the believed state differs from the last one said (start: "up",
 *   silently), so notices alternate down, back, down, ... and never repeat.
 * - after a notice, the next one for that server waits at least a gap: 10 minutes, doubled for
 *   every notice about a change that came less than an hour after the change before (20, 40, then
 *   60 minutes at most), and back to 10 once a server has held its state for an hour. What is said at the end of a gap is the
 *   state then: a server that went down and came back within the gap is not reported at all.
 *
 * Why 10 minutes: a restart of the model server or a model load takes seconds to a minute, a crash
 * loop flips every minute or two. Ten minutes is long enough that a restart during the gap says
 * nothing and a crash loop says at most three things in its first hour and one an hour after, and
 * short enough that "it is back" reaches people while they still care.
 */

/** A model server as a notice names it. */
export interface ServerInfo {
  /** The server as people may read it (origin only, no credentials). */
  readonly server: string;
  readonly models: readonly string[];
  /** Whether it serves the policy's local model (the agents work on rules alone without it). */
  readonly local: boolean;
}

export interface ServerChange extends ServerInfo {
  /** true: it answers again; false: it is unreachable. */
  readonly up: boolean;
  /** What the last probe said: the version, or why it could not be reached. */
  readonly detail: string;
  /** When the change was noticed (epoch ms). */
  readonly at: number;
  /** For a "back" notice: when its "unreachable" notice was said; else null. */
  readonly downSince: number | null;
}

export interface ServerNoticeOptions {
  readonly now: () => number;
  readonly notify: (change: ServerChange) => void;
  /** Failed probes in a row before the server counts as down (default 2). */
  readonly confirmDown?: number;
  /** The first gap between two notices about one server (default 10 min). */
  readonly minGapMs?: number;
  /** The longest gap, and how long a server must hold its state for the gap to start over (default 1 h). */
  readonly maxGapMs?: number;
}

interface HostNotices {
  said: 'up' | 'down';
  failures: number;
  believed: 'up' | 'down';
  /** When `believed` last changed, and how long it had held before that change. */
  changedAt: number;
  heldBefore: number;
  lastNoticeAt: number | null;
  gapMs: number;
  downSince: number | null;
}

export const NOTICE_MIN_GAP_MS = 10 * 60_000;
export const NOTICE_MAX_GAP_MS = 60 * 60_000;

export class ServerNotices {
  readonly #hosts = new Map<string, HostNotices>();
  readonly #confirm: number;
  readonly #minGap: number;
  readonly #maxGap: number;

  constructor(private readonly o: ServerNoticeOptions) {
    this.#confirm = Math.max(1, o.confirmDown ?? 2);
    this.#minGap = o.minGapMs ?? NOTICE_MIN_GAP_MS;
    this.#maxGap = Math.max(this.#minGap, o.maxGapMs ?? NOTICE_MAX_GAP_MS);
  }

  /**
   * One answer about `host` (a probe, or a call it answered). `describe` says what the server is
   * for the notice, read only when one is due; undefined: the policy no longer uses it (say nothing).
   */
  observe(host: string, ok: boolean, detail: string, describe: () => ServerInfo | undefined): void {
    const now = this.o.now();
    let s = this.#hosts.get(host);
    if (s === undefined) {
      s = {
        said: 'up',
        failures: 0,
        believed: 'up',
        changedAt: now,
        heldBefore: 0,
        lastNoticeAt: null,
        gapMs: this.#minGap,
        downSince: null,
      };
      this.#hosts.set(host, s);
    }
    s.failures = ok ? 0 : s.failures + 1;
    const believed = ok ? 'up' : s.failures >= this.#confirm ? 'down' : s.believed;
    if (believed !== s.believed) {
      s.heldBefore = now - s.changedAt;
      s.changedAt = now;
      s.believed = believed;
    }
    if (s.believed === s.said) return;
    if (s.lastNoticeAt !== null && now - s.lastNoticeAt < s.gapMs) return; // said at the gap's end
    const server = describe();
    if (server === undefined) return;
    // Flapping (the state held less than the longest gap before this change) doubles the gap;
    // a state that held that long starts it over.
    s.gapMs =
      s.lastNoticeAt !== null && s.heldBefore < this.#maxGap
        ? Math.min(s.gapMs * 2, this.#maxGap)
        : this.#minGap;
    s.lastNoticeAt = now;
    s.said = s.believed;
    const up = s.said === 'up';
    const downSince = up ? s.downSince : null;
    s.downSince = up ? null : now;
    this.o.notify({ ...server, up, detail, at: now, downSince });
  }

  /** Forgets servers the policy no longer uses (nothing is said about them). */
  keepOnly(hosts: ReadonlySet<string>): void {
    for (const host of this.#hosts.keys()) if (!hosts.has(host)) this.#hosts.delete(host);
  }
}
