/**
 * How much an action has been used, for decide()'s cooldowns and daily caps: when it last ran and
 * how many times today, "today" being the calendar day in the policy's time zone
 * (`triggers.timezone`), and when that day ends (the next local midnight, right across DST changes).
 *
 * Counted: every run the runner started for the action (verdict execute), whatever its outcome
 * (a failed or interrupted attempt is still an attempt) and dry runs too, so a dry run shows what
 * the live bot would do.
 */
import { and, count, eq, gte, lt, max } from 'drizzle-orm';
import type { Database } from '../db/connection.js';
import { runs } from '../db/schema.js';
import type { ActionUsage, Millis } from '../policy/types.js';

const HOUR = 3_600_000;

interface LocalDate {
  readonly y: number;
  readonly m: number;
  readonly d: number;
}

/** The calendar day and wall clock of instants in one time zone. */
class Zone {
  private readonly format: Intl.DateTimeFormat;

  constructor(readonly timezone: string) {
    try {
      this.format = new Intl.DateTimeFormat('en-US', {
        timeZone: timezone,
        hourCycle: 'h23',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
      });
    } catch (cause) {
      throw new RangeError(
        `unknown time zone ${JSON.stringify(timezone)}: use an IANA name such as UTC or Europe/Berlin (triggers.timezone)`,
        { cause },
      );
    }
  }

  /** The local wall clock at `t`, written as if it were UTC (epoch ms). */
  private wall(t: Millis): number {
    const f: Record<string, number> = {};
    for (const part of this.format.formatToParts(t)) {
      if (part.type !== 'literal') f[part.type] = Number(part.value);
    }
    const ms = ((t % 1000) + 1000) % 1000;
    return Date.UTC(
      f.year ?? 0,
      (f.month ?? 1) - 1,
      f.day ?? 1,
      f.hour ?? 0,
      f.minute ?? 0,
      f.second ?? 0,
      ms,
    );
  }

  dateOf(t: Millis): LocalDate {
    const w = new Date(this.wall(t));
    return { y: w.getUTCFullYear(), m: w.getUTCMonth() + 1, d: w.getUTCDate() };
  }

  private key(t: Millis): number {
    const { y, m, d } = this.dateOf(t);
    return y * 10_000 + m * 100 + d;
  }

  /** The first instant of a local calendar day (its midnight, or the end of a DST gap that skips it). */
  startOf(date: LocalDate): Millis {
    const target = date.y * 10_000 + date.m * 100 + date.d;
    const isStart = (t: Millis): boolean => this.key(t) >= target && this.key(t - 1) < target;
    const base = Date.UTC(date.y, date.m - 1, date.d);
    // Usually exact after one or two offset corrections.
    const first = base - (this.wall(base) - base);
    if (isStart(first)) return first;
    const second = base - (this.wall(first) - first);
    if (isStart(second)) return second;
    // Midnight skipped or repeated by a DST change: search (offsets are within +-14 h).
    let lo = base - 15 * HOUR;
    let hi = base + 15 * HOUR;
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (this.key(mid) >= target) hi = mid;
      else lo = mid;
    }
    return hi;
  }
}

/** Start and end (exclusive) of the local calendar day that holds `now`. */
export function localDay(now: Millis, timezone: string): { startsAt: Millis; endsAt: Millis } {
  const zone = new Zone(timezone);
  const today = zone.dateOf(now);
  const next = new Date(Date.UTC(today.y, today.m - 1, today.d + 1));
  return {
    startsAt: zone.startOf(today),
    endsAt: zone.startOf({ y: next.getUTCFullYear(), m: next.getUTCMonth() + 1, d: next.getUTCDate() }),
  };
}

/** Usage of one action as decide() needs it (DecisionState.usage). */
export function actionUsage(
  database: Database,
  actionId: string,
  now: Millis,
  timezone: string,
): ActionUsage {
  const { startsAt, endsAt } = localDay(now, timezone);
  const mine = and(eq(runs.actionId, actionId), eq(runs.verdict, 'execute'));
  const db = database.db;
  const last = db
    .select({ at: max(runs.startedAt) })
    .from(runs)
    .where(mine)
    .get();
  const today = db
    .select({ n: count() })
    .from(runs)
    .where(and(mine, gte(runs.startedAt, startsAt), lt(runs.startedAt, endsAt)))
    .get();
  return { lastRunAt: last?.at ?? null, countToday: today?.n ?? 0, dayEndsAt: endsAt };
}
