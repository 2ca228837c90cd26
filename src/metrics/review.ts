/**
 * The review post, on the policy's review cadence (`evidence.review.cadence`, in
 * `triggers.timezone`): what the rollout plan's weekly review needs to decide whether to raise
 * the phase. For the period since the previous cadence slot: every tier 2 and tier 3 action run
 * (who approved it), approvals given / denied / expired / void (who, why), kill switches, resumes,
 * phase and budget overrides, standing grants, and policy versions loaded or rejected. Read-only;
 * an empty period says so in one line. Run ids lead to `/autonomy audit <run-id>` (the run's trail);
 * the console link is AUTONOMY_PUBLIC_URL when set.
 */
import { and, asc, eq, gte, inArray, isNotNull, lt } from 'drizzle-orm';
import { type ChatMessage, message } from '../chat/message.js';
import type { Database } from '../db/connection.js';
import { approvals, auditLog, policyVersions, runs } from '../db/schema.js';
import type { Millis, Policy } from '../policy/types.js';
import { cronTimes } from '../time/cron.js';
import { formatLocalMinute } from '../time/zone.js';

/** The audit kinds a review lists (besides runs, approvals and policy versions, read from their tables). */
export const REVIEW_AUDIT_KINDS = [
  'control.kill',
  'control.resume',
  'control.phase',
  'control.budget',
  'run.killed',
  'policy.reject',
  'grant.created',
  'grant.revoked',
] as const;

/** Longest list of each kind in the post; the rest is counted ("... and 12 more"). */
const MAX_ITEMS = 40;
const DAY = 86_400_000;

export interface ReviewPeriod {
  /** Inclusive, epoch ms. */
  readonly from: Millis;
  /** Exclusive, epoch ms (the cadence slot that posts the review). */
  readonly to: Millis;
  readonly timezone: string;
}

export interface ReviewRun {
  readonly id: string;
  readonly agent: string;
  readonly actionId: string | null;
  readonly tier: number;
  readonly status: string;
  readonly outcome: string | null;
  readonly startedAt: Millis;
  /** The approval it executed (`a12`) and who gave it; null for tier 2 runs on the allowlist. */
  readonly approval: { readonly shortId: string; readonly by: string | null } | null;
}

export interface ReviewApproval {
  readonly shortId: string;
  readonly agent: string;
  readonly actionId: string;
  readonly state: string;
  readonly by: string | null;
  readonly reason: string | null;
  readonly decidedAt: Millis;
}

export interface ReviewEvent {
  readonly at: Millis;
  readonly kind: string;
  readonly actor: string | null;
  readonly outcome: string | null;
  /** The reason given with a control change, when the outcome does not already say it. */
  readonly reason: string | null;
}

export interface ReviewPolicyVersion {
  readonly version: number;
  readonly loadedAt: Millis;
  readonly actor: string;
  readonly hash: string;
}

export interface ReviewFacts extends ReviewPeriod {
  readonly runs: readonly ReviewRun[];
  readonly approvals: readonly ReviewApproval[];
  /** Requested in the period and still pending at its end. */
  readonly pendingApprovals: number;
  readonly events: readonly ReviewEvent[];
  readonly policyVersions: readonly ReviewPolicyVersion[];
}

const GIVEN = new Set(['approved', 'executing', 'succeeded', 'failed', 'interrupted']);

/**
 * The period a review posted at `slot` covers: from the cadence's previous slot (or 7 days back
 * when the cadence has none) to `slot`.
 */
export function reviewPeriod(policy: Policy, slot: Millis): ReviewPeriod {
  const timezone = policy.doc.triggers.timezone;
  const previous = cronTimes(policy.doc.evidence.review.cadence, timezone).previous(slot);
  return { from: previous ?? slot - 7 * DAY, to: slot, timezone };
}

