/**
 * The escalation path (policy `control.escalation`, the template's incident escalation path), for
 * approvals still pending and critical incidents not acknowledged. Level N fires once, `after` its
 * delay counted from the request (approvals) or from when the bot detected the incident; it
 * re-posts mentioning that level's people: approvals to the approval channels (with live buttons,
 * updated with the rest when decided), incidents to their routed channels plus the level's own.
 * Each step is audited (`escalation.level`). Deciding an approval or acknowledging (or resolving)
 * an incident stops it. Whether an incident's posts are held back (mutes, maintenance windows) is
 * the injected `isHeld`'s call: a held incident is not escalated while held.
 *
 * "Each level once" survives restarts and a second process: approvals keep the level reached in
 * their row (conditional update), and so do incidents (incidents.escalation_level, written in the
 * same transaction as the re-post and its audit record, so an audit purge cannot re-escalate).
 */
import { and, eq } from 'drizzle-orm';
import type { AuditLog } from '../../audit/log.js';
import { snoozedUntil } from '../../chat/incident-snooze.js';
import { type Button, type ChatMessage, message } from '../../chat/message.js';
import { type Database, writeTransaction } from '../../db/connection.js';
import { incidents } from '../../db/schema.js';
import { durationMs } from '../../policy/compile.js';
import type { Policy } from '../../policy/types.js';
import { every } from '../../process/timer.js';
import type { Service } from '../../service.js';
import { span, untrusted, when } from './messages.js';
import type { MessageSink } from './ports.js';
import { ApprovalStore, approvalShortId } from './store.js';

export type IncidentRow = typeof incidents.$inferSelect;

export interface EscalationOptions {
  readonly database: Database;
  readonly audit: AuditLog;
  readonly now: () => number;
  readonly messages: MessageSink;
  readonly policy: () => Policy;
  /** The approval's request message as it stands, or null if no longer pending (Approvals.pendingMessage). */
  readonly approvalMessage: (approvalId: string) => ChatMessage | null;
  /** true while the incident's posts are held back (mute, maintenance window): not escalated then. */
  readonly isHeld?: (incident: IncidentRow, now: number) => boolean;
  /** Where the incident's alerts go; default `routing.default.critical`. The level's channels are added. */
  readonly incidentChannels?: (incident: IncidentRow, policy: Policy) => readonly string[];
  /** People mentioned at every level besides the level's own (the incident's team); default none. */
  readonly incidentMentions?: (incident: IncidentRow, policy: Policy) => readonly string[];
  /** Nonce for the incident's Acknowledge button; without it the re-post has no button. */
  readonly ackNonce?: (incidentId: string) => string;
  /**
   * Makes the incident's title and service (the webhook sender's text) safe to post: the core's
   * `screenSource` (secrets redacted, mentions inert). Default: control characters dropped only.
   */
  readonly screen?: (text: string, max: number) => string;
  /** Runs before each timer round (the bot expires due approvals here). */
  readonly beforeTick?: () => void;
  /** Runs after each timer round (the bot wakes the outbox worker). */
  readonly afterTick?: () => void;
  /** Where a failed round is reported (default: nowhere; the next round still comes). */
  readonly onError?: (err: unknown) => void;
  /** Rounds every this long while started (default 15 s). */
  readonly intervalMs?: number;
}

export interface TickResult {
  /** Approval escalation steps posted. */
  readonly approvals: number;
  /** Incident escalation steps posted. */
  readonly incidents: number;
  /** Incidents due but held back. */
  readonly held: number;
}

interface Level {
  readonly index: number;
  readonly afterMs: number;
  readonly after: string;
  readonly mention: readonly string[];
  readonly channels: readonly string[];
  /** Where an incident's escalation goes: its card's thread, or the channel's top level. */
  readonly mentionIn: 'thread' | 'channel';
}

const ACTOR = 'system:escalation';
const AUDIT_KIND = 'escalation.level';

