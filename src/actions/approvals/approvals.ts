import { z } from 'zod';
import type { AuditLog } from '../../audit/log.js';
import type { InboundClick } from '../../chat/adapter.js';
import type { ButtonKey } from '../../chat/button-key.js';
import type { ChatMessage } from '../../chat/message.js';
import { type Database, writeTransaction } from '../../db/connection.js';
import { APPROVAL_STATES, type ApprovalState } from '../../db/schema.js';
import { decide } from '../../policy/decide.js';
import { bindingHash, checkParams, showValue } from '../../policy/params.js';
import type { ActionUsage, Decision, Policy, Proposal } from '../../policy/types.js';
import type { AgentName } from '../../policy/vocabulary.js';
import type { NewId } from '../../process/ids.js';
import type { KillOrder, KillTeeth, Service } from '../../service.js';
import { type ControlFacts, type Grants, triggerOf } from '../grants.js';
import { approvalMessage, replyMessage, staleAnswer, untrusted } from './messages.js';
import type { ActionExecutor, ApprovalInfo, DecideInput, Describe, MessageSink } from './ports.js';
import { type RequestContext, type RequestResult, storeRequest } from './request.js';
import { type Approved, proposalOf, runApproved } from './run.js';
import { type ApprovalRecord, ApprovalStore, approvalShortId, parseApprovalId } from './store.js';
import { ApprovalTransitions } from './transitions.js';
import { ApprovalView, approvalAudit, approvalData } from './view.js';

export type {
  ActionExecutor,
  ApprovalInfo,
  DecideInput,
  Describe,
  ExecutionRequest,
  ExecutionResult,
  MessageSink,
} from './ports.js';
export type { RequestContext, RequestResult } from './request.js';

export interface ApprovalsOptions {
  readonly database: Database;
  readonly audit: AuditLog;
  readonly now: () => number;
  readonly newId: NewId;
  readonly messages: MessageSink;
  readonly executor: ActionExecutor;
  readonly describe: Describe;
  readonly policy: () => Policy;
  /** Kill switches and phase overrides as the database has them now (ControlStore.snapshot fits). */
  readonly controlState: () => ControlFacts;
  /** Signs and checks the buttons' nonces. */
  readonly key: ButtonKey;
  /** Standing grants; without them there is no "Approve + allow" button. */
  readonly grants?: Grants;
  /** Who may approve; default: the actor or one of its groups is in `control.roles.approvers`. */
  readonly isApprover?: (actor: string, actorGroups: readonly string[]) => boolean;
  /** Cooldown and daily-cap usage of an action, so decide() at the click sees them. */
  readonly usage?: (actionId: string, now: number) => ActionUsage | undefined;
  /** Hours on the phase 4 "Approve + allow" button (default 4). */
  readonly grantHours?: number;
  /** Where errors of a background run go (the lead's logger); they never escape as rejections. */
  readonly onError?: (err: unknown, context: string) => void;
}

const decideSchema = z.strictObject({
  actor: z.string().min(1).max(200),
  actorGroups: z.array(z.string().max(200)).max(200).default([]),
  verdict: z.enum(['approve', 'deny', 'grant']),
  reason: z.string().max(2000).nullish(),
  hours: z.int().min(1).max(168).optional(),
  nonce: z.string().max(200).optional(),
  via: z.enum(['button', 'command']).optional(),
  wait: z.boolean().default(false),
});

type ApproveOutcome =
  | { readonly kind: 'lost' }
  | { readonly kind: 'no-grant'; readonly phase: number | null }
  | { readonly kind: 'void'; readonly record: ApprovalRecord }
  | Approved;

export class Approvals implements Service {
  readonly name = 'approvals';
  private readonly store: ApprovalStore;
  private readonly view: ApprovalView;
  private readonly moves: ApprovalTransitions;
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly grantHours: number;

  constructor(private readonly o: ApprovalsOptions) {
    this.store = new ApprovalStore(o.database);
    this.grantHours = o.grantHours ?? 4;
    this.view = new ApprovalView({ ...o, grantHours: o.grants === undefined ? null : this.grantHours });
    this.moves = new ApprovalTransitions({ ...o, store: this.store, view: this.view });
  }

  /**
   * Stores the proposal and a pending approval and queues the request to every approval channel,
   * in one transaction. A request identical to one still pending returns that one, posts nothing.
   */
  request(proposal: Proposal, decision: Decision, ctx: RequestContext): RequestResult {
    return storeRequest(
      { ...this.o, store: this.store, view: this.view, moves: this.moves },
      proposal,
      decision,
      ctx,
    );
  }

