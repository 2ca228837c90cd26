/**
 * Evidence retention (`evidence.retention`): deletes run records and their evidence older than the
 * retention period, then purges the audit log with its checkpoint (src/audit/log.ts purge()), so
 * `autonomy audit verify` still proves what is left. What goes, all older than the cut-off:
 *
 * - approvals that are finished (not pending, approved or executing), by request time, except the
 *   highest-numbered one (short ids are max + 1: `a12` must never be handed out twice);
 * - proposals (the evidence an agent gave), by decision time, unless an approval kept above needs them;
 * - model usage rows, by call time;
 * - runs that are not running, by start time, unless a kept proposal, approval or usage row points
 *   at them (foreign keys: nothing is left dangling, so nothing fails);
 * - sweep runs, by slot, except the newest of each agent and kind (missed-sweep detection needs it);
 * - signals (payloads: the raw evidence), by receipt, except those of unresolved incidents;
 * - agent jobs that are finished (done, skipped, closed), by finish time;
 * - delivered or failed outbox messages older than the cut-off and at least 14 days old (their
 *   dedupe keys stop a weekly post from going out twice);
 * - digest charts (`<data>/digests/<Monday>.png`) of weeks that ended before the cut-off.
 *
 * Kept: incidents (small; the metrics of past weeks need them), skills, mutes, grants, policy
 * versions, subscriptions. One write transaction for the rows; the audit purge is its own.
 */
import { readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { and, eq, inArray, isNotNull, isNull, lt, max, ne, notInArray, or } from 'drizzle-orm';
import type { AuditLog, PurgeResult } from '../audit/log.js';
import { type Database, writeTransaction } from '../db/connection.js';
import {
  agentJobs,
  approvals,
  incidents,
  modelUsage,
  outbox,
  proposals,
  runs,
  signals,
  sweepRuns,
} from '../db/schema.js';
import type { Millis } from '../policy/types.js';
import { CHART_NAME, DIGEST_DIR } from './digest.js';

/** Who the retention purge is in the audit log. */
export const RETENTION_ACTOR = 'system:retention';
/** Outbox rows younger than this stay whatever the retention (dedupe of weekly posts). */
const OUTBOX_MIN_AGE = 14 * 86_400_000;
const WEEK = 7 * 86_400_000;
const LIVE_APPROVALS = ['pending', 'approved', 'executing'] as const;

export interface RetentionOptions {
  readonly database: Database;
  readonly audit: AuditLog;
  /** Delete what is older than this (epoch ms): now - retention. */
  readonly before: Millis;
  readonly now: Millis;
  /** The data folder (digest charts); null leaves files alone. */
  readonly dataDir: string | null;
  readonly actor?: string;
}

export interface RetentionResult {
  readonly before: Millis;
  readonly approvals: number;
  readonly proposals: number;
  readonly modelUsage: number;
  readonly runs: number;
  readonly sweepRuns: number;
  readonly signals: number;
  readonly outbox: number;
  /** Finished agent jobs (done, skipped, closed), by finish time. */
  readonly agentJobs: number;
  readonly charts: number;
  readonly audit: PurgeResult;
}

/** Deletes what is older than `before`; returns how much of each went. Safe to run again. */
export function purgeExpired(o: RetentionOptions): RetentionResult {
  const { database, before } = o;
  if (!Number.isSafeInteger(before))
    throw new RangeError(`retention needs a time in epoch ms, got ${before}`);
  const actor = o.actor ?? RETENTION_ACTOR;
  const rows = writeTransaction(database, () => {
    const db = database.db;
    const last =
      db
        .select({ n: max(approvals.number) })
        .from(approvals)
        .get()?.n ?? null;
    const gone = {
      approvals: db
        .delete(approvals)
        .where(
          and(
            lt(approvals.requestedAt, before),
            notInArray(approvals.state, [...LIVE_APPROVALS]),
            last === null ? undefined : ne(approvals.number, last),
          ),
        )
        .run().changes,
      proposals: db
        .delete(proposals)
        .where(
          and(
            lt(proposals.decidedAt, before),
            notInArray(proposals.id, db.select({ id: approvals.proposalId }).from(approvals)),
          ),
        )
        .run().changes,
      modelUsage: db.delete(modelUsage).where(lt(modelUsage.at, before)).run().changes,
      runs: db
        .delete(runs)
        .where(
          and(
            lt(runs.startedAt, before),
            ne(runs.status, 'running'),
            notInArray(
              runs.id,
              db.select({ id: proposals.runId }).from(proposals).where(isNotNull(proposals.runId)),
            ),
            notInArray(
              runs.id,
              db.select({ id: approvals.runId }).from(approvals).where(isNotNull(approvals.runId)),
            ),
            notInArray(
              runs.id,
              db.select({ id: modelUsage.runId }).from(modelUsage).where(isNotNull(modelUsage.runId)),
            ),
          ),
        )
        .run().changes,
      sweepRuns: 0,
      signals: db
        .delete(signals)
        .where(
          and(
            lt(signals.receivedAt, before),
            or(
              isNull(signals.incidentId),
              notInArray(
                signals.incidentId,
                db.select({ id: incidents.id }).from(incidents).where(ne(incidents.status, 'resolved')),
              ),
            ),
          ),
        )
        .run().changes,
      agentJobs: db
        .delete(agentJobs)
        .where(and(inArray(agentJobs.state, ['done', 'skipped', 'closed']), lt(agentJobs.finishedAt, before)))
        .run().changes,
      outbox: db
        .delete(outbox)
        .where(
          and(
            inArray(outbox.state, ['delivered', 'failed']),
            lt(outbox.createdAt, Math.min(before, o.now - OUTBOX_MIN_AGE)),
          ),
        )
        .run().changes,
    };
    const newest = db
      .select({ agent: sweepRuns.agent, kind: sweepRuns.kind, last: max(sweepRuns.scheduledAt) })
      .from(sweepRuns)
      .groupBy(sweepRuns.agent, sweepRuns.kind)
      .all();
    for (const n of newest) {
      const cut = Math.min(before, n.last ?? before);
      gone.sweepRuns += db
        .delete(sweepRuns)
        .where(and(eq(sweepRuns.agent, n.agent), eq(sweepRuns.kind, n.kind), lt(sweepRuns.scheduledAt, cut)))
        .run().changes;
    }
    return gone;
  });
  const charts = o.dataDir === null ? 0 : purgeCharts(join(o.dataDir, DIGEST_DIR), before, o.now);
  const audit = o.audit.purge(before, actor);
  const total = Object.values(rows).reduce((s, n) => s + n, 0) + charts;
  if (total > 0 || audit.purged > 0) {
    o.audit.append({
      kind: 'retention.purge',
      actor,
      trigger: 'retention',
      outcome: `deleted ${rows.runs} run(s), ${rows.proposals} proposal(s), ${rows.approvals} approval(s), ${rows.signals} signal(s) and ${audit.purged} audit record(s) older than ${new Date(before).toISOString()}`,
      data: {
        before,
        ...rows,
        charts,
        auditRecords: audit.purged,
        checkpointSeq: audit.checkpoint?.seq ?? null,
      },
    });
  }
  return { before, ...rows, charts, audit };
}

/** Deletes charts of weeks that ended before `before`, and temporary files a crash left (older than a day). */
function purgeCharts(dir: string, before: Millis, now: Millis): number {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return 0;
  }
  let removed = 0;
  for (const name of entries) {
    const file = join(dir, name);
    let old = false;
    if (CHART_NAME.test(name)) {
      // The name is the week's Monday (local date); the week ends 7 days later (a day either way
      // for the time zone does not matter at retention scale).
      const monday = Date.parse(`${name.slice(0, 10)}T00:00:00Z`);
      old = Number.isFinite(monday) && monday + WEEK + 86_400_000 < before;
    } else if (name.endsWith('.tmp')) {
      try {
        old = statSync(file).mtimeMs < now - 86_400_000;
      } catch {
        old = false;
      }
    }
    if (!old) continue;
    rmSync(file, { force: true });
    removed += 1;
  }
  return removed;
}
