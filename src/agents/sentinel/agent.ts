/**
 * Sentinel: monitoring and anomaly detection. For each new incident of the kinds it handles
 * (Alertmanager alerts, health probes, repeated error signatures, generic events, failing sweeps)
 * it posts a triage that follows up the bot's incident alert: the facts by rules
 * (triage.ts), one line of a dependency's status page when the alert names one and
 * research allows it (research.ts), and past incidents like it; for warning and critical signals
 * the model's assessment of them (assess.ts: summary, likely cause citing fact ids, confidence,
 * next steps), posted marked model-written, or by rules when no model answers (marked "rules").
 * Then it proposes its evidence actions for the signal's service by rules, and the model's next
 * steps (or, without a model, for critical signals and health degradations its service-affecting
 * actions), each through decide(), which turns service-affecting ones into approval requests.
 *
 * Quiet on purpose: nothing for a resolving signal (the incident alert already says so), and
 * nothing for one more signal of an open incident (its alert's count goes up), except a health
 * probe that got worse (slow turned into down), which is triaged again.
 */
import { withAssessment } from '../runtime/assessment-post.js';
import { token } from '../runtime/data-text.js';
import type { Agent, AgentContext, AgentProposal, AgentSignal } from '../runtime/types.js';
import { sentinelFacts, sentinelTurn } from './assess.js';
import { sentinelProposals } from './proposals.js';
import { readStatusPage } from './research.js';
import { triage } from './triage.js';

/** Why a signal gets a triage: a new incident (or none), a health probe getting worse, or no triage. */
type Occasion = 'new' | 'worse' | null;

function occasionOf(signal: AgentSignal): Occasion {
  if (signal.resolves) return null;
  const change = signal.incident?.change;
  if (change === undefined || change === 'opened' || change === 'reopened') return 'new';
  // The health monitor raises a signal for an open incident only when slow turns into down.
  if (change === 'updated' && signal.kind === 'health') return 'worse';
  return null;
}

function rationaleOf(signal: AgentSignal): string {
  const service = signal.service === null ? 'no service' : token(signal.service);
  const incident = signal.incident === null ? '' : ` (incident ${signal.incident.shortId})`;
  return `${signal.severity} ${signal.kind} on ${service}${incident}: sentinel's rules propose this`;
}

async function onSignal(signal: AgentSignal, ctx: AgentContext): Promise<void> {
  ctx.evidence(`signal:${signal.id}`);
  if (signal.incident !== null) ctx.evidence(`incident:${signal.incident.shortId}`);
  const occasion = occasionOf(signal);
  if (occasion === null) return;

  const t = triage(signal, ctx.now());
  const lines = [...t.lines];
  const links = [...t.links];
  const status = await readStatusPage(ctx.research, t.statusPage, ctx.signal, ctx.log);
  if (status !== null) {
    lines.push(`Status page (read just now, quoted): ${status.excerpt}`);
    links.push({ label: 'Status page', url: status.url });
  }
  for (const link of links) ctx.evidence(link.url);

  // Once per incident: a probe that got worse already had them proposed when it degraded.
  const serviceAffecting = occasion === 'new' && (signal.severity === 'critical' || signal.kind === 'health');
  const byRules = () =>
    sentinelProposals(ctx.policy, {
      service: signal.service,
      serviceAffecting,
      rationale: rationaleOf(signal),
    });
  const turn = await sentinelTurn(ctx, {
    signal,
    facts: sentinelFacts(ctx, signal, { ...t, lines }, status),
    severity: signal.severity,
    serviceAffecting,
    rules: byRules,
    summary: lines[1] ?? t.title,
  });
  const finding = withAssessment(
    {
      kind: 'alert',
      title: t.title,
      severity: signal.severity,
      body: lines.join('\n'),
      fields: t.fields,
      links,
    },
    turn,
  );
  ctx.post(finding);

  // Evidence is collected by rules whatever the model says; its proposals come after, each through decide().
  const proposals = [
    ...byRules().filter((p) => isEvidence(ctx, p)),
    ...(turn.by === 'model' ? turn.assessment.proposals : byRules()),
  ];
  const seen = new Set<string>();
  for (const proposal of proposals) {
    const key = `${proposal.actionId}\u0000${JSON.stringify(proposal.params)}`;
    if (seen.has(key)) continue;
    seen.add(key);
    if (ctx.signal.aborted) return;
    await ctx.propose(proposal);
  }
}

function isEvidence(ctx: AgentContext, p: AgentProposal): boolean {
  return ctx.policy.actions.get(p.actionId)?.class === 'evidence';
}

export const sentinel: Agent = {
  name: 'sentinel',
  handles: ['alert', 'health', 'error_signature', 'event', 'sweep_failure'],
  onSignal,
};
