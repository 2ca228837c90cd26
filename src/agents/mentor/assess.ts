/**
 * Mentor's turn (runtime/turn.ts): runbook and skill-draft steps written from the resolved
 * incidents' real timelines (learning/timeline.ts: signals with times, acknowledgements, the
 * actions that ran and how they ended, approvals, how and when each incident was resolved and what
 * fixed it). The model is shown them as facts and writes the steps in order, each citing the fact
 * ids it comes from, and says what fixed it; a step citing no fact it was shown is dropped. It
 * proposes nothing (mentor's catalog actions, publishing and rolling back skills, stay with rules).
 * No model, no budget, a failed answer, or no step backed by a fact: the steps are written by rules
 * from the same timelines (`timelineSteps`).
 */
import { inlineCode, modelMarkdown } from '../../learning/markdown.js';
import { eventText, fixText, type IncidentTimeline, type Quote } from '../../learning/timeline.js';
import { medianResolveMs, timelineSteps } from '../../learning/write-up.js';
import type { Assessment, Step } from '../runtime/assessment.js';
import { duration, isoSecond, quoted } from '../runtime/data-text.js';
import { type Fact, fact } from '../runtime/facts.js';
import { takeTurn } from '../runtime/turn.js';
import type { AgentContext } from '../runtime/types.js';

export const TASK =
  'Write the runbook for one repeated incident pattern from what the team actually did. The facts are the real timelines of its incidents (signals with their times, who acknowledged, the actions that ran and how they ended, approvals, how and when each was resolved). In "steps", list what was done, in the order it was done, one step each, each citing the ids of the facts it comes from; name only actions that appear in the facts and invent no command. In "cause", say what fixed it, citing facts. In "summary", one sentence on the pattern. Propose no action.';

export interface WrittenSteps {
  readonly steps: string[];
  readonly written: 'template' | 'model';
  readonly model: string | null;
}

export interface PatternRef {
  readonly key: string;
  readonly label: string;
}

const quote: Quote = (text, max) => quoted(text, max);

function eventId(t: IncidentTimeline, e: IncidentTimeline['events'][number]): string {
  switch (e.kind) {
    case 'signal':
      return `signal:${e.signal.id}`;
    case 'run':
      return `run:${e.run.runId}`;
    case 'approval':
      return `approval:${e.shortId}`;
    case 'acknowledged':
      return `ack:${t.history.incident.shortId}`;
    case 'resolved':
      return `resolved:${t.history.incident.shortId}`;
  }
}

/** The pattern, then each incident (newest first) with its timeline events in time order. */
export function mentorFacts(pattern: PatternRef, list: readonly IncidentTimeline[]): Fact[] {
  const median = medianResolveMs(list.map((t) => t.history));
  const facts: Fact[] = [
    fact(
      `pattern:${pattern.key}`,
      `Pattern ${quote(pattern.label, 200)}: ${list.length} incident(s) in the facts${median === null ? '' : `, median time to resolve ${duration(median)}`}.`,
    ),
  ];
  for (const t of list) {
    const i = t.history.incident;
    const ack =
      t.acknowledged === null ? 'not acknowledged' : `acknowledged by ${quote(t.acknowledged.by, 80)}`;
    const fix = fixText(t, quote);
    facts.push(
      fact(
        `incident:${i.shortId}`,
        `Incident ${i.shortId} ${quote(i.title, 200)} on ${i.service === null ? 'no service' : quote(i.service, 80)} (${i.severity}): started ${isoSecond(i.startedAt)}, the bot knew after ${duration(i.detectedAt - i.startedAt)}; ${i.signalCount} signal(s); ${ack}; ${fix === null ? `still ${i.status}` : `what fixed it, as recorded: ${fix}`}.${t.more > 0 ? ` ${t.more} later event(s) not listed.` : ''}`,
      ),
    );
    for (const e of t.events)
      facts.push(fact(eventId(t, e), `On ${i.shortId}: ${eventText(e, i.startedAt, quote)}.`));
  }
  return facts;
}

const cites = (facts: readonly string[]) => `(facts: ${facts.map((f) => inlineCode(f, 120)).join(', ')})`;

/** The model's steps as numbered markdown lines, each with its facts; then what fixed it. */
export function modelStepLines(steps: readonly Step[], cause: Assessment['cause']): string[] {
  const lines = steps.map((s, n) => `${n + 1}. ${modelMarkdown(s.text, 400)} ${cites(s.facts)}`);
  if (cause !== null)
    lines.push('', `What fixed it: ${modelMarkdown(cause.text, 600)} ${cites(cause.facts)}`);
  return lines;
}

/**
 * The steps of a pattern's runbook or skill draft: the model's, when it answers with at least one
 * step backed by a fact it was shown (and `useModel`), else by rules from the same timelines.
 */
export async function mentorSteps(
  ctx: AgentContext,
  pattern: PatternRef,
  list: readonly IncidentTimeline[],
  useModel: boolean,
): Promise<WrittenSteps> {
  const byRules = (): WrittenSteps => ({
    steps: timelineSteps(pattern.label, list),
    written: 'template',
    model: null,
  });
  if (!useModel || ctx.signal.aborted || list.length === 0) return byRules();
  const turn = await takeTurn(ctx, {
    task: TASK,
    facts: mentorFacts(pattern, list),
    rules: () => ({ summary: '', cause: null, confidence: 0, proposals: [] }),
    classes: [],
    steps: true,
  });
  if (turn.by === 'rules') {
    ctx.log.info({ why: turn.why }, 'no model answer for the steps: written by rules from the timelines');
    return byRules();
  }
  const steps = turn.assessment.steps ?? [];
  if (steps.length === 0) {
    ctx.log.info({ model: turn.model }, 'the model backed no step with a fact: written by rules');
    return byRules();
  }
  return { steps: modelStepLines(steps, turn.assessment.cause), written: 'model', model: turn.model };
}