  /** A button click (approve, deny, grant) from an adapter: its nonce must belong to the approval. */
  click(click: InboundClick): Promise<ChatMessage> {
    const verdict = click.action;
    if (verdict !== 'approve' && verdict !== 'deny' && verdict !== 'grant') {
      return Promise.resolve(replyMessage(click.actor, `${click.target} is not an approval button`));
    }
    return this.decide(click.target, {
      actor: click.actor,
      actorGroups: click.actorGroups ?? [],
      verdict,
      reason: click.reason ?? null,
      ...(click.hours === undefined ? {} : { hours: click.hours }),
      nonce: click.nonce,
      via: 'button',
    });
  }

  /**
   * A decision on `a12` (a click, `/autonomy approve a12`, the CLI, the console API); returns the
   * reply for that person. Refusals (wrong nonce, not an approver) are audited and change nothing;
   * a late click is told who decided what and when, and nothing runs.
   */
  async decide(shortId: string, input: DecideInput): Promise<ChatMessage> {
    const parsed = decideSchema.safeParse(input);
    if (!parsed.success) {
      const who = typeof input?.actor === 'string' ? input.actor : 'unknown';
      return replyMessage(
        who,
        'Nothing was decided: the request was malformed',
        z.prettifyError(parsed.error),
      );
    }
    const d = parsed.data;
    const number = parseApprovalId(shortId);
    if (number === null) {
      return replyMessage(d.actor, `${showValue(shortId)} is not an approval id like a12`, LIST_HINT);
    }
    const sid = approvalShortId(number);
    const rec = this.store.byNumber(number);
    if (rec === null) return replyMessage(d.actor, `There is no approval ${sid}`, LIST_HINT);
    const verb = d.verdict === 'deny' ? 'deny' : 'approve';
    const via = d.via ?? (d.nonce === undefined ? 'command' : 'button');
    if (via === 'button' && !this.o.key.verify('approval', rec.id, d.nonce)) {
      return this.refuse(
        rec,
        d.actor,
        d.verdict,
        'bad-nonce',
        `That button does not belong to ${sid} (an old or forged message); nothing was done. Type \`/autonomy ${verb} ${sid}\` to decide.`,
      );
    }
    if (via === 'button' && d.verdict === 'grant' && d.hours !== undefined && d.hours !== this.grantHours) {
      return this.refuse(
        rec,
        d.actor,
        d.verdict,
        'bad-hours',
        `${sid}'s grant button offers ${this.grantHours}h, not ${d.hours}h (a forged click); nothing was done. Click the button as posted, or type \`/autonomy approve ${sid}\` to run it once.`,
      );
    }
    if (!this.isApprover(d.actor, d.actorGroups)) {
      return this.refuse(
        rec,
        d.actor,
        d.verdict,
        'not-approver',
        `Only an approver may ${verb} ${sid}: ${d.actor} does not have the approver role (policy control.roles.approvers). Nothing was done.`,
      );
    }
    if (rec.state !== 'pending') return this.stale(rec, d.actor, d.verdict);
    if (rec.expiresAt <= this.o.now()) {
      this.moves.expire(rec);
      return this.stale(this.moves.mustGet(rec.id), d.actor, d.verdict);
    }
    if (d.verdict === 'deny') return this.deny(rec, d.actor, d.reason ?? null);
    const hours = d.hours ?? this.grantHours;
    const outcome = this.approve(rec, d.actor, d.verdict, hours, d.reason ?? null);
    if (outcome.kind === 'lost') return this.stale(this.moves.mustGet(rec.id), d.actor, d.verdict);
    if (outcome.kind === 'no-grant') {
      return replyMessage(
        d.actor,
        `${sid} is still pending: standing grants exist only in phase 4`,
        `${rec.agent} is in phase ${outcome.phase ?? '?'}. Click Approve (or type \`/autonomy approve ${sid}\`) to run it once.`,
      );
    }
    if (outcome.kind === 'void') {
      return replyMessage(
        d.actor,
        `${sid} is void; nothing ran`,
        `${outcome.record.reason ?? ''}\nA new request is needed if it is still wanted.`,
      );
    }
    const run = this.track(
      runApproved({ ...this.o, store: this.store, view: this.view, moves: this.moves }, outcome),
    );
    const f = this.view.facts(outcome.record);
    const granted = outcome.grant ? ` Standing grant ${outcome.grant} allows the same for ${hours}h.` : '';
    if (!d.wait) {
      return replyMessage(
        d.actor,
        `${sid} approved: running ${f.actionId} on ${f.target}`,
        `Runs: ${f.display}.${granted} The request message will show the outcome.`,
      );
    }
    const done = await run;
    const result = done?.reason ? `\nOutcome: ${done.reason}` : '';
    return replyMessage(
      d.actor,
      `${sid} approved and ${done?.state ?? 'started'}`,
      `Runs: ${f.display}.${granted}${result}`,
    );
  }

