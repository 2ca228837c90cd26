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
import { min } from 'drizzle-orm';
import { type ChatMessage, message } from '../chat/message.js';
import type { Database } from '../db/connection.js';
import { auditLog, incidents, runs } from '../db/schema.js';
import type { Millis, Policy } from '../policy/types.js';
import { AGENTS } from '../policy/vocabulary.js';
import {
  formatLocalMinute,
  lastCompleteWeek,
  localDateLabel,
  previousWeek,
  type Week,
  weekContaining,
} from '../time/zone.js';
import { renderChartPng, systemFontsFound } from './chart.js';
import { formatTrend, type TrendWeek, trendAlt, weeklyTrend } from './trend.js';
import { weeklyMetrics } from './weekly.js';
import { formatWeekly } from './weekly-format.js';

/** The folder of the data folder that holds digest charts. */
export const DIGEST_DIR = 'digests';
/** A chart's file name: the local date of its week's Monday (`-so-far` for a week not over yet). */
export const CHART_NAME = /^[0-9]{4}-[0-9]{2}-[0-9]{2}(-so-far)?\.png$/;

export interface DigestInput {
  readonly database: Database;
  readonly policy: Policy;
  readonly now: Millis;
  /** The data folder (folder of AUTONOMY_DB); null draws no chart. */
  readonly dataDir: string | null;
  /** Weeks in the table and chart (default 8). */
  readonly weeks?: number;
  /**
   * When no complete week has data yet (the bot's first record is from this week), report the
   * week so far instead of an empty week (`digest --preview`, `/autonomy digest`). The scheduled
   * digest leaves this off: it always reports the last complete week.
   */
  readonly weekSoFar?: boolean;
}

export interface DigestText {
  /**
   * The week the digest reports: the last complete week before `now`, in the digest's time zone;
   * with `soFar`, the week `now` is in, from its Monday to `now`.
   */
  readonly week: Week;
  /** `2026-03-23`: local date of that week's Monday (names the chart and the dedupe keys). */
  readonly weekStart: string;
  /** true: the week so far (no complete week had data yet). */
  readonly soFar: boolean;
  /** Which period it covers, in words (the text's first line). */
  readonly period: string;
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
export function chartPath(weekStart: string, soFar = false): string {
  return `${DIGEST_DIR}/${weekStart}${soFar ? '-so-far' : ''}.png`;
}

/**
 * The digest's text: no files, no chart (fast; for the terminal and tests). With `weekSoFar` and
 * no complete week with data, the week so far.
 */
export function digestText(
  database: Database,
  policy: Policy,
  now: Millis,
  weeks?: number,
  options: { readonly weekSoFar?: boolean } = {},
): DigestText {
  const tz = policy.doc.metrics.digest.timezone;
  const thisWeek = weekContaining(now, tz);
  const first = options.weekSoFar ? firstRecordAt(database) : null;
  const soFar = options.weekSoFar === true && (first === null || first >= thisWeek.from);
  // The week so far ends now (at least a millisecond after its Monday, so it is never empty).
  const week = soFar ? { ...thisWeek, to: Math.max(now, thisWeek.from + 1) } : lastCompleteWeek(now, tz);
  const b = policy.doc.budgets;
  const dailyBudgets = Object.fromEntries(AGENTS.map((a) => [a, (b.agents[a] ?? b.perAgent).dailyTokens]));
  const current = weeklyMetrics(database, { ...week, dailyBudgets });
  const previous = weeklyMetrics(database, { ...previousWeek(soFar ? thisWeek : week), dailyBudgets });
  const trend = weeklyTrend(database, {
    now,
    timezone: tz,
    ...(weeks === undefined ? {} : { weeks }),
    ...(soFar ? { throughNow: true } : {}),
  });
  const period = soFar
    ? `Covers the week so far, ${formatLocalMinute(week.from, tz)} to ${formatLocalMinute(now, tz)} (${tz}): no complete week has data yet${first === null ? '' : ` (the first record is from ${formatLocalMinute(first, tz)})`}.`
    : `Covers the last complete week, ${localDateLabel(week.from, tz)} to ${localDateLabel(week.to - 1, tz)} (${tz}), against the week before.`;
  const text = `${period}\n\n${formatWeekly(current, previous)}\n${formatTrend(trend)}\n`;
  return { week, weekStart: localDateLabel(week.from, tz), soFar, period, trend, text };
}

/** When the bot's first record is from (audit, incidents, runs), or null on an empty database. */
function firstRecordAt(database: Database): Millis | null {
  const db = database.db;
  const firsts = [
    db
      .select({ at: min(auditLog.at) })
      .from(auditLog)
      .get()?.at,
    db
      .select({ at: min(incidents.detectedAt) })
      .from(incidents)
      .get()?.at,
    db
      .select({ at: min(runs.startedAt) })
      .from(runs)
      .get()?.at,
  ].filter((t): t is number => typeof t === 'number');
  return firsts.length === 0 ? null : Math.min(...firsts);
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
  const d = digestText(input.database, input.policy, input.now, input.weeks, {
    ...(input.weekSoFar === undefined ? {} : { weekSoFar: input.weekSoFar }),
  });
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
      chartFile = join(input.dataDir, chartPath(d.weekStart, d.soFar));
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
    title: d.soFar
      ? `Autonomy digest: the week so far (since ${d.weekStart})`
      : `Weekly autonomy digest: week of ${d.weekStart}`,
    body: d.text,
    ...(chartFile === null
      ? {}
      : { image: { path: chartPath(d.weekStart, d.soFar), alt: trendAlt(d.trend) } }),
  });
  return { ...d, message: msg, chartFile, warnings };
}
