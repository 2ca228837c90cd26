/**
 * The bot's Prometheus metrics (prom-client), on a registry of their own (never the global
 * default, so two bots in one process, or tests, never mix counts). Counters are incremented by
 * the modules that see the events; gauges read their value from callbacks at scrape time.
 * Every name starts with `autonomy_`.
 */
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { APPROVAL_STATES, type ApprovalState } from '../db/schema.js';
import { AGENTS, type AgentName, VERDICTS, type Verdict } from '../policy/vocabulary.js';

/** Values read at scrape time; each one is optional until the module that knows it is wired. */
export interface MetricSources {
  /** How many approvals are in each state now. */
  approvalsByState?: () => Partial<Record<ApprovalState, number>>;
  /** Undelivered outbox messages, and the age of the oldest of them (ms; null when none waits). */
  outbox?: () => { readonly depth: number; readonly oldestAgeMs: number | null };
  /** Kill switches now (ControlSnapshot's killedAll / killedAgents). */
  killSwitches?: () => { readonly killedAll: boolean; readonly killedAgents: Iterable<string> };
}

export interface MetricsOptions {
  readonly sources?: MetricSources;
  /** Also export process metrics (memory, CPU, event loop lag) as autonomy_process_*. Default false. */
  readonly processMetrics?: boolean;
}

const PREFIX = 'autonomy_';
/** The webhook routes (adapters/http/hooks) and what becomes of an item they accept. */
const INGEST_HOOKS = ['alertmanager', 'github', 'logs', 'events', 'osv'] as const;
const INGEST_OUTCOMES = ['stored', 'duplicate', 'ignored'] as const;
type IngestOutcome = (typeof INGEST_OUTCOMES)[number];
type IngestTally = Record<IngestOutcome, number> & { readonly reported: Record<IngestOutcome, number> };
const newTally = (): IngestTally => ({
  stored: 0,
  duplicate: 0,
  ignored: 0,
  reported: { stored: 0, duplicate: 0, ignored: 0 },
});

/** Label values from outside (ingest reasons, model names) are kept short and printable. */
function labelValue(text: string, max = 64): string {
  const clean = text.replace(/[^A-Za-z0-9_.:/-]/g, '_').slice(0, max);
  return clean === '' ? 'unknown' : clean;
}

export class Metrics {
  readonly registry = new Registry();
  #sources: MetricSources;

  readonly #decisions: Counter<'agent' | 'verdict'>;
  readonly #deliveryFailures: Counter<'platform' | 'permanent'>;
  readonly #modelCalls: Counter<'agent' | 'model' | 'outcome'>;
  readonly #modelTokens: Counter<'agent' | 'model' | 'kind'>;
  readonly #ingestRejections: Counter<'reason'>;
  /**
   * Items per hook, counted in plain numbers (a webhook storm adds to them on every request) and
   * handed to `autonomy_ingest_items_total` when /metrics is scraped.
   */
  readonly #ingestItems = new Map<string, IngestTally>();
  readonly #sourceErrors: Counter<'source'>;