  /** Pending approvals past their expiry become expired (a denial), posted. Returns how many. */
  expireDue(): number {
    // One transaction per approval: the write lock is never held long (a kill must not wait).
    const now = this.o.now();
    let n = 0;
    for (const rec of this.store.inStates(['pending'])) {
      if (rec.expiresAt <= now && this.moves.expire(rec)) n++;
    }
    return n;
  }

  /** Kill switch: the agent's (or every) pending approval becomes void; its buttons say so. */
  voidForAgent(agent: AgentName | 'all', reason: string | null, actor = 'system:kill'): number {
    const who = agent === 'all' ? 'all agents were' : `${agent} was`;
    const why = `${who} killed${reason ? ` (${untrusted(reason, 300)})` : ''}`;
    return this.moves.voidWhere(
      (rec) => (agent === 'all' || rec.agent === agent ? why : null),
      actor,
      triggerOf(actor),
    );
  }

  /**
   * Policy reload: a pending approval whose action vanished, or whose binding hash (the action's
   * entry, effective tier and the params) no longer matches, becomes void. Other edits void nothing.
   */
  voidChanged(policy: Policy, actor = 'system:policy-reload'): number {
    return this.moves.voidWhere(
      (rec) => {
        const action = policy.actions.get(rec.actionId);
        if (action === undefined) return `the policy no longer has the action ${rec.actionId}`;
        if (action.agent !== rec.agent) return `the policy gave ${rec.actionId} to ${action.agent}`;
        const bad = checkParams(action, rec.params);
        if (bad !== null) return `the policy changed ${rec.actionId}'s params: ${bad}`;
        if (bindingHash(action, rec.params) !== rec.bindingHash) {
          return `the policy changed ${rec.actionId} (its entry or effective tier) since the request`;
        }
        return null;
      },
      actor,
      'policy',
    );
  }

  /** At start: approvals a crash left approved or executing become interrupted, reported, never re-run. */
  recoverAfterRestart(): number {
    return this.moves.recover();
  }

  /** Approvals in a state (default: pending), oldest first. */
  list(filter: { readonly state?: ApprovalState | 'all' } = {}): ApprovalInfo[] {
    const state = filter.state ?? 'pending';
    if (state !== 'all' && !(APPROVAL_STATES as readonly string[]).includes(state)) return [];
    return this.store.inStates(state === 'all' ? undefined : [state]).map((r) => this.view.info(r));
  }

  get(shortId: string): ApprovalInfo | null {
    const number = parseApprovalId(shortId);
    const rec = number === null ? null : this.store.byNumber(number);
    return rec === null ? null : this.view.info(rec);
  }

  /** The request message as it stands, for an escalation re-post (null unless still pending). */
  pendingMessage(approvalId: string): ChatMessage | null {
    const rec = this.store.byId(approvalId);
    return rec === null || rec.state !== 'pending' ? null : approvalMessage(this.view.facts(rec));
  }

  onKill(order: KillOrder): KillTeeth {
    return { voided: this.voidForAgent(order.target, order.reason, order.actor) };
  }

  onPolicyChange(policy: Policy): void {
    this.voidChanged(policy);
  }

  /** The SIGTERM drain: approved actions already running are recorded before the database closes. */
  async stop(): Promise<void> {
    await this.settled();
  }

  /** Resolves when every run started here has finished and been recorded (tests, SIGTERM drain). */
  async settled(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }

  // ---------------------------------------------------------------------------------------------

