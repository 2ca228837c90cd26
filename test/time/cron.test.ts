/**
 * src/time/cron.ts: previous, next and between times of a cron schedule in a time zone, and that
 * they are the times node-cron (which schedules) fires at.
 */
import { createTask } from 'node-cron';
import { describe, expect, it } from 'vitest';
import { cronTimes } from '../../src/time/cron.js';

const BERLIN = 'Europe/Berlin';
const T0 = Date.parse('2025-01-10T09:00:00Z');
const MIN = 60_000;

describe('cron times in a time zone (cron-parser, read as node-cron reads the expression)', () => {
  it('computes daily and every-5-minute slots in Europe/Berlin, across the DST change', () => {
    const daily = cronTimes('0 9 * * *', BERLIN);
    // 09:00 in Berlin is 08:00Z in winter (CET) and 07:00Z in summer (CEST).
    expect(daily.previous(Date.parse('2025-01-10T12:00:00Z'))).toBe(Date.parse('2025-01-10T08:00:00Z'));
    expect(daily.next(Date.parse('2025-03-29T12:00:00Z'))).toBe(Date.parse('2025-03-30T07:00:00Z'));
    expect(daily.between(Date.parse('2025-03-28T00:00:00Z'), Date.parse('2025-04-01T00:00:00Z'))).toEqual([
      Date.parse('2025-03-28T08:00:00Z'),
      Date.parse('2025-03-29T08:00:00Z'),
      Date.parse('2025-03-30T07:00:00Z'),
      Date.parse('2025-03-31T07:00:00Z'),
    ]);
    // The same expression in UTC fires an hour later in winter.
    expect(cronTimes('0 9 * * *', 'UTC').previous(Date.parse('2025-01-10T12:00:00Z'))).toBe(
      Date.parse('2025-01-10T09:00:00Z'),
    );
    const light = cronTimes('*/5 * * * *', BERLIN);
    expect(light.previous(T0 + 7 * MIN)).toBe(T0 + 5 * MIN);
    expect(light.previous(T0 + 5 * MIN)).toBe(T0);
    expect(light.next(T0)).toBe(T0 + 5 * MIN);
  });

  it("agrees with node-cron's own matcher (weekdays, last day of month, an Indian half-hour zone)", () => {
    const cases: [string, string][] = [
      ['30 8 * * 1-5', BERLIN],
      ['15 */4 * * *', BERLIN],
      ['0 18 L * *', 'America/New_York'],
      ['45 9 * * 1#2', 'Asia/Kolkata'],
    ];
    for (const [expression, zone] of cases) {
      const times = cronTimes(expression, zone);
      const task = createTask(expression, () => undefined, { timezone: zone });
      try {
        const slots = times.between(Date.parse('2025-01-01T00:00:00Z'), Date.parse('2025-04-01T00:00:00Z'));
        expect(slots.length, expression).toBeGreaterThan(2);
        for (const s of slots)
          expect(task.match(new Date(s)), `${expression} ${new Date(s).toISOString()}`).toBe(true);
        // And nothing in between: the minute after each slot does not match unless it is a slot.
        for (const s of slots) {
          const nextMinute = s + MIN;
          expect(task.match(new Date(nextMinute))).toBe(slots.includes(nextMinute));
        }
      } finally {
        void task.destroy();
      }
    }
  });

  it("reads day of month AND day of week as node-cron does, and node-cron's 15W and L-2", () => {
    // Friday the 13th only (Vixie cron and cron-parser alone would fire on every Friday and every 13th).
    const friday13 = cronTimes('0 0 13 * 5', 'UTC');
    expect(friday13.between(Date.parse('2025-01-01T00:00:00Z'), Date.parse('2026-01-01T00:00:00Z'))).toEqual([
      Date.parse('2025-06-13T00:00:00Z'),
    ]);
    expect(friday13.previous(Date.parse('2025-06-01T00:00:00Z'))).toBe(Date.parse('2024-12-13T00:00:00Z'));
    // 15 March 2025 is a Saturday: the nearest weekday is Friday the 14th.
    expect(cronTimes('0 0 15W * *', 'UTC').next(Date.parse('2025-03-01T00:00:00Z'))).toBe(
      Date.parse('2025-03-14T00:00:00Z'),
    );
    expect(cronTimes('0 12 L-2 * *', 'UTC').next(Date.parse('2025-02-01T00:00:00Z'))).toBe(
      Date.parse('2025-02-26T12:00:00Z'),
    );
    for (const [expression, from] of [
      ['0 0 13 * 5', '2025-01-01T00:00:00Z'],
      ['0 0 15W * *', '2025-03-01T00:00:00Z'],
      ['0 12 L-2 * *', '2025-02-01T00:00:00Z'],
    ] as const) {
      const task = createTask(expression, () => undefined, { timezone: 'UTC' });
      try {
        const at = cronTimes(expression, 'UTC').next(Date.parse(from)) as number;
        expect(task.match(new Date(at)), expression).toBe(true);
      } finally {
        void task.destroy();
      }
    }
  });
});