export class Escalation implements Service {
  readonly name = 'escalation';
  private readonly store: ApprovalStore;
  private stopTimer: (() => void) | null = null;

  constructor(private readonly o: EscalationOptions) {
    this.store = new ApprovalStore(o.database);
  }

  /** Rounds on a timer: expiry (beforeTick), the steps due, then afterTick. */
  start(): void {
    this.stopTimer ??= every(
      this.o.intervalMs ?? 15_000,
      () => {
        this.o.beforeTick?.();
        this.tick();
        this.o.afterTick?.();
      },
      (err) => this.o.onError?.(err),
    );
  }

  stop(): void {
    this.stopTimer?.();
    this.stopTimer = null;
  }

  /** Posts every escalation step due at `now` (default: the clock). Call from a timer and at start. */
  tick(now: number = this.o.now()): TickResult {
    const policy = this.o.policy();
    const levels: Level[] = policy.doc.control.escalation.map((l, index) => ({
      index,
      afterMs: durationMs(l.after),
      after: l.after,
      mention: l.mention,
      channels: l.channels,
      mentionIn: l.mentionIn,
    }));
    if (levels.length === 0) return { approvals: 0, incidents: 0, held: 0 };
    const approvals = this.approvals(levels, policy, now);
    const { posted, held } = this.incidents(levels, policy, now);
    return { approvals, incidents: posted, held };
  }

  private approvals(levels: readonly Level[], policy: Policy, now: number): number {
    let n = 0;
    for (const rec of this.store.inStates(['pending'])) {
      const level = levels[rec.escalationLevel];
      if (level === undefined || rec.expiresAt <= now || rec.requestedAt + level.afterMs > now) continue;
      const done = writeTransaction(this.o.database, () => {
        const fresh = this.store.byId(rec.id);
        if (fresh === null || fresh.state !== 'pending' || fresh.escalationLevel !== level.index)
          return false;
        const base = this.o.approvalMessage(fresh.id);
        if (base === null) return false;
        const sid = approvalShortId(fresh.number);
        const msg = message({
          ...base,
          title: cut(`Escalation ${level.index + 1}: still pending after ${level.after}: ${base.title}`),
          mentions: [...level.mention],
        });
        const channels = unique(policy.doc.control.approvalChannels);
        const refs = channels.map((channel) => {
          const key = `escalation:approval:${fresh.id}:${level.index + 1}:${channel}`;
          return { channel, ref: `outbox:${this.o.messages.enqueue(channel, msg, { dedupeKey: key }).id}` };
        });
        const next = levels[level.index + 1];
        const moved = this.store.escalated(fresh.id, level.index, {
          refs: [...fresh.messageRefs, ...refs],
          nextAt: next === undefined ? null : fresh.requestedAt + next.afterMs,
          updatedAt: now,
        });
        if (!moved) throw new Error(`approval ${sid} changed while it was being escalated`);
        this.o.audit.appendInTx({
          kind: AUDIT_KIND,
          agent: fresh.agent,
          actor: ACTOR,
          trigger: 'timer',
          outcome: `${sid} still pending after ${level.after}: level ${level.index + 1} mentions ${level.mention.join(', ')} in ${channels.join(', ')}`,
          data: {
            target: 'approval',
            approval: sid,
            id: fresh.id,
            level: level.index + 1,
            mentions: [...level.mention],
            channels,
          },
        });
        return true;
      });
      if (done) n++;
    }
    return n;
  }