/** Reads what happened in the period. */
export function reviewFacts(database: Database, period: ReviewPeriod): ReviewFacts {
  const { from, to } = period;
  const db = database.db;
  const runRows = db
    .select({
      id: runs.id,
      agent: runs.agent,
      actionId: runs.actionId,
      tier: runs.tier,
      status: runs.status,
      outcome: runs.outcome,
      startedAt: runs.startedAt,
      approvalNumber: approvals.number,
      approvedBy: approvals.decidedBy,
    })
    .from(runs)
    .leftJoin(approvals, eq(approvals.runId, runs.id))
    .where(and(inArray(runs.tier, [2, 3]), gte(runs.startedAt, from), lt(runs.startedAt, to)))
    .orderBy(asc(runs.startedAt), asc(runs.id))
    .all();
  const approvalRows = db
    .select()
    .from(approvals)
    .where(and(isNotNull(approvals.decidedAt), gte(approvals.decidedAt, from), lt(approvals.decidedAt, to)))
    .orderBy(asc(approvals.decidedAt), asc(approvals.number))
    .all();
  const pending = db
    .select({ id: approvals.id })
    .from(approvals)
    .where(
      and(eq(approvals.state, 'pending'), gte(approvals.requestedAt, from), lt(approvals.requestedAt, to)),
    )
    .all().length;
  const events = db
    .select({
      at: auditLog.at,
      kind: auditLog.kind,
      actor: auditLog.actor,
      outcome: auditLog.outcome,
      data: auditLog.data,
    })
    .from(auditLog)
    .where(and(inArray(auditLog.kind, [...REVIEW_AUDIT_KINDS]), gte(auditLog.at, from), lt(auditLog.at, to)))
    .orderBy(asc(auditLog.seq))
    .all()
    .map((e) => ({ ...e, data: parseData(e.data) }))
    // A kill of an agent already killed (and the like) changed nothing: not worth a review line.
    .filter((e) => !e.kind.startsWith('control.') || e.data.changed !== false)
    .map(({ at, kind, actor, outcome, data }) => {
      const reason =
        typeof data.reason === 'string' && !(outcome ?? '').includes(data.reason) ? data.reason : null;
      return { at, kind, actor, outcome, reason };
    });
  const versions = db
    .select()
    .from(policyVersions)
    .where(and(gte(policyVersions.loadedAt, from), lt(policyVersions.loadedAt, to)))
    .orderBy(asc(policyVersions.id))
    .all()
    .map((v) => ({ version: v.id, loadedAt: v.loadedAt, actor: v.actor, hash: v.hash }));
  return {
    ...period,
    runs: runRows.map((r) => ({
      id: r.id,
      agent: r.agent,
      actionId: r.actionId,
      tier: r.tier ?? 0,
      status: r.status,
      outcome: r.outcome,
      startedAt: r.startedAt,
      approval: r.approvalNumber === null ? null : { shortId: `a${r.approvalNumber}`, by: r.approvedBy },
    })),
    approvals: approvalRows.map((a) => ({
      shortId: `a${a.number}`,
      agent: a.agent,
      actionId: a.actionId,
      state: a.state,
      by: a.decidedBy,
      reason: a.reason,
      decidedAt: a.decidedAt ?? a.updatedAt,
    })),
    pendingApprovals: pending,
    events,
    policyVersions: versions,
  };
}

function parseData(data: string | null): { changed?: unknown; reason?: unknown } {
  if (data === null) return {};
  try {
    const parsed: unknown = JSON.parse(data);
    return parsed !== null && typeof parsed === 'object' ? parsed : {};
  } catch {
    return {};
  }
}

/** One line, without newlines or runs of spaces (stored text is data, shown as such). */
function oneLine(text: string, max = 200): string {
  const t = text.replace(/\s+/g, ' ').trim();
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}

function capped<T>(items: readonly T[], line: (item: T) => string[]): string[] {
  const out = items.slice(0, MAX_ITEMS).flatMap(line);
  if (items.length > MAX_ITEMS) out.push(`  ... and ${items.length - MAX_ITEMS} more`);
  return out;
}

const EVENT_NAMES: Record<string, string> = {
  'control.kill': 'kill',
  'control.resume': 'resume',
  'control.phase': 'phase',
  'control.budget': 'budget',
  'run.killed': 'run stopped by a kill',
  'policy.reject': 'policy reload rejected',
  'grant.created': 'standing grant',
  'grant.revoked': 'grant revoked',
};

