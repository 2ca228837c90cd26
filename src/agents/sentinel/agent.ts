/**
 * Sentinel: monitoring and anomaly detection. For each new incident of the kinds it handles
 * (Alertmanager alerts, health probes, repeated error signatures, generic events, failing sweeps)
 * it posts a triage that follows up the bot's incident alert: the facts by rules
 * (triage.ts), one line of a dependency's status page when the alert names one and
 * research allows it (research.ts), and for warning and critical signals a short
 * model-written "likely cause" when a model is reachable, affordable and citable
 * (model.ts). Then it proposes, by rules, its evidence actions for the signal's service,
 * and for critical signals and health degradations its service-affecting ones, which decide()
 * turns into approval requests (proposals.ts).
 *
 * Quiet on purpose: nothing for a resolving signal (the incident alert already says so), and
 * nothing for one more signal of an open incident (its alert's count goes up), except a health
 * probe that got worse (slow turned into down), which is triaged again.
 */
import { token } from '../runtime/data-text.js';
import type { Agent, AgentContext, AgentSignal, Finding } from '../runtime/types.js';
import { likelyCause, modelWanted } from './model.js';
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

  const cited = ctx.research?.cited() ?? [];
  const cause = modelWanted(ctx, signal.severity, cited)
    ? await likelyCause(ctx, signal.severity, lines)
    : null;
  const finding: Finding = {
    kind: 'alert',
    title: t.title,
    severity: signal.severity,
    body: [
      ...lines,
      ...(cause === null ? [] : ['', `Likely cause (model-written, unverified): ${cause}`]),
    ].join('\n'),
    fields: t.fields,
    links,
    ...(cause === null ? {} : { modelWritten: true, ...(cited.length > 0 ? { citations: [...cited] } : {}) }),
  };
  ctx.post(finding);

  const proposals = sentinelProposals(ctx.policy, {
    service: signal.service,
    // Once per incident: a probe that got worse already had them proposed when it degraded.
    serviceAffecting: occasion === 'new' && (signal.severity === 'critical' || signal.kind === 'health'),
    rationale: rationaleOf(signal),
  });
  for (const proposal of proposals) {
    if (ctx.signal.aborted) return;
    await ctx.propose(proposal);
  }
}

export const sentinel: Agent = {
  name: 'sentinel',
  handles: ['alert', 'health', 'error_signature', 'event', 'sweep_failure'],
  onSignal,
};
