/**
 * The chat messages of the approval flow, built from plain facts (no I/O): the request with its
 * buttons, the same message once decided (updated in place), the decision posts for expiry, void,
 * failure and interruption, and the replies to whoever clicked or typed.
 *
 * Text from agents and models (the rationale) and from people (deny reasons) is data: control
 * characters are stripped, length is capped, and it is labelled for what it is. Adapters escape it.
 */
import type { Button, ChatMessage } from '../../chat/message.js';
import { message } from '../../chat/message.js';
import type { ApprovalState } from '../../db/schema.js';
import { IDENTITY_PATTERN, type Tier } from '../../policy/vocabulary.js';

/** Everything an approval's messages show. */
export interface ApprovalFacts {
  readonly shortId: string;
  readonly agent: string;
  readonly actionId: string;
  /** The action's description from the catalog, or null when it left the policy. */
  readonly description: string | null;
  /** Exactly what runs: argv or `METHOD URL` with the params filled in. */
  readonly display: string;
  readonly target: string;
  readonly tier: Tier | null;
  readonly tierReason: string;
  readonly rationale: string | null;
  readonly evidence: readonly string[];
  readonly approvers: readonly string[];
  readonly requestedAt: number;
  readonly expiresAt: number;
  readonly incidentShortId: string | null;
  readonly state: ApprovalState;
  readonly decidedBy: string | null;
  readonly decidedAt: number | null;
  /** Deny or void reason, or the run's outcome once it ran. */
  readonly reason: string | null;
  readonly runId: string | null;
  readonly nonce: string;
  /** Hours offered on the "Approve + allow" button (phase 4 only), or null for no such button. */
  readonly grantHours: number | null;
  readonly updatedAt: number;
}

const IDENTITY = new RegExp(IDENTITY_PATTERN);
const RATIONALE_CHARS = 1500;
const REASON_CHARS = 500;

/** UTC, to the second: `2025-01-06 09:30:00Z`. */
export function when(t: number): string {
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) return String(t);
  return d
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d{3}Z$/, 'Z');
}

/** `30 min`, `4 h`, `90 s`. */
export function span(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  return `${Math.round(s / 3600)} h`;
}

/** Untrusted text made safe to show: no control or bidi characters, bounded length. */
export function untrusted(text: string, limit: number): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping control characters is the point
  const clean = text.replace(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028-\u202e\u2066-\u2069]/g, ' ');
  return clean.length > limit ? `${clean.slice(0, limit)}… (${clean.length - limit} more characters)` : clean;
}

function cut(text: string, limit: number): string {
  return text.length > limit ? `${text.slice(0, limit - 1)}…` : text;
}

