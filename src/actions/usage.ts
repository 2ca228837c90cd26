/**
 * How much an action has been used, for decide()'s cooldowns and daily caps: when it last ran and
 * how many times today, "today" being the calendar day in the policy's time zone
 * (`triggers.timezone`), and when that day ends (src/time/zone.ts: the next local midnight).
 *
 * Counted: every run the runner started for the action (verdict execute), whatever its outcome
 * (a failed or interrupted attempt is still an attempt) and dry runs too, so a dry run shows what
 * the live bot would do.
 */
import { and, count, eq, gte, lt, max } from 'drizzle-orm';
import type { Database } from '../db/connection.js';
import { runs } from '../db/schema.js';
import type { ActionUsage, Millis } from '../policy/types.js';
import { localDay } from '../time/zone.js';

/** Re-exported for the composition roots that read it from here (src/main.ts, src/core.ts). */

/** Usage of one action as decide() needs it (DecisionState.usage). */
export function actionUsage(
  database: Database,
  actionId: string,
  now: Millis,
  timezone: string,
): ActionUsage {
  const { startsAt, endsAt } = localDay(now, timezone);
  const mine = and(eq(runs.actionId, actionId), eq(runs.verdict, 'execute'));
  const db = database.db;
  const last = db
    .select({ at: max(runs.startedAt) })
    .from(runs)
    .where(mine)
    .get();
  const today = db
    .select({ n: count() })
    .from(runs)
    .where(and(mine, gte(runs.startedAt, startsAt), lt(runs.startedAt, endsAt)))
    .get();
  return { lastRunAt: last?.at ?? null, countToday: today?.n ?? 0, dayEndsAt: endsAt };
}
