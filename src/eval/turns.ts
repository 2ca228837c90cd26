/**
 * How each agent takes its turn, as the agent itself does: the task sentence it sends, the action
 * classes it offers and whether it asks for steps. A scenario names its agent and, where the agent
 * has more than one kind of turn, which one (`task: drift` for guardian's drift turn). Builder's
 * turn also leaves out the actions the policy's checks already run; the eval offers them all.
 */
import { TASK as builder } from '../agents/builder/assess.js';
import { DRIFT_TASK, TASK as guardian } from '../agents/guardian/assess.js';
import { TASK as mentor } from '../agents/mentor/assess.js';
import { TASK as sentinel } from '../agents/sentinel/assess.js';
import { TASK as validator } from '../agents/validator/assess.js';
import type { ActionClass, Severity } from '../policy/vocabulary.js';

export interface TurnProfile {
  readonly task: string;
  /** The classes offered for a scenario of this severity and trigger (undefined: all of the agent's own). */
  readonly classes?: (s: {
    severity: Severity;
    trigger: string | undefined;
  }) => readonly ActionClass[] | undefined;
  readonly steps?: boolean;
}

/** Sentinel offers service-affecting actions for a new critical or health signal only (sentinel/agent.ts). */
const sentinelClasses = (s: { severity: Severity; trigger: string | undefined }): ActionClass[] =>
  s.severity === 'critical' || s.trigger === 'signal:health'
    ? ['evidence', 'alerting', 'service-affecting']
    : ['evidence', 'alerting'];

/** Keyed by agent, or `agent:task`. */
export const TURNS: Readonly<Record<string, TurnProfile>> = {
  sentinel: { task: sentinel, classes: sentinelClasses },
  guardian: { task: guardian },
  'guardian:drift': { task: DRIFT_TASK },
  validator: { task: validator, classes: () => ['test-run'] },
  mentor: { task: mentor, classes: () => [], steps: true },
  builder: { task: builder, classes: () => ['maintenance'] },
};

export function turnOf(agent: string, task: string | undefined): TurnProfile | undefined {
  return TURNS[task === undefined ? agent : `${agent}:${task}`];
}
