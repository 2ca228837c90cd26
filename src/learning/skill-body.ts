/**
 * The body of a skill draft: when it applies (the pattern and how often it came back), the steps
 * learned from the resolved incidents (template- or model-written, marked), the check it brings,
 * its runbook draft, and the evidence. Untrusted text is quoted by markdown.ts.
 */
import type { IncidentHistory } from './history.js';
import { inlineCode } from './markdown.js';
import type { Pattern } from './patterns.js';
import type { SkillCheck } from './skill-file.js';
import { evidenceRefs, resolutionLines } from './write-up.js';

export interface SkillBodyInput {
  readonly pattern: Pattern;
  readonly histories: readonly IncidentHistory[];
  readonly steps: readonly string[];
  readonly written: 'template' | 'model';
  readonly model?: string | null;
  readonly check: SkillCheck | null;
  /** Relative to the data folder. */
  readonly runbook: string | null;
  /** The promotion window as written in the policy (`14d`). */
  readonly window: string;
}

export function skillBody(input: SkillBodyInput): string {
  const { pattern, histories } = input;
  const check = input.check;
  return [
    `# Skill: ${inlineCode(pattern.label, 200)}`,
    '',
    '## When it applies',
    '',
    `New alerts of the pattern ${inlineCode(pattern.key, 300)} (${pattern.kind}). It came back ${pattern.incidents.length}× within ${input.window}: ${pattern.incidents.map((i) => i.shortId).join(', ')}.`,
    '',
    input.written === 'model'
      ? `## Steps (model-written${input.model ? ` by ${inlineCode(input.model, 80)}` : ''}: review before publishing)`
      : "## Steps (written by rules from the resolved incidents' timelines)",
    '',
    ...input.steps,
    '',
    '## How its incidents were resolved',
    '',
    ...resolutionLines(histories),
    '',
    '## Check it brings',
    '',
    check === null
      ? 'None: no test or evidence action succeeded often enough on these incidents.'
      : `${inlineCode(check.action, 64)} ${Object.entries(check.params)
          .map(([k, v]) => inlineCode(`${k}=${v}`, 120))
          .join(
            ' ',
          )} in the ${check.sweep} sweep, once the skill is promoted (decided by the policy like any proposal).`,
    '',
    '## Runbook',
    '',
    input.runbook === null ? 'No runbook draft yet.' : `See ${input.runbook} in the data folder.`,
    '',
    '## Publishing',
    '',
    'A draft is published through an approval request (action `publish-skill`). Once promoted, its runbook goes with new alerts of the pattern and its check runs in the sweeps; after the validation window its impact is measured, and a skill that did not help is proposed for rollback.',
    '',
    '## Evidence',
    '',
    ...evidenceRefs(histories).map((e) => `- ${e}`),
  ].join('\n');
}
