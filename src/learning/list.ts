/**
 * `/autonomy skills`: every skill with its state and a one-line impact.
 * - promoted, still in its validation window: "measuring until 2026-12-20";
 * - promoted after the window, validated or rolled back: the numbers around its promotion
 *   ("recurrence 5/wk → 1/wk, MTTR 40m → 12m", see impact.ts), or "not enough data yet";
 * - draft, proposed, stale: "—" (nothing was published to measure).
 */
import { desc } from 'drizzle-orm';
import type { Database } from '../db/connection.js';
import { skills } from '../db/schema.js';
import { durationMs } from '../policy/compile.js';
import type { Policy } from '../policy/types.js';
import { measureImpact } from './impact.js';

export interface SkillListRow {
  readonly id: string;
  readonly title: string;
  readonly state: string;
  readonly impact: string;
}

export function skillsList(database: Database, policy: Policy, now: number): SkillListRow[] {
  const windowMs = durationMs(policy.doc.learning.validationWindow);
  return database.db
    .select()
    .from(skills)
    .orderBy(desc(skills.updatedAt), skills.id)
    .all()
    .map((s) => {
      let impact = '—';
      const measured = s.state === 'promoted' || s.state === 'validated' || s.state === 'rolled_back';
      if (measured && s.promotedAt !== null) {
        const end = s.promotedAt + windowMs;
        impact =
          s.state === 'promoted' && end > now
            ? `measuring until ${new Date(end).toISOString().slice(0, 10)}`
            : measureImpact(database, s.patternKey, s.promotedAt, windowMs, s.evidence).summary;
      }
      return { id: s.id, title: s.title ?? s.id, state: s.state, impact };
    });
}
