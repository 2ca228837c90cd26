/**
 * src/time/zone.ts: local days and weeks in a time zone, across DST changes and a skipped midnight.
 */
import { describe, expect, it } from 'vitest';
import {
  formatLocalMinute,
  lastCompleteWeek,
  localDateLabel,
  localDay,
  weekContaining,
  zoneOffset,
} from '../../src/time/zone.js';

const HOUR = 3_600_000;

describe('local days', () => {
  it('spring change (23 h), autumn change (25 h), and a zone that skips midnight', () => {
    expect(localDay(Date.parse('2025-03-30T10:00:00Z'), 'Europe/Berlin')).toEqual({
      startsAt: Date.parse('2025-03-29T23:00:00Z'),
      endsAt: Date.parse('2025-03-30T22:00:00Z'),
    });
    expect(localDay(Date.parse('2025-10-26T12:00:00Z'), 'Europe/Berlin')).toEqual({
      startsAt: Date.parse('2025-10-25T22:00:00Z'),
      endsAt: Date.parse('2025-10-26T23:00:00Z'),
    });
    expect(localDay(Date.parse('2025-10-26T22:59:59.999Z'), 'Europe/Berlin').endsAt).toBe(
      Date.parse('2025-10-26T23:00:00Z'),
    );
    expect(localDay(Date.parse('2025-10-26T23:00:00Z'), 'Europe/Berlin').startsAt).toBe(
      Date.parse('2025-10-26T23:00:00Z'),
    );
    // America/Santiago skips midnight on 2024-09-08 (00:00 -> 01:00): the day starts at 01:00 local.
    expect(localDay(Date.parse('2024-09-08T12:00:00Z'), 'America/Santiago').startsAt).toBe(
      Date.parse('2024-09-08T04:00:00Z'),
    );
    expect(localDay(Date.parse('2025-06-02T10:00:00Z'), 'UTC')).toEqual({
      startsAt: Date.parse('2025-06-02T00:00:00Z'),
      endsAt: Date.parse('2025-06-03T00:00:00Z'),
    });
  });

  it('refuses an unknown zone with the setting to fix', () => {
    expect(() => localDay(0, 'Mars/Olympus')).toThrow(/unknown time zone "Mars\/Olympus": use an IANA name/);
  });
});

describe('local weeks', () => {
  it('Europe/Berlin, late March: Monday to Monday local is 167 hours', () => {
    const w = weekContaining(Date.UTC(2026, 2, 25, 12), 'Europe/Berlin');
    expect(w.from).toBe(Date.UTC(2026, 2, 22, 23)); // Mon 23 Mar 00:00 CET
    expect(w.to).toBe(Date.UTC(2026, 2, 29, 22)); // Mon 30 Mar 00:00 CEST
    expect((w.to - w.from) / HOUR).toBe(167);
    expect(weekContaining(w.from, 'Europe/Berlin')).toEqual(w);
    expect(weekContaining(w.to - 1, 'Europe/Berlin')).toEqual(w);
    expect(lastCompleteWeek(w.to + HOUR, 'Europe/Berlin')).toEqual(w);
  });

  it('a Sunday is the last day of its week, and a UTC Sunday can be a local Monday', () => {
    // Sunday 2026-03-29 23:30Z is Monday 01:30 in Berlin (CEST).
    const w = weekContaining(Date.UTC(2026, 2, 29, 23, 30), 'Europe/Berlin');
    expect(w.from).toBe(Date.UTC(2026, 2, 29, 22));
    expect(weekContaining(Date.UTC(2026, 2, 29, 12), 'UTC').from).toBe(Date.UTC(2026, 2, 23));
  });
});

describe('showing times and offsets', () => {
  it('local dates and minutes, and the offset of a half-hour zone', () => {
    expect(formatLocalMinute(Date.UTC(2026, 2, 30, 7), 'Europe/Berlin')).toBe('2026-03-30 09:00');
    expect(localDateLabel(Date.UTC(2026, 2, 29, 23), 'Europe/Berlin')).toBe('2026-03-30');
    expect(zoneOffset(Date.UTC(2025, 0, 1), 'Asia/Kolkata')).toBe(5.5 * HOUR);
    expect(zoneOffset(Date.UTC(2025, 6, 1), 'Europe/Berlin')).toBe(2 * HOUR);
  });
});
