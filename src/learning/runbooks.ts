/**
 * Runbook drafts: one markdown file per pattern, `runbooks/<slug>.md` in the data folder, written
 * by the mentor when an incident of the pattern is resolved (and when the pattern becomes a skill
 * draft). Each write regenerates the file from the database: what happened, the signals, how the
 * incidents were resolved (who, when, which actions), steps (template- or model-written, marked),
 * and evidence links. It is the mentor's own output in the bot's data folder, not an action on a
 * system, so it needs no decision; publishing it as a skill does (skills.ts).
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { SignalKind } from '../policy/vocabulary.js';
import type { IncidentHistory } from './history.js';
import { inlineCode, oneLine, withFrontmatter, writeFileAtomic } from './markdown.js';
import { evidenceRefs, incidentLines, resolutionLines, signalLines } from './write-up.js';

/** Incidents a runbook lists (the latest). */
export const RUNBOOK_INCIDENTS = 10;

/** `runbooks/<words of the key>-<8 hex of the key>.md`: readable, and stable per pattern. */
export function runbookPath(patternKey: string): string {
  const words =
    oneLine(patternKey, 200)
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 48)
      .replace(/-+$/, '') || 'pattern';
  const hash = createHash('sha256').update(patternKey).digest('hex').slice(0, 8);
  return `runbooks/${words}-${hash}.md`;
}

export interface RunbookInput {
  readonly patternKey: string;
  readonly kind: SignalKind;
  readonly label: string;
  /** Newest first. */
  readonly histories: readonly IncidentHistory[];
  /** Numbered step lines, and who wrote them. */
  readonly steps: readonly string[];
  readonly written: 'template' | 'model';
  readonly model?: string | null;
  readonly now: number;
}

export interface WrittenRunbook {
  /** Relative to the data folder. */
  readonly path: string;
  readonly absPath: string;
  readonly created: boolean;
}

export function renderRunbook(input: RunbookInput): string {
  const list = input.histories.slice(0, RUNBOOK_INCIDENTS);
  const stepsHeading =
    input.written === 'model'
      ? `## Steps (model-written${input.model ? ` by ${inlineCode(input.model, 80)}` : ''}: review before use)`
      : "## Steps (written by rules from the incidents' timelines)";
  const body = [
    `# Runbook draft: ${inlineCode(input.label, 200)}`,
    '',
    `Pattern ${inlineCode(input.patternKey, 300)}. Written by the mentor from ${list.length} incident${list.length === 1 ? '' : 's'}; text in code spans comes from signals and is quoted as data.`,
    '',
    '## What happened',
    '',
    ...incidentLines(list),
    '',
    '## Signals',
    '',
    ...signalLines(list),
    '',
    '## How it was resolved',
    '',
    ...resolutionLines(list),
    '',
    stepsHeading,
    '',
    ...input.steps,
    '',
    '## Evidence',
    '',
    ...evidenceRefs(list).map((e) => `- ${e}`),
  ].join('\n');
  return withFrontmatter(
    {
      pattern: input.patternKey,
      kind: input.kind,
      label: oneLine(input.label, 300),
      incidents: list.length,
      written: input.written,
      ...(input.model ? { model: input.model } : {}),
      updatedAt: new Date(input.now).toISOString(),
      evidence: list.map((h) => `incident:${h.incident.id}`),
    },
    body,
  );
}

/** Writes (or rewrites) the pattern's runbook draft under `dataDir`. */
export function writeRunbook(dataDir: string, input: RunbookInput): WrittenRunbook {
  const path = runbookPath(input.patternKey);
  const absPath = join(dataDir, path);
  const created = !existsSync(absPath);
  writeFileAtomic(absPath, renderRunbook(input));
  return { path, absPath, created };
}
