/**
 * The model router: every model call an agent makes goes through `call()`, which applies, in
 * order, the kill switch, the budgets (reserving the prompt's estimate plus the reply's cap before
 * the call, then charging what the reply reports, never more than that: tokens.ts), backoff per
 * host, the concurrency caps (fair queue) and the timeout; sends the model's context size
 * (`num_ctx`) and the reply cap (`num_predict`); picks the local model or an escalation model by
 * the policy's conditions (critical-severity and deep-check first, local-failure and
 * invalid-output after a failure, low-confidence after an answer below the policy's threshold);
 * and checks structured output with zod (retried once). Expected failures are results, never
 * exceptions. Model output is data: it is returned as text or as a value that passed the schema.
 * As a Service it probes the model servers the policy uses (probe.ts): its health is that probe,
 * and `onServerChange` hears once when one becomes unreachable and once when it is back.
 */
import { z } from 'zod';
import { durationMs } from '../policy/compile.js';
import type { Policy } from '../policy/types.js';
import { AGENTS, type AgentName } from '../policy/vocabulary.js';
import type { Clock } from '../process/ids.js';
import type { KillOrder, KillTeeth, Service, ServiceHealth } from '../service.js';
import { BudgetGate, HostBackoff } from './budget.js';
import { FairLimiter } from './limiter.js';
import { ServerProbe } from './probe.js';
import { type ServerChange, ServerNotices } from './server-notices.js';
import { charge, estimateTokens } from './tokens.js';
import type { LlmMessage, ModelClient } from './types.js';
import type { UsageStore } from './usage.js';

export type { ServerChange } from './server-notices.js';
export { estimateTokens } from './tokens.js';

export type FailureReason =
  | 'killed'
  | 'budget'
  | 'rate'
  | 'unavailable'
  | 'invalid-output'
  | 'aborted'
  | 'too-large';
export type DegradedReason = 'budget' | 'rate' | 'unavailable';

export interface CallRequest<T> {
  readonly messages: readonly LlmMessage[];
  readonly schema?: z.ZodType<T>;
  readonly severity?: 'info' | 'warning' | 'critical';
  readonly deep?: boolean;
  /** How sure the answer is (0..1), for the low-confidence escalation; null: it does not say. */
  readonly confidence?: (value: T) => number | null;
  readonly runId?: string;
  readonly signal?: AbortSignal;
}

export interface CallTokens {
  readonly prompt: number;
  readonly completion: number;
}

export type CallResult<T> =
  | { ok: true; value: T | undefined; text: string; model: string; tokens: CallTokens }
  | { ok: false; reason: FailureReason; detail: string };

export interface RouterLog {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

export interface ModelRouterOptions {
  readonly client: ModelClient;
  readonly policy: () => Policy;
  readonly now: Clock;
  readonly usage: UsageStore;
  readonly isKilled: (agent: AgentName) => boolean;
  readonly log: RouterLog;
  /** Host for models that name none (OLLAMA_HOST). */
  readonly defaultHost: string;
  /** Called once per agent and reason until a call of that agent succeeds again. */
  readonly onDegraded?: (agent: AgentName, reason: DegradedReason, detail: string) => void;
  /** How often the model servers are probed while started (default 30 s). */
  readonly probeEveryMs?: number;
  /**
   * Told when a model server the policy uses becomes unreachable and when it is back: once per
   * change, never a flood when it flaps (server-notices.ts says how).
   */
  readonly onServerChange?: (change: ServerChange) => void;
}

interface Target {
  readonly model: string;
  readonly provider: string;
  readonly host: string;
  readonly local: boolean;
  readonly contextTokens: number;
}

type Attempt<T> =
  | { ok: true; value: T | undefined; text: string; tokens: CallTokens }
  | { ok: false; reason: FailureReason; detail: string };

/** Why a call's signal fired. */
class Stop extends Error {
  constructor(readonly reason: 'killed' | 'aborted' | 'timeout') {
    super(`model call ${reason}`);
    this.name = 'Stop';
  }
}

export class ModelRouter implements Service {
  readonly name = 'model';
  private readonly budget: BudgetGate;
  private readonly backoff = new HostBackoff();
  readonly limiter: FairLimiter;
  private readonly inFlight = new Map<AgentName, Set<AbortController>>();
  private readonly degraded = new Map<AgentName, Set<DegradedReason>>();
  private readonly formats = new WeakMap<z.ZodType, Record<string, unknown>>();
  private readonly probe: ServerProbe;
  private readonly serverNotices: ServerNotices | null;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly options: ModelRouterOptions) {
    const notify = options.onServerChange;
    const notices = notify === undefined ? null : new ServerNotices({ now: options.now, notify });
    this.probe = new ServerProbe(options.client, options.now, (host, state) => {
      // Called on every answered call too: the policy is read only when there is something to say.
      notices?.observe(host, state.ok, state.detail, () => {
        const used = this.hosts().find((h) => h.host === host);
        return used && { server: safeOrigin(host), models: used.models, local: used.local };
      });
    });
    this.serverNotices = notices;
    this.budget = new BudgetGate(options.usage);
    this.limiter = new FairLimiter(() => {
      const m = options.policy().doc.models;
      return { local: m.maxConcurrentLocal, perAgent: m.perAgentConcurrency };
    });
  }

