/**
 * The second step of an agent's turn: the assessment. One shape, whoever wrote it: a summary, the
 * likely cause with the fact ids that support it, a confidence, and at most three proposals (an
 * action id of the agent's own catalog, its params, why). The model's answer is checked twice:
 * by zod against `modelAnswer` (the router sends its JSON Schema as Ollama's `format` and retries
 * once), then here against the facts it was shown and the agent's catalog: a cause citing no
 * shown fact is dropped, and a proposal naming another agent's action, an unknown one, an action
 * class the agent does not offer in this turn, bad params, a target out of scope, or trying to set
 * a tier, an approval or a command is refused (the turn audits each refusal). What is left is only
 * proposed: decide() says what runs. Steps (asked for by some turns) are kept only when they cite a
 * shown fact: a claim with no supporting fact is not written down.
 */
import { z } from 'zod';
import { checkParams, targetSystem } from '../../policy/params.js';
import type { CompiledAction, Params, Policy } from '../../policy/types.js';
import type { ActionClass, AgentName } from '../../policy/vocabulary.js';
import { oneLine } from './data-text.js';
import type { AgentProposal } from './types.js';

export const MAX_PROPOSALS = 3;
export const MAX_STEPS = 12;

/** What the model must answer (unknown keys are stripped; `escapes()` looks for them first). */
export const modelAnswer = z.object({
  summary: z.string().max(1000),
  cause: z.string().max(1000),
  causeFacts: z.array(z.string().max(300)).max(10),
  confidence: z.number().min(0).max(1),
  proposals: z
    .array(
      z.object({
        action: z.string().max(200),
        params: z.record(z.string(), z.union([z.string(), z.number()])).default({}),
        why: z.string().max(600).default(''),
      }),
    )
    .max(MAX_PROPOSALS),
  /** Asked for by some turns (mentor's runbooks): steps in order, each with the fact ids it comes from. */
  steps: z
    .array(z.object({ text: z.string().max(400), facts: z.array(z.string().max(300)).max(10) }))
    .max(MAX_STEPS)
    .optional(),
});
export type ModelAnswer = z.output<typeof modelAnswer>;

export interface Assessment {
  readonly summary: string;
  /** null when nothing backs a cause. */
  readonly cause: { readonly text: string; readonly facts: readonly string[] } | null;
  readonly confidence: number;
  readonly proposals: readonly AgentProposal[];
  /** When the turn asked for steps: those backed by at least one shown fact (the others are dropped). */
  readonly steps?: readonly Step[];
}

/** One step of a plan or runbook, with the fact ids that support it. */
export interface Step {
  readonly text: string;
  readonly facts: readonly string[];
}

export interface Refusal {
  /** What the model named (cut), or the key it tried to set. */
  readonly what: string;
  readonly reason: string;
}

/** Keys that would claim what only the policy or a person says; never read, audited when present. */
const ESCAPE_KEYS = [
  'tier',
  'approved',
  'approval',
  'command',
  'cmd',
  'shell',
  'script',
  'agent',
  'verdict',
  'target',
];

/** The keys of a raw answer (or its proposals) that try to say what only decide() says. */
export function escapes(text: string): string[] {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return [];
  }
  if (typeof raw !== 'object' || raw === null) return [];
  const found = new Set<string>();
  const look = (o: unknown, where: string): void => {
    if (typeof o !== 'object' || o === null || Array.isArray(o)) return;
    for (const k of Object.keys(o)) if (ESCAPE_KEYS.includes(k.toLowerCase())) found.add(`${where}${k}`);
  };
  look(raw, '');
  const props = (raw as { proposals?: unknown }).proposals;
  if (Array.isArray(props)) {
    for (const [i, p] of props.slice(0, 10).entries()) look(p, `proposals[${i}].`);
  }
  return [...found];
}

/** The agent's own catalog the model may choose from (of `classes`, when given). */
export function ownActions(
  policy: Policy,
  agent: AgentName,
  classes?: readonly ActionClass[],
): CompiledAction[] {
  return [...policy.actions.values()].filter(
    (a) => a.agent === agent && (classes === undefined || classes.includes(a.class)),
  );
}

/**
 * The model's answer as an assessment: causes and proposals checked (see the file comment).
 * `shown` are the fact ids the model was shown.
 */
export function checkAnswer(
  answer: ModelAnswer,
  o: {
    policy: Policy;
    agent: AgentName;
    actions: readonly CompiledAction[];
    shown: ReadonlySet<string>;
  },
): { assessment: Assessment; refused: Refusal[] } {
  const refused: Refusal[] = [];
  const cited = (ids: readonly string[]) => [...new Set(ids.filter((id) => o.shown.has(id)))];
  const facts = cited(answer.causeFacts);
  const causeText = oneLine(answer.cause, 600);
  const proposals: AgentProposal[] = [];
  for (const p of answer.proposals.slice(0, MAX_PROPOSALS)) {
    const what = oneLine(p.action, 100);
    const action = o.policy.actions.get(p.action);
    const own = o.actions.find((a) => a.id === p.action);
    if (own === undefined) {
      const reason =
        action === undefined
          ? 'no such action in the catalog'
          : action.agent !== o.agent
            ? `${action.id} is ${action.agent}'s action, not ${o.agent}'s`
            : `${action.id} (${action.class}) is not offered in this turn`;
      refused.push({ what, reason });
      continue;
    }
    const params: Params = { ...p.params };
    const bad = checkParams(own, params);
    if (bad !== null) {
      refused.push({ what, reason: `bad params: ${oneLine(bad, 200)}` });
      continue;
    }
    const out = o.policy.scope.check(targetSystem(own, params));
    if (out !== null) {
      refused.push({ what, reason: `target out of scope: ${oneLine(out, 200)}` });
      continue;
    }
    proposals.push({ actionId: own.id, params, ...(p.why.trim() ? { rationale: oneLine(p.why, 400) } : {}) });
  }
  return {
    assessment: {
      summary: oneLine(answer.summary, 600),
      cause: facts.length > 0 && causeText !== '' ? { text: causeText, facts } : null,
      confidence: answer.confidence,
      proposals,
      ...(answer.steps === undefined
        ? {}
        : {
            steps: answer.steps
              .map((st) => ({ text: oneLine(st.text, 400), facts: cited(st.facts) }))
              .filter((st) => st.text !== '' && st.facts.length > 0),
          }),
    },
    refused,
  };
}
