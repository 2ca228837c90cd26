/**
 * `/autonomy status` and `budget`: what an on-call engineer needs at a glance, as a reply message.
 */

import type { ControlSnapshot } from '../../control/state.js';
import { effectivePhase } from '../../policy/decide.js';
import type { Policy } from '../../policy/types.js';
import { AGENTS, type AgentName } from '../../policy/vocabulary.js';
import { type ChatMessage, message } from '../message.js';
import type { BudgetRow, StatusFacts } from './services.js';

function ago(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86400)}d`;
}

function iso(t: number): string {
  return new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** How many incidents a reply lists; the rest are counted, never dropped silently. */
export const INCIDENTS_SHOWN = 20;

/** The newest INCIDENTS_SHOWN incidents, one line each, then how many older ones are not shown. */
export function incidentLines<T>(list: readonly T[], line: (incident: T) => string, narrow: string): string {
  const shown = list.slice(0, INCIDENTS_SHOWN).map(line);
  const more = list.length - shown.length;
  return more > 0 ? [...shown, `… and ${more} older, not shown (${narrow})`].join('\n') : shown.join('\n');
}

export function renderStatus(
  actor: string,
  policy: Policy,
  control: ControlSnapshot,
  facts: StatusFacts,
  now: number,
): ChatMessage {
  const state = {
    killedAll: control.killedAll,
    killedAgents: control.killedAgents,
    phaseOverride: control.phaseOverride,
    agentPhaseOverrides: control.agentPhaseOverrides,
  };
  const agents = AGENTS.map((a) => {
    const killed = control.killedAll || control.killedAgents.has(a);
    const enabled = policy.enabledAgents.has(a);
    return `${a}: phase ${effectivePhase(policy, state, a)}${killed ? ', KILLED' : ''}${enabled ? '' : ', disabled in policy'}`;
  });
  const fields = [
    {
      label: 'Kill switches',
      value: control.killedAll
        ? 'ALL AGENTS KILLED'
        : control.killedAgents.size
          ? [...control.killedAgents].join(', ')
          : 'none',
    },
    { label: 'Agents', value: agents.join('\n') },
    {
      label: 'Mutes',
      value: facts.mutes.length
        ? facts.mutes.map((m) => `${m.kind} ${m.target} until ${iso(m.until)} (${m.actor})`).join('\n')
        : 'none',
    },
    {
      label: 'Budgets (tokens today)',
      value: facts.budgets
        .map(
          (b) =>
            `${b.agent}: ${b.usedToday}/${b.dailyTokens}, ${Math.max(0, b.dailyTokens - b.usedToday)} left`,
        )
        .join('\n'),
    },
    {
      label: 'Pending approvals',
      value: facts.pendingApprovals.length
        ? facts.pendingApprovals
            .map((a) => `${a.shortId} ${a.agent}/${a.actionId}, expires in ${ago(a.expiresAt - now)}`)
            .join('\n')
        : 'none',
    },
    {
      label: facts.openIncidents.length ? `Open incidents (${facts.openIncidents.length})` : 'Open incidents',
      value: facts.openIncidents.length
        ? incidentLines(
            facts.openIncidents,
            (i) => `${i.shortId} [${i.severity}] ${i.title} (${i.status})`,
            '/autonomy incidents lists them',
          )
        : 'none',
    },
    {
      label: 'Last runs',
      value: facts.lastRuns.length
        ? facts.lastRuns
            .map((r) => `${r.id} ${r.agent}/${r.actionId ?? '-'} ${r.status}, ${ago(now - r.startedAt)} ago`)
            .join('\n')
        : 'none yet',
    },
    {
      label: 'Outbox',
      value: `${facts.outbox.pending} pending, ${facts.outbox.failed} failed${facts.outbox.oldestPendingAgeMs !== null ? `, oldest ${ago(facts.outbox.oldestPendingAgeMs)}` : ''}`,
    },
    {
      label: 'Policy',
      value: `version ${facts.policyVersion} (${policy.hash.slice(0, 12)})${facts.lastPolicyError ? `\nlast reload REJECTED at ${iso(facts.lastPolicyError.at)}:\n${facts.lastPolicyError.errors.slice(0, 5).join('\n')}` : ''}`,
    },
    {
      label: 'Health',
      value: facts.health.map((h) => `${h.name}: ${h.status}${h.detail ? ` (${h.detail})` : ''}`).join('\n'),
    },
  ];
  if (facts.grants.length) {
    fields.push({
      label: 'Standing grants',
      value: facts.grants
        .map((g) => `${g.id} ${g.actionId} until ${iso(g.expiresAt)} (${g.grantedBy})`)
        .join('\n'),
    });
  }
  const bad =
    control.killedAll || facts.lastPolicyError !== null || facts.health.some((h) => h.status !== 'ok');
  return message({
    kind: 'reply',
    title: `autonomy status: phase ${control.phaseOverride ?? policy.phase}${control.killedAll ? ', everything killed' : ''}`,
    severity: bad ? 'warning' : 'info',
    fields,
    audience: actor,
  });
}

export function renderBudgets(
  actor: string,
  rows: readonly BudgetRow[],
  agent: AgentName | null,
): ChatMessage {
  const shown = agent === null ? rows : rows.filter((r) => r.agent === agent);
  return message({
    kind: 'reply',
    title: agent === null ? 'Token budgets today' : `Token budget of ${agent} today`,
    body: shown
      .map(
        (b) =>
          `${b.agent}: ${b.usedToday} used of ${b.dailyTokens}, ${Math.max(0, b.dailyTokens - b.usedToday)} left${b.overriddenBy ? ` (set by ${b.overriddenBy})` : ''}`,
      )
      .join('\n'),
    audience: actor,
  });
}
