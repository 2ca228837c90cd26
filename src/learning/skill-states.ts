/**
 * The states of a skill and the moves between them (issue 9):
 *
 *   draft -> proposed        the mentor asked for publication (an approval request)
 *   proposed -> draft        that request was denied, expired or failed: back to draft
 *   draft|proposed -> promoted   publication ran (approved, or a phase 4 standing grant)
 *   promoted -> validated    its impact was measured after the validation window: it helped
 *   promoted|validated -> rolled_back   a rollback ran (approved)
 *   draft|promoted|validated -> stale   its pattern was not seen for `learning.staleAfter`
 *   stale -> draft           the pattern came back often enough to be drafted again
 *
 * Anything else is refused with a SkillTransitionError that says what the skill is and what it
 * would have to be. A rolled-back skill stays rolled back: it did not help, and is not re-drafted.
 */
import type { SkillState } from '../db/schema.js';
import { AutonomyError } from '../process/errors.js';

export const SKILL_MOVES: Readonly<Record<SkillState, readonly SkillState[]>> = {
  draft: ['proposed', 'promoted', 'stale'],
  proposed: ['draft', 'promoted'],
  promoted: ['validated', 'rolled_back', 'stale'],
  validated: ['rolled_back', 'stale'],
  rolled_back: [],
  stale: ['draft'],
};

/** A move the state machine does not allow; nothing was changed. */
export class SkillTransitionError extends AutonomyError {
  constructor(
    readonly skillId: string,
    readonly from: SkillState,
    readonly to: SkillState,
  ) {
    const allowedFrom = (Object.keys(SKILL_MOVES) as SkillState[]).filter((s) => SKILL_MOVES[s].includes(to));
    super(
      'SKILL_TRANSITION',
      `skill ${skillId} is ${from}, so it cannot become ${to}` +
        (allowedFrom.length > 0 ? ` (only a skill that is ${allowedFrom.join(' or ')} can)` : '') +
        '; see `/autonomy skills` for its state',
    );
  }
}

/** An unknown skill id. */
export class UnknownSkillError extends AutonomyError {
  constructor(readonly skillId: string) {
    super(
      'UNKNOWN_SKILL',
      `no skill ${JSON.stringify(skillId.slice(0, 80))}; \`/autonomy skills\` lists them`,
    );
  }
}

export function canMove(from: SkillState, to: SkillState): boolean {
  return SKILL_MOVES[from].includes(to);
}
