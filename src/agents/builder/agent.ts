/**
 * Builder: implementation tasks. In its deep sweep it takes its turn (assess.ts): the model, shown
 * its maintenance candidates, its recent runs, recent CI failures, job events and incidents of
 * in-scope services, picks the maintenance to do (with params) and writes the change it proposes;
 * when it backs its plan with facts, its proposals are made (their rationale marked model-written)
 * and one suggestion, marked model-written and citing its facts, says what it planned and what the
 * policy decided. Otherwise (no model, no budget, a failed or unbacked answer) the rules propose
 * the catalog's pre-approved maintenance: every builder action of class `maintenance` that needs
 * no input (no params, or each param with a single allowed value) and targets an in-scope system.
 * Either way decide() says what happens (execute when allowlisted from phase 3 on, else suggest
 * or observe by phase; deny on cooldown or daily cap) and the pipeline acts on it. By rules the
 * builder speaks only when an executed action failed: a short notice with the exit code and the
 * output's last lines. Suggestions are the pipeline's posts; observe and deny stay in the run
 * record, so no sweep is noise.
 *
 * Actions the policy's `checks` section lists are proposed by the pipeline's sweeps already and
 * are skipped here (no double runs). Builder handles no signal kinds: the generic event schema
 * (src/signals/normalise/events.ts) has no task kind to act on.
 */
import type { CompiledAction } from '../../policy/types.js';
import { supported } from '../runtime/assessment-post.js';
import { duration, oneLine, tail } from '../runtime/data-text.js';
import { fillFromFacts } from '../runtime/params.js';
import type { TurnResult } from '../runtime/turn.js';
import type { Agent, AgentContext, AgentProposal, Finding, ProposalOutcome } from '../runtime/types.js';
import { builderTurn } from './assess.js';

const OUTPUT_CHARS = 1500;

/** The maintenance actions builder proposes by itself, with their params, in catalog order. */
export function maintenanceProposals(
  ctx: AgentContext,
): { action: CompiledAction; params: Record<string, string | number> }[] {
  const checked = new Set(ctx.policy.doc.checks.map((c) => c.action));
  const out: { action: CompiledAction; params: Record<string, string | number> }[] = [];
  for (const action of ctx.policy.actions.values()) {
    if (action.agent !== 'builder' || action.class !== 'maintenance' || checked.has(action.id)) continue;
    const params = fillFromFacts(ctx.policy, action, new Map());
    if (params !== null) out.push({ action, params: { ...params } });
  }
  return out;
}

function failureNotice(action: CompiledAction, run: NonNullable<ProposalOutcome['run']>): Finding {
  const exit = run.exitCode === null ? 'no exit code' : `exit code ${run.exitCode}`;
  const output = tail(run.outputTail, OUTPUT_CHARS);
  return {
    kind: 'notice',
    title: `Maintenance failed: ${action.id}`,
    severity: 'warning',
    body: [
      `${oneLine(action.doc.description, 200)}: the run failed with ${exit} after ${duration(run.wallMs)}.`,
      `Outcome: ${oneLine(run.outcome, 300)}`,
      ...(output === '' ? ['(no output)'] : ['Last output lines:', output]),
    ].join('\n'),
    fields: [
      { label: 'Action', value: action.id },
      { label: 'Run', value: run.runId },
      { label: 'Exit code', value: run.exitCode === null ? '(none)' : String(run.exitCode) },
    ],
  };
}

const RULES_RATIONALE = "builder's deep sweep: pre-approved maintenance";

/**
 * Whose proposals are made: the model's when it backed its plan with facts it was shown and named
 * something usable or nothing at all; the rules' when it did not answer, backed nothing, or
 * everything it named was refused.
 */
function chosen(
  turn: TurnResult,
  rules: readonly AgentProposal[],
): { by: 'model' | 'rules'; list: readonly AgentProposal[] } {
  const own = turn.assessment.proposals;
  if (!supported(turn) || (own.length === 0 && turn.refused.length > 0)) return { by: 'rules', list: rules };
  return { by: 'model', list: own };
}

function paramText(params: Readonly<Record<string, unknown>>): string {
  const entries = Object.entries(params);
  return entries.length === 0 ? '' : ` ${entries.map(([k, v]) => `${k}=${String(v)}`).join(' ')}`;
}

/** The model's plan, once its proposals went through decide(): marked model-written, citing its facts. */
function planSuggestion(
  turn: TurnResult,
  made: readonly { p: AgentProposal; outcome: ProposalOutcome }[],
): Finding {
  const a = turn.assessment;
  const facts = a.cause?.facts ?? [];
  return {
    kind: 'suggestion',
    title: `Maintenance planned by builder: ${made.map((m) => m.p.actionId).join(', ')}`,
    severity: 'info',
    body: [
      `Assessment (model-written, unverified): ${a.summary}`,
      `Why now: ${a.cause?.text ?? ''} (facts: ${facts.join(', ')}; confidence ${a.confidence.toFixed(2)})`,
      '',
      'Proposed, each through the policy:',
      ...made.map(
        ({ p, outcome }) =>
          `- ${p.actionId}${paramText(p.params)}: ${oneLine(p.rationale ?? '', 400)} -> ${outcome.decision.verdict} (${oneLine(outcome.decision.reason, 200)})`,
      ),
    ].join('\n'),
    fields: [
      { label: 'Actions', value: made.map((m) => m.p.actionId).join(', ') },
      ...(turn.model === null ? [] : [{ label: 'Model', value: turn.model }]),
    ],
    modelWritten: true,
    citations: [...facts],
  };
}

async function deep(ctx: AgentContext): Promise<void> {
  if (ctx.signal.aborted) return;
  const rules: AgentProposal[] = maintenanceProposals(ctx).map(({ action, params }) => ({
    actionId: action.id,
    params,
    rationale: RULES_RATIONALE,
  }));
  const turn = await builderTurn(ctx, rules);
  const { by, list } = chosen(turn, rules);
  const made: { p: AgentProposal; outcome: ProposalOutcome }[] = [];
  const seen = new Set<string>();
  for (const p of list) {
    if (ctx.signal.aborted) return;
    // The same action with the same params once per sweep, however often the model names it.
    const key = `${p.actionId}\u0000${JSON.stringify(p.params)}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const outcome = await ctx.propose(
      by === 'model'
        ? { ...p, rationale: `model-written, unverified: ${p.rationale ?? '(no reason given)'}` }
        : p,
    );
    made.push({ p, outcome });
    const action = ctx.policy.actions.get(p.actionId);
    if (outcome.run === undefined || action === undefined) continue;
    ctx.evidence(`run:${outcome.run.runId}`);
    if (outcome.run.status === 'failed') ctx.post(failureNotice(action, outcome.run));
  }
  if (by === 'model' && made.length > 0) ctx.post(planSuggestion(turn, made));
}

export const builder: Agent = {
  name: 'builder',
  handles: [],
  deep,
};
