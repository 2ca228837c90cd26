/**
 * `autonomy simulate`: replays the proposals stored for a period through decide() under a candidate
 * policy and reports what would change, so raising a phase or allowlisting an action is decided on
 * evidence. Read-only: nothing is written.
 *
 * How the replay works (kept simple on purpose):
 * - Proposals with `decided_at` in [since, now) are replayed oldest first, each at its own
 *   `decided_at`, with the stored agent, action id and params (params are re-checked, so bad params
 *   stay denied, and an action missing from the candidate's catalog is denied as unknown).
 * - The state has no kill switches and no runtime phase overrides, unless `state` is given (then
 *   its kills and overrides are used as they are, for every proposal).
 * - Cooldowns and daily caps: usage per action starts from the stored runs with verdict execute
 *   that started before `since` (the real history); inside the period, every proposal the
 *   candidate would execute counts as a run at its `decided_at` (the stored runs of the period are
 *   what the old policy did, not what the candidate would do). "Today" is the calendar day in the
 *   candidate's `triggers.timezone`.
 * - Approvals are not replayed: a tier 3 action asks (verdict ask), as it would before anyone
 *   answers, so no proposal is shown as executing on an approval that was given under another policy.
 */
import { and, asc, eq, gte, isNotNull, lt, max } from 'drizzle-orm';
import type { Database } from '../db/connection.js';
import { proposals, runs, type StoredParams } from '../db/schema.js';
import { decide } from '../policy/decide.js';
import type { ActionUsage, DecisionCode, DecisionState, Millis, Policy } from '../policy/types.js';
import { AGENTS, type AgentName, type Tier, VERDICTS, type Verdict } from '../policy/vocabulary.js';
import { localDay } from '../time/zone.js';

export interface SimulateOptions {
  readonly since: Millis;
  readonly now: Millis;
  /** Kill switches and runtime phase overrides to simulate with (default: none). Usage is ignored. */
  readonly state?: DecisionState;
  /** How many changed decisions to show (default 10). */
  readonly examples?: number;
}

export interface SimDecision {
  readonly verdict: Verdict;
  readonly code: string;
  readonly tier: Tier | null;
  readonly reason: string;
}

export interface SimExample {
  readonly proposalId: string;
  readonly agent: AgentName;
  readonly actionId: string;
  readonly params: StoredParams;
  readonly decidedAt: Millis;
  readonly before: SimDecision;
  readonly after: SimDecision;
}

export type VerdictCounts = Record<Verdict, number>;

export interface AgentSimulation {
  readonly total: number;
  readonly changed: number;
  readonly before: VerdictCounts;
  readonly after: VerdictCounts;
}

/** One kind of change, e.g. sentinel: tier 2 suggest -> execute, 4 times. */
export interface Transition {
  readonly agent: AgentName;
  readonly beforeVerdict: Verdict;
  readonly afterVerdict: Verdict;
  readonly beforeTier: Tier | null;
  readonly afterTier: Tier | null;
  readonly afterCode: DecisionCode;
  readonly count: number;
}

export interface SimulationReport {
  readonly since: Millis;
  readonly now: Millis;
  readonly policySource: string;
  readonly policyHash: string;
  readonly total: number;
  readonly changed: number;
  readonly byAgent: Readonly<Record<AgentName, AgentSimulation>>;
  /** Verdict counts by the effective tier under the candidate ('unknown' when the action is unknown). */
  readonly byTier: Readonly<Record<string, { before: VerdictCounts; after: VerdictCounts }>>;
  /** Changes grouped by (agent, verdict and tier before -> after, new code), most first. */
  readonly transitions: readonly Transition[];
  readonly examples: readonly SimExample[];
}

const NO_STATE: DecisionState = {
  killedAll: false,
  killedAgents: new Set(),
  phaseOverride: null,
  agentPhaseOverrides: new Map(),
};

function zero(): VerdictCounts {
  return Object.fromEntries(VERDICTS.map((v) => [v, 0])) as VerdictCounts;
}

function asVerdict(v: string): Verdict {
  return (VERDICTS as readonly string[]).includes(v) ? (v as Verdict) : 'deny';
}

interface Usage {
  last: number | null;
  /** Start times of runs, oldest first (only the recent ones matter for a daily count). */
  starts: number[];
}

