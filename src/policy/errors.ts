/**
 * Problems found in a policy file, each with where it is (file, line, column, dotted path) and what
 * to write instead. `autonomy policy check` prints them one per line with `formatIssue()`.
 */
import { AutonomyError } from '../process/errors.js';

export interface PolicyIssue {
  readonly file: string;
  /** 1-based. */
  readonly line: number;
  /** 1-based. */
  readonly col: number;
  /** Dotted path into the document, e.g. `actions[3].params.service.pattern`; '' for the root. */
  readonly path: string;
  readonly message: string;
  /**
   * 'warning': the file is valid and loads, but something in it does not do what it seems to
   * (printed, logged, never fatal). Absent: an error, and the file is not valid.
   */
  readonly severity?: 'warning';
}

/** A segment of a path into the document: a mapping key or a list index. */
export type PathSegment = string | number;

/** How a check reports a problem: where in the document it is, and what to write instead. */
export type Report = (path: readonly PathSegment[], message: string) => void;

const PLAIN_KEY = /^[A-Za-z0-9_$-]+$/;

/** `['actions', 3, 'params', 'service']` -> `actions[3].params.service`. */
export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (PLAIN_KEY.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

/** `FILE:LINE:COL  path  message`; the root is shown as `(root)` so the line keeps three parts. */
export function formatIssue(issue: PolicyIssue): string {
  const message = issue.severity === 'warning' ? `warning: ${issue.message}` : issue.message;
  return `${issue.file}:${issue.line}:${issue.col}  ${issue.path === '' ? '(root)' : issue.path}  ${message}`;
}

/** Sorts by line, then column; issues at the same place keep their order. */
export function sortIssues(issues: readonly PolicyIssue[]): PolicyIssue[] {
  return [...issues].sort((a, b) => a.line - b.line || a.col - b.col);
}

/** Thrown where a valid policy is required and the file is not one (e.g. at start). */
export class PolicyError extends AutonomyError {
  readonly issues: readonly PolicyIssue[];

  constructor(issues: readonly PolicyIssue[], options?: { cause?: unknown }) {
    const first = issues[0];
    const head = first === undefined ? 'the policy is invalid' : formatIssue(first);
    const more = issues.length > 1 ? ` (and ${issues.length - 1} more problem(s))` : '';
    super('POLICY_INVALID', `${head}${more}; run \`autonomy policy check\` to see them all`, options);
    this.issues = issues;
  }
}
