/**
 * An agent's proposal, from decision to action: the decision state is built from the database
 * (kill switches, phase overrides, the action's usage for cooldowns and caps, a phase 4 standing
 * grant that covers it), decide() says what may happen, every verdict is stored as a `proposals`
 * row (the simulate command replays them), and the verdict is carried out:
 * - execute: the runner runs it (its own run record, triggered by this agent run), and the result
 *   is posted (succeeded: info, failed: warning) with the tail of its output;
 * - ask: an approval request (Approvals.request stores the proposal and posts the buttons);
 * - suggest: a suggestion is posted, at most once an hour per agent, action and params;
 * - observe, deny: recorded only; the run's outcome says so.
 * The proposal is untrusted (a model may have written it): only the action id, the params and the
 * rationale are read, once; any tier, approval claim, command or target on it is ignored.
 */

import { describeExecution } from '../../actions/render.js';
import type { RunResult } from '../../actions/runner.js';
import { actionUsage } from '../../actions/usage.js';
import type { StoredParams } from '../../db/schema.js';
import { decide } from '../../policy/decide.js';
import { checkParams, showValue, targetSystem } from '../../policy/params.js';
import type { Authorisation, CompiledAction, Decision, Params, Proposal } from '../../policy/types.js';
import type { AgentPipelineDeps, AgentTrigger } from './pipeline-types.js';
import { dedupeKey, incidentRef, type Poster } from './post.js';
import { linkProposalRun, recordProposal } from './run-record.js';
import type { RunState } from './run-state.js';
import { screenText } from './screen.js';
import type { AgentProposal, ProposalOutcome } from './types.js';

const HOUR = 3_600_000;
const OUTPUT_TAIL = 1500;

/** "Once an hour per key", in memory (sliding), backed by an hour-bucket dedupe key across restarts. */
export class HourlyOnce {
  readonly #last = new Map<string, number>();