  private approve(
    rec: ApprovalRecord,
    actor: string,
    verdict: 'approve' | 'grant',
    hours: number,
    note: string | null,
  ): ApproveOutcome {
    return writeTransaction(this.o.database, (): ApproveOutcome => {
      const now = this.o.now();
      const fresh = this.store.byId(rec.id);
      if (fresh === null || fresh.state !== 'pending' || fresh.version !== rec.version)
        return { kind: 'lost' };
      const policy = this.o.policy();
      const c = this.o.controlState();
      const usage = this.o.usage?.(fresh.actionId, now);
      const decision = decide(
        policy,
        {
          killedAll: c.killedAll,
          killedAgents: c.killedAgents,
          phaseOverride: c.phaseOverride,
          agentPhaseOverrides: c.agentPhaseOverrides,
          ...(usage === undefined ? {} : { usage }),
          authorisation: {
            kind: 'approval',
            id: fresh.id,
            bindingHash: fresh.bindingHash,
            expiresAt: fresh.expiresAt,
            by: actor,
          },
        },
        proposalOf(fresh),
        now,
      );
      const action = policy.actions.get(fresh.actionId);
      if (decision.verdict !== 'execute' || action === undefined) {
        const reason = `when it was approved, the policy no longer let it run: ${decision.reason}`;
        const set = { state: 'void' as const, decidedAt: now, reason };
        const record = this.moves.change(fresh, 'pending', set, actor, triggerOf(actor), true);
        return record === null ? { kind: 'lost' } : { kind: 'void', record };
      }
      if (verdict === 'grant' && (decision.phase !== 4 || this.o.grants === undefined)) {
        return { kind: 'no-grant', phase: decision.phase };
      }
      const set = {
        state: 'approved' as const,
        decidedBy: actor,
        decidedAt: now,
        nextEscalationAt: null,
        updatedAt: now,
      };
      if (!this.store.transition(fresh.id, 'pending', fresh.version, set)) return { kind: 'lost' };
      const grant =
        verdict === 'grant' && this.o.grants !== undefined
          ? this.o.grants.create({
              action,
              params: fresh.params,
              hours,
              by: actor,
              reason: note,
              approvalId: fresh.id,
            }).id
          : null;
      const record = this.moves.mustGet(fresh.id);
      this.o.audit.appendInTx({
        ...approvalAudit(record, policy, 'approval.approved', actor, triggerOf(actor)),
        verdict: 'execute',
        outcome: `${approvalShortId(record.number)} approved by ${actor}${grant ? ` with standing grant ${grant} (${hours}h)` : ''}`,
        data: { ...approvalData(record), decision: decision.code, grant, note },
      });
      this.view.publish(record, false);
      return { kind: 'approved', record, action, decision, grant };
    });
  }

  private deny(rec: ApprovalRecord, actor: string, reason: string | null): ChatMessage {
    const why = reason?.trim() ? reason.trim() : null;
    const record = writeTransaction(this.o.database, () => {
      const set = { state: 'denied' as const, decidedBy: actor, decidedAt: this.o.now(), reason: why };
      return this.moves.change(rec, 'pending', set, actor, triggerOf(actor), false);
    });
    if (record === null) return this.stale(this.moves.mustGet(rec.id), actor, 'deny');
    const sid = approvalShortId(rec.number);
    return replyMessage(
      actor,
      `${sid} denied; nothing runs`,
      why ? `Reason recorded: ${untrusted(why, 500)}` : 'No reason given.',
    );
  }

  private refuse(
    rec: ApprovalRecord,
    actor: string,
    verdict: string,
    why: 'bad-nonce' | 'bad-hours' | 'not-approver',
    text: string,
  ): ChatMessage {
    const what = REFUSALS[why].audit;
    this.o.audit.append({
      ...approvalAudit(rec, this.o.policy(), 'approval.refused', actor, triggerOf(actor)),
      outcome: `${actor} was refused ${verdict} on ${approvalShortId(rec.number)}: ${what}`,
      data: { ...approvalData(rec), refused: why, verdict },
    });
    return replyMessage(actor, REFUSALS[why].title, text);
  }

  private stale(rec: ApprovalRecord, actor: string, verdict: string): ChatMessage {
    const answer = staleAnswer(this.view.facts(rec));
    this.o.audit.append({
      ...approvalAudit(rec, this.o.policy(), 'approval.stale', actor, triggerOf(actor)),
      outcome: `${actor} tried to ${verdict} ${approvalShortId(rec.number)}: ${answer}`,
    });
    return replyMessage(actor, answer);
  }

  private isApprover(actor: string, groups: readonly string[]): boolean {
    if (this.o.isApprover !== undefined) return this.o.isApprover(actor, groups);
    const approvers = this.o.policy().doc.control.roles.approvers;
    return approvers.includes(actor) || groups.some((g) => approvers.includes(g));
  }

  private track<T>(p: Promise<T>): Promise<T | null> {
    const guarded = p.catch((err: unknown) => {
      this.o.onError?.(err, 'approval run');
      return null;
    });
    this.inflight.add(guarded);
    void guarded.finally(() => this.inflight.delete(guarded));
    return guarded;
  }
}

const LIST_HINT = '`/autonomy approvals` lists the pending ones.';

/** Why a click was refused: the audit's words and the title the clicker sees. */
const REFUSALS = {
  'bad-nonce': { audit: 'the button nonce does not match', title: 'Refused: stale or forged button' },
  'bad-hours': {
    audit: 'the grant hours differ from what the button offered',
    title: 'Refused: forged grant hours',
  },
  'not-approver': { audit: 'not an approver', title: 'Refused: the approver role is needed' },
} as const;
