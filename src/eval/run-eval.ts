/**
 * `autonomy eval`: each scenario through the agent's real turn (runtime/turn.ts), with one model
 * at a time, executing nothing. The turn's model calls go through a real ModelRouter (num_ctx,
 * num_predict, the reply schema as `format`, the timeout, one retry on invalid output, token
 * charges capped), over the given ModelClient; the model evaluated is the policy's local model or
 * the one named, with no escalation, so each scorecard is that model's alone. Each scenario gets a
 * fresh router (no budget, backoff or failure of one scenario carries into the next). What the
 * turn leaves is sent through decide() with a clean state (no kills, no overrides, no usage) by a
 * `propose()` that runs nothing, and scored against the scenario (scorecard.ts).
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  escapes,
  type ModelAnswer,
  modelAnswer,
  ownActions,
  type Refusal,
} from '../agents/runtime/assessment.js';
import { fact } from '../agents/runtime/facts.js';
import { type Env, postRedactor } from '../agents/runtime/secrets.js';
import { takeTurn } from '../agents/runtime/turn.js';
import type { AgentContext, AgentProposal, Finding } from '../agents/runtime/types.js';
import { ServerProbe } from '../llm/probe.js';
import { type CallRequest, type CallResult, ModelRouter } from '../llm/router.js';
import type { ModelClient } from '../llm/types.js';
import type { UsageStore } from '../llm/usage.js';
import { decide } from '../policy/decide.js';
import type { DecisionState, Params, Policy } from '../policy/types.js';
import type { Verdict } from '../policy/vocabulary.js';
import { AutonomyError, type AutonomyErrorOptions, type ErrorCode } from '../process/errors.js';
import { classesOf, matches, type Scenario } from './scenario.js';
import { turnOf } from './turns.js';

/** What became of one proposal the model made. */
export type ProposalOutcome = 'accepted' | 'wrong' | 'must-not';

export interface ScoredProposal {
  readonly action: string;
  readonly params: Readonly<Record<string, unknown>>;
  readonly verdict: Verdict;
  readonly code: string;
  /** null when decide() denied it (counted as refused by policy). */
  readonly outcome: ProposalOutcome | null;
}

export interface ScenarioResult {
  readonly id: string;
  readonly agent: string;
  readonly by: 'model' | 'rules';
  /** Why rules wrote the assessment (`unavailable: ...`, `invalid-output: ...`), when they did. */
  readonly why: string | null;
  /** Replies the model server gave (a retry after invalid output is a second one). */
  readonly replies: number;
  /** Of those, the ones that were JSON of the assessment's shape. */
  readonly validReplies: number;
  /** Wall time of the turn's model call (retries included); null when none was made. */
  readonly latencyMs: number | null;
  /** Charged by the router for every call (retries too): what the server reported, capped at prompt + reply cap. */
  readonly tokens: { readonly prompt: number; readonly completion: number };
  /** Proposals the model made (before any check). */
  readonly made: number;
  /** Those that passed the turn's checks, with decide()'s verdict and the scenario's judgement. */
  readonly proposals: readonly ScoredProposal[];
  /** Refused before decide(): another agent's action, unknown ids, bad params, tiers, approvals... */
  readonly refused: readonly Refusal[];
  /** Keys that tried to say what only the policy decides, and actions outside the agent's catalog. */
  readonly escapes: readonly string[];
  readonly cause: string | null;
  /** When the turn asks for steps (mentor) and the model answered: those given, and those kept (citing a shown fact). */
  readonly steps: { readonly given: number; readonly kept: number } | null;
  /** null when the scenario names no cause words. */
  readonly causeNamed: boolean | null;
  /** A good operator would accept some proposal here. */
  readonly expected: boolean;
  /** At least one accepted proposal. */
  readonly hit: boolean;
}

export interface ModelRun {
  readonly model: string;
  readonly host: string;
  readonly results: readonly ScenarioResult[];
}

/** No model server answers: nothing was evaluated. The message says how to fix it. */
export class EvalFailure extends AutonomyError {
  constructor(message: string, options: AutonomyErrorOptions & { readonly code?: ErrorCode } = {}) {
    super(options.code ?? 'EVAL_NO_MODEL', message, options);
  }
}

export interface EvalOptions {
  /** The policy whose catalog, caps, timeout and phase apply (its models section names the default model). */
  readonly policy: Policy;
  readonly scenarios: readonly Scenario[];
  /** Models to evaluate one after the other (default: the policy's local model). */
  readonly models?: readonly string[];
  /** The model server for every model (default: each model's host in the policy, else `defaultHost`). */
  readonly host?: string;
  readonly defaultHost: string;
  readonly client: ModelClient;
  /** For redacting secrets from what the model is shown, as the bot does. */
  readonly env?: Env;
  /** A line per scenario (`model: scenario i/N id`). */
  readonly progress?: (line: string) => void;
  readonly now?: () => number;
}

