/**
 * The time cap of one research call (research.timeout) joined with the caller's signal, and the
 * mapping of whatever a transport throws to a ResearchError that says which of the two fired.
 */
import ms from 'ms';
import { ResearchError } from './errors.js';

export interface Deadline {
  /** Aborts at the time cap or when the caller's signal aborts. */
  readonly signal: AbortSignal;
  /** `error` as a ResearchError: `timeout`, `aborted`, or `network` for anything else. */
  fail(error: unknown, what: string): ResearchError;
}

export function startDeadline(timeoutMs: number, caller?: AbortSignal): Deadline {
  const timer = AbortSignal.timeout(timeoutMs);
  const signal = caller === undefined ? timer : AbortSignal.any([caller, timer]);
  return {
    signal,
    fail(error, what) {
      if (error instanceof ResearchError) return error;
      if (caller?.aborted === true) {
        return new ResearchError('aborted', `${what}: stopped (the run was cancelled)`, { cause: error });
      }
      if (timer.aborted) {
        return new ResearchError(
          'timeout',
          `${what} took longer than ${ms(timeoutMs)} (research.timeout in the policy)`,
          { cause: error },
        );
      }
      const message = error instanceof Error ? error.message : String(error);
      return new ResearchError('network', `${what} failed: ${message}`, { cause: error });
    },
  };
}
