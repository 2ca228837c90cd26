/**
 * When a cron schedule fires, in a time zone: the previous and next slots around an instant, and
 * the slots between two instants. Used to find sweeps that should have run but did not (the bot
 * was down, or blocked). Fields are expanded by node-cron's own parser and matched the way
 * node-cron matches them (day of month AND day of week, `L`, `nL`, `n#k`), so both agree.
 */
import { parse } from 'node-cron';

const MINUTE = 60_000;
/** The most jumps a search makes (a few per day: years): a schedule like Feb 30 never fires. */
const MAX_STEPS = 20_000;

interface LocalParts {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly weekday: number;
}

const WEEKDAYS: Record<string, number> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };

export interface CronTimes {
  /** The latest slot strictly before `t`, or null. */
  previous(t: number): number | null;
  /** The earliest slot strictly after `t`, or null. */
  next(t: number): number | null;
  /** Slots strictly between `from` and `to`, oldest first, at most `limit` of them. */
  between(from: number, to: number, limit?: number): number[];
}

export function cronTimes(expression: string, timeZone: string): CronTimes {
  const fields = parse(expression);
  const seconds = [...new Set(fields.second)].sort((a, b) => a - b);
  const minutes = new Set(fields.minute);
  const hours = new Set(fields.hour);
  const months = new Set(fields.month);
  const format = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    weekday: 'short',
  });
  const local = (t: number): LocalParts => {
    const p: Record<string, string> = {};
    for (const part of format.formatToParts(t)) p[part.type] = part.value;
    return {
      year: Number(p.year),
      month: Number(p.month),
      day: Number(p.day),
      hour: Number(p.hour) % 24,
      minute: Number(p.minute),
      weekday: WEEKDAYS[p.weekday as string] ?? 0,
    };
  };
  const dayMatches = (l: LocalParts): boolean =>
    months.has(l.month) &&
    matchesDayOfMonth(fields.dayOfMonth, l.year, l.month, l.day) &&
    matchesDayOfWeek(fields.dayOfWeek, l.year, l.month, l.day, l.weekday);

  const minuteList = [...minutes].sort((a, b) => a - b);

  /**
   * Minutes to move forward from `t` (a minute start) toward the next candidate; 0 when this
   * minute fires. Jumps never pass a local midnight or hour boundary that could hold a slot, even
   * across a DST change (an hour gained or lost only moves where the jump lands within the day).
   */
  const skipForward = (t: number): number => {
    const l = local(t);
    if (!dayMatches(l)) return l.hour < 23 ? (23 - l.hour) * 60 - l.minute : 60 - l.minute; // to ~23:00, then on
    if (!hours.has(l.hour)) return 60 - l.minute; // to the next local hour
    const target = minuteList.find((m) => m >= l.minute);
    return target === undefined ? 60 - l.minute : target - l.minute;
  };
  /** The same, backward: minutes to move back; 0 when this minute fires. */
  const skipBackward = (t: number): number => {
    const l = local(t);
    if (!dayMatches(l)) return l.hour >= 1 ? (l.hour - 1) * 60 + l.minute || 1 : l.minute + 1; // to ~01:00, then back
    if (!hours.has(l.hour)) return l.minute + 1; // to the previous local hour's last minute
    const target = minuteList.findLast((m) => m <= l.minute);
    return target === undefined ? l.minute + 1 : l.minute - target;
  };

  const next = (t: number): number | null => {
    let m = Math.floor(t / MINUTE) * MINUTE;
    for (let steps = 0; steps < MAX_STEPS; steps++) {
      const skip = skipForward(m);
      if (skip === 0) {
        for (const s of seconds) if (m + s * 1000 > t) return m + s * 1000;
        m += MINUTE;
      } else {
        m += skip * MINUTE;
      }
    }
    return null;
  };

  const previous = (t: number): number | null => {
    let m = Math.floor(t / MINUTE) * MINUTE;
    for (let steps = 0; steps < MAX_STEPS; steps++) {
      const skip = skipBackward(m);
      if (skip === 0) {
        for (let i = seconds.length - 1; i >= 0; i--) {
          const at = m + (seconds[i] as number) * 1000;
          if (at < t) return at;
        }
        m -= MINUTE;
      } else {
        m -= skip * MINUTE;
      }
    }
    return null;
  };

  return {
    previous,
    next,
    between(from, to, limit = 10_000) {
      const out: number[] = [];
      for (let t = next(from); t !== null && t < to && out.length < limit; t = next(t)) out.push(t);
      return out;
    },
  };
}

export function lastDayOfMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** node-cron's day-of-month tokens (numbers, L, L-2, 15W, LW), as node-cron matches them. */
export function matchesDayOfMonth(
  field: readonly (number | string)[],
  year: number,
  month: number,
  day: number,
): boolean {
  for (const value of field) {
    if (value === day) return true;
    if (typeof value !== 'string') continue;
    const last = lastDayOfMonth(year, month);
    if (value === 'L' && day === last) return true;
    const offset = /^L-(\d+)$/.exec(value);
    if (offset && last - Number(offset[1]) === day) return true;
    const weekday = /^(L|\d+)W$/.exec(value);
    if (weekday) {
      const target = weekday[1] === 'L' ? last : Number(weekday[1]);
      if (nearestWeekday(year, month, target, last) === day) return true;
    }
  }
  return false;
}

function nearestWeekday(year: number, month: number, target: number, last: number): number {
  if (target < 1 || target > last) return -1;
  const weekday = new Date(Date.UTC(year, month - 1, target)).getUTCDay();
  if (weekday === 6) return target === 1 ? target + 2 : target - 1;
  if (weekday === 0) return target === last ? target - 2 : target + 1;
  return target;
}

/** node-cron's day-of-week tokens (0-7, 1#2, 5L), as node-cron matches them. */
export function matchesDayOfWeek(
  field: readonly (number | string)[],
  year: number,
  month: number,
  day: number,
  weekday: number,
): boolean {
  for (const value of field) {
    if (value === weekday || (value === 7 && weekday === 0)) return true;
    if (typeof value !== 'string') continue;
    const nth = /^([0-7])#([1-5])$/.exec(value);
    if (nth && Number(nth[1]) % 7 === weekday && Math.floor((day - 1) / 7) + 1 === Number(nth[2]))
      return true;
    const lastOf = /^([0-7])L$/i.exec(value);
    if (lastOf && Number(lastOf[1]) % 7 === weekday && day + 7 > lastDayOfMonth(year, month)) return true;
  }
  return false;
}

/** `2026-03-30 09:00` in the time zone: how schedules show a slot to people. */
export function formatLocalMinute(t: number, timeZone: string): string {
  return new Intl.DateTimeFormat('sv-SE', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
  }).format(t);
}