const CLEAN: DecisionState = {
  killedAll: false,
  killedAgents: new Set(),
  phaseOverride: null,
  agentPhaseOverrides: new Map(),
};

const QUIET = { info: () => undefined, warn: () => undefined, error: () => undefined };

export async function runEval(o: EvalOptions): Promise<ModelRun[]> {
  const now = o.now ?? Date.now;
  const local = o.policy.doc.models.local;
  const names = o.models !== undefined && o.models.length > 0 ? [...new Set(o.models)] : [local.model];
  const targets = names.map((model) => ({ model, host: hostOf(o, model) }));
  await reachable(o.client, targets, now);
  const runs: ModelRun[] = [];
  for (const t of targets) {
    const policy = forModel(o.policy, t.model, t.host);
    const results: ScenarioResult[] = [];
    for (const [i, s] of o.scenarios.entries()) {
      o.progress?.(`${t.model}: scenario ${i + 1}/${o.scenarios.length} ${s.id}`);
      results.push(await runScenario(s, policy, o, t.host, now));
    }
    runs.push({ model: t.model, host: t.host, results });
  }
  return runs;
}

function hostOf(o: EvalOptions, model: string): string {
  if (o.host !== undefined) return o.host;
  const m = o.policy.doc.models;
  const ref = [m.local, ...m.escalation].find((r) => r.model === model);
  return ref?.host ?? o.defaultHost;
}

/** Throws an EvalFailure naming each host that does not answer, and how to fix it. */
async function reachable(
  client: ModelClient,
  targets: readonly { model: string; host: string }[],
  now: () => number,
): Promise<void> {
  const probe = new ServerProbe(client, now);
  await probe.probe(targets.map((t) => t.host));
  const down = targets.filter((t) => probe.state(t.host)?.ok === false);
  if (down.length === 0) return;
  const first = down[0] as { model: string; host: string };
  const lines = [...new Set(down.map((t) => `${safeOrigin(t.host)}: ${probe.state(t.host)?.detail}`))];
  throw new EvalFailure(
    [
      `no model server answers at ${lines.join('; ')}`,
      'nothing was evaluated. To fix it: start Ollama (`ollama serve`) and pull the model',
      `(\`ollama pull ${first.model}\`), or point at a running server with --host URL (or OLLAMA_HOST).`,
    ].join('\n'),
  );
}

/** The policy with `model` at `host` as its local model and no escalation: that model alone answers. */
function forModel(policy: Policy, model: string, host: string): Policy {
  const m = policy.doc.models;
  const known = [m.local, ...m.escalation].find((r) => r.model === model);
  const local = {
    provider: known?.provider ?? m.local.provider,
    model,
    host,
    ...(known?.contextTokens === undefined ? {} : { contextTokens: known.contextTokens }),
  };
  return { ...policy, doc: { ...policy.doc, models: { ...m, local, escalation: [] } } };
}

/** Per-scenario usage: budgets start empty, so a long eval never runs out. */
class FreshUsage implements UsageStore {
  prompt = 0;
  completion = 0;
  #calls = 0;
  tokensToday(): number {
    return this.prompt + this.completion;
  }
  tokensTodayAll(): number {
    return this.tokensToday();
  }
  callsLastHour(): number {
    return this.#calls;
  }
  callsLastHourAll(): number {
    return this.#calls;
  }
  record(_a: unknown, _r: unknown, _m: unknown, _p: unknown, prompt: number, completion: number): void {
    this.prompt += prompt;
    this.completion += completion;
    this.#calls++;
  }
}

/** The client as the router sees it, counting replies and those of the assessment's shape. */
function counted(client: ModelClient, counts: { replies: number; valid: number }): ModelClient {
  return {
    ...(client.probe === undefined ? {} : { probe: client.probe.bind(client) }),
    async chat(request) {
      const reply = await client.chat(request);
      counts.replies++;
      if (shaped(reply.text)) counts.valid++;
      return reply;
    },
  };
}

function shaped(text: string): boolean {
  try {
    return modelAnswer.safeParse(JSON.parse(text)).success;
  } catch {
    return false;
  }
}

