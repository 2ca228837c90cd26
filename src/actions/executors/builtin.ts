/**
 * The builtin executor: a catalog action whose executor is a function of the bot itself rather than
 * a command or a request (`executor: { builtin: skill-publish }`). The learning loop uses it, so
 * publishing a skill is a catalog action like any other: owned by an agent, tiered, decided by
 * decide(), approved by a person, run and recorded by the runner.
 *
 * The functions are registered with the runner by the composition root (src/main.ts); the policy
 * can only name one of BUILTIN_NAMES (the policy's vocabulary, src/policy/vocabulary.ts, with the
 * params each reads), and the params it passes are the declared, checked params.
 * A builtin that is not registered in this process fails the run with a reason, it never guesses.
 */
import { performance } from 'node:perf_hooks';
import type { CompiledAction, Params } from '../../policy/types.js';
import { type AgentName, BUILTIN_NAMES, type BuiltinName, isBuiltinName } from '../../policy/vocabulary.js';

/** What a builtin function is called with. */
export interface BuiltinCall {
  readonly name: BuiltinName;
  readonly actionId: string;
  readonly agent: AgentName;
  /** The declared params, checked against the catalog (checkParams) before the call. */
  readonly params: Params;
  readonly runId: string;
  /** The approval (approvals.id) that let it run, if any: who decided is in that row. */
  readonly approvalId: string | null;
  /** Aborted by the kill switch or shutdown. */
  readonly signal: AbortSignal;
}

export interface BuiltinOutput {
  /** A sentence a person can read: what changed. */
  readonly outcome: string;
  /** Links or ids to keep with the run (a file written, a skill id). */
  readonly evidence?: readonly string[];
}

/** A builtin's implementation. Throw an Error whose message says what was wrong to fail the run. */
export type BuiltinFn = (call: BuiltinCall) => Promise<BuiltinOutput> | BuiltinOutput;

/** The functions this process can run, by name. */
export class BuiltinRegistry {
  readonly #fns = new Map<BuiltinName, BuiltinFn>();

  /** Registers `fn` for `name`; a second registration of the same name is a wiring bug and throws. */
  register(name: BuiltinName, fn: BuiltinFn): void {
    if (!isBuiltinName(name)) {
      throw new TypeError(`unknown builtin ${JSON.stringify(name)}; known: ${BUILTIN_NAMES.join(', ')}`);
    }
    if (this.#fns.has(name)) throw new TypeError(`builtin ${name} is already registered`);
    this.#fns.set(name, fn);
  }

  get(name: BuiltinName): BuiltinFn | undefined {
    return this.#fns.get(name);
  }
}

export interface BuiltinResult {
  readonly kind: 'builtin';
  /** True when nothing was called (dry-run mode). */
  readonly dryRun: boolean;
  readonly name: BuiltinName;
  readonly params: Params;
  readonly ok: boolean;
  readonly aborted: boolean;
  readonly timedOut: boolean;
  /** Why it failed (its Error's message), else null. */
  readonly error: string | null;
  /** What the function said it did (empty when it failed or did not run). */
  readonly outcome: string;
  readonly evidence: readonly string[];
  readonly wallMs: number;
}

export interface BuiltinRunContext {
  readonly runId: string;
  readonly approvalId: string | null;
  readonly signal: AbortSignal;
  readonly dryRun: boolean;
}

/** The builtin an action names. Throws (a programming error) for any other executor. */
export function builtinOf(action: CompiledAction): BuiltinName {
  const ex = action.doc.executor;
  if (!('builtin' in ex)) throw new TypeError(`action ${action.id} is not a builtin action`);
  return ex.builtin;
}

/** Calls the builtin once, with the action's timeout; never throws (failures are in the result). */
export async function runBuiltin(
  action: CompiledAction,
  params: Params,
  fn: BuiltinFn | undefined,
  ctx: BuiltinRunContext,
): Promise<BuiltinResult> {
  const name = builtinOf(action);
  const base = { kind: 'builtin' as const, name, params, evidence: [] as string[] };
  if (ctx.dryRun) {
    return {
      ...base,
      dryRun: true,
      ok: false,
      aborted: false,
      timedOut: false,
      error: null,
      outcome: '',
      wallMs: 0,
    };
  }
  const started = performance.now();
  const wall = () => Math.round(performance.now() - started);
  const failed = (error: string, extra: { aborted?: boolean; timedOut?: boolean } = {}): BuiltinResult => ({
    ...base,
    dryRun: false,
    ok: false,
    aborted: extra.aborted ?? false,
    timedOut: extra.timedOut ?? false,
    error,
    outcome: '',
    wallMs: wall(),
  });
  if (fn === undefined) {
    return failed(`builtin ${name} is not available in this process (it is registered by the bot at start)`);
  }
  if (ctx.signal.aborted) return failed('aborted before it started', { aborted: true });
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const stop = new Promise<'timeout' | 'abort'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), action.timeoutMs);
    timer.unref();
    onAbort = () => resolve('abort');
    ctx.signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    const call = Promise.resolve().then(() =>
      fn({
        name,
        actionId: action.id,
        agent: action.agent,
        params,
        runId: ctx.runId,
        approvalId: ctx.approvalId,
        signal: ctx.signal,
      }),
    );
    const first = await Promise.race([call, stop]);
    if (first === 'timeout') return failed(`no result within ${action.timeoutMs} ms`, { timedOut: true });
    if (first === 'abort') return failed('aborted (kill switch or shutdown)', { aborted: true });
    return {
      ...base,
      dryRun: false,
      ok: true,
      aborted: false,
      timedOut: false,
      error: null,
      outcome: first.outcome,
      evidence: [...(first.evidence ?? [])],
      wallMs: wall(),
    };
  } catch (err) {
    return failed(err instanceof Error ? err.message : String(err));
  } finally {
    clearTimeout(timer);
    if (onAbort !== undefined) ctx.signal.removeEventListener('abort', onAbort);
  }
}

/** Status and outcome sentence of a builtin run (not stopped by a kill: see the runner). */
export function builtinOutcome(r: BuiltinResult): {
  status: 'succeeded' | 'failed' | 'interrupted' | 'skipped';
  outcome: string;
} {
  if (r.dryRun) return { status: 'skipped', outcome: `dry run: builtin ${r.name} was not called` };
  if (r.aborted) return { status: 'interrupted', outcome: `builtin ${r.name} ${r.error ?? 'aborted'}` };
  if (!r.ok) return { status: 'failed', outcome: `builtin ${r.name} failed: ${r.error ?? 'unknown error'}` };
  return { status: 'succeeded', outcome: r.outcome || `builtin ${r.name} done` };
}

/** Facts about the builtin run for the audit record's data. */
export function builtinFacts(r: BuiltinResult): Record<string, unknown> {
  return {
    kind: 'builtin',
    dryRun: r.dryRun,
    builtin: r.name,
    params: r.params,
    ok: r.ok,
    aborted: r.aborted,
    timedOut: r.timedOut,
    error: r.error,
    outcome: r.outcome,
    wallMs: r.wallMs,
  };
}