  take(key: string, now: number): boolean {
    const last = this.#last.get(key);
    if (last !== undefined && now - last < HOUR) return false;
    if (this.#last.size > 5000) {
      for (const [k, t] of this.#last) if (now - t >= HOUR) this.#last.delete(k);
    }
    this.#last.set(key, now);
    return true;
  }
}

export interface ProposeContext {
  readonly deps: AgentPipelineDeps;
  readonly poster: Poster;
  readonly hourly: HourlyOnce;
}

/** The decision a stopped run gets for anything it still proposes (not recorded, nothing done). */
function stopped(run: RunState): Decision {
  return {
    verdict: 'deny',
    code: 'killed',
    tier: null,
    phase: null,
    reason: run.stoppedBy ?? 'the run was stopped',
  };
}

/** Reads the untrusted proposal once: the action id, a plain copy of the params, the rationale. */
function read(input: AgentProposal): { actionId: unknown; params: unknown; rationale: unknown } {
  try {
    const rec = input as unknown as Record<string, unknown>;
    const actionId = rec.actionId;
    const raw = rec.params;
    // A plain copy (own enumerable data only, `__proto__` kept as a key): decide() checks it.
    const params =
      typeof raw === 'object' && raw !== null && !Array.isArray(raw)
        ? Object.fromEntries(Object.entries(raw))
        : raw;
    return { actionId, params, rationale: rec.rationale };
  } catch {
    return { actionId: undefined, params: undefined, rationale: null };
  }
}

/** Params as stored: strings and numbers as they are; anything else marked so a replay denies it. */
function storedParams(params: unknown): StoredParams {
  if (typeof params !== 'object' || params === null || Array.isArray(params)) {
    return { '!invalid': showValue(params) };
  }
  const out: StoredParams = {};
  for (const [k, v] of Object.entries(params)) {
    if (typeof v === 'string') out[k] = v.length > 4096 ? v.slice(0, 4096) : v;
    else if (typeof v === 'number' && Number.isFinite(v)) out[k] = v;
    else {
      out[k] = showValue(v);
      out['!invalid'] = k.slice(0, 64);
    }
  }
  return out;
}

function display(action: CompiledAction, params: Params): string {
  try {
    return describeExecution(action, params).display;
  } catch {
    return action.id;
  }
}

function outputTail(result: RunResult): string {
  const e = result.execution;
  if (e === null) return '';
  const text =
    e.kind === 'command' ? [e.stdoutTail, e.stderrTail].filter((s) => s !== '').join('\n') : e.body;
  return text.length > OUTPUT_TAIL ? text.slice(-OUTPUT_TAIL) : text;
}

/** See the file comment. Never throws for a bad proposal: it is denied and recorded. */
export async function propose(
  c: ProposeContext,
  run: RunState,
  trigger: AgentTrigger,
  input: AgentProposal,
): Promise<ProposalOutcome> {
  if (run.aborted) return { decision: stopped(run) };
  const d = c.deps;
  const agent = run.agent;
  const policy = d.policy();
  const now = d.now();
  const { actionId, params, rationale: raw } = read(input);
  // The rationale is shown to people (suggestions, approval requests): redacted and inert.
  const rationale =
    typeof raw === 'string' && raw.trim() !== '' ? screenText(raw, 2000, c.poster.redactor(policy)) : null;
  const action = typeof actionId === 'string' ? policy.actions.get(actionId) : undefined;
  const label = action?.id ?? showValue(actionId);
  const checked = action !== undefined && action.agent === agent && checkParams(action, params) === null;
  const control = d.controlState();
  let authorisation: Authorisation | null = null;
  if (checked) authorisation = d.grants?.findMatching(action, params as Params, now) ?? null;
  const proposal = { agent, actionId, params, ...(rationale ? { rationale } : {}) } as unknown as Proposal;
  const decision = decide(
    policy,
    {
      killedAll: control.killedAll,
      killedAgents: control.killedAgents,
      phaseOverride: control.phaseOverride,
      agentPhaseOverrides: control.agentPhaseOverrides,
      ...(action === undefined
        ? {}
        : { usage: actionUsage(d.database, action.id, now, policy.doc.triggers.timezone) }),
      ...(authorisation === null ? {} : { authorisation }),
    },
    proposal,
    now,
  );
  d.metrics?.decision(agent, decision.verdict);
  const evidence = [`run:${run.runId}`, ...run.evidence].slice(0, 50);
  const incidentId = trigger.incidentId ?? null;
  const record = (): string =>
    recordProposal(d, {
      agent,
      actionId: typeof actionId === 'string' ? actionId.slice(0, 200) : showValue(actionId),
      params: storedParams(params),
      rationale,
      evidence,
      decision,
      incidentId,
    });
  const cls = action?.agent === agent ? action.class : null;
  const base = { actionId: label, verdict: decision.verdict, code: decision.code, tier: decision.tier };

  if (decision.verdict === 'ask' && action !== undefined) {
    const checkedProposal: Proposal = {
      agent,
      actionId: action.id,
      params: params as Params,
      ...(rationale ? { rationale } : {}),
    };
    let r: ReturnType<AgentPipelineDeps['approvals']['request']>;
    try {
      r = d.approvals.request(checkedProposal, decision, { trigger: trigger.source, incidentId, evidence });
    } catch (err) {
      d.log.error({ err, agent, actionId: action.id }, 'could not ask for an approval');
      run.decided(
        { ...base, proposalId: record() },
        decision,
        cls,
        `proposed ${label}: could not ask for approval`,
      );
      return { decision };
    }
    const proposalId = r.created ? null : record();
    run.decided(
      { ...base, proposalId, approval: r.shortId },
      decision,
      cls,
      `proposed ${label}: ${r.created ? 'waiting for approval' : 'still waiting for approval'} ${r.shortId}`,
    );
    run.addEvidence(`approval:${r.approval.id}`);
    return { decision, approval: r.shortId };
  }

  const proposalId = record();
  if (decision.verdict === 'execute' && action !== undefined) {
    return execute(c, run, trigger, {
      action,
      params: params as Params,
      decision,
      proposalId,
      authorisation,
      cls,
    });
  }
  if (decision.verdict === 'suggest' && action !== undefined) {
    const posted = suggest(c, run, trigger, action, params as Params, decision, rationale);
    run.decided(
      { ...base, proposalId },
      decision,
      cls,
      `suggested ${label}${posted ? '' : ` (${posted === null ? 'already suggested within the hour' : 'not posted'})`}`,
    );
    return { decision };
  }
  const what =
    decision.verdict === 'observe'
      ? `proposed ${label}: observed only (${decision.reason})`
      : `proposed ${label}: denied (${decision.reason})`;
  run.decided({ ...base, proposalId }, decision, cls, what);
  return { decision };
}

/** Posts the suggestion (once an hour per agent, action and params): true posted, null deduped, false held. */
function suggest(
  c: ProposeContext,
  run: RunState,
  trigger: AgentTrigger,
  action: CompiledAction,
  params: Params,
  decision: Decision,
  rationale: string | null,
): boolean | null {
  const d = c.deps;
  const now = d.now();
  const json = JSON.stringify(params);
  const key = `${run.agent}\u0000${action.id}\u0000${json}`;
  if (!c.hourly.take(key, now)) return null;
  const bucket = Math.floor(now / HOUR);
  const target = targetSystem(action, params);
  const result = c.poster.post(
    run.agent,
    trigger,
    {
      kind: 'suggestion',
      title: `${run.agent} suggests ${action.id} on ${target}`,
      severity: trigger.severity ?? 'info',
      body: [
        `${action.doc.description}.`,
        ...(rationale ? [`Rationale (untrusted): ${rationale}`] : []),
        '',
        `Not run: ${decision.reason}.`,
        `Approve by raising the phase (or allowlisting ${action.id} for ${run.agent}), or run it yourself:`,
        display(action, params),
      ].join('\n'),
      fields: [
        { label: 'Action', value: action.id },
        { label: 'Params', value: json === '{}' ? 'none' : json },
        { label: 'Tier', value: String(decision.tier ?? action.effectiveTier) },
        { label: 'Target', value: target },
      ],
    },
    {
      dedupeKey: (channel) => dedupeKey('suggest', run.agent, action.id, json, bucket, channel),
      refs: { run: run.runId, ...incidentRef(trigger) },
    },
  );
  if (result.queued) run.countPost('suggestion');
  else if (result.held) run.note(`suggestion held: ${result.held}`);
  return result.queued;
}

async function execute(
  c: ProposeContext,
  run: RunState,
  trigger: AgentTrigger,
  x: {
    action: CompiledAction;
    params: Params;
    decision: Decision;
    proposalId: string;
    authorisation: Authorisation | null;
    cls: CompiledAction['class'] | null;
  },
): Promise<ProposalOutcome> {
  const d = c.deps;
  const { action, params, decision } = x;
  const base = {
    proposalId: x.proposalId,
    actionId: action.id,
    verdict: decision.verdict,
    code: decision.code,
    tier: decision.tier,
  };
  let result: RunResult;
  try {
    result = await d.runner.execute({
      proposal: { agent: run.agent, actionId: action.id, params },
      action,
      decision,
      trigger: { source: trigger.source, ref: run.runId },
      incidentId: trigger.incidentId ?? null,
      // Credited to the run's model when a model answered in the run before this proposal (its turn), else rules.
      model: run.model,
      evidence: [`run:${run.runId}`, ...run.evidence].slice(0, 50),
    });
  } catch (err) {
    const why = (err as Error).message?.slice(0, 300) ?? String(err);
    run.decided(base, decision, x.cls, `could not run ${action.id}: ${why}`);
    return { decision };
  }
  linkProposalRun(d.database, x.proposalId, result.runId);
  if (decision.code === 'granted' && x.authorisation !== null) {
    try {
      d.grants?.recordUse(x.authorisation.id, { params, runId: result.runId, agent: run.agent });
    } catch (err) {
      d.log.warn({ err, grant: x.authorisation.id }, 'could not count a grant use');
    }
  }
  run.addEvidence(`run:${result.runId}`);
  run.decided(
    { ...base, runId: result.runId },
    decision,
    x.cls,
    `ran ${action.id}: ${result.status} (${result.outcome})`,
  );
  const tail = outputTail(result);
  const outcome: ProposalOutcome = {
    decision,
    run: {
      runId: result.runId,
      status: result.status,
      outcome: result.outcome,
      exitCode: result.execution?.kind === 'command' ? result.execution.exitCode : null,
      wallMs: result.wallMs,
      outputTail: tail,
    },
  };
  // A stopped run posts nothing more; an interrupted action was stopped by a kill that says so itself.
  if (run.aborted || result.status === 'interrupted') return outcome;
  const now = d.now();
  const json = JSON.stringify(params);
  if (!c.hourly.take(`${run.agent}\u0000${action.id}\u0000${json}\u0000${result.status}`, now))
    return outcome;
  const bucket = Math.floor(now / HOUR);
  const posted = c.poster.post(
    run.agent,
    trigger,
    {
      kind: 'notice',
      title: `${run.agent} ran ${action.id}: ${result.status}`,
      severity: result.status === 'failed' ? 'warning' : 'info',
      body: [
        `${result.outcome}.`,
        `Ran: ${result.display}`,
        ...(tail === '' ? [] : ['', 'Output (last lines):', tail]),
      ].join('\n'),
      fields: [
        { label: 'Run', value: result.runId },
        { label: 'Tier', value: String(decision.tier ?? action.effectiveTier) },
        { label: 'Why it ran', value: decision.reason },
      ],
    },
    {
      dedupeKey: (channel) => dedupeKey('ran', run.agent, action.id, json, result.status, bucket, channel),
      refs: { run: result.runId, ...incidentRef(trigger) },
    },
  );
  if (posted.queued) run.countPost('notice');
  return outcome;
}