  /** Reasons this agent is working on rules alone right now (cleared by its next successful call). */
  notices(agent: AgentName): DegradedReason[] {
    return [...(this.degraded.get(agent) ?? [])];
  }

  /** Probes the model servers now and then every `probeEveryMs` until stopped. */
  async start(): Promise<void> {
    if (this.timer !== null) return;
    this.timer = setInterval(() => void this.checkServers(), this.options.probeEveryMs ?? 30_000);
    this.timer.unref();
    await this.checkServers();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** Probes every host the policy's models use (resolves when each answered or gave up). */
  checkServers(): Promise<void> {
    const hosts = this.hosts().map((h) => h.host);
    this.serverNotices?.keepOnly(new Set(hosts));
    return this.probe.probe(hosts);
  }

  private hosts(): { host: string; models: string[]; local: boolean }[] {
    const m = this.options.policy().doc.models;
    const out = new Map<string, { host: string; models: string[]; local: boolean }>();
    for (const [ref, local] of [[m.local, true], ...m.escalation.map((e) => [e, false] as const)] as const) {
      const host = ref.host ?? this.options.defaultHost;
      const entry = out.get(host) ?? { host, models: [], local };
      entry.models.push(ref.model);
      out.set(host, entry);
    }
    return [...out.values()];
  }

  /**
   * The model servers from the last probe: degraded when the local model's server is down (the
   * agents work on rules), or an escalation server is, or an agent works on rules for its budget.
   */
  health(): ServiceHealth {
    const hosts = this.hosts();
    const parts: string[] = [];
    let bad = false;
    for (const h of hosts) {
      const state = this.probe.state(h.host);
      const name = `${h.models.join(', ')} at ${safeOrigin(h.host)}`;
      if (state === null) {
        if (this.probe.available) {
          bad = true;
          parts.push(`${name}: not checked yet`);
        } else parts.push(name);
      } else if (state.ok) parts.push(`${name}: ${state.detail}`);
      else {
        bad = true;
        parts.push(
          `${name}: unreachable (${state.detail})${h.local ? '; the agents work on rules alone' : ''}`,
        );
      }
    }
    const rulesOnly = AGENTS.filter((a) => this.notices(a).length > 0);
    if (rulesOnly.length > 0) {
      bad = true;
      const reasons = [...new Set(rulesOnly.flatMap((a) => this.notices(a)))];
      parts.push(`${rulesOnly.join(', ')} on rules alone (${reasons.join(', ')})`);
    }
    return { status: bad ? 'degraded' : 'ok', detail: parts.join('; ') };
  }

  onKill(order: KillOrder): KillTeeth {
    return { aborted: this.abort(order.target) };
  }

  /** Aborts every queued and running call of `agent` (or all): wire to the kill switch. */
  abort(target: AgentName | 'all'): number {
    let n = 0;
    for (const [agent, set] of this.inFlight) {
      if (target !== 'all' && agent !== target) continue;
      for (const c of set) {
        c.abort(new Stop('killed'));
        n++;
      }
    }
    return n;
  }

  async call<T = unknown>(agent: AgentName, request: CallRequest<T>): Promise<CallResult<T>> {
    if (this.options.isKilled(agent)) return { ok: false, reason: 'killed', detail: `${agent} is killed` };
    const controller = new AbortController();
    const onCallerAbort = (): void => controller.abort(new Stop('aborted'));
    request.signal?.addEventListener('abort', onCallerAbort, { once: true });
    if (request.signal?.aborted) onCallerAbort();
    let set = this.inFlight.get(agent);
    if (set === undefined) {
      set = new Set();
      this.inFlight.set(agent, set);
    }
    set.add(controller);
    try {
      const result = await this.route(agent, request, controller.signal);
      if (result.ok) this.degraded.delete(agent);
      else if (result.reason === 'budget' || result.reason === 'rate' || result.reason === 'unavailable') {
        this.degrade(agent, result.reason, result.detail);
      }
      return result;
    } finally {
      set.delete(controller);
      request.signal?.removeEventListener('abort', onCallerAbort);
    }
  }

  private degrade(agent: AgentName, reason: DegradedReason, detail: string): void {
    let reasons = this.degraded.get(agent);
    if (reasons === undefined) {
      reasons = new Set();
      this.degraded.set(agent, reasons);
    }
    if (reasons.has(reason)) return;
    reasons.add(reason);
    this.options.log.warn({ agent, reason, detail }, 'agent works on rules alone');
    this.options.onDegraded?.(agent, reason, detail);
  }

  private target(
    ref: { model: string; provider: string; host?: string | undefined; contextTokens?: number | undefined },
    local: boolean,
    policy: Policy,
  ): Target {
    return {
      model: ref.model,
      provider: ref.provider,
      host: ref.host ?? this.options.defaultHost,
      local,
      contextTokens: ref.contextTokens ?? policy.doc.models.contextTokens,
    };
  }

  private async route<T>(
    agent: AgentName,
    request: CallRequest<T>,
    signal: AbortSignal,
  ): Promise<CallResult<T>> {
    const policy = this.options.policy();
    const models = policy.doc.models;
    const local = this.target(models.local, true, policy);
    const escalations = models.escalation.map((e) => ({
      target: this.target(e, false, policy),
      when: e.when,
    }));
    const upfront = escalations.find(
      (e) =>
        (request.severity === 'critical' && e.when.includes('critical-severity')) ||
        (request.deep === true && e.when.includes('deep-check')),
    );
    const tried = new Set<Target>();
    const queue: Target[] = upfront === undefined ? [local] : [upfront.target, local];
    let last: Attempt<T> = { ok: false, reason: 'unavailable', detail: 'no model configured' };
    while (queue.length > 0) {
      const target = queue.shift() as Target;
      if (tried.has(target)) continue;
      tried.add(target);
      last = await this.tryModel(agent, request, target, policy, signal);
      if (last.ok)
        return this.sureEnough(
          agent,
          request,
          { ...last, model: target.model },
          escalations,
          tried,
          policy,
          signal,
        );
      if (last.reason !== 'unavailable' && last.reason !== 'invalid-output') return last;
      const condition = last.reason === 'unavailable' ? 'local-failure' : 'invalid-output';
      for (const e of escalations)
        if (e.when.includes(condition) && !tried.has(e.target)) queue.push(e.target);
      if (last.reason === 'unavailable' && !tried.has(local)) queue.push(local);
    }
    return last;
  }

  /**
   * An answer whose confidence is below the policy's threshold is asked again of a model whose
   * conditions list low-confidence (not asked yet); its answer wins when it gives one.
   */
  private async sureEnough<T>(
    agent: AgentName,
    request: CallRequest<T>,
    answer: CallResult<T> & { ok: true },
    escalations: readonly { target: Target; when: readonly string[] }[],
    tried: Set<Target>,
    policy: Policy,
    signal: AbortSignal,
  ): Promise<CallResult<T>> {
    if (request.confidence === undefined || answer.value === undefined) return answer;
    let confidence: number | null;
    try {
      confidence = request.confidence(answer.value);
    } catch {
      confidence = null;
    }
    if (confidence === null || !(confidence < policy.doc.models.lowConfidence)) return answer;
    for (const e of escalations) {
      if (!e.when.includes('low-confidence') || tried.has(e.target)) continue;
      tried.add(e.target);
      this.options.log.info(
        { agent, model: answer.model, confidence, to: e.target.model },
        'low confidence: asking the escalation model',
      );
      const second = await this.tryModel(agent, request, e.target, policy, signal);
      if (second.ok) return { ...second, model: e.target.model };
      if (second.reason === 'killed' || second.reason === 'aborted') return second;
    }
    return answer;
  }

  /** One model: budget, backoff, slot, call, validation (one retry on invalid output). */
  private async tryModel<T>(
    agent: AgentName,
    request: CallRequest<T>,
    target: Target,
    policy: Policy,
    signal: AbortSignal,
  ): Promise<Attempt<T>> {
    let invalid = '';
    for (let round = 0; round < 2; round++) {
      const blocked = this.backoff.blockedUntil(target.host, this.options.now());
      if (blocked !== null) {
        return {
          ok: false,
          reason: 'unavailable',
          detail: `${target.model}: its host failed recently; next try after ${new Date(blocked).toISOString()}`,
        };
      }
      const outcome = await this.once(agent, request, target, policy, signal);
      if (!outcome.ok) return outcome;
      if (request.schema === undefined)
        return { ok: true, value: undefined, text: outcome.text, tokens: outcome.tokens };
      const checked = parseOutput(request.schema, outcome.text);
      if (checked.ok) return { ok: true, value: checked.value, text: outcome.text, tokens: outcome.tokens };
      invalid = checked.detail;
      this.options.log.warn({ agent, model: target.model, round }, 'model output failed its schema');
    }
    return {
      ok: false,
      reason: 'invalid-output',
      detail: `${target.model} answered twice with invalid output: ${invalid}`,
    };
  }

  private async once<T>(
    agent: AgentName,
    request: CallRequest<T>,
    target: Target,
    policy: Policy,
    signal: AbortSignal,
  ): Promise<
    { ok: true; text: string; tokens: CallTokens } | { ok: false; reason: FailureReason; detail: string }
  > {
    if (this.options.isKilled(agent)) return { ok: false, reason: 'killed', detail: `${agent} is killed` };
    const promptEstimate = estimateTokens(request.messages);
    const maxTokens = policy.doc.models.maxOutputTokens;
    if (promptEstimate + maxTokens > target.contextTokens) {
      return {
        ok: false,
        reason: 'too-large',
        detail: `${target.model}: a prompt of about ${promptEstimate} tokens and a reply of up to ${maxTokens} do not fit its ${target.contextTokens} context tokens`,
      };
    }
    const verdict = this.budget.reserve(policy, agent, promptEstimate + maxTokens);
    if (!verdict.ok) return verdict;
    let release: (() => void) | null = null;
    let timer: NodeJS.Timeout | null = null;
    const started = this.options.now();
    let reached = false;
    try {
      release = await this.limiter.acquire(agent, target.local, signal);
      const timeoutMs = durationMs(policy.doc.models.timeout);
      const attempt = new AbortController();
      const onOuter = (): void => attempt.abort(signal.reason);
      signal.addEventListener('abort', onOuter, { once: true });
      timer = setTimeout(() => attempt.abort(new Stop('timeout')), timeoutMs);
      timer.unref();
      reached = true;
      try {
        const format = request.schema === undefined ? undefined : this.formatOf(request.schema);
        const reply = await this.options.client.chat({
          host: target.host,
          model: target.model,
          messages: request.messages,
          ...(format === undefined ? {} : { format }),
          contextTokens: target.contextTokens,
          maxTokens,
          signal: attempt.signal,
        });
        this.backoff.succeeded(target.host);
        this.probe.observed(target.host, true, 'answered a call');
        const tokens = charge(reply, { promptEstimate, maxTokens });
        this.record(agent, request, target, tokens.prompt, tokens.completion, started);
        return { ok: true, text: reply.text, tokens };
      } finally {
        signal.removeEventListener('abort', onOuter);
      }
    } catch (error) {
      const reason =
        error instanceof Stop ? error.reason : signal.reason instanceof Stop ? signal.reason.reason : null;
      if (reason === 'killed' || reason === 'aborted') {
        if (reached) this.record(agent, request, target, 0, 0, started);
        return {
          ok: false,
          reason,
          detail: `${target.model}: call ${reason === 'killed' ? 'stopped by the kill switch' : 'aborted'}`,
        };
      }
      if (reached) this.record(agent, request, target, 0, 0, started);
      const until = this.backoff.failed(policy, target.host, this.options.now());
      const why = reason === 'timeout' ? `timed out after ${policy.doc.models.timeout}` : messageOf(error);
      this.options.log.warn({ agent, model: target.model, until }, 'model call failed');
      return { ok: false, reason: 'unavailable', detail: `${target.model}: ${why}` };
    } finally {
      if (timer !== null) clearTimeout(timer);
      release?.();
      this.budget.settle(verdict.reservation);
    }
  }

  private record(
    agent: AgentName,
    request: Pick<CallRequest<unknown>, 'runId'>,
    target: Target,
    p: number,
    c: number,
    started: number,
  ): void {
    try {
      this.options.usage.record(
        agent,
        request.runId ?? null,
        target.model,
        target.provider,
        p,
        c,
        this.options.now() - started,
      );
    } catch (error) {
      this.options.log.warn({ agent, err: messageOf(error) }, 'could not record model usage');
    }
  }

  private formatOf(schema: z.ZodType): Record<string, unknown> {
    let format = this.formats.get(schema);
    if (format === undefined) {
      format = z.toJSONSchema(schema) as Record<string, unknown>;
      this.formats.set(schema, format);
    }
    return format;
  }
}

/** A host URL as people may read it (no user:password). */
function safeOrigin(host: string): string {
  try {
    return new URL(host).origin;
  } catch {
    return '(an invalid host URL)';
  }
}

function parseOutput<T>(
  schema: z.ZodType<T>,
  text: string,
): { ok: true; value: T } | { ok: false; detail: string } {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return { ok: false, detail: 'not JSON' };
  }
  const parsed = schema.safeParse(data);
  if (parsed.success) return { ok: true, value: parsed.data };
  const first = parsed.error.issues[0];
  return {
    ok: false,
    detail: first === undefined ? 'does not match' : `${first.path.join('.') || '(root)'}: ${first.message}`,
  };
}

function messageOf(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).slice(0, 300);
}
