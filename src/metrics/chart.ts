/**
 * The digest's chart: the last weeks of the key metrics (trend.ts) drawn by ECharts' server-side
 * SVG renderer and turned into a PNG by resvg. No canvas, no Cairo, no browser: both are plain
 * npm packages (resvg ships a prebuilt binary inside its package). Four small panels on one
 * image: incidents, MTTD/MTTR medians, the low-risk auto-resolved share, tokens per resolved
 * incident. Weeks without data draw as zero (counts) or as a gap (medians, shares), never NaN.
 *
 * Text needs a font: resvg reads the system's fonts (Debian: fonts-dejavu-core, which chromium and
 * fontconfig pull in). Without any, the lines and bars are drawn and the labels are missing;
 * `systemFontsFound()` says which, and the digest's alt text and table carry the numbers anyway.
 */
import { existsSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { type TrendWeek, toMinutes } from './trend.js';

export interface ChartOptions {
  /** Pixels (default 960 x 600). */
  readonly width?: number;
  readonly height?: number;
  /** The line above the panels. */
  readonly title: string;
}

/** Where resvg (fontdb) looks for system fonts on Linux. */
const FONT_DIRS = ['/usr/share/fonts', '/usr/local/share/fonts', join(homedir(), '.fonts')];
const FONT_FILE = /\.(ttf|otf|ttc)$/i;
const SANS = 'DejaVu Sans';

/** true when a TrueType/OpenType font is installed where resvg looks (else the chart has no text). */
export function systemFontsFound(dirs: readonly string[] = FONT_DIRS): boolean {
  const seen = (dir: string, depth: number): boolean => {
    if (depth > 4 || !existsSync(dir)) return false;
    try {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        if (entry.isFile() && FONT_FILE.test(entry.name)) return true;
        if (entry.isDirectory() && seen(join(dir, entry.name), depth + 1)) return true;
      }
    } catch {
      return false;
    }
    return false;
  };
  return dirs.some((d) => seen(d, 0));
}

/** Two rows of two panels; `top` is where each panel's plot starts (its title sits above it). */
const PANELS = [
  { title: 'Incidents per week', left: 7, top: 14 },
  { title: 'MTTD / MTTR median (minutes)', left: 57, top: 14 },
  { title: 'Low-risk actions auto-resolved (%)', left: 7, top: 60 },
  { title: 'Model tokens per resolved incident', left: 57, top: 60 },
] as const;

/** The ECharts option for the trend (pure data; exported for tests). */
export function chartOption(weeks: readonly TrendWeek[], title: string): Record<string, unknown> {
  const labels = weeks.map((w) => w.label.slice(5));
  const grid = PANELS.map((p) => ({ left: `${p.left}%`, top: `${p.top}%`, width: '37%', height: '26%' }));
  const axisLabel = { fontSize: 11, color: '#444' };
  const xAxis = PANELS.map((_, i) => ({ type: 'category', gridIndex: i, data: labels, axisLabel }));
  const yAxis = PANELS.map((_, i) => ({
    type: 'value',
    gridIndex: i,
    minInterval: i === 1 ? undefined : 1,
    max: i === 2 ? 100 : undefined,
    min: 0,
    axisLabel,
  }));
  const bar = (i: number, name: string, data: (number | null)[], color: string) => ({
    type: 'bar',
    name,
    xAxisIndex: i,
    yAxisIndex: i,
    data,
    itemStyle: { color },
    barMaxWidth: 28,
  });
  const line = (i: number, name: string, data: (number | null)[], color: string) => ({
    type: 'line',
    name,
    xAxisIndex: i,
    yAxisIndex: i,
    data,
    connectNulls: false,
    symbolSize: 6,
    lineStyle: { color, width: 2 },
    itemStyle: { color },
  });
  return {
    animation: false,
    backgroundColor: '#ffffff',
    textStyle: { fontFamily: SANS },
    title: [
      { text: title, left: 'center', top: 8, textStyle: { fontSize: 16, color: '#222' } },
      ...PANELS.map((p) => ({
        text: p.title,
        left: `${p.left - 1}%`,
        top: `${p.top - 6}%`,
        textStyle: { fontSize: 13, color: '#333' },
      })),
      {
        text: 'Weeks start on Monday (local date). A missing point or bar: nothing to measure that week (n/a).',
        left: 'center',
        bottom: 6,
        textStyle: { fontSize: 11, fontWeight: 'normal', color: '#666' },
      },
    ],
    // Under the MTTD / MTTR panel, clear of the titles.
    legend: {
      data: ['MTTD median', 'MTTR median'],
      left: `${PANELS[1].left}%`,
      top: '47%',
      textStyle: { fontSize: 11 },
    },
    grid,
    xAxis,
    yAxis,
    series: [
      bar(
        0,
        'Incidents',
        weeks.map((w) => w.incidents),
        '#5470c6',
      ),
      line(
        1,
        'MTTD median',
        weeks.map((w) => toMinutes(w.mttdMedianMs)),
        '#fac858',
      ),
      line(
        1,
        'MTTR median',
        weeks.map((w) => toMinutes(w.mttrMedianMs)),
        '#ee6666',
      ),
      bar(
        2,
        'Auto-resolved',
        weeks.map((w) => (w.autoResolvedShare === null ? null : Math.round(w.autoResolvedShare * 100))),
        '#91cc75',
      ),
      bar(
        3,
        'Tokens per resolved',
        weeks.map((w) => (w.tokensPerResolved === null ? 0 : Math.round(w.tokensPerResolved))),
        '#73c0de',
      ),
    ],
  };
}

/** The chart as an SVG document (ECharts SSR; the chart is always disposed). */
export async function renderChartSvg(weeks: readonly TrendWeek[], options: ChartOptions): Promise<string> {
  // Loaded on first use: the CLI and the bot pay for ECharts only when a digest is drawn.
  const echarts = await import('echarts/core');
  const [{ BarChart, LineChart }, components, { SVGRenderer }] = await Promise.all([
    import('echarts/charts'),
    import('echarts/components'),
    import('echarts/renderers'),
  ]);
  echarts.use([
    BarChart,
    LineChart,
    components.GridComponent,
    components.TitleComponent,
    components.LegendComponent,
    SVGRenderer,
  ]);
  const chart = echarts.init(null, null, {
    renderer: 'svg',
    ssr: true,
    width: options.width ?? 960,
    height: options.height ?? 600,
  });
  try {
    chart.setOption(chartOption(weeks, options.title));
    return chart.renderToSVGString();
  } finally {
    chart.dispose();
  }
}

/** The chart as PNG bytes (resvg on a worker thread, so the event loop keeps going). */
export async function renderChartPng(weeks: readonly TrendWeek[], options: ChartOptions): Promise<Buffer> {
  const svg = await renderChartSvg(weeks, options);
  const { renderAsync } = await import('@resvg/resvg-js');
  const image = await renderAsync(svg, {
    background: '#ffffff',
    font: { loadSystemFonts: true, defaultFontFamily: SANS, sansSerifFamily: SANS },
    logLevel: 'off',
  });
  return image.asPng();
}