/** Replays the period's proposals under `candidate`; see the file comment for the rules. */
export function simulate(database: Database, candidate: Policy, options: SimulateOptions): SimulationReport {
  const { since, now } = options;
  if (!(Number.isFinite(since) && Number.isFinite(now) && since < now)) {
    throw new RangeError(`simulate needs since < now (epoch ms), got since=${since} now=${now}`);
  }
  const base: DecisionState = options.state === undefined ? NO_STATE : { ...options.state };
  const { usage: _ignored, authorisation: _none, ...stateNoUsage } = base;
  const timezone = candidate.doc.triggers.timezone;
  const db = database.db;

  const rows = db
    .select()
    .from(proposals)
    .where(and(gte(proposals.decidedAt, since), lt(proposals.decidedAt, now)))
    .orderBy(asc(proposals.decidedAt), asc(proposals.id))
    .all();

  // Usage before the period, from the stored runs: last run, and the runs of the day `since` falls in.
  const usage = new Map<string, Usage>();
  const history = (actionId: string): Usage => {
    let u = usage.get(actionId);
    if (u !== undefined) return u;
    const mine = and(eq(runs.actionId, actionId), eq(runs.verdict, 'execute'), lt(runs.startedAt, since));
    const last =
      db
        .select({ at: max(runs.startedAt) })
        .from(runs)
        .where(mine)
        .get()?.at ?? null;
    const dayStart = localDay(since, timezone).startsAt;
    const starts = db
      .select({ at: runs.startedAt })
      .from(runs)
      .where(and(mine, gte(runs.startedAt, dayStart), isNotNull(runs.startedAt)))
      .orderBy(asc(runs.startedAt))
      .all()
      .map((r) => r.at);
    u = { last, starts };
    usage.set(actionId, u);
    return u;
  };
  const usageAt = (u: Usage, at: number): ActionUsage => {
    const day = localDay(at, timezone);
    const countToday = u.starts.filter((s) => s >= day.startsAt && s < day.endsAt).length;
    return { lastRunAt: u.last, countToday, dayEndsAt: day.endsAt };
  };

  const byAgent = Object.fromEntries(
    AGENTS.map((a) => [a, { total: 0, changed: 0, before: zero(), after: zero() }]),
  ) as Record<AgentName, { total: number; changed: number; before: VerdictCounts; after: VerdictCounts }>;
  const byTier: Record<string, { before: VerdictCounts; after: VerdictCounts }> = {};
  const transitions = new Map<string, Transition>();
  const changes: SimExample[] = [];

  for (const row of rows) {
    const u = history(row.actionId);
    const state: DecisionState = { ...stateNoUsage, usage: usageAt(u, row.decidedAt) };
    const d = decide(
      candidate,
      state,
      { agent: row.agent, actionId: row.actionId, params: row.params },
      row.decidedAt,
    );
    if (d.verdict === 'execute') {
      u.last = row.decidedAt;
      u.starts.push(row.decidedAt);
    }
    const beforeVerdict = asVerdict(row.verdict);
    const agent = byAgent[row.agent];
    if (agent === undefined) continue; // an agent name from an older vocabulary: not comparable
    agent.total += 1;
    agent.before[beforeVerdict] += 1;
    agent.after[d.verdict] += 1;
    const tierKey = d.tier === null ? 'unknown' : String(d.tier);
    const t = byTier[tierKey] ?? { before: zero(), after: zero() };
    t.before[beforeVerdict] += 1;
    t.after[d.verdict] += 1;
    byTier[tierKey] = t;
    const changed = beforeVerdict !== d.verdict || (row.tier ?? null) !== d.tier;
    if (!changed) continue;
    agent.changed += 1;
    const key = [row.agent, beforeVerdict, row.tier, d.verdict, d.tier, d.code].join('|');
    const seen = transitions.get(key);
    transitions.set(key, {
      agent: row.agent,
      beforeVerdict,
      afterVerdict: d.verdict,
      beforeTier: row.tier ?? null,
      afterTier: d.tier,
      afterCode: d.code,
      count: (seen?.count ?? 0) + 1,
    });
    changes.push({
      proposalId: row.id,
      agent: row.agent,
      actionId: row.actionId,
      params: row.params,
      decidedAt: row.decidedAt,
      before: { verdict: beforeVerdict, code: row.code, tier: row.tier ?? null, reason: row.reason },
      after: { verdict: d.verdict, code: d.code, tier: d.tier, reason: d.reason },
    });
  }

  return {
    since,
    now,
    policySource: candidate.source,
    policyHash: candidate.hash,
    total: Object.values(byAgent).reduce((s, a) => s + a.total, 0),
    changed: changes.length,
    byAgent,
    byTier,
    transitions: [...transitions.values()].sort(
      (a, b) => b.count - a.count || a.agent.localeCompare(b.agent) || a.afterCode.localeCompare(b.afterCode),
    ),
    examples: pickExamples(changes, options.examples ?? 10),
  };
}