async function runScenario(
  s: Scenario,
  policy: Policy,
  o: EvalOptions,
  host: string,
  now: () => number,
): Promise<ScenarioResult> {
  const counts = { replies: 0, valid: 0 };
  const usage = new FreshUsage();
  const router = new ModelRouter({
    client: counted(o.client, counts),
    policy: () => policy,
    now,
    usage,
    isKilled: () => false,
    log: QUIET,
    defaultHost: host,
  });
  const redact = postRedactor(policy, o.env ?? {});
  const refused: Refusal[] = [];
  /** The model's last answer of the assessment's shape, and how long the turn's call took. */
  const seen: { answer: { text: string; value: ModelAnswer } | null; latencyMs: number | null } = {
    answer: null,
    latencyMs: null,
  };
  const ctx: AgentContext = {
    agent: s.agent,
    runId: `eval-${s.id}`,
    policy,
    now,
    signal: new AbortController().signal,
    trigger: s.trigger ?? 'signal:alert',
    dataDir: join(tmpdir(), 'autonomy-eval', s.agent),
    rootDataDir: join(tmpdir(), 'autonomy-eval'),
    log: QUIET,
    research: null,
    async model<T>(request: Omit<CallRequest<T>, 'runId' | 'signal'>): Promise<CallResult<T>> {
      const started = performance.now();
      const result = await router.call<T>(s.agent, {
        ...request,
        messages: request.messages.map((m) => ({ role: m.role, content: redact(m.content) })),
        runId: `eval-${s.id}`,
      });
      seen.latencyMs = performance.now() - started;
      if (result.ok) {
        const value = modelAnswer.safeParse(result.value);
        if (value.success) seen.answer = { text: result.text, value: value.data };
      }
      return result;
    },
    async propose(p: AgentProposal) {
      const decision = decide(
        policy,
        CLEAN,
        { agent: s.agent, actionId: p.actionId, params: p.params as Params },
        now(),
      );
      return { decision };
    },
    post: (_f: Finding) => undefined,
    evidence: () => undefined,
    refused: (r) => refused.push(r),
  };
  const profile = turnOf(s.agent, s.task);
  if (profile === undefined)
    throw new EvalFailure(`${s.file}: ${s.id}: ${s.agent} has no turn named ${s.task}`, {
      code: 'EVAL_SCENARIOS_INVALID',
    });
  const classes = classesOf(s);
  const turn = await takeTurn(ctx, {
    task: profile.task,
    facts: s.facts.map((f) => fact(f.id, f.text)),
    rules: () => ({ summary: s.title, cause: null, confidence: 0, proposals: [] }),
    severity: s.severity,
    ...(classes === undefined ? {} : { classes }),
    ...(profile.steps === true ? { steps: true } : {}),
  });
  const proposals: ScoredProposal[] = [];
  for (const p of turn.assessment.proposals) {
    const { decision } = await ctx.propose(p);
    const outcome: ProposalOutcome | null =
      decision.verdict === 'deny'
        ? null
        : s.accept.some((r) => matches(r, p.actionId, p.params))
          ? 'accepted'
          : s.mustNot.some((r) => matches(r, p.actionId, p.params))
            ? 'must-not'
            : 'wrong';
    proposals.push({
      action: p.actionId,
      params: p.params,
      verdict: decision.verdict,
      code: decision.code,
      outcome,
    });
  }
  const a = turn.by === 'model' ? seen.answer : null;
  const own = new Set(ownActions(policy, s.agent).map((x) => x.id));
  const escaped =
    a === null
      ? []
      : [
          ...escapes(a.text),
          ...a.value.proposals
            .filter((p) => !own.has(p.action))
            .map((p) => `action ${p.action.slice(0, 80)}`),
        ];
  const cause = turn.assessment.cause?.text ?? null;
  const text = (cause ?? '').toLowerCase();
  return {
    id: s.id,
    agent: s.agent,
    by: turn.by,
    why: turn.why,
    replies: counts.replies,
    validReplies: counts.valid,
    latencyMs: seen.latencyMs,
    tokens: { prompt: usage.prompt, completion: usage.completion },
    made: a?.value.proposals.length ?? 0,
    proposals,
    refused,
    escapes: escaped,
    cause,
    steps:
      a === null || profile.steps !== true
        ? null
        : { given: a.value.steps?.length ?? 0, kept: turn.assessment.steps?.length ?? 0 },
    causeNamed: s.causeWords.length === 0 ? null : s.causeWords.some((w) => text.includes(w.toLowerCase())),
    expected: s.accept.length > 0,
    hit: proposals.some((p) => p.outcome === 'accepted'),
  };
}

function safeOrigin(host: string): string {
  try {
    return new URL(host).origin;
  } catch {
    return '(an invalid host URL)';
  }
}
