/**
 * Maintenance windows from the policy (`control.maintenanceWindows`): is a post about this service
 * held back right now? Pure: the policy, the question and the time in; an answer out.
 *
 * A window starts whenever its cron expression (node-cron syntax and semantics, read with node-cron's
 * own parser) matches the wall clock in the window's time zone, and lasts `duration` of elapsed time.
 * node-cron has no "previous run", so we look back minute by minute over at most `duration`
 * (bounded: the policy check caps a window at 7 days, about 10k cheap steps).
 *
 * Daylight saving time, in the window's zone (much as cronie and Vixie cron treat fixed-time jobs):
 * - a start time skipped when the clocks go forward (02:30 on the March change in Europe/Berlin)
 *   starts the window at the first minute after the change (03:00 summer time);
 * - a start time that happens twice when the clocks go back (02:30 on the October change) starts
 *   the window once, the first time; so does every wall-clock minute of the repeated hour, also
 *   for an hourly cron (a window is about the clock on the wall, not the hours elapsed).
 * Time zone offsets are found to the quarter hour (every zone's changes since 1970 fall on one).
 */
import { parse as parseCron } from 'node-cron';
import { durationMs, scopeMatcher } from '../policy/compile.js';
import type { PolicyDoc } from '../policy/schema.js';
import type { Policy } from '../policy/types.js';
import type { Severity } from '../policy/vocabulary.js';
import { matchesDayOfMonth, matchesDayOfWeek } from '../time/cron.js';
import { checkTimeZone, zoneOffset } from '../time/zone.js';

export type MaintenanceWindowDoc = PolicyDoc['control']['maintenanceWindows'][number];

/** A window in force: which one, and when it started and ends (epoch ms). */
export interface ActiveWindow {
  readonly name: string;
  readonly startedAt: number;
  readonly endsAt: number;
}

export interface MaintenanceQuery {
  /** The service (system) the post is about; null or absent: it is about no one service. */
  readonly service?: string | null;
  readonly severity: Severity;
}

const MINUTE = 60_000;
const QUARTER_HOUR = 15 * MINUTE;
const DAY = 24 * 60 * MINUTE;
/** Long enough to see back past any clock change (they move the clock by at most 2 hours). */
const FOLD_LOOKBACK = 6 * 60 * MINUTE;

type Fields = ReturnType<typeof parseCron>;

/** One window, parsed once: cron fields, duration, zone, and a service matcher. */
export class CompiledWindow {
  readonly name: string;
  readonly durationMs: number;
  readonly timezone: string;
  readonly holdCritical: boolean;
  private readonly fields: Fields;
  private readonly seconds: readonly number[];
  private readonly minuteSet = new Uint8Array(60);
  private readonly hourSet = new Uint8Array(24);
  private readonly covers: (service: string | null) => boolean;

  constructor(doc: MaintenanceWindowDoc, defaultTimezone: string) {
    this.name = doc.name;
    this.durationMs = durationMs(doc.duration);
    this.timezone = doc.timezone ?? defaultTimezone;
    checkTimeZone(this.timezone);
    this.holdCritical = doc.holdCritical;
    this.fields = parseCron(doc.cron);
    this.seconds = [...this.fields.second].sort((a, b) => a - b);
    for (const m of this.fields.minute) this.minuteSet[m] = 1;
    for (const h of this.fields.hour) this.hourSet[h] = 1;
    if (doc.services.length === 0) {
      this.covers = () => true;
    } else {
      const matcher = scopeMatcher(doc.services, []);
      this.covers = (service) => service !== null && matcher.check(service) === null;
    }
  }

  /** Does this window hold back a post about `service` with this severity (ignoring time)? */
  applies(query: MaintenanceQuery): boolean {
    if (query.severity === 'critical' && !this.holdCritical) return false;
    return this.covers(query.service ?? null);
  }

  /** The run of this window in force at `now`, or null. */
  activeAt(now: number): ActiveWindow | null {
    const latest = Math.floor(now / MINUTE) * MINUTE;
    // A start at minute t + s seconds covers [start, start + duration).
    const earliest = now - this.durationMs - MINUTE;
    const offsets = new ZoneOffsets(this.timezone, earliest - FOLD_LOOKBACK - MINUTE, latest);
    for (let t = latest; t > earliest; t -= MINUTE) {
      if (!this.startsAt(t, offsets)) continue;
      // The latest start that covers now wins (its end is the latest too).
      for (let i = this.seconds.length - 1; i >= 0; i--) {
        const start = t + (this.seconds[i] as number) * 1000;
        if (start <= now && now < start + this.durationMs) {
          return { name: this.name, startedAt: start, endsAt: start + this.durationMs };
        }
      }
    }
    return null;
  }

