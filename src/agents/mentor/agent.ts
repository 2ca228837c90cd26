/**
 * Mentor: documentation and skill codification (issue 6), and the learning loop (issue 9).
 *
 * - On a resolved incident it writes the runbook draft of the incident's pattern
 *   (runbook.ts). For a signal that opened or updated an incident it does nothing.
 * - In the deep sweep: skill requests that ended are reconciled, repeated patterns become skill
 *   drafts, drafts are proposed for publication, promoted skills are validated or proposed for
 *   rollback once their validation window has passed, and skills whose pattern went away are
 *   marked stale (skills.ts, impact.ts).
 * Drafts and runbooks are the mentor's own files in the data folder; publishing and rolling back
 * are catalog actions (`publish-skill`, `rollback-skill`, class policy-publication: approval).
 *
 * The mentor reads the incidents, signals and skills tables, so it is made with its dependencies
 * (`createMentor({ database, skills })`) rather than being a constant like the other agents.
 */

import type { Agent } from '../runtime/types.js';
import { markStale, validateSkills } from './impact.js';
import { runbookOnResolve } from './runbook.js';
import { draftSkills, type MentorDeps, proposeDrafts, reconcileRequests } from './skills.js';

export type { MentorDeps } from './skills.js';

export function createMentor(deps: MentorDeps): Agent {
  return {
    name: 'mentor',
    handles: ['alert', 'health', 'error_signature', 'failed_job', 'advisory', 'event'],
    wakesOn: ['resolved'],
    async onSignal(signal, ctx) {
      if (signal.incident?.change !== 'resolved') return;
      ctx.evidence(`signal:${signal.id}`);
      await runbookOnResolve(deps.database, signal, ctx);
    },
    async deep(ctx) {
      reconcileRequests(deps, ctx);
      await draftSkills(deps, ctx);
      if (ctx.signal.aborted) return;
      await proposeDrafts(deps, ctx);
      if (ctx.signal.aborted) return;
      await validateSkills(deps, ctx);
      markStale(deps, ctx);
    },
  };
}
