import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { incidents } from '../../src/db/schema.js';
import { chartOption, renderChartPng, renderChartSvg, systemFontsFound } from '../../src/metrics/chart.js';
import { formatTrend, type TrendWeek, trendAlt, weeklyTrend } from '../../src/metrics/trend.js';
import { type TempDatabase, tempDatabase } from '../helpers/db.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** Monday 2026-03-30 09:00 UTC: the last complete week is 2026-03-23 to 03-29. */
const NOW = Date.UTC(2026, 2, 30, 9);

let temp: TempDatabase | null = null;
afterEach(() => {
  temp?.cleanup();
  temp = null;
});

/** Width, height, bit depth, colour type and the inflated pixel rows of a PNG. */
function readPng(png: Buffer) {
  expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  expect(png.subarray(12, 16).toString('latin1')).toBe('IHDR');
  const idat: Buffer[] = [];
  for (let at = 8; at < png.length; ) {
    const length = png.readUInt32BE(at);
    const type = png.subarray(at + 4, at + 8).toString('latin1');
    if (type === 'IDAT') idat.push(png.subarray(at + 8, at + 8 + length));
    at += 12 + length;
  }
  return {
    width: png.readUInt32BE(16),
    height: png.readUInt32BE(20),
    bitDepth: png[24],
    colourType: png[25],
    raw: inflateSync(Buffer.concat(idat)),
  };
}

function week(label: string, o: Partial<TrendWeek> = {}): TrendWeek {
  const from = Date.parse(`${label}T00:00:00Z`);
  return {
    from,
    to: from + 7 * DAY,
    label,
    incidents: 0,
    resolved: 0,
    mttdMedianMs: null,
    mttrMedianMs: null,
    autoResolvedShare: null,
    tokensPerResolved: null,
    ...o,
  };
}

const BUSY = [
  week('2026-03-16', { incidents: 4, resolved: 4, mttdMedianMs: 4 * 60_000, mttrMedianMs: 65 * 60_000 }),
  week('2026-03-23', {
    incidents: 7,
    resolved: 6,
    mttdMedianMs: 2 * 60_000,
    mttrMedianMs: 30 * 60_000,
    autoResolvedShare: 0.5,
    tokensPerResolved: 1234,
  }),
];

describe('digest chart', () => {
  it('is a real PNG of the asked size with enough drawn on it to be a chart', async () => {
    const png = await renderChartPng(BUSY, { title: 'two weeks', width: 800, height: 500 });
    const p = readPng(png);
    expect(p.width).toBe(800);
    expect(p.height).toBe(500);
    expect(p.bitDepth).toBe(8);
    // Every pixel row is there: a filter byte plus 4 (RGBA) or 3 (RGB) bytes per pixel.
    const channels = p.colourType === 6 ? 4 : 3;
    expect(p.raw.length).toBe(p.height * (1 + p.width * channels));
    // Bars, lines, axes and labels: an empty white image compresses to a few hundred bytes.
    expect(png.length).toBeGreaterThan(10_000);
  });

  it('draws the numbers it is given: more data, a different picture', async () => {
    const empty = await renderChartPng([week('2026-03-16'), week('2026-03-23')], { title: 'two weeks' });
    const busy = await renderChartPng(BUSY, { title: 'two weeks' });
    expect(readPng(empty).width).toBe(960);
    expect(busy.equals(empty)).toBe(false);
  });

  it('an empty database draws zeros and gaps: no NaN, Infinity or undefined anywhere', async () => {
    temp = tempDatabase('autonomy-chart-');
    const trend = weeklyTrend(temp.database, { now: NOW, timezone: 'UTC' });
    expect(trend).toHaveLength(8);
    expect(trend.map((w) => w.incidents)).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    const svg = await renderChartSvg(trend, { title: 'empty' });
    expect(svg).toMatch(/^<svg /);
    for (const bad of ['NaN', 'Infinity', 'undefined']) {
      expect(svg).not.toContain(bad);
      expect(JSON.stringify(chartOption(trend, 'empty'))).not.toContain(bad);
      expect(formatTrend(trend)).not.toContain(bad);
      expect(trendAlt(trend)).not.toContain(bad);
    }
    expect(readPng(await renderChartPng(trend, { title: 'empty' })).height).toBe(600);
  });

  it('the trend ends with the last complete week and counts its incidents', () => {
    temp = tempDatabase('autonomy-chart-');
    const at = Date.UTC(2026, 2, 25, 12);
    temp.database.db
      .insert(incidents)
      .values({
        id: 'i1',
        number: 1,
        fingerprint: 'f',
        title: 't',
        severity: 'warning',
        status: 'resolved',
        startedAt: at,
        detectedAt: at + 120_000,
        resolvedAt: at + 30 * 60_000,
      })
      .run();
    const trend = weeklyTrend(temp.database, { now: NOW, timezone: 'UTC', weeks: 3 });
    expect(trend.map((w) => w.label)).toEqual(['2026-03-09', '2026-03-16', '2026-03-23']);
    expect(trend.at(-1)).toMatchObject({ incidents: 1, mttdMedianMs: 120_000, mttrMedianMs: 1_800_000 });
    expect(formatTrend(trend)).toContain('2026-03-23          1    2m 00s   30m 00s');
  });

  it('alt text states the numbers and stays within 300 characters', () => {
    const alt = trendAlt(BUSY);
    expect(alt).toContain('Incidents: 4, 7.');
    expect(alt).toContain('MTTR median (min): 65, 30.');
    expect(alt.length).toBeLessThanOrEqual(300);
    const many = Array.from({ length: 8 }, (_, i) =>
      week(`2026-0${1 + Math.floor(i / 4)}-${String(5 + 7 * (i % 4)).padStart(2, '0')}`, {
        incidents: 12_345,
        mttrMedianMs: 123_456_789,
        mttdMedianMs: 123_456_789,
        autoResolvedShare: 0.333,
        tokensPerResolved: 1_234_567,
      }),
    );
    const long = trendAlt(many);
    expect(long.length).toBeLessThanOrEqual(300);
    expect(long).toContain('Incidents: 12,345, 12,345');
    expect(long).toContain('Full table in the digest text.');
  });

  it('says when no font is installed (the chart would have no labels)', () => {
    const empty = mkdtempSync(join(tmpdir(), 'autonomy-fonts-'));
    try {
      expect(systemFontsFound([empty, join(empty, 'missing')])).toBe(false);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
