/**
 * Health probes (policy `health.probes`), run in the light sweep. Each probe requests its URL and
 * compares the answer with what it expects; its latency is judged against its own recent baseline:
 * the median and MAD (median absolute deviation) of the last good samples, so one outlier moves
 * nothing. A probe is degraded after `failuresToAlert` bad results in a row, where bad is a wrong
 * status, an error or timeout ("down"), or a latency both above its objective and far above its
 * baseline ("slow"); that becomes a health signal (fingerprint `health:<probe>`). After
 * `recoveriesToResolve` good results in a row a resolving signal closes it. The fetch is injected.
 */
import { durationMs } from '../../policy/compile.js';
import type { Policy } from '../../policy/types.js';
import type { Severity } from '../../policy/vocabulary.js';
import type { SignalInput, SignalSink } from '../types.js';

export interface ProbeSpec {
  readonly name: string;
  readonly url: string;
  readonly method: 'GET' | 'HEAD';
  readonly expectStatus: number;
  readonly timeoutMs: number;
  readonly latencyObjectiveMs: number;
  readonly service: string;
}

export interface HealthSettings {
  readonly probes: readonly ProbeSpec[];
  readonly failuresToAlert: number;
  readonly recoveriesToResolve: number;
}

/** The policy's `health` section with durations in milliseconds. */
export function healthSettings(policy: Policy): HealthSettings {
  const h = policy.doc.health;
  return {
    probes: h.probes.map((p) => ({
      name: p.name,
      url: p.url,
      method: p.method,
      expectStatus: p.expectStatus,
      timeoutMs: durationMs(p.timeout),
      latencyObjectiveMs: durationMs(p.latencyObjective),
      service: p.service,
    })),
    failuresToAlert: h.failuresToAlert,
    recoveriesToResolve: h.recoveriesToResolve,
  };
}

// ---------------------------------------------------------------------------------------------
// The baseline

export interface BaselineOptions {
  /** Good samples kept (a ring buffer). */
  readonly size: number;
  /** Samples needed before latency is judged at all. */
  readonly minSamples: number;
  /** "Far above": more than median + k * spread. */
  readonly k: number;
  /** The spread is at least this many ms, and at least `floorRatio` of the median (a steady service has MAD 0). */
  readonly floorMs: number;
  readonly floorRatio: number;
}

export const DEFAULT_BASELINE: BaselineOptions = {
  size: 32,
  minSamples: 5,
  k: 5,
  floorMs: 10,
  floorRatio: 0.25,
};

