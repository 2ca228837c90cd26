/**
 * Mentor's runbook drafts: when an incident is resolved, the runbook of its pattern is written
 * again from the database (runbooks/<slug>.md in the data folder): what happened, the signals, how
 * the incidents were resolved (who and when, from the incident rows; the catalog actions that ran),
 * steps and evidence. Steps come from the incidents' real timelines (assess.ts): model-written when
 * a model answers within budget with steps backed by facts (marked as such, each citing its facts),
 * written by rules otherwise. It is the mentor's own output, not an action on a system: no decision.
 */

import { join } from 'node:path';
import type { Database } from '../../db/connection.js';
import { histories } from '../../learning/history.js';
import { readText, splitFrontmatter } from '../../learning/markdown.js';
import { incidentFacts, incidentsOfPattern, type PatternMember } from '../../learning/patterns.js';
import {
  RUNBOOK_INCIDENTS,
  runbookPath,
  type WrittenRunbook,
  writeRunbook,
} from '../../learning/runbooks.js';
import { timelines } from '../../learning/timeline.js';
import { durationMs } from '../../policy/compile.js';
import type { SignalKind } from '../../policy/vocabulary.js';
import type { AgentContext, AgentSignal } from '../runtime/types.js';
import { mentorSteps } from './assess.js';

/** How far back a runbook looks for the pattern's incidents: the longer of promotion and stale windows. */
export function lookbackMs(ctx: AgentContext): number {
  const l = ctx.policy.doc.learning;
  return Math.max(durationMs(l.promotion.window), durationMs(l.staleAfter));
}

/**
 * Writes the runbook of a pattern from its latest incidents. With `keepModelText`, a runbook a
 * model wrote is left as it is (the sweep writes template text only and must not replace it).
 */
export async function writePatternRunbook(
  database: Database,
  ctx: AgentContext,
  pattern: { key: string; kind: SignalKind; label: string; member?: PatternMember },
  useModel: boolean,
  keepModelText = false,
): Promise<WrittenRunbook | null> {
  if (keepModelText) {
    const path = runbookPath(pattern.key);
    const absPath = join(ctx.rootDataDir, path);
    const { data } = splitFrontmatter(readText(absPath) ?? '');
    if ((data as { written?: unknown } | null)?.written === 'model') return { path, absPath, created: false };
  }
  const now = ctx.now();
  const incidents = incidentsOfPattern(
    database,
    pattern.key,
    now - lookbackMs(ctx),
    now + 1,
    pattern.member,
  ).slice(0, RUNBOOK_INCIDENTS);
  if (incidents.length === 0) return null;
  const list = histories(database, incidents);
  const steps = await mentorSteps(ctx, pattern, timelines(database, list), useModel);
  const written = writeRunbook(ctx.rootDataDir, {
    patternKey: pattern.key,
    kind: pattern.kind,
    label: pattern.label,
    histories: list,
    steps: steps.steps,
    written: steps.written,
    model: steps.model,
    now,
  });
  ctx.evidence(written.path);
  return written;
}

/** On a resolved incident: the runbook draft of its pattern. */
export async function runbookOnResolve(
  database: Database,
  signal: AgentSignal,
  ctx: AgentContext,
): Promise<void> {
  const change = signal.incident;
  if (change === null || change.change !== 'resolved') return;
  ctx.evidence(`incident:${change.id}`);
  const facts = incidentFacts(database, change.id);
  if (facts === null) {
    ctx.log.warn({ incident: change.id }, 'resolved incident not found; no runbook written');
    return;
  }
  const written = await writePatternRunbook(
    database,
    ctx,
    { key: facts.patternKey, kind: facts.kind, label: facts.patternLabel, member: facts },
    true,
  );
  if (written !== null) {
    ctx.log.info(
      { incident: change.shortId, runbook: written.path, created: written.created },
      'runbook draft written',
    );
  }
}
