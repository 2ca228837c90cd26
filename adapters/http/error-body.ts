/**
 * The one shape of an HTTP error answer: `{error, code, ...}`. `error` says what was wrong and what
 * to do; `code` is stable (src/process/errors.ts), for callers to branch on.
 */
import type { ErrorCode } from '../../src/process/errors.js';

const BY_STATUS: Readonly<Record<number, ErrorCode>> = {
  400: 'HTTP_BAD_REQUEST',
  401: 'HTTP_UNAUTHORIZED',
  403: 'HTTP_FORBIDDEN',
  404: 'HTTP_NOT_FOUND',
  405: 'HTTP_METHOD_NOT_ALLOWED',
  413: 'HTTP_TOO_LARGE',
  500: 'HTTP_INTERNAL',
};

/** The code of an error answer with this status when nothing more precise is known. */
export function httpErrorCode(status: number): ErrorCode {
  return BY_STATUS[status] ?? (status >= 500 ? 'HTTP_INTERNAL' : 'HTTP_BAD_REQUEST');
}

export function errorBody(
  status: number,
  error: string,
  extra: Readonly<Record<string, unknown>> = {},
): { error: string; code: ErrorCode } & Record<string, unknown> {
  return { error, code: httpErrorCode(status), ...extra };
}
