/**
 * The normalised signal every trigger produces (webhooks, log lines, probes, sweeps), and the one
 * sink that stores it. Adapters parse and verify their input, build a `SignalInput`, and call
 * `SignalSink.ingest()`; it commits the signal and its incident before anything is acknowledged.
 */
import type { Severity, SignalKind } from '../policy/vocabulary.js';

export interface SignalInput {
  readonly kind: SignalKind;
  /** Where it came from: `alertmanager`, `github`, `osv`, `logs`, `events`, `probe:<name>`, `sweep:<agent>`. */
  readonly source: string;
  /** Unique per delivery and item (e.g. `github:<X-GitHub-Delivery>`); a repeat is stored once. */
  readonly dedupeKey: string;
  /** What correlates signals into one incident (alert fingerprint, error signature, service+check). */
  readonly fingerprint: string;
  /**
   * Fingerprints that are one problem seen from several sides share a family, a prefix of each
   * (`<family>:<rest>`): e.g. GitHub CI on one branch, every workflow and check its own fingerprint.
   * They share one unresolved incident whenever they come; each resolves on its own (see store.ts).
   */
  readonly family?: string | null;
  readonly title: string;
  readonly service?: string | null;
  readonly severity: Severity;
  /** The source's payload (or the relevant part of it), as data. Never interpreted as instructions. */
  readonly payload: unknown;
  /** When it happened at the source (e.g. Alertmanager startsAt), if known. */
  readonly occurredAt?: number | null;
  /** true when the source says the condition is over (Alertmanager resolved, probe recovered). */
  readonly resolves?: boolean;
}

export type IngestOutcome =
  /** Stored; `incident` is what it opened, updated or resolved (null for signals that correlate to nothing). */
  | {
      readonly status: 'stored';
      readonly signalId: string;
      readonly incident: IncidentChange | null;
    }
  /** The dedupe key was seen before: nothing written. */
  | { readonly status: 'duplicate'; readonly signalId: string };

export interface IncidentChange {
  readonly id: string;
  /** The short id people type: `i7`. */
  readonly shortId: string;
  readonly change: 'opened' | 'updated' | 'resolved' | 'reopened';
  readonly fingerprint: string;
  readonly title: string;
  readonly severity: Severity;
  readonly service: string | null;
  readonly signalCount: number;
}

export interface SignalSink {
  /** Stores signals and correlates incidents in ONE transaction (all or nothing), committed on return. */
  ingest(inputs: readonly SignalInput[]): IngestOutcome[];
}
