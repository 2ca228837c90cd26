/**
 * Sentinel's turn (runtime/turn.ts): the facts of one signal (the rules-built triage, the incident,
 * a dependency's status page when one was read, and past incidents like it with how they ended),
 * the model's assessment (triage and the next step: collect evidence, restart, roll back, page
 * someone), and the same assessment by rules when no model answers: no cause, and the evidence
 * (and, for critical signals and health degradations, service-affecting) actions of the catalog.
 */
import type { ActionClass, Severity } from '../../policy/vocabulary.js';
import type { Assessment } from '../runtime/assessment.js';
import { type Fact, fact, signalHistoryFacts } from '../runtime/facts.js';
import { type TurnResult, takeTurn } from '../runtime/turn.js';
import type { AgentContext, AgentProposal, AgentSignal } from '../runtime/types.js';
import type { Triage } from './triage.js';

export const TASK =
  'Triage one incident for the on-call engineer: what is happening, the likely cause, and the next step (collect evidence, restart, roll back, or page someone), from the facts only.';

export function sentinelFacts(
  ctx: AgentContext,
  signal: AgentSignal,
  t: Triage,
  status: { url: string; excerpt: string } | null,
): Fact[] {
  const facts: Fact[] = [fact(`signal:${signal.id}`, t.lines.join('\n'))];
  if (signal.incident !== null) {
    const i = signal.incident;
    facts.push(
      fact(
        `incident:${i.shortId}`,
        `Incident ${i.shortId} ${i.change}, ${i.signalCount} signal(s), severity ${signal.severity}.`,
      ),
    );
  }
  if (status !== null)
    facts.push(fact(`page:${status.url}`, `Status page of a dependency: ${status.excerpt}`));
  facts.push(...signalHistoryFacts(ctx, signal));
  return facts;
}

export async function sentinelTurn(
  ctx: AgentContext,
  o: {
    signal: AgentSignal;
    facts: readonly Fact[];
    severity: Severity;
    serviceAffecting: boolean;
    rules: () => readonly AgentProposal[];
    summary: string;
  },
): Promise<TurnResult> {
  const classes: ActionClass[] = o.serviceAffecting
    ? ['evidence', 'alerting', 'service-affecting']
    : ['evidence', 'alerting'];
  const rules = (): Assessment => ({ summary: o.summary, cause: null, confidence: 0, proposals: o.rules() });
  if (o.severity === 'info') {
    return {
      assessment: rules(),
      by: 'rules',
      model: null,
      why: 'info signals are triaged by rules',
      refused: [],
      shown: [],
    };
  }
  return takeTurn(ctx, { task: TASK, facts: o.facts, rules, severity: o.severity, classes });
}
