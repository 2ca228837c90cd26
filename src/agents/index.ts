/**
 * The five agents, in the order the policy template lists them. The pipeline (pipeline.ts) runs
 * them; the dispatcher (dispatch.ts) hands them signals; sweep-bodies.ts runs their sweeps.
 */
import { builder } from './builder.js';
import { guardian } from './guardian.js';
import { sentinel } from './sentinel.js';
import type { Agent } from './types.js';
import { validator } from './validator.js';

/** mentor needs the database (incidents, skills): main.ts builds it with createMentor(). */
export const AGENT_LIST: readonly Agent[] = [sentinel, guardian, builder, validator];
