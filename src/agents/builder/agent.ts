/**
 * Builder: implementation tasks. In its deep sweep it proposes the catalog's pre-approved
 * maintenance: every builder action of class `maintenance` that needs no input (no params, or
 * each param with a single allowed value) and targets an in-scope system. decide() says what
 * happens (execute when allowlisted from phase 3 on, else suggest or observe by phase; deny on
 * cooldown or daily cap) and the pipeline acts on it. The builder speaks only when an executed
 * action failed: a short notice with the exit code and the output's last lines. Suggestions are
 * the pipeline's posts; observe and deny stay in the run record, so no sweep is noise.
 *
 * Actions the policy's `checks` section lists are proposed by the pipeline's sweeps already and
 * are skipped here (no double runs). Builder handles no signal kinds: the generic event schema
 * (src/signals/normalise/events.ts) has no task kind to act on.
 */
import type { CompiledAction } from '../../policy/types.js';
import { duration, oneLine, tail } from '../runtime/data-text.js';
import { fillFromFacts } from '../runtime/params.js';
import type { Agent, AgentContext, Finding, ProposalOutcome } from '../runtime/types.js';

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

async function deep(ctx: AgentContext): Promise<void> {
  for (const { action, params } of maintenanceProposals(ctx)) {
    if (ctx.signal.aborted) return;
    const outcome = await ctx.propose({
      actionId: action.id,
      params,
      rationale: "builder's deep sweep: pre-approved maintenance",
    });
    if (outcome.run === undefined) continue;
    ctx.evidence(`run:${outcome.run.runId}`);
    if (outcome.run.status === 'failed') ctx.post(failureNotice(action, outcome.run));
  }
}

export const builder: Agent = {
  name: 'builder',
  handles: [],
  deep,
};
