/**
 * The hooks' replies, one shape for all: 202 `{accepted, duplicates, incidents: ["i7"], ...}` after
 * the commit; 4xx/503 `{error, code, reason, problems?: [{path, message}]}`, counted by reason
 * (`code` is `HOOK_` and the reason in capitals, src/process/errors.ts). A rejected
 * request has written nothing by the time it is answered.
 */
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { ErrorCode } from '../../../src/process/errors.js';
import type { Problem } from '../../../src/signals/normalise/common.js';
import type { IngestOutcome } from '../../../src/signals/types.js';
import type { IngestCounters, RejectReason } from './counters.js';

export interface RejectExtra {
  readonly headers?: Readonly<Record<string, string>>;
  /** What was wrong, where (JSON paths, line numbers): the first few. */
  readonly problems?: readonly Problem[];
}

const NO_STORE = { 'cache-control': 'no-store' } as const;

export function hookErrorCode(reason: RejectReason): ErrorCode {
  return `HOOK_${reason.toUpperCase()}` as Uppercase<`HOOK_${RejectReason}`>;
}

/** Counts the rejection and answers it. `message` says what was wrong and what to do. */
export function reject(
  c: Context,
  counters: IngestCounters,
  hook: string,
  reason: RejectReason,
  status: ContentfulStatusCode,
  message: string,
  extra: RejectExtra = {},
): Response {
  counters.rejected(hook, reason);
  const body: Record<string, unknown> = { error: message, code: hookErrorCode(reason), reason };
  if (extra.problems && extra.problems.length > 0) body.problems = extra.problems;
  const headers: Record<string, string> = { ...NO_STORE, ...(extra.headers ?? {}) };
  // The sender may still be sending a body we will not read: do not keep the connection.
  if (status === 413) headers.connection = 'close';
  return c.json(body, status, headers);
}

export interface Summary {
  /** Items stored (signals; for /hooks/logs, lines taken). */
  readonly accepted: number;
  /** Items seen before: nothing written. */
  readonly duplicates: number;
  /** Short ids of the incidents opened, updated, reopened or resolved. */
  readonly incidents: string[];
}

export function summarise(outcomes: readonly IngestOutcome[]): Summary {
  let accepted = 0;
  let duplicates = 0;
  const incidents: string[] = [];
  for (const o of outcomes) {
    if (o.status === 'duplicate') {
      duplicates++;
      continue;
    }
    accepted++;
    if (o.incident !== null && !incidents.includes(o.incident.shortId)) incidents.push(o.incident.shortId);
  }
  return { accepted, duplicates, incidents };
}

/** 202 with the summary (and anything extra), counted. */
export function accept(
  c: Context,
  counters: IngestCounters,
  hook: string,
  summary: Summary,
  extra?: Readonly<Record<string, unknown>>,
  ignored = 0,
): Response {
  counters.accepted(hook, { stored: summary.accepted, duplicates: summary.duplicates, ignored });
  return c.json(extra === undefined ? summary : { ...summary, ...extra }, 202, NO_STORE);
}
