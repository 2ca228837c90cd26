/**
 * Snooze on an incident's card: holds that incident's escalations for an hour. Kept as an audit
 * record (`incident.snoozed`, with the incident and the time it ends) so it needs no column of its
 * own; the escalation path asks `snoozedUntil()` before it mentions anyone.
 */
import type { AuditLog } from '../audit/log.js';
import { CARD_HOLD_MS } from './incident-card.js';

export const SNOOZE_KIND = 'incident.snoozed';

/** Records the snooze; returns when it ends (epoch ms). */
export function snooze(
  audit: AuditLog,
  incident: { readonly id: string; readonly shortId: string },
  actor: string,
  trigger: string,
  now: number,
): number {
  const until = now + CARD_HOLD_MS;
  audit.append({
    kind: SNOOZE_KIND,
    actor,
    trigger,
    outcome: `${incident.shortId} snoozed until ${new Date(until).toISOString()}: no escalation before then`,
    data: { incident: incident.id, until },
  });
  return until;
}

/** When the incident's latest snooze ends, or null when it is not snoozed at `now`. */
export function snoozedUntil(audit: AuditLog, incidentId: string, now: number): number | null {
  let until: number | null = null;
  for (const r of audit.records({ kind: SNOOZE_KIND, since: now - CARD_HOLD_MS })) {
    const d = r.data as { incident?: unknown; until?: unknown } | null;
    if (d?.incident !== incidentId || typeof d.until !== 'number' || d.until <= now) continue;
    until = Math.max(until ?? 0, d.until);
  }
  return until;
}
