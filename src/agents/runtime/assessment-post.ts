/**
 * How a turn's assessment reaches people: appended to the agent's rules-written finding, and the
 * finding marked. A model answer whose cause cites facts it was shown is "supported": its summary
 * and cause are added (marked model-written, the cited fact ids as its citations, so the citation
 * rule can check them against the run's evidence). A model answer with no supported cause is not
 * posted as a finding: the post says so in one line and carries the rules marker. By rules: the
 * finding as it is, with the rules marker. `chosenProposals()` says whose proposals are made.
 */
import type { TurnResult } from './turn.js';
import type { AgentProposal, Finding } from './types.js';

/** true when the model answered and its cause cites facts it was shown: its judgement may count. */
export function supported(turn: TurnResult): boolean {
  return turn.by === 'model' && turn.assessment.cause !== null;
}

/**
 * What to propose: the model's proposals when its judgement is supported and it named something
 * usable or nothing at all (it judged nothing worth doing); the rules' when its judgement is not
 * supported, or when everything it named was refused (a failed answer, like any other).
 */
export function chosenProposals<P>(turn: TurnResult, rules: readonly P[]): readonly (P | AgentProposal)[] {
  if (!supported(turn)) return rules;
  const own = turn.assessment.proposals;
  return own.length === 0 && turn.refused.length > 0 ? rules : own;
}

/** `finding` with the assessment appended and marked (see the file comment). */
export function withAssessment(finding: Finding, turn: TurnResult, causeLabel = 'Likely cause'): Finding {
  const a = turn.assessment;
  if (supported(turn) && a.cause !== null) {
    const citations = [...new Set([...a.cause.facts, ...(finding.citations ?? [])])];
    return {
      ...finding,
      body: [
        finding.body,
        '',
        `Assessment (model-written, unverified): ${a.summary}`,
        `${causeLabel}: ${a.cause.text} (facts: ${a.cause.facts.join(', ')}; confidence ${a.confidence.toFixed(2)})`,
      ].join('\n'),
      modelWritten: true,
      citations,
    };
  }
  const unsupported =
    turn.by === 'model' ? ['', 'The model named no fact for a cause: its assessment is not shown.'] : [];
  return { ...finding, body: [finding.body, ...unsupported].join('\n'), rulesOnly: true };
}
