/**
 * Ingest counters: rejections by reason, and signals stored / duplicate / ignored, per hook. A tiny
 * interface so routes stay testable; `metricsCounters()` backs it with the bot's /metrics,
 * `MemoryCounters` with a plain map (tests, or a process without /metrics).
 */
import type { Metrics } from '../../../src/metrics/prometheus.js';

export const REJECT_REASONS = [
  /** Missing or wrong bearer token. */
  'unauthorized',
  /** Missing or wrong X-Hub-Signature-256. */
  'bad_signature',
  /** The hook is off (GITHUB_WEBHOOK_SECRET unset). */
  'not_configured',
  'unsupported_media_type',
  'too_large',
  /** Not UTF-8. */
  'bad_encoding',
  'bad_json',
  /** Valid JSON that does not fit the schema. */
  'bad_schema',
  /** A header or query parameter is missing or malformed. */
  'bad_request',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

export interface AcceptedCounts {
  /** Signals stored (or, for /hooks/logs, lines taken). */
  readonly stored: number;
  /** Already seen: nothing written. */
  readonly duplicates: number;
  /** Accepted and deliberately not stored (e.g. GitHub events that make no signal). */
  readonly ignored: number;
}

export interface IngestCounters {
  rejected(hook: string, reason: RejectReason): void;
  accepted(hook: string, counts: AcceptedCounts): void;
}

/** Counts in memory: `rejections.get('github bad_signature')`, `accepts.get('alertmanager stored')`. */
export class MemoryCounters implements IngestCounters {
  readonly rejections = new Map<string, number>();
  readonly accepts = new Map<string, number>();

  rejected(hook: string, reason: RejectReason): void {
    const key = `${hook} ${reason}`;
    this.rejections.set(key, (this.rejections.get(key) ?? 0) + 1);
  }

  accepted(hook: string, counts: AcceptedCounts): void {
    if (counts.stored > 0) this.add(`${hook} stored`, counts.stored);
    if (counts.duplicates > 0) this.add(`${hook} duplicates`, counts.duplicates);
    if (counts.ignored > 0) this.add(`${hook} ignored`, counts.ignored);
  }

  private add(key: string, n: number): void {
    this.accepts.set(key, (this.accepts.get(key) ?? 0) + n);
  }

  /** Total rejections (all hooks and reasons). */
  get rejectedTotal(): number {
    let n = 0;
    for (const v of this.rejections.values()) n += v;
    return n;
  }
}

/**
 * The counters the bot exports on /metrics (src/metrics/prometheus.ts):
 * `autonomy_ingest_rejections_total{reason}` and `autonomy_ingest_items_total{hook, outcome}`.
 */
export function metricsCounters(metrics: Pick<Metrics, 'ingestRejected' | 'ingestAccepted'>): IngestCounters {
  return {
    rejected: (_hook, reason) => metrics.ingestRejected(reason),
    accepted: (hook, counts) => metrics.ingestAccepted(hook, counts),
  };
}
