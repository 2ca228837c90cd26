/**
 * Mentor's runbook drafts: when an incident is resolved, the runbook of its pattern is written
 * again from the database (runbooks/<slug>.md in the data folder): what happened, the signals, how
 * the incidents were resolved (who and when, from the incident rows; the catalog actions that ran),
 * steps and evidence. Steps are model-written when a model answers within budget (marked as such),
 * template-written otherwise. It is the mentor's own output, not an action on a system: no decision.
 */

import { join } from 'node:path';
import type { Database } from '../../db/connection.js';
import { histories, type IncidentHistory } from '../../learning/history.js';
import { readText, splitFrontmatter } from '../../learning/markdown.js';
import { incidentFacts, incidentsOfPattern } from '../../learning/patterns.js';
import {
  RUNBOOK_INCIDENTS,
  runbookPath,
  type WrittenRunbook,
  writeRunbook,
} from '../../learning/runbooks.js';
import { modelSteps, stepsRequest, stepsSchema, templateSteps } from '../../learning/write-up.js';
import { durationMs } from '../../policy/compile.js';
import type { SignalKind } from '../../policy/vocabulary.js';
import type { AgentContext, AgentSignal } from '../runtime/types.js';

export interface WrittenSteps {
  readonly steps: string[];
  readonly written: 'template' | 'model';
  readonly model: string | null;
}

/** Steps for a pattern: the model's when it answers with valid output, else the template's. */
export async function learnedSteps(
  ctx: AgentContext,
  label: string,
  list: readonly IncidentHistory[],
  useModel: boolean,
): Promise<WrittenSteps> {
  if (useModel && !ctx.signal.aborted) {
    const result = await ctx.model({ messages: stepsRequest(label, list), schema: stepsSchema });
    if (result.ok && result.value !== undefined) {
      return { steps: modelSteps(result.value), written: 'model', model: result.model };
    }
    if (!result.ok) ctx.log.info({ reason: result.reason }, 'no model for the steps; template-written');
  }
  return { steps: templateSteps(label, list), written: 'template', model: null };
}

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
  pattern: { key: string; kind: SignalKind; label: string },
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
  const incidents = incidentsOfPattern(database, pattern.key, now - lookbackMs(ctx), now + 1).slice(
    0,
    RUNBOOK_INCIDENTS,
  );
  if (incidents.length === 0) return null;
  const list = histories(database, incidents);
  const steps = await learnedSteps(ctx, pattern.label, list, useModel);
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
    { key: facts.patternKey, kind: facts.kind, label: facts.patternLabel },
    true,
  );
  if (written !== null) {
    ctx.log.info(
      { incident: change.shortId, runbook: written.path, created: written.created },
      'runbook draft written',
    );
  }
}
