/**
 * What the runner is asked to run: a catalog action decide() said to execute, what triggered it and
 * who chose it. The runner (runner.ts) takes it; its records (run-records.ts) write it down.
 */
import type { CompiledAction, Decision, Proposal } from '../policy/types.js';

export interface RunTrigger {
  /** `webhook`, `cron`, `chat`, `cli`, `approval`, ... */
  readonly source: string;
  /** What exactly: a signal id, a sweep name, an approval id. */
  readonly ref?: string | null;
}

export interface RunRequest {
  readonly proposal: Proposal;
  readonly action: CompiledAction;
  /** From decide(); must say execute. */
  readonly decision: Decision;
  readonly trigger: RunTrigger;
  readonly incidentId?: string | null;
  readonly approvalId?: string | null;
  /** The model that chose the action, or null/absent when rules did. */
  readonly model?: { readonly name: string; readonly provider: string } | null;
  /** Links or ids that led here (signals, incident, pages read). */
  readonly evidence?: readonly string[];
}