/** Up to `n` examples: the first of each kind of change first, then the rest in time order. */
function pickExamples(changes: readonly SimExample[], n: number): SimExample[] {
  const kindOf = (e: SimExample) => `${e.agent}|${e.actionId}|${e.before.code}|${e.after.code}`;
  const firsts: SimExample[] = [];
  const rest: SimExample[] = [];
  const seen = new Set<string>();
  for (const e of changes) {
    if (seen.has(kindOf(e))) rest.push(e);
    else {
      seen.add(kindOf(e));
      firsts.push(e);
    }
  }
  return [...firsts, ...rest].slice(0, Math.max(0, n)).sort((a, b) => a.decidedAt - b.decidedAt);
}

function iso(t: number): string {
  return new Date(t).toISOString().replace('.000Z', 'Z');
}

function counts(c: VerdictCounts): string {
  const parts = VERDICTS.filter((v) => c[v] > 0).map((v) => `${v} ${c[v]}`);
  return parts.length === 0 ? '-' : parts.join(', ');
}

const tierLabel = (t: Tier | null): string => (t === null ? 'no tier' : `tier ${t}`);

/** The report as terminal text: totals, per agent and tier, the kinds of change, and examples. */
export function formatSimulation(report: SimulationReport): string {
  const lines: string[] = [];
  lines.push(`Simulation of ${report.policySource} (${report.policyHash.slice(0, 12)})`);
  lines.push(`Proposals decided ${iso(report.since)} to ${iso(report.now)}: ${report.total}`);
  if (report.total === 0) {
    lines.push('Nothing to replay: no proposals were stored in this period. Try a longer --since.');
    return `${lines.join('\n')}\n`;
  }
  lines.push(`Would change: ${report.changed} of ${report.total}`);
  lines.push('');
  lines.push('By agent (verdicts stored -> under the candidate)');
  for (const agent of AGENTS) {
    const a = report.byAgent[agent];
    if (a.total === 0) continue;
    lines.push(
      `  ${agent.padEnd(10)} ${a.total} ${a.total === 1 ? 'proposal' : 'proposals'}, ${a.changed} changed`,
    );
    lines.push(`    before: ${counts(a.before)}`);
    lines.push(`    after:  ${counts(a.after)}`);
  }
  lines.push('');
  lines.push('By effective tier under the candidate');
  for (const key of Object.keys(report.byTier).sort()) {
    const t = report.byTier[key];
    if (t === undefined) continue;
    const label = key === 'unknown' ? 'unknown action' : `tier ${key}`;
    lines.push(`  ${label.padEnd(15)} before: ${counts(t.before)}  |  after: ${counts(t.after)}`);
  }
  if (report.transitions.length > 0) {
    lines.push('');
    lines.push('Changes');
    for (const t of report.transitions) {
      lines.push(
        `  ${String(t.count).padStart(5)}x  ${t.agent}: ${tierLabel(t.beforeTier)} ${t.beforeVerdict} -> ${tierLabel(t.afterTier)} ${t.afterVerdict} (${t.afterCode})`,
      );
    }
  }
  if (report.examples.length > 0) {
    lines.push('');
    lines.push(`Examples (${report.examples.length} of ${report.changed})`);
    for (const e of report.examples) {
      lines.push(`  ${iso(e.decidedAt)} ${e.agent} ${e.actionId} ${JSON.stringify(e.params)}`);
      lines.push(`    was:   ${e.before.verdict} (${e.before.code}): ${e.before.reason}`);
      lines.push(`    would: ${e.after.verdict} (${e.after.code}): ${e.after.reason}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