function median(sorted: readonly number[]): number {
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Median and MAD over a bounded ring buffer of latencies (ms). */
export class LatencyBaseline {
  readonly #samples: number[] = [];
  #next = 0;

  constructor(private readonly options: BaselineOptions = DEFAULT_BASELINE) {}

  add(ms: number): void {
    if (this.#samples.length < this.options.size) this.#samples.push(ms);
    else this.#samples[this.#next] = ms;
    this.#next = (this.#next + 1) % this.options.size;
  }

  get count(): number {
    return this.#samples.length;
  }

  /** The median, or null before any sample. */
  median(): number | null {
    if (this.#samples.length === 0) return null;
    return median([...this.#samples].sort((a, b) => a - b));
  }

  /** Median absolute deviation, scaled (x1.4826) to estimate a standard deviation. */
  spread(): number | null {
    const m = this.median();
    if (m === null) return null;
    return 1.4826 * median(this.#samples.map((s) => Math.abs(s - m)).sort((a, b) => a - b));
  }

  /** Latencies above this are "far above the baseline"; null until `minSamples` samples. */
  threshold(): number | null {
    if (this.#samples.length < this.options.minSamples) return null;
    const m = this.median() as number;
    const spread = Math.max(this.spread() as number, this.options.floorMs, this.options.floorRatio * m);
    return m + this.options.k * spread;
  }
}

// ---------------------------------------------------------------------------------------------
// Probing

export type ProbeOutcome = 'ok' | 'down' | 'slow';

export interface ProbeResult {
  readonly probe: string;
  readonly outcome: ProbeOutcome;
  /** The HTTP status, or null when there was no answer. */
  readonly status: number | null;
  readonly latencyMs: number;
  /** Why it is not ok, for people. */
  readonly detail: string | null;
  readonly baselineMs: number | null;
  readonly thresholdMs: number | null;
  /** The probe's state after this result. */
  readonly degraded: boolean;
  /** The signal this result raised (degraded, escalated or recovered), if any. */
  readonly signal: SignalInput | null;
}

interface ProbeState {
  key: string;
  baseline: LatencyBaseline;
  badStreak: number;
  goodStreak: number;
  /** When the current bad streak began. */
  badSince: number | null;
  /** The state signalled last: null = healthy. */
  degraded: 'down' | 'slow' | null;
}

export interface HealthMonitorDeps {
  readonly sink: SignalSink;
  /** Epoch ms; also measures latency. */
  readonly now: () => number;
  readonly fetch?: typeof fetch;
  readonly baseline?: Partial<BaselineOptions>;
  /** Probes with an open health incident at start, so a recovery after a restart still resolves it. */
  readonly degradedAtStart?: Iterable<string>;
}

export class HealthMonitor {
  readonly #states = new Map<string, ProbeState>();
  readonly #fetch: typeof fetch;
  readonly #baseline: BaselineOptions;
  readonly #degradedAtStart: Set<string>;

  constructor(private readonly deps: HealthMonitorDeps) {
    this.#fetch = deps.fetch ?? fetch;
    this.#baseline = { ...DEFAULT_BASELINE, ...deps.baseline };
    this.#degradedAtStart = new Set(deps.degradedAtStart ?? []);
  }

  /** Runs every probe at once; stores the signals they raise. Rejects only when `signal` aborts or the sink fails. */
  async run(settings: HealthSettings, signal?: AbortSignal): Promise<ProbeResult[]> {
    const names = new Set(settings.probes.map((p) => p.name));
    for (const name of this.#states.keys()) if (!names.has(name)) this.#states.delete(name);
    return Promise.all(settings.probes.map((p) => this.probe(p, settings, signal)));
  }

  /** Whether a probe is degraded now (for /healthz and tests). */
  isDegraded(name: string): boolean {
    return (this.#states.get(name)?.degraded ?? null) !== null;
  }

  async probe(spec: ProbeSpec, settings: HealthSettings, signal?: AbortSignal): Promise<ProbeResult> {
    const state = this.#state(spec);
    const { status, latencyMs, error } = await this.#request(spec, signal);
    const threshold = state.baseline.threshold();
    const baselineMs = state.baseline.median();
    let outcome: ProbeOutcome = 'ok';
    let detail: string | null = null;
    if (error !== null) {
      outcome = 'down';
      detail = error;
    } else if (status !== spec.expectStatus) {
      outcome = 'down';
      detail = `HTTP ${status} (expected ${spec.expectStatus})`;
    } else if (threshold !== null && latencyMs > threshold && latencyMs > spec.latencyObjectiveMs) {
      outcome = 'slow';
      detail =
        `${Math.round(latencyMs)} ms, far above its baseline of ${Math.round(baselineMs ?? 0)} ms ` +
        `and over the ${spec.latencyObjectiveMs} ms objective`;
    }

    const at = this.deps.now();
    const next = {
      badStreak: outcome === 'ok' ? 0 : state.badStreak + 1,
      goodStreak: outcome === 'ok' ? state.goodStreak + 1 : 0,
      badSince: outcome === 'ok' ? null : (state.badSince ?? at),
      degraded: state.degraded,
    };
    let raised: SignalInput | null = null;
    const base = { latencyMs, status, detail, baselineMs, threshold, spec };
    if (outcome !== 'ok' && next.badStreak >= settings.failuresToAlert) {
      // Alert on the first degradation, and again when slow turns into down.
      if (state.degraded === null || (state.degraded === 'slow' && outcome === 'down')) {
        raised = degradedSignal({ ...base, outcome, streak: next.badStreak, at, since: next.badSince ?? at });
        next.degraded = outcome;
      }
    } else if (
      outcome === 'ok' &&
      state.degraded !== null &&
      next.goodStreak >= settings.recoveriesToResolve
    ) {
      raised = recoveredSignal({ ...base, streak: next.goodStreak, at });
      next.degraded = null;
    }
    // Store first: if the sink fails, the state stays as it was and the next run tries again.
    if (raised !== null) this.deps.sink.ingest([raised]);
    Object.assign(state, next);
    if (outcome === 'ok') state.baseline.add(latencyMs);
    return {
      probe: spec.name,
      outcome,
      status,
      latencyMs,
      detail,
      baselineMs,
      thresholdMs: threshold,
      degraded: state.degraded !== null,
      signal: raised,
    };
  }

  #state(spec: ProbeSpec): ProbeState {
    const key = `${spec.method} ${spec.url} ${spec.expectStatus}`;
    let state = this.#states.get(spec.name);
    if (state === undefined || state.key !== key) {
      // A new probe, or one that now checks something else: its old baseline says nothing.
      const wasDegraded = state?.degraded ?? (this.#degradedAtStart.has(spec.name) ? 'down' : null);
      this.#degradedAtStart.delete(spec.name);
      state = {
        key,
        baseline: new LatencyBaseline(this.#baseline),
        badStreak: 0,
        goodStreak: 0,
        badSince: null,
        degraded: wasDegraded,
      };
      this.#states.set(spec.name, state);
    }
    return state;
  }

  async #request(
    spec: ProbeSpec,
    signal: AbortSignal | undefined,
  ): Promise<{ status: number | null; latencyMs: number; error: string | null }> {
    const timeout = AbortSignal.timeout(spec.timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    const started = this.deps.now();
    try {
      const res = await this.#fetch(spec.url, {
        method: spec.method,
        signal: combined,
        redirect: 'manual',
        headers: { 'user-agent': 'autonomy-health-probe' },
      });
      const latencyMs = this.deps.now() - started;
      await res.body?.cancel().catch(() => undefined);
      return { status: res.status, latencyMs, error: null };
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      const latencyMs = this.deps.now() - started;
      if (timeout.aborted) return { status: null, latencyMs, error: `no answer within ${spec.timeoutMs} ms` };
      return { status: null, latencyMs, error: describeFetchError(err) };
    }
  }
}

function describeFetchError(err: unknown): string {
  const e = err as { message?: string; cause?: { code?: string; message?: string } };
  const cause = e.cause?.code ?? e.cause?.message;
  return cause ? `request failed (${cause})` : `request failed (${e.message ?? String(err)})`;
}

/** The probed URL without its query or fragment (a token in a query string stays out of signals). */
function shownUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '(invalid url)';
  }
}

interface SignalParts {
  readonly spec: ProbeSpec;
  readonly status: number | null;
  readonly latencyMs: number;
  readonly detail: string | null;
  readonly baselineMs: number | null;
  readonly threshold: number | null;
  readonly streak: number;
  readonly at: number;
}

function payload(p: SignalParts, state: string): Record<string, unknown> {
  return {
    probe: p.spec.name,
    state,
    url: shownUrl(p.spec.url),
    method: p.spec.method,
    expectStatus: p.spec.expectStatus,
    status: p.status,
    latencyMs: Math.round(p.latencyMs),
    baselineMs: p.baselineMs === null ? null : Math.round(p.baselineMs),
    thresholdMs: p.threshold === null ? null : Math.round(p.threshold),
    objectiveMs: p.spec.latencyObjectiveMs,
    streak: p.streak,
    detail: p.detail,
  };
}

function degradedSignal(p: SignalParts & { outcome: 'down' | 'slow'; since: number }): SignalInput {
  const severity: Severity = p.outcome === 'down' ? 'critical' : 'warning';
  return {
    kind: 'health',
    source: `probe:${p.spec.name}`,
    dedupeKey: `probe:${p.spec.name}:${p.outcome}:${p.at}`,
    fingerprint: `health:${p.spec.name}`,
    title: `${p.spec.name} (${p.spec.service}) is ${p.outcome}: ${p.detail}, ${p.streak} checks in a row`,
    service: p.spec.service,
    severity,
    occurredAt: p.since,
    payload: payload(p, p.outcome),
  };
}

function recoveredSignal(p: SignalParts): SignalInput {
  return {
    kind: 'health',
    source: `probe:${p.spec.name}`,
    dedupeKey: `probe:${p.spec.name}:recovered:${p.at}`,
    fingerprint: `health:${p.spec.name}`,
    title: `${p.spec.name} (${p.spec.service}) recovered: HTTP ${p.status} in ${Math.round(p.latencyMs)} ms, ${p.streak} checks in a row`,
    service: p.spec.service,
    severity: 'info',
    occurredAt: p.at,
    payload: payload(p, 'recovered'),
    resolves: true,
  };
}
