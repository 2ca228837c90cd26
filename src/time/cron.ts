/**
 * When a cron schedule fires, in a time zone: the previous and next times around an instant, and
 * the times between two instants (to find sweeps and digests that should have run but did not).
 * cron-parser computes the times; node-cron (which schedules them) reads the expression, and where
 * the two read it differently, node-cron's reading wins:
 * - day of month AND day of week: node-cron fires only on days that match both when both are
 *   restricted (cron-parser, like Vixie cron, on days that match either), and it knows `15W`,
 *   `LW` and `L-2`, which cron-parser does not. For such an expression cron-parser is given `*`
 *   for the two day fields and its times are kept on the days node-cron's matching accepts.
 */

import { TZDate } from '@date-fns/tz';
import { CronExpressionParser } from 'cron-parser';
import { parse } from 'node-cron';

/** The most candidate times one search looks at: a schedule like Feb 30 never fires. */
const MAX_STEPS = 20_000;

export interface CronTimes {
  /** The latest time strictly before `t`, or null. */
  previous(t: number): number | null;
  /** The earliest time strictly after `t`, or null. */
  next(t: number): number | null;
  /** Times strictly between `from` and `to`, oldest first, at most `limit` of them. */
  between(from: number, to: number, limit?: number): number[];
}

const ANY = new Set(['*', '?']);
/** Day-of-month tokens node-cron reads and cron-parser does not. */
const NODE_CRON_ONLY = /W|L-/i;

export function cronTimes(expression: string, timeZone: string): CronTimes {
  const fields = parse(expression);
  const parts = expression.trim().split(/\s+/);
  const dom = parts[parts.length - 3] ?? '*';
  const dow = parts[parts.length - 1] ?? '*';
  const filterDays = (!ANY.has(dom) && !ANY.has(dow)) || NODE_CRON_ONLY.test(dom);
  const given = filterDays
    ? [...parts.slice(0, -3), '*', parts[parts.length - 2], '*'].join(' ')
    : expression;
  const dayMatches = (t: number): boolean => {
    if (!filterDays) return true;
    const local = new TZDate(t, timeZone);
    const [year, month, day] = [local.getFullYear(), local.getMonth() + 1, local.getDate()];
    return (
      matchesDayOfMonth(fields.dayOfMonth, year, month, day) &&
      matchesDayOfWeek(fields.dayOfWeek, year, month, day, local.getDay())
    );
  };
  const search = (t: number, step: 'next' | 'prev'): number | null => {
    try {
      const times = CronExpressionParser.parse(given, { tz: timeZone, currentDate: new Date(t) });
      for (let i = 0; i < MAX_STEPS; i++) {
        const at = times[step]().getTime();
        if (dayMatches(at)) return at;
      }
      return null;
    } catch {
      // node-cron read the expression (above), so cron-parser refuses only a date that never
      // comes (Feb 30) or a search past its range: no such time.
      return null;
    }
  };
  const next = (t: number) => search(t, 'next');
  return {
    previous: (t) => search(t, 'prev'),
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
