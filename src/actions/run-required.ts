/**
 * The policy's `evidence.required`: the run metadata every run record must carry. The runner asks
 * `missingRunFields()` before anything starts; a run whose record would lack a required field is
 * refused (never started) and audited as `run.refused`.
 *
 * What each field is in an action run's record, and when it can be missing:
 * - trigger: the trigger's source (`webhook`, `cron`, `approval`, ...): missing when blank.
 * - model: the model that chose the action, or `rules`: missing only when a model is named with a
 *   blank name or provider (rules is a value: "no model chose this").
 * - actionClass, tier: from the catalog and decide(): always there for a catalog action.
 * - outcome: written by the runner when the run ends, whatever happens (killed, failed, recovered
 *   after a crash), so a run that starts always gets one; nothing to check before the start.
 * - evidence: what led to the run: an incident, an approval, or a non-blank evidence id
 *   (a signal, an agent run, a page). The run's own id and output digest do not count.
 */
import type { PolicyDoc } from '../policy/schema.js';
import { AutonomyError } from '../process/errors.js';
import type { RunRequest } from './run-request.js';

export type RequiredRunField = PolicyDoc['evidence']['required'][number];

const blank = (s: string | null | undefined): boolean => s === null || s === undefined || s.trim() === '';

/** The required fields the run's record would lack, in the order the policy lists them; [] when none. */
export function missingRunFields(required: readonly RequiredRunField[], req: RunRequest): RequiredRunField[] {
  const lacks: Record<RequiredRunField, () => boolean> = {
    trigger: () => blank(req.trigger?.source),
    model: () => req.model != null && (blank(req.model.name) || blank(req.model.provider)),
    actionClass: () => blank(req.action.class),
    tier: () => (req.decision.tier ?? req.action.effectiveTier) == null,
    outcome: () => false,
    evidence: () =>
      blank(req.incidentId) && blank(req.approvalId) && !(req.evidence ?? []).some((e) => !blank(e)),
  };
  return [...new Set(required)].filter((field) => lacks[field]());
}

/** Thrown by the runner for a run refused before it started; the refusal is audited (`run.refused`). */
export class RunRefusedError extends AutonomyError {
  constructor(
    readonly actionId: string,
    readonly missing: readonly RequiredRunField[],
  ) {
    super(
      'RUN_REFUSED',
      `${actionId} was not run: its run record would lack ${missing.join(', ')}, which the policy requires ` +
        `(evidence.required); ${advice(missing)}`,
    );
  }
}

function advice(missing: readonly RequiredRunField[]): string {
  if (missing.includes('evidence')) {
    return 'a run needs something that led to it (an incident, an approval, a signal or an agent run)';
  }
  if (missing.includes('trigger')) return 'a run needs the source of its trigger';
  return 'this is a bug in the caller: report it';
}