/** The review as a chat message (kind `notice`): one line when nothing happened. */
export function formatReview(
  facts: ReviewFacts,
  options: { readonly publicUrl: string | null },
): ChatMessage {
  const tz = facts.timezone;
  const span = `${formatLocalMinute(facts.from, tz)} to ${formatLocalMinute(facts.to, tz)} (${tz})`;
  const links = options.publicUrl ? [{ label: 'Console', url: options.publicUrl }] : [];
  const kills = facts.events.filter((e) => e.kind !== 'policy.reject');
  const rejects = facts.events.filter((e) => e.kind === 'policy.reject');
  const empty =
    facts.runs.length === 0 &&
    facts.approvals.length === 0 &&
    facts.pendingApprovals === 0 &&
    facts.events.length === 0 &&
    facts.policyVersions.length === 0;
  if (empty) {
    return message({
      kind: 'notice',
      title: `Review ${formatLocalMinute(facts.from, tz).slice(0, 10)} to ${formatLocalMinute(facts.to, tz).slice(0, 10)}: nothing to review`,
      body: `No tier 2 or 3 actions, approvals, kills, phase changes or policy changes from ${span}.`,
      links,
    });
  }

  const lines: string[] = [`Review of ${span}`, ''];
  lines.push(`Tier 2 and 3 actions (${facts.runs.length})`);
  if (facts.runs.length === 0) lines.push('  none');
  lines.push(
    ...capped(facts.runs, (r) => {
      const who =
        r.approval === null
          ? r.tier === 2
            ? 'no approval needed (allowlisted)'
            : 'no approval on record'
          : `approved by ${r.approval.by ?? 'unknown'} (${r.approval.shortId})`;
      return [
        `  ${formatLocalMinute(r.startedAt, tz)}  ${r.id}  ${r.agent}/${r.actionId ?? '-'}  tier ${r.tier}  ${r.status}  ${who}`,
        ...(r.outcome ? [`      ${oneLine(r.outcome)}`] : []),
      ];
    }),
  );

  const count = (f: (a: ReviewApproval) => boolean) => facts.approvals.filter(f).length;
  lines.push('');
  lines.push(
    `Approvals: ${count((a) => GIVEN.has(a.state))} given, ${count((a) => a.state === 'denied')} denied, ` +
      `${count((a) => a.state === 'expired')} expired, ${count((a) => a.state === 'void')} void` +
      (facts.pendingApprovals > 0 ? `; ${facts.pendingApprovals} requested and still pending` : ''),
  );
  lines.push(
    ...capped(facts.approvals, (a) => {
      const verb = GIVEN.has(a.state) ? `approved (now ${a.state})` : a.state;
      const by = a.by ? ` by ${a.by}` : '';
      const why = a.reason ? `: ${oneLine(a.reason, 120)}` : '';
      return [
        `  ${formatLocalMinute(a.decidedAt, tz)}  ${a.shortId}  ${a.agent}/${a.actionId}  ${verb}${by}${why}`,
      ];
    }),
  );

  lines.push('');
  lines.push(`Kill switches, phases, budgets and grants (${kills.length})`);
  if (kills.length === 0) lines.push('  none');
  lines.push(
    ...capped(kills, (e) => [
      `  ${formatLocalMinute(e.at, tz)}  ${EVENT_NAMES[e.kind] ?? e.kind}${e.actor ? ` by ${e.actor}` : ''}: ${oneLine(e.outcome ?? '')}${e.reason ? ` (${oneLine(e.reason, 120)})` : ''}`,
    ]),
  );

  lines.push('');
  lines.push(`Policy changes (${facts.policyVersions.length} loaded, ${rejects.length} rejected)`);
  if (facts.policyVersions.length === 0 && rejects.length === 0) lines.push('  none');
  lines.push(
    ...capped(facts.policyVersions, (v) => [
      `  ${formatLocalMinute(v.loadedAt, tz)}  version ${v.version} in force, loaded by ${v.actor} (sha256 ${v.hash.slice(0, 12)})`,
    ]),
  );
  lines.push(
    ...capped(rejects, (e) => [
      `  ${formatLocalMinute(e.at, tz)}  rejected${e.actor ? ` (${e.actor})` : ''}: ${oneLine(e.outcome ?? '')}`,
    ]),
  );

  lines.push('');
  lines.push(
    `Details: \`/autonomy audit <run-id>\` shows a run's trail; \`autonomy audit export --since ${formatLocalMinute(facts.from, tz).slice(0, 10)}\` has every record.`,
  );
  const given = count((a) => GIVEN.has(a.state));
  return message({
    kind: 'notice',
    title: `Review ${formatLocalMinute(facts.from, tz).slice(0, 10)} to ${formatLocalMinute(facts.to, tz).slice(0, 10)}: ${facts.runs.length} tier 2-3 action(s), ${given} approval(s) given, ${kills.length} control change(s)`,
    body: lines.join('\n').slice(0, 40_000),
    links,
  });
}

/** The review post for the cadence slot `slot`. */
export function buildReview(
  database: Database,
  policy: Policy,
  slot: Millis,
  options: { readonly publicUrl: string | null },
): { readonly period: ReviewPeriod; readonly message: ChatMessage } {
  const period = reviewPeriod(policy, slot);
  return { period, message: formatReview(reviewFacts(database, period), options) };
}

/** `review:<slot ISO>:<channel>`: one review per cadence slot and channel. */
export function reviewDedupeKey(slot: Millis, channel: string): string {
  return `review:${new Date(slot).toISOString()}:${channel}`;
}