  constructor(options: MetricsOptions = {}) {
    this.#sources = { ...options.sources };
    const registers = [this.registry];

    this.#decisions = new Counter({
      name: `${PREFIX}decisions_total`,
      help: 'Decisions made by the policy, by agent and verdict (observe, suggest, execute, ask, deny).',
      labelNames: ['agent', 'verdict'],
      registers,
    });
    for (const agent of AGENTS) for (const verdict of VERDICTS) this.#decisions.inc({ agent, verdict }, 0);

    this.#deliveryFailures = new Counter({
      name: `${PREFIX}outbox_delivery_failures_total`,
      help: 'Failed chat deliveries, by platform; permanent="true" when the message was given up.',
      labelNames: ['platform', 'permanent'],
      registers,
    });
    this.#modelCalls = new Counter({
      name: `${PREFIX}model_calls_total`,
      help: 'Model calls, by agent, model and outcome (ok or error).',
      labelNames: ['agent', 'model', 'outcome'],
      registers,
    });
    this.#modelTokens = new Counter({
      name: `${PREFIX}model_tokens_total`,
      help: 'Model tokens used, by agent, model and kind (prompt or completion).',
      labelNames: ['agent', 'model', 'kind'],
      registers,
    });
    this.#ingestRejections = new Counter({
      name: `${PREFIX}ingest_rejections_total`,
      help: 'Webhook deliveries refused, by reason.',
      labelNames: ['reason'],
      registers,
    });
    for (const hook of INGEST_HOOKS) this.#ingestItems.set(hook, newTally());
    const items = this.#ingestItems;
    new Counter({
      name: `${PREFIX}ingest_items_total`,
      help:
        'Webhook items accepted, by hook and outcome: stored (signals; log lines for logs), ' +
        'duplicate (seen before, nothing written), ignored (accepted, no signal).',
      labelNames: ['hook', 'outcome'],
      registers,
      collect() {
        for (const [hook, tally] of items) {
          for (const outcome of INGEST_OUTCOMES) {
            const delta = tally[outcome] - tally.reported[outcome];
            this.inc({ hook: labelValue(hook), outcome }, delta);
            tally.reported[outcome] = tally[outcome];
          }
        }
      },
    });

    const read = <T>(source: keyof MetricSources, fn: (() => T) | undefined): T | undefined => {
      if (!fn) return undefined;
      try {
        return fn();
      } catch {
        this.#sourceErrors.inc({ source });
        return undefined;
      }
    };
    const sources = () => this.#sources;

    // A gauge whose source is not wired yet, or fails, reads NaN ("unknown"), never a reassuring 0.
    new Gauge({
      name: `${PREFIX}approvals`,
      help: 'Approvals by state, now (NaN when unknown).',
      labelNames: ['state'],
      registers,
      collect() {
        const counts = read('approvalsByState', sources().approvalsByState);
        for (const state of APPROVAL_STATES) this.set({ state }, counts ? (counts[state] ?? 0) : Number.NaN);
      },
    });
    new Gauge({
      name: `${PREFIX}outbox_depth`,
      help: 'Chat messages stored and not yet delivered (NaN when unknown).',
      registers,
      collect() {
        this.set(read('outbox', sources().outbox)?.depth ?? Number.NaN);
      },
    });
    new Gauge({
      name: `${PREFIX}outbox_oldest_undelivered_seconds`,
      help: 'Age of the oldest undelivered chat message; 0 when none is waiting, NaN when unknown.',
      registers,
      collect() {
        const outbox = read('outbox', sources().outbox);
        if (outbox === undefined) this.set(Number.NaN);
        else this.set(Math.max(0, (outbox.oldestAgeMs ?? 0) / 1000));
      },
    });
    new Gauge({
      name: `${PREFIX}kill_switch`,
      help: 'Kill switches: 1 when the agent is stopped (by its own switch or agent="all"), else 0; NaN when unknown.',
      labelNames: ['agent'],
      registers,
      collect() {
        const kill = read('killSwitches', sources().killSwitches);
        const killed = new Set(kill?.killedAgents ?? []);
        const value = (on: boolean) => (kill === undefined ? Number.NaN : on ? 1 : 0);
        this.set({ agent: 'all' }, value(kill?.killedAll === true));
        for (const agent of AGENTS) this.set({ agent }, value(kill?.killedAll === true || killed.has(agent)));
      },
    });

    // After the gauges, so a scrape shows the failures of its own reads.
    this.#sourceErrors = new Counter({
      name: `${PREFIX}metrics_source_errors_total`,
      help: 'Gauge reads that failed (that gauge reads NaN in that scrape).',
      labelNames: ['source'],
      registers,
    });

    if (options.processMetrics) collectDefaultMetrics({ register: this.registry, prefix: PREFIX });
  }

  /** Adds or replaces gauge sources (for modules created after the metrics). */
  provide(sources: MetricSources): void {
    this.#sources = { ...this.#sources, ...sources };
  }

  decision(agent: AgentName, verdict: Verdict): void {
    this.#decisions.inc({ agent, verdict });
  }

  deliveryFailure(platform: string, permanent: boolean): void {
    this.#deliveryFailures.inc({ platform: labelValue(platform), permanent: String(permanent) });
  }

  modelCall(
    agent: AgentName,
    model: string,
    result: { readonly ok: boolean; readonly promptTokens?: number; readonly completionTokens?: number },
  ): void {
    const m = labelValue(model, 100);
    this.#modelCalls.inc({ agent, model: m, outcome: result.ok ? 'ok' : 'error' });
    if (result.promptTokens && result.promptTokens > 0)
      this.#modelTokens.inc({ agent, model: m, kind: 'prompt' }, result.promptTokens);
    if (result.completionTokens && result.completionTokens > 0) {
      this.#modelTokens.inc({ agent, model: m, kind: 'completion' }, result.completionTokens);
    }
  }

  ingestRejected(reason: string): void {
    this.#ingestRejections.inc({ reason: labelValue(reason) });
  }

  /** Items a webhook delivery brought: `stored`, `duplicates` and `ignored` counts. */
  ingestAccepted(hook: string, counts: { stored: number; duplicates: number; ignored: number }): void {
    let tally = this.#ingestItems.get(hook);
    if (tally === undefined) {
      tally = newTally();
      this.#ingestItems.set(hook, tally);
    }
    tally.stored += counts.stored;
    tally.duplicate += counts.duplicates;
    tally.ignored += counts.ignored;
  }

  /** The Content-Type of `render()`'s text. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Prometheus text exposition format (0.0.4). */
  render(): Promise<string> {
    return this.registry.metrics();
  }
}
