/**
 * Week boundaries in a time zone: a week is 7 local calendar days, Monday 00:00 local to the next
 * Monday 00:00 local. Across a DST change the two instants are 167 or 169 hours apart, not 168.
 */
import { localDay } from '../actions/usage.js';
import type { Millis } from '../policy/types.js';

export interface Week {
  /** Monday 00:00 local (inclusive), epoch ms. */
  readonly from: Millis;
  /** The next Monday 00:00 local (exclusive), epoch ms. */
  readonly to: Millis;
  readonly timezone: string;
}

/** 0 = Monday ... 6 = Sunday, of the local calendar day that holds `t`. */
function weekdayIndex(t: Millis, timezone: string): number {
  const name = new Intl.DateTimeFormat('en-US', { timeZone: timezone, weekday: 'short' }).format(t);
  const order = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
  const i = order.indexOf(name);
  return Math.max(i, 0);
}

/** The week (Monday to Monday, local) that holds `t`. Throws a RangeError for an unknown time zone. */
export function weekContaining(t: Millis, timezone: string): Week {
  let start = localDay(t, timezone).startsAt;
  for (let back = weekdayIndex(t, timezone); back > 0; back--) start = localDay(start - 1, timezone).startsAt;
  let end = start;
  for (let i = 0; i < 7; i++) end = localDay(end, timezone).endsAt;
  return { from: start, to: end, timezone };
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
  return new Intl.DateTimeFormat('en-CA', {
    timeZone: timezone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  }).format(t);
}