  /**
   * Does a run start in the minute beginning at instant `t`? The wall-clock minutes that begin at
   * `t` are those after the wall clock of the minute before, up to the wall clock of `t`: normally
   * one, after a forward change every skipped minute too, after a backward change none until the
   * clock is past what it showed before; a minute shown a second time does not count again.
   */
  private startsAt(t: number, offsets: ZoneOffsets): boolean {
    const wall = t + offsets.at(t);
    const before = t - MINUTE + offsets.at(t - MINUTE);
    if (wall <= before) return false;
    if (wall - before === MINUTE) return this.matchesWall(wall) && !this.shownBefore(t, wall, offsets);
    for (let m = before + MINUTE; m <= wall; m += MINUTE) {
      if (this.matchesWall(m)) return true;
    }
    return false;
  }

  /** Was the wall-clock minute `wall` (shown at instant `t`) already shown before `t`? */
  private shownBefore(t: number, wall: number, offsets: ZoneOffsets): boolean {
    const now = offsets.at(t);
    const earlier = offsets.at(t - FOLD_LOOKBACK);
    if (earlier <= now) return false;
    const first = wall - earlier;
    return first < t && offsets.at(first) === earlier;
  }

  /** node-cron's matching of a wall-clock minute (as UTC fields): every field must match. */
  private matchesWall(wall: number): boolean {
    // Minute and hour by arithmetic first: most minutes fail here, without building a Date.
    const minutes = Math.floor(wall / MINUTE);
    if (this.minuteSet[minutes % 60] !== 1 || this.hourSet[Math.floor(minutes / 60) % 24] !== 1) return false;
    const d = new Date(wall);
    const f = this.fields;
    const year = d.getUTCFullYear();
    const month = d.getUTCMonth() + 1;
    const day = d.getUTCDate();
    return (
      f.minute.includes(d.getUTCMinutes()) &&
      f.hour.includes(d.getUTCHours()) &&
      f.month.includes(month) &&
      matchesDayOfMonth(f.dayOfMonth, year, month, day) &&
      matchesDayOfWeek(f.dayOfWeek, year, month, day, d.getUTCDay())
    );
  }
}

/** Every window of a policy, parsed once (keep it with the policy version and reuse it). */
export class MaintenanceCalendar {
  readonly windows: readonly CompiledWindow[];

  constructor(policy: Policy) {
    const zone = policy.doc.triggers.timezone;
    this.windows = policy.doc.control.maintenanceWindows.map((w) => new CompiledWindow(w, zone));
  }

  /**
   * The window that holds back a post about `service` with `severity` at `now`, or null. When
   * several do, the one that ends last.
   */
  active(query: MaintenanceQuery, now: number): ActiveWindow | null {
    let found: ActiveWindow | null = null;
    for (const w of this.windows) {
      if (!w.applies(query)) continue;
      const run = w.activeAt(now);
      if (run !== null && (found === null || run.endsAt > found.endsAt)) found = run;
    }
    return found;
  }
}

/** One-off form of MaintenanceCalendar.active(): parses the policy's windows on every call. */
export function inMaintenance(policy: Policy, query: MaintenanceQuery, now: number): ActiveWindow | null {
  if (policy.doc.control.maintenanceWindows.length === 0) return null;
  return new MaintenanceCalendar(policy).active(query, now);
}

/**
 * A zone's UTC offsets over a span of time, as a few constant pieces: sampled once a day, and
 * where two samples differ, the change found by bisection to the quarter hour. (Zones change
 * offset at most twice a year, always on a quarter hour; never twice within a day.)
 */
class ZoneOffsets {
  private readonly starts: number[] = [];
  private readonly values: number[] = [];

  constructor(timezone: string, from: number, to: number) {
    let t = Math.floor(from / QUARTER_HOUR) * QUARTER_HOUR;
    let offset = zoneOffset(t, timezone);
    this.starts.push(t);
    this.values.push(offset);
    while (t < to) {
      const next = Math.min(t + DAY, Math.ceil(to / QUARTER_HOUR) * QUARTER_HOUR);
      const after = zoneOffset(next, timezone);
      if (after !== offset) {
        let lo = t;
        let hi = next;
        while (hi - lo > QUARTER_HOUR) {
          const mid = lo + Math.floor((hi - lo) / 2 / QUARTER_HOUR) * QUARTER_HOUR;
          if (zoneOffset(mid, timezone) === offset) lo = mid;
          else hi = mid;
        }
        this.starts.push(hi);
        this.values.push(after);
      }
      t = next;
      offset = after;
    }
  }

  at(t: number): number {
    for (let i = this.starts.length - 1; i > 0; i--) {
      if ((this.starts[i] as number) <= t) return this.values[i] as number;
    }
    return this.values[0] as number;
  }
}
