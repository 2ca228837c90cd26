/**
 * Time zones, local days and weeks: the one place that does calendar math in a zone, on
 * @date-fns/tz (TZDate reads and builds wall-clock dates in an IANA zone, DST included). A day is
 * a local calendar day, from its first instant (midnight, or the end of a DST gap that skips it)
 * to the next day's; a week is Monday to Monday, local, so 167 or 169 hours across a DST change.
 */
import { TZDate, tzOffset } from '@date-fns/tz';
import type { Millis } from '../policy/types.js';

export interface Span {
  /** The first instant (inclusive), epoch ms. */
  readonly startsAt: Millis;
  /** The first instant after it (exclusive), epoch ms. */
  readonly endsAt: Millis;
}

export interface Week {
  /** Monday 00:00 local (inclusive), epoch ms. */
  readonly from: Millis;
  /** The next Monday 00:00 local (exclusive), epoch ms. */
  readonly to: Millis;
  readonly timezone: string;
}

/** Throws a RangeError naming the fix unless `timezone` is a zone this runtime knows. */
export function checkTimeZone(timezone: string): void {
  if (Number.isNaN(tzOffset(timezone, new Date(0)))) {
    throw new RangeError(
      `unknown time zone ${JSON.stringify(timezone)}: use an IANA name such as UTC or Europe/Berlin (triggers.timezone)`,
    );
  }
}

/** The zone's UTC offset at `t`, in ms (Asia/Kolkata: +5:30 h). */
export function zoneOffset(t: Millis, timezone: string): number {
  return tzOffset(timezone, new Date(t)) * 60_000;
}

/** The first instant of the local calendar day `day` days after the one that holds `t`. */
function dayStart(t: Millis, timezone: string, day = 0): Millis {
  const local = new TZDate(t, timezone);
  return new TZDate(local.getFullYear(), local.getMonth(), local.getDate() + day, timezone).getTime();
}

/** Start and end (exclusive) of the local calendar day that holds `t`. */
export function localDay(t: Millis, timezone: string): Span {
  checkTimeZone(timezone);
  return { startsAt: dayStart(t, timezone), endsAt: dayStart(t, timezone, 1) };
}

/** The week (Monday to Monday, local) that holds `t`. Throws a RangeError for an unknown time zone. */
export function weekContaining(t: Millis, timezone: string): Week {
  checkTimeZone(timezone);
  // 0 = Monday ... 6 = Sunday.
  const back = (new TZDate(t, timezone).getDay() + 6) % 7;
  return { from: dayStart(t, timezone, -back), to: dayStart(t, timezone, 7 - back), timezone };
}

/** The week before `week`. */
export function previousWeek(week: Week): Week {
  return weekContaining(week.from - 1, week.timezone);
}

/** The last complete week before `now` (what a Monday-morning digest reports). */
export function lastCompleteWeek(now: Millis, timezone: string): Week {
  return previousWeek(weekContaining(now, timezone));
}

/** `2026-03-23` style local date of an instant. */
export function localDateLabel(t: Millis, timezone: string): string {
  return formatLocalMinute(t, timezone).slice(0, 10);
}

/** `2026-03-30 09:00` in the time zone: how schedules show a time to people. */
export function formatLocalMinute(t: Millis, timezone: string): string {
  return new Intl.DateTimeFormat('sv-SE', {
    timeZone: timezone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
  }).format(t);
}
