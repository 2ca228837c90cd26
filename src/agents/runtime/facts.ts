/**
 * The first step of an agent's turn (DESIGN.md, "The agent's turn"): the facts, gathered by rules,
 * each with an id the model cites (`signal:..`, `incident:..`, `run:..`, `past:..`, `skill:..`,
 * `page:..`). A fact's text is untrusted data (alert text, log lines, command output): it is shown
 * to the model as a JSON string inside a data block, never as instructions, and to people only
 * through the screen. `bound()` keeps the facts, most important first, that fit a token budget.
 */
import { estimateText } from '../../llm/tokens.js';
import { duration, isoSecond, oneLine, tail } from './data-text.js';
import type { PastIncident } from './history.js';
import type { AgentContext, AgentSignal } from './types.js';

export interface Fact {
  /** `signal:<id>`, `incident:<short id>`, `run:<id>`, `past:<short id>`, `skill:<id>`, `page:<url>`. */
  readonly id: string;
  /** Untrusted data; at most FACT_CHARS characters. */
  readonly text: string;
}

export const FACT_CHARS = 1500;
/** What each fact costs beyond its text in the prompt (its id and the JSON around it). */
const PER_FACT = 12;

/** A fact of at most FACT_CHARS characters (multi-line text keeps its last lines). */
export function fact(id: string, text: string): Fact {
  const clean = text.includes('\n') ? tail(text, FACT_CHARS) : oneLine(text, FACT_CHARS);
  return { id: oneLine(id, 200), text: clean };
}

/** The facts, in the order given (most important first), that fit `tokens`; unique by id. */
export function bound(facts: readonly Fact[], tokens: number): Fact[] {
  const out: Fact[] = [];
  const seen = new Set<string>();
  let used = 0;
  for (const f of facts) {
    if (seen.has(f.id)) continue;
    const cost = estimateText(f.id) + estimateText(f.text) + PER_FACT;
    if (used + cost > tokens) continue;
    seen.add(f.id);
    used += cost;
    out.push(f);
  }
  return out;
}

/** The team's history of a signal as facts: past incidents of its incident, fingerprint or service. */
export function signalHistoryFacts(ctx: Pick<AgentContext, 'history' | 'now'>, signal: AgentSignal): Fact[] {
  const past =
    ctx.history?.({
      incidentId: signal.incident?.id ?? null,
      fingerprint: signal.fingerprint,
      service: signal.service,
    }) ?? [];
  return historyFacts(past, ctx.now());
}

/** The team's history as facts: past incidents like this one, how they ended, and their runbooks. */
export function historyFacts(past: readonly PastIncident[], now: number): Fact[] {
  const out: Fact[] = [];
  for (const p of past) {
    const ended =
      p.resolvedAt === null
        ? `still ${p.status}`
        : `resolved after ${duration(p.resolvedAt - p.startedAt)}${p.resolvedBy ? ` by ${oneLine(p.resolvedBy, 80)}` : ''}`;
    const ran =
      p.actions.length === 0
        ? 'no catalog action ran on it'
        : `actions: ${p.actions.map((a) => `${a.actionId} ${a.status}`).join(', ')}`;
    out.push(
      fact(
        `past:${p.shortId}`,
        `${p.same === 'fingerprint' ? 'Same alert' : 'Same service'} before: ${oneLine(p.title, 200)} (${p.severity}, ${isoSecond(p.detectedAt)}, ${duration(now - p.detectedAt)} ago); ${ended}; ${ran}.`,
      ),
    );
    if (p.runbook !== null) out.push(fact(`skill:${p.runbook.skill}`, `Runbook for it: ${p.runbook.label}`));
  }
  return out;
}
