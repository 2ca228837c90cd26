/**
 * Budget checks before a model call (daily tokens per agent and overall, calls per hour per agent
 * and overall) with in-memory reservations for calls in flight, and backoff per host after failures.
 */

import { durationMs } from '../policy/compile.js';
import type { Policy } from '../policy/types.js';
import type { AgentName } from '../policy/vocabulary.js';
import type { UsageStore } from './usage.js';

export interface Reservation {
  readonly agent: AgentName;
  readonly tokens: number;
}

export type BudgetVerdict =
  | { ok: true; reservation: Reservation }
  | { ok: false; reason: 'budget' | 'rate'; detail: string };

export class BudgetGate {
  private readonly reservedTokens = new Map<AgentName, number>();
  private reservedAll = 0;
  private readonly pendingCalls = new Map<AgentName, number>();
  private pendingAll = 0;

  constructor(private readonly usage: UsageStore) {}

  /** Checks every budget for one call estimated at `estimate` tokens, and reserves it if all hold. */
  reserve(policy: Policy, agent: AgentName, estimate: number): BudgetVerdict {
    const budgets = policy.doc.budgets;
    const own = budgets.agents[agent] ?? budgets.perAgent;
    const agentTokens = this.usage.tokensToday(agent) + (this.reservedTokens.get(agent) ?? 0);
    if (agentTokens + estimate > own.dailyTokens) {
      return {
        ok: false,
        reason: 'budget',
        detail: `${agent} has used ${agentTokens} of its ${own.dailyTokens} daily tokens`,
      };
    }
    const allTokens = this.usage.tokensTodayAll() + this.reservedAll;
    if (allTokens + estimate > budgets.global.dailyTokens) {
      return {
        ok: false,
        reason: 'budget',
        detail: `all agents have used ${allTokens} of the ${budgets.global.dailyTokens} daily tokens`,
      };
    }
    const agentCalls = this.usage.callsLastHour(agent) + (this.pendingCalls.get(agent) ?? 0);
    if (agentCalls >= own.callsPerHour) {
      return {
        ok: false,
        reason: 'rate',
        detail: `${agent} made ${agentCalls} of its ${own.callsPerHour} model calls this hour`,
      };
    }
    const allCalls = this.usage.callsLastHourAll() + this.pendingAll;
    if (allCalls >= budgets.global.callsPerHour) {
      return {
        ok: false,
        reason: 'rate',
        detail: `all agents made ${allCalls} of the ${budgets.global.callsPerHour} model calls this hour`,
      };
    }
    this.reservedTokens.set(agent, (this.reservedTokens.get(agent) ?? 0) + estimate);
    this.reservedAll += estimate;
    this.pendingCalls.set(agent, (this.pendingCalls.get(agent) ?? 0) + 1);
    this.pendingAll++;
    return { ok: true, reservation: { agent, tokens: estimate } };
  }

  /** Gives a reservation back (the call recorded its real use, or never reached the model). */
  settle(reservation: Reservation): void {
    const { agent, tokens } = reservation;
    this.reservedTokens.set(agent, (this.reservedTokens.get(agent) ?? 0) - tokens);
    this.reservedAll -= tokens;
    this.pendingCalls.set(agent, (this.pendingCalls.get(agent) ?? 0) - 1);
    this.pendingAll--;
  }
}

/** Exponential backoff per model host after failures; a success clears it. */
export class HostBackoff {
  private readonly hosts = new Map<string, { failures: number; until: number }>();

  /** When the host may be called again, or null if it may be now. */
  blockedUntil(host: string, now: number): number | null {
    const entry = this.hosts.get(host);
    return entry !== undefined && entry.until > now ? entry.until : null;
  }

  failed(policy: Policy, host: string, now: number): number {
    const { initial, max, factor } = policy.doc.budgets.backoff;
    const failures = (this.hosts.get(host)?.failures ?? 0) + 1;
    const delay = Math.min(durationMs(max), durationMs(initial) * factor ** (failures - 1));
    const until = now + delay;
    this.hosts.set(host, { failures, until });
    return until;
  }

  succeeded(host: string): void {
    this.hosts.delete(host);
  }
}
