/**
 * The five agents, in the order the policy template lists them. The pipeline (pipeline.ts) runs
 * them; the dispatcher (dispatch.ts) hands them signals; sweep-bodies.ts runs their sweeps.
 */
import { builder } from './builder/agent.js';
import { guardian } from './guardian/agent.js';
import { createMentor, type MentorDeps } from './mentor/agent.js';
import type { Agent } from './runtime/types.js';
import { sentinel } from './sentinel/agent.js';
import { validator } from './validator/agent.js';

/** The four that need nothing but their signals; mentor needs the database (incidents, skills). */
export const AGENT_LIST: readonly Agent[] = [sentinel, guardian, builder, validator];

/** All five, mentor built on `deps`: what the bot runs, and what the CLI raises jobs for. */
export function allAgents(deps: MentorDeps): readonly Agent[] {
  return [...AGENT_LIST, createMentor(deps)];
}