function isUrl(text: string): boolean {
  if (!/^https?:\/\//.test(text)) return false;
  try {
    new URL(text);
    return true;
  } catch {
    return false;
  }
}

const STATE_WORDS: Readonly<Record<ApprovalState, string>> = {
  pending: 'waiting for an approver',
  approved: 'approved, starting',
  executing: 'approved, running',
  succeeded: 'approved, ran and succeeded',
  failed: 'approved, ran and failed',
  interrupted: 'approved, interrupted (not re-run)',
  denied: 'denied',
  expired: 'expired unanswered (counts as a denial)',
  void: 'void',
};

function decisionLine(f: ApprovalFacts): string | null {
  switch (f.state) {
    case 'pending':
      return null;
    case 'expired':
      return `expired at ${when(f.decidedAt ?? f.expiresAt)} with no decision (counts as a denial)`;
    case 'void':
      return `void since ${when(f.decidedAt ?? f.updatedAt)}: ${f.reason ?? 'no reason recorded'}`;
    case 'denied':
      return `denied by ${f.decidedBy ?? 'unknown'} at ${when(f.decidedAt ?? f.updatedAt)}${f.reason ? `: ${untrusted(f.reason, REASON_CHARS)}` : ''}`;
    default:
      return `approved by ${f.decidedBy ?? 'unknown'} at ${when(f.decidedAt ?? f.updatedAt)}`;
  }
}

function outcomeLine(f: ApprovalFacts): string | null {
  if (f.state === 'succeeded' || f.state === 'failed' || f.state === 'interrupted') {
    const run = f.runId ? ` (run ${f.runId})` : '';
    return `${f.state}${run}${f.reason ? `: ${untrusted(f.reason, REASON_CHARS)}` : ''}`;
  }
  if (f.state === 'executing') return 'running now';
  if (f.state === 'approved') return 'starting';
  return null;
}

/** The approval request; once decided, the same message without buttons, saying who and what came of it. */
export function approvalMessage(f: ApprovalFacts): ChatMessage {
  const pending = f.state === 'pending';
  const what = f.description ? ` (${f.description})` : '';
  const lines = [
    `${f.agent} asks to run ${f.actionId}${what} on ${f.target}.`,
    '',
    'Will run exactly:',
    `    ${f.display}`,
  ];
  if (f.rationale) {
    lines.push(
      '',
      'Rationale, as written by the agent (unverified):',
      untrusted(f.rationale, RATIONALE_CHARS),
    );
  }
  const decided = decisionLine(f);
  if (decided !== null) lines.push('', `Decision: ${decided}`);
  const outcome = outcomeLine(f);
  if (outcome !== null) lines.push(`Outcome: ${outcome}`);

  const fields = [
    { label: 'Runs', value: cut(f.display, 2000) },
    { label: 'Target system', value: cut(f.target, 2000) },
    {
      label: 'Tier',
      value: cut(f.tier === null ? `unknown: ${f.tierReason}` : `${f.tier}: ${f.tierReason}`, 2000),
    },
    { label: 'State', value: STATE_WORDS[f.state] },
  ];
  if (pending) {
    fields.push(
      {
        label: 'Who may approve',
        value: cut(
          f.approvers.length ? f.approvers.join(', ') : 'nobody: control.roles.approvers is empty',
          2000,
        ),
      },
      {
        label: 'Expires',
        value: `${when(f.expiresAt)} (${span(f.expiresAt - f.requestedAt)} after the request)`,
      },
    );
  }
  if (f.incidentShortId) fields.push({ label: 'Incident', value: f.incidentShortId });
  const links = f.evidence.filter(isUrl).slice(0, 10);
  const other = f.evidence.filter((e) => !isUrl(e));
  if (other.length)
    fields.push({ label: 'Evidence', value: cut(other.map((e) => untrusted(e, 300)).join('\n'), 2000) });

  const buttons: Button[] = [];
  if (pending) {
    buttons.push(
      { action: 'approve', label: 'Approve', style: 'primary', target: f.shortId, nonce: f.nonce },
      { action: 'deny', label: 'Deny', style: 'danger', target: f.shortId, nonce: f.nonce },
    );
    if (f.grantHours !== null) {
      buttons.push({
        action: 'grant',
        label: `Approve + allow ${f.grantHours}h`,
        style: 'default',
        target: f.shortId,
        nonce: f.nonce,
        hours: f.grantHours,
      });
    }
  }
  const title = pending
    ? `Approval ${f.shortId}: ${f.actionId} on ${f.target}`
    : `Approval ${f.shortId}: ${f.actionId} on ${f.target}: ${STATE_WORDS[f.state]}`;
  return message({
    kind: 'approval',
    title: cut(title, 300),
    severity: f.state === 'failed' || f.state === 'interrupted' ? 'critical' : 'warning',
    body: lines.join('\n'),
    fields,
    links: links.map((url, i) => ({ label: `Evidence ${i + 1}`, url })),
    buttons,
    refs: { approval: f.shortId, ...(f.incidentShortId ? { incident: f.incidentShortId } : {}) },
  });
}

/** A post for the feed when an approval ends without running, or its run failed or was cut short. */
export function decisionMessage(f: ApprovalFacts): ChatMessage {
  const line = f.state === 'failed' || f.state === 'interrupted' ? outcomeLine(f) : decisionLine(f);
  const next: Partial<Record<ApprovalState, string>> = {
    expired: 'Nothing ran. The agent may ask again if the problem persists.',
    void: 'Nothing ran. A new request is needed if it is still wanted.',
    failed: 'Check the target system; the run record has the details.',
    interrupted:
      'The bot stopped while this was running (or about to run). It was not re-run: check the target system and re-propose if still needed.',
  };
  return message({
    kind: 'decision',
    title: cut(`${f.shortId} ${f.actionId} on ${f.target}: ${STATE_WORDS[f.state]}`, 300),
    severity: f.state === 'failed' || f.state === 'interrupted' ? 'critical' : 'warning',
    body: [`${f.shortId} ${line ?? STATE_WORDS[f.state]}.`, next[f.state] ?? ''].filter(Boolean).join('\n'),
    fields: [{ label: 'Runs', value: cut(f.display, 2000) }],
    refs: { approval: f.shortId, ...(f.incidentShortId ? { incident: f.incidentShortId } : {}) },
  });
}

/** What a late click is told: who decided what and when. Nothing ran because of this click. */
export function staleAnswer(f: ApprovalFacts): string {
  const at = when(f.decidedAt ?? f.updatedAt);
  switch (f.state) {
    case 'pending':
      return `${f.shortId} is still pending`;
    case 'denied':
      return `${f.shortId} was already denied by ${f.decidedBy ?? 'unknown'} at ${at}${f.reason ? ` (${untrusted(f.reason, REASON_CHARS)})` : ''}; nothing ran`;
    case 'expired':
      return `${f.shortId} expired at ${at} with no decision (counts as a denial); nothing ran. The agent may ask again.`;
    case 'void':
      return `${f.shortId} is void since ${at}: ${f.reason ?? 'no reason recorded'}; nothing ran`;
    default: {
      const status: Partial<Record<ApprovalState, string>> = {
        approved: 'it is starting',
        executing: 'it is running',
        succeeded: 'it succeeded',
        failed: 'it failed',
        interrupted: 'it was interrupted and not re-run',
      };
      return `${f.shortId} was already approved by ${f.decidedBy ?? 'unknown'} at ${at}; ${status[f.state] ?? f.state}. Nothing runs again.`;
    }
  }
}

/** A reply to one person (ephemeral where the platform can). */
export function replyMessage(actor: string, title: string, body = ''): ChatMessage {
  return message({
    kind: 'reply',
    title: cut(title, 300),
    body: cut(body, 40_000),
    ...(IDENTITY.test(actor) ? { audience: actor } : {}),
  });
}
