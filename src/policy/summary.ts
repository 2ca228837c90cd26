/**
 * A short summary of a valid policy, for `autonomy policy check` and the start-up log: what is
 * in force, at a glance, without reading the file.
 */
import type { Policy } from './types.js';
import { AGENTS, type Phase, TIERS } from './vocabulary.js';

export const PHASE_NAMES: Readonly<Record<Phase, string>> = {
  1: 'observe-only',
  2: 'suggest-only',
  3: 'auto low-risk',
  4: 'expand',
};

function list(items: readonly string[]): string {
  return items.length === 0 ? 'none' : items.join(', ');
}

export function summarizePolicy(policy: Policy): string {
  const doc = policy.doc;
  const overrides = [...policy.agentPhase].map(([agent, phase]) => `${agent} ${phase} ${PHASE_NAMES[phase]}`);
  const disabled = AGENTS.filter((a) => !policy.enabledAgents.has(a));

  const byTier = new Map<number, number>(TIERS.map((t) => [t, 0]));
  let lifted = 0;
  for (const a of policy.actions.values()) {
    byTier.set(a.effectiveTier, (byTier.get(a.effectiveTier) ?? 0) + 1);
    if (a.effectiveTier > a.tier) lifted++;
  }
  const tiers = TIERS.map((t) => `tier ${t}: ${byTier.get(t) ?? 0}`).join(', ');

  const allowlisted = AGENTS.flatMap((agent) => {
    const ids = [...(policy.allowlist.get(agent) ?? [])];
    return ids.length === 0 ? [] : [`${agent}: ${ids.join(', ')}`];
  });

  const rows: [string, string][] = [
    ['hash', `sha256 ${policy.hash.slice(0, 12)}`],
    [
      'phase',
      `${policy.phase} ${PHASE_NAMES[policy.phase]}${overrides.length ? ` (overrides: ${overrides.join('; ')})` : ''}`,
    ],
    [
      'agents',
      `${policy.enabledAgents.size} enabled: ${list(AGENTS.filter((a) => policy.enabledAgents.has(a)))}` +
        (disabled.length ? ` (disabled: ${disabled.join(', ')})` : ''),
    ],
    ['actions', `${policy.actions.size} (${tiers}${lifted ? `; ${lifted} lifted to tier 3 by class` : ''})`],
    ['allowlisted', allowlisted.length ? allowlisted.join('; ') : 'none'],
    [
      'approvers',
      `${doc.control.roles.approvers.length} (approval channels: ${list(doc.control.approvalChannels)}, timeout ${doc.control.approvalTimeout})`,
    ],
    [
      'in scope',
      `${list(doc.purpose.inScope)}${doc.purpose.outOfScope.length ? ` (out of scope: ${list(doc.purpose.outOfScope)})` : ''}`,
    ],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  return [
    `${policy.source}: valid`,
    ...rows.map(([label, value]) => `  ${label.padEnd(width)}  ${value}`),
  ].join('\n');
}
