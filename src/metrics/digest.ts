/**
 * The weekly digest as one chat message: the last complete week against the week before (each
 * metric with its week-over-week change, top recurring signatures, budget use per agent,
 * approvals given / denied / expired), the last weeks as a table, and a chart of them as a PNG in
 * the data folder (`digests/<Monday>.png`, written atomically) that adapters attach where the
 * platform allows. The same text is what `autonomy digest --preview` prints.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type ChatMessage, message } from '../chat/message.js';
import type { Database } from '../db/connection.js';
import type { Millis, Policy } from '../policy/types.js';
import { AGENTS } from '../policy/vocabulary.js';
import { lastCompleteWeek, localDateLabel, previousWeek, type Week } from '../time/zone.js';
import { renderChartPng, systemFontsFound } from './chart.js';
import { formatTrend, type TrendWeek, trendAlt, weeklyTrend } from './trend.js';
import { weeklyMetrics } from './weekly.js';
import { formatWeekly } from './weekly-format.js';

/** The folder of the data folder that holds digest charts. */
export const DIGEST_DIR = 'digests';
/** A chart's file name: the local date of its week's Monday. */
export const CHART_NAME = /^[0-9]{4}-[0-9]{2}-[0-9]{2}\.png$/;

export interface DigestInput {
  readonly database: Database;
  readonly policy: Policy;
  readonly now: Millis;
  /** The data folder (folder of AUTONOMY_DB); null draws no chart. */
  readonly dataDir: string | null;
  /** Weeks in the table and chart (default 8). */
  readonly weeks?: number;
}

export interface DigestText {
  /** The week the digest reports: the last complete week before `now`, in the digest's time zone. */
  readonly week: Week;
  /** `2026-03-23`: local date of that week's Monday (names the chart and the dedupe keys). */
  readonly weekStart: string;
  readonly trend: readonly TrendWeek[];
  /** The whole text (terminal and message body). */
  readonly text: string;
}

export interface Digest extends DigestText {
  readonly message: ChatMessage;
  /** Absolute path of the chart written, or null (no data folder, or drawing failed). */
  readonly chartFile: string | null;
  /** Why there is no chart, or why it lacks text; empty when all is well. */
  readonly warnings: readonly string[];
}

/** `digest:<Monday>:<channel>`: one scheduled digest per week and channel, however often it ticks. */
export function digestDedupeKey(weekStart: string, channel: string): string {
  return `digest:${weekStart}:${channel}`;
}

/** The chart's path relative to the data folder (what `message.image.path` holds). */
export function chartPath(weekStart: string): string {
  return `${DIGEST_DIR}/${weekStart}.png`;
}

/** The digest's text: no files, no chart (fast; for the terminal and tests). */
export function digestText(database: Database, policy: Policy, now: Millis, weeks?: number): DigestText {
  const tz = policy.doc.metrics.digest.timezone;
  const week = lastCompleteWeek(now, tz);
  const b = policy.doc.budgets;
  const dailyBudgets = Object.fromEntries(AGENTS.map((a) => [a, (b.agents[a] ?? b.perAgent).dailyTokens]));
  const current = weeklyMetrics(database, { ...week, dailyBudgets });
  const previous = weeklyMetrics(database, { ...previousWeek(week), dailyBudgets });
  const trend = weeklyTrend(database, { now, timezone: tz, ...(weeks === undefined ? {} : { weeks }) });
  const text = `${formatWeekly(current, previous)}\n${formatTrend(trend)}\n`;
  return { week, weekStart: localDateLabel(week.from, tz), trend, text };
}

/** Writes `bytes` to `file` through a temporary file and a rename: readers never see half a PNG. */
async function writeAtomically(file: string, bytes: Buffer): Promise<void> {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, bytes, { mode: 0o600 });
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** The digest message, with its chart drawn into the data folder when there is one. */
export async function buildDigest(input: DigestInput): Promise<Digest> {
  const d = digestText(input.database, input.policy, input.now, input.weeks);
  const tz = d.week.timezone;
  const warnings: string[] = [];
  let chartFile: string | null = null;
  if (input.dataDir !== null) {
    try {
      const png = await renderChartPng(d.trend, {
        title: `autonomy: the last ${d.trend.length} weeks to ${localDateLabel(d.week.to - 1, tz)} (${tz})`,
      });
      const dir = join(input.dataDir, DIGEST_DIR);
      await mkdir(dir, { recursive: true, mode: 0o700 });
      chartFile = join(dir, `${d.weekStart}.png`);
      await writeAtomically(chartFile, png);
      if (!systemFontsFound()) {
        warnings.push(
          'the digest chart has no text labels: no font is installed (on Debian: apt-get install fonts-dejavu-core)',
        );
      }
    } catch (err) {
      chartFile = null;
      warnings.push(`the digest chart could not be drawn: ${(err as Error).message}`);
    }
  }
  const msg = message({
    kind: 'digest',
    title: `Weekly autonomy digest: week of ${d.weekStart}`,
    body: d.text,
    ...(chartFile === null ? {} : { image: { path: chartPath(d.weekStart), alt: trendAlt(d.trend) } }),
  });
  return { ...d, message: msg, chartFile, warnings };
}
