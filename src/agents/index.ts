/**
 * The five agents, in the order the policy template lists them. The pipeline (pipeline.ts) runs
 * them; the dispatcher (dispatch.ts) hands them signals; sweep-bodies.ts runs their sweeps.
 */
import { builder } from './builder/agent.js';
import { guardian } from './guardian/agent.js';
import type { Agent } from './runtime/types.js';
import { sentinel } from './sentinel/agent.js';
import { validator } from './validator/agent.js';

/** mentor needs the database (incidents, skills): main.ts builds it with createMentor(). */
export const AGENT_LIST: readonly Agent[] = [sentinel, guardian, builder, validator];
