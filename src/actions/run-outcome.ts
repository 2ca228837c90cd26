/**
 * What an executor's result means for a run: its status and a sentence a person can read, the
 * evidence to keep, and output with the action's own secrets taken out before it is stored or shown.
 */
import type { CommandResult } from './executors/command.js';
import type { HttpResult } from './executors/http.js';

export type Execution = CommandResult | HttpResult;
export type FinalStatus = 'succeeded' | 'failed' | 'interrupted' | 'skipped';

/** Output kept in the audit record, per stream (the full tail stays in the RunResult). */
export const AUDIT_TAIL_CHARS = 2000;

function seconds(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
}

/** Status and outcome sentence of a finished execution (not stopped by a kill: see the runner). */
export function outcomeOf(e: Execution, timeoutMs: number): { status: FinalStatus; outcome: string } {
  if (e.kind === 'command') {
    if (e.dryRun) return { status: 'skipped', outcome: 'dry run: nothing was started' };
    if (e.aborted) return { status: 'interrupted', outcome: `stopped after ${seconds(e.wallMs)}` };
    if (e.timedOut) {
      return {
        status: 'failed',
        outcome: `timed out after ${seconds(timeoutMs)}; its process group was killed`,
      };
    }
    if (e.error !== null) return { status: 'failed', outcome: e.error };
    if (e.exitCode === 0) return { status: 'succeeded', outcome: `exit 0 after ${seconds(e.wallMs)}` };
    if (e.exitCode !== null) {
      return { status: 'failed', outcome: `exit ${e.exitCode} after ${seconds(e.wallMs)}` };
    }
    return { status: 'failed', outcome: `ended by ${e.signal ?? 'a signal'} after ${seconds(e.wallMs)}` };
  }
  if (e.dryRun) return { status: 'skipped', outcome: 'dry run: nothing was sent' };
  if (e.aborted) return { status: 'interrupted', outcome: `request aborted after ${seconds(e.wallMs)}` };
  if (e.timedOut) return { status: 'failed', outcome: `no response within ${seconds(timeoutMs)}` };
  if (e.error !== null) return { status: 'failed', outcome: e.error };
  const status = e.status ?? 0;
  if (e.ok) return { status: 'succeeded', outcome: `HTTP ${status} after ${seconds(e.wallMs)}` };
  const why = status >= 300 && status < 400 ? ' (a redirect: not followed)' : '';
  return { status: 'failed', outcome: `HTTP ${status}${why} after ${seconds(e.wallMs)}` };
}

/** A digest of what came back, for the evidence list. */
export function outputEvidence(e: Execution): string | null {
  if (e.dryRun) return null;
  return e.kind === 'command' ? `sha256:${e.outputDigest}` : `sha256:${e.bodySha256}`;
}

/** Replaces every secret value (length >= 4) with `[redacted NAME]`. */
export function redactor(secrets: ReadonlyMap<string, string>): (text: string) => string {
  const pairs = [...secrets]
    .filter(([, value]) => value.length >= 4)
    .sort((a, b) => b[1].length - a[1].length);
  return (text) => {
    let out = text;
    for (const [name, value] of pairs) out = out.replaceAll(value, `[redacted ${name}]`);
    return out;
  };
}

/** The execution with its output passed through `redact`. */
export function redactExecution(e: Execution, redact: (text: string) => string): Execution {
  if (e.kind === 'command')
    return { ...e, stdoutTail: redact(e.stdoutTail), stderrTail: redact(e.stderrTail) };
  return { ...e, body: redact(e.body) };
}

/** Facts about the execution for the audit record's data (short output tails, no header values). */
export function auditFacts(e: Execution): Record<string, unknown> {
  if (e.kind === 'command') {
    return {
      kind: 'command',
      dryRun: e.dryRun,
      argv: e.argv,
      cwd: e.cwd,
      envNames: e.envNames,
      pid: e.pid,
      exitCode: e.exitCode,
      signal: e.signal,
      timedOut: e.timedOut,
      aborted: e.aborted,
      error: e.error,
      stdoutBytes: e.stdoutBytes,
      stderrBytes: e.stderrBytes,
      stdoutTail: e.stdoutTail.slice(-AUDIT_TAIL_CHARS),
      stderrTail: e.stderrTail.slice(-AUDIT_TAIL_CHARS),
      outputDigest: e.outputDigest,
      wallMs: e.wallMs,
    };
  }
  return {
    kind: 'http',
    dryRun: e.dryRun,
    method: e.method,
    url: e.url,
    headerNames: e.headerNames,
    status: e.status,
    timedOut: e.timedOut,
    aborted: e.aborted,
    error: e.error,
    bodyBytes: e.bodyBytes,
    truncated: e.truncated,
    body: e.body.slice(0, AUDIT_TAIL_CHARS),
    bodySha256: e.bodySha256,
    wallMs: e.wallMs,
  };
}
