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

/** Node's codes for a certificate that cannot be trusted (self-signed, unknown issuer, expired, wrong name). */
const TLS_TRUST = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/;

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
      const code = (error as { code?: unknown } | null)?.code;
      if (typeof code === 'string' && TLS_TRUST.test(code)) {
        return new ResearchError(
          'network',
          `${what} failed: the site's certificate is not trusted (${message}); research reads only ` +
            'pages whose certificate a trusted CA vouches for (a private CA can be added with NODE_EXTRA_CA_CERTS)',
          { cause: error },
        );
      }
      return new ResearchError('network', `${what} failed: ${message}`, { cause: error });
    },
  };
}
