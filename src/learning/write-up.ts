/**
 * The text of runbooks and skill drafts, from a pattern's incident histories (history.ts): what
 * happened, how it was resolved, steps, evidence. Steps are written by rules from the incidents'
 * real timelines (timeline.ts; `timelineSteps()`), or by a model shown those timelines as facts (the
 * mentor's turn, src/agents/mentor/assess.ts). Every untrusted string (titles, fingerprints,
 * identities, outcomes, model text) is quoted or defused by markdown.ts before it lands in a file.
 */
import { percentile } from '../metrics/percentile.js';
import type { IncidentHistory } from './history.js';
import { tallyActions } from './history.js';
import { shortDuration } from './impact.js';
import { inlineCode } from './markdown.js';
import { eventText, fixText, type IncidentTimeline, paramsText, referenceTimeline } from './timeline.js';

function iso(t: number): string {
  return new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function paramText(params: Readonly<Record<string, string | number>> | null): string {
  return paramsText(params, inlineCode);
}

/** Median time to resolve of the resolved incidents, or null. */
export function medianResolveMs(list: readonly IncidentHistory[]): number | null {
  return percentile(
    list
      .filter((h) => h.incident.resolvedAt !== null)
      .map((h) => (h.incident.resolvedAt as number) - h.incident.startedAt),
    50,
  );
}

/** "What happened": one line per incident. */
export function incidentLines(list: readonly IncidentHistory[]): string[] {
  return list.map(({ incident: i }) => {
    const resolved =
      i.resolvedAt === null
        ? `still ${i.status}`
        : `resolved ${iso(i.resolvedAt)} by ${inlineCode(i.resolvedBy ?? 'unknown', 80)} after ${shortDuration(i.resolvedAt - i.startedAt)}`;
    return `- ${i.shortId} ${inlineCode(i.title, 160)}: detected ${iso(i.detectedAt)}, ${resolved} (${i.signalCount} signal${i.signalCount === 1 ? '' : 's'})`;
  });
}

/** "Signals": the first signals of each incident, quoted. */
export function signalLines(list: readonly IncidentHistory[]): string[] {
  return list.flatMap((h) =>
    h.signals.map(
      (s) => `- ${h.incident.shortId} ${iso(s.receivedAt)}: ${inlineCode(s.title ?? '(no title)', 200)}`,
    ),
  );
}

/** "How it was resolved": actions that ran, who resolved, median time. */
export function resolutionLines(list: readonly IncidentHistory[]): string[] {
  const lines: string[] = [];
  const tallies = tallyActions(list);
  if (tallies.length === 0) lines.push('- No catalog action ran on these incidents.');
  for (const t of tallies) {
    lines.push(
      `- Action ${inlineCode(t.actionId, 64)} ${paramText(t.params)}: succeeded ${t.succeeded}×, failed ${t.failed}× (on ${t.incidents} incident${t.incidents === 1 ? '' : 's'})`,
    );
  }
  const by = new Map<string, number>();
  for (const h of list) {
    if (h.incident.resolvedAt === null) continue;
    const who = h.incident.resolvedBy ?? 'unknown';
    by.set(who, (by.get(who) ?? 0) + 1);
  }
  if (by.size > 0) {
    lines.push(`- Resolved by: ${[...by].map(([who, n]) => `${inlineCode(who, 80)} ${n}×`).join(', ')}`);
  } else {
    lines.push('- None of them is resolved yet.');
  }
  const median = medianResolveMs(list);
  if (median !== null) lines.push(`- Median time to resolve: ${shortDuration(median)}`);
  return lines;
}

/**
 * Steps by rules, from the real timeline of the pattern's reference incident (timeline.ts: the
 * newest resolved one where something was done): what was done, in order and when, and what fixed
 * it; then what the other incidents add (the actions that worked across them, when to escalate).
 */
export function timelineSteps(label: string, list: readonly IncidentTimeline[]): string[] {
  const ref = referenceTimeline(list);
  const steps: string[] = [];
  if (ref === null) return [`1. Check that the new alert is this pattern: ${inlineCode(label, 200)}.`];
  const i = ref.history.incident;
  const [first, ...rest] = ref.events;
  const began =
    first?.kind === 'signal'
      ? `: it began with ${inlineCode(first.signal.title ?? '(no title)', 200)} at ${iso(first.at)}`
      : '';
  steps.push(
    `Check that the new alert is this pattern: ${inlineCode(label, 200)}. Last time (${i.shortId}, started ${iso(i.startedAt)}, the bot knew after ${shortDuration(i.detectedAt - i.startedAt)})${began}.`,
  );
  const done = (first?.kind === 'signal' ? rest : ref.events).filter((e) => e.kind !== 'resolved');
  if (done.length === 0) steps.push(`Nothing was recorded as done on ${i.shortId} before it ended.`);
  for (const e of done) steps.push(`${eventText(e, i.startedAt, inlineCode)}.`);
  if (ref.more > 0)
    steps.push(`(${ref.more} more event${ref.more === 1 ? '' : 's'} on ${i.shortId} not listed.)`);
  const resolved = ref.events.find((e) => e.kind === 'resolved');
  if (resolved !== undefined) steps.push(`${eventText(resolved, i.startedAt, inlineCode)}.`);
  const fix = fixText(ref, inlineCode);
  steps.push(
    fix === null
      ? `${i.shortId} is not resolved yet: nothing is known to fix it.`
      : `What fixed it: ${fix}.${ref.fix?.kind === 'person' && ref.fix.note === null ? ' Ask them what they did, and write it here.' : ''}`,
  );
  const histories = list.map((t) => t.history);
  if (histories.length > 1) {
    for (const t of tallyActions(histories)
      .filter((x) => x.succeeded > 0)
      .slice(0, 3)) {
      steps.push(
        `Across the ${histories.length} incidents, ${inlineCode(t.actionId, 64)} ${paramText(t.params)} succeeded ${t.succeeded}× on ${t.incidents} of them. Proposing it goes through the policy like any proposal.`,
      );
    }
  }
  const median = medianResolveMs(histories);
  if (median !== null) {
    steps.push(`If it is not resolved within ${shortDuration(median * 2)} (twice the median), escalate.`);
  }
  return steps.map((s, n) => `${n + 1}. ${s}`);
}

/** Evidence links: incidents, their first signals, and the runs on them. */
export function evidenceRefs(list: readonly IncidentHistory[]): string[] {
  return list.flatMap((h) => [
    `incident:${h.incident.id}`,
    ...h.signals.map((s) => `signal:${s.id}`),
    ...h.runs.map((r) => `run:${r.runId}`),
  ]);
}