  private incidents(levels: readonly Level[], policy: Policy, now: number): { posted: number; held: number } {
    const open = this.o.database.db
      .select()
      .from(incidents)
      .where(and(eq(incidents.status, 'open'), eq(incidents.severity, 'critical')))
      .all();
    if (open.length === 0) return { posted: 0, held: 0 };
    let posted = 0;
    let held = 0;
    for (const inc of open) {
      const level = levels[inc.escalationLevel];
      if (level === undefined || inc.detectedAt + level.afterMs > now) continue;
      // Snoozed from its card (src/chat/incident-snooze.ts), or held back by a mute or a window.
      if (this.o.isHeld?.(inc, now) === true || snoozedUntil(this.o.audit, inc.id, now) !== null) {
        held++;
        continue;
      }
      const done = writeTransaction(this.o.database, () => {
        // Re-read inside the write lock: acknowledged meanwhile, or escalated by another process?
        const fresh = this.o.database.db.select().from(incidents).where(eq(incidents.id, inc.id)).get();
        if (fresh === undefined || fresh.status !== 'open' || fresh.severity !== 'critical') return false;
        if (fresh.escalationLevel !== level.index) return false;
        const routed = this.o.incidentChannels?.(fresh, policy) ?? policy.doc.routing.default.critical;
        const channels = unique([...routed, ...level.channels]);
        const mentions = unique([...level.mention, ...(this.o.incidentMentions?.(fresh, policy) ?? [])]);
        const msg = this.incidentMessage(fresh, { ...level, mention: mentions }, now);
        for (const channel of channels) {
          const key = `escalation:incident:${fresh.id}:${level.index + 1}:${channel}`;
          this.o.messages.enqueue(channel, msg, { dedupeKey: key });
        }
        const next = levels[level.index + 1];
        this.o.database.db
          .update(incidents)
          .set({
            escalationLevel: level.index + 1,
            nextEscalationAt: next === undefined ? null : fresh.detectedAt + next.afterMs,
          })
          .where(eq(incidents.id, fresh.id))
          .run();
        this.o.audit.appendInTx({
          kind: AUDIT_KIND,
          actor: ACTOR,
          trigger: 'timer',
          outcome: `i${fresh.number} not acknowledged after ${level.after}: level ${level.index + 1} mentions ${mentions.join(', ')} in ${channels.join(', ') || 'no channel'}`,
          data: {
            target: 'incident',
            incident: `i${fresh.number}`,
            id: fresh.id,
            level: level.index + 1,
            mentions,
            channels,
          },
        });
        return true;
      });
      if (done) posted++;
    }
    return { posted, held };
  }

  private incidentMessage(inc: IncidentRow, level: Level, now: number): ChatMessage {
    const sid = `i${inc.number}`;
    const screen = this.o.screen ?? untrusted;
    const title = screen(inc.title, 200);
    const buttons: Button[] = [];
    if (this.o.ackNonce !== undefined) {
      buttons.push({
        action: 'ack',
        label: 'Acknowledge',
        style: 'primary',
        target: sid,
        nonce: this.o.ackNonce(inc.id),
      });
    }
    return message({
      kind: 'alert',
      severity: 'critical',
      title: cut(`Escalation ${level.index + 1}: critical incident ${sid} not acknowledged: ${title}`),
      body: [
        `${sid} has been open for ${span(now - inc.detectedAt)} without an acknowledgement.`,
        `Acknowledge to stop the escalation: \`/autonomy ack ${sid}\`.`,
      ].join('\n'),
      fields: [
        { label: 'Service', value: inc.service === null ? 'unknown' : screen(inc.service, 200) },
        { label: 'Detected', value: when(inc.detectedAt) },
        { label: 'Signals', value: String(inc.signalCount) },
        { label: 'Level', value: `${level.index + 1} (after ${level.after})` },
      ],
      buttons,
      // An incident ref puts it in the card's thread (and folds it in a storm); `channel` posts it
      // at the top level, where everyone sees it.
      refs: level.mentionIn === 'channel' ? {} : { incident: sid },
      mentions: [...level.mention],
    });
  }
}

function unique(list: readonly string[]): string[] {
  return [...new Set(list)];
}

function cut(text: string): string {
  return text.length > 300 ? `${text.slice(0, 299)}…` : text;
}
