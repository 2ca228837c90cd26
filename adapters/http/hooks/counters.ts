/**
 * Ingest counters: rejections by reason, and signals stored / duplicate / ignored, per hook. A tiny
 * interface so routes stay testable; `promIngestCounters()` backs it with prom-client for /metrics,
 * `MemoryCounters` with a plain map (tests, or a process without /metrics).
 */
import { Counter, type Registry } from 'prom-client';

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
 * prom-client counters in `registry`:
 * - `autonomy_ingest_rejected_total{hook, reason}`
 * - `autonomy_ingest_signals_total{hook, outcome="stored"|"duplicate"|"ignored"}`
 */
export function promIngestCounters(registry: Registry): IngestCounters {
  const rejected = new Counter({
    name: 'autonomy_ingest_rejected_total',
    help: 'Webhook requests rejected, by hook and reason (unauthorized, bad_signature, too_large, ...)',
    labelNames: ['hook', 'reason'] as const,
    registers: [registry],
  });
  const signals = new Counter({
    name: 'autonomy_ingest_signals_total',
    help: 'Webhook items accepted, by hook and outcome (stored, duplicate, ignored)',
    labelNames: ['hook', 'outcome'] as const,
    registers: [registry],
  });
  return {
    rejected(hook, reason) {
      rejected.inc({ hook, reason });
    },
    accepted(hook, counts) {
      if (counts.stored > 0) signals.inc({ hook, outcome: 'stored' }, counts.stored);
      if (counts.duplicates > 0) signals.inc({ hook, outcome: 'duplicate' }, counts.duplicates);
      if (counts.ignored > 0) signals.inc({ hook, outcome: 'ignored' }, counts.ignored);
    },
  };
}
