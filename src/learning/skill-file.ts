/**
 * A skill's markdown file (`skills/<id>.md` in the data folder): YAML frontmatter and a body.
 *
 * The database row is the truth for id, title, state, evidence and times; the file is rewritten
 * from it on every change. What only the file holds (the trigger, the check the skill brings, who
 * wrote the body, the last publication request, the last impact measurement) is read back from the
 * old file's frontmatter field by field, each checked with zod: a field someone broke by hand is
 * dropped, never trusted, and the body is kept as it is.
 */
import { z } from 'zod';
import type { SkillState } from '../db/schema.js';
import { SIGNAL_KINDS } from '../policy/vocabulary.js';
import { readText, splitFrontmatter, withFrontmatter, writeFileAtomic } from './markdown.js';

const checkSchema = z.strictObject({
  action: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/),
  params: z.record(z.string().regex(/^[a-z][a-zA-Z0-9_]{0,31}$/), z.union([z.string().max(4096), z.int()])),
  sweep: z.enum(['light', 'deep']).default('deep'),
});
/** A check a skill brings: a catalog action (class test-run or evidence) its owner runs in a sweep. */
export type SkillCheck = z.output<typeof checkSchema>;

const triggerSchema = z.strictObject({
  kind: z.enum(SIGNAL_KINDS),
  pattern: z.string().min(1).max(1000),
  label: z.string().max(300),
  occurrences: z.int().min(0),
  window: z.string().max(20),
});
export type SkillTrigger = z.output<typeof triggerSchema>;

const publicationSchema = z.strictObject({
  action: z.enum(['publish-skill', 'rollback-skill']),
  at: z.string().max(40),
  verdict: z.enum(['observe', 'suggest', 'execute', 'ask', 'deny']),
  approval: z
    .string()
    .regex(/^a[1-9][0-9]{0,8}$/)
    .nullable(),
  reason: z.string().max(500).default(''),
});
/** The last publication or rollback request: when, what decide() said, and the approval's short id. */
export type SkillPublication = z.output<typeof publicationSchema>;

const windowStatsSchema = z.strictObject({
  from: z.string().max(40),
  to: z.string().max(40),
  incidents: z.int().min(0),
  perWeek: z.number().min(0),
  resolved: z.int().min(0),
  mttrMinutes: z.number().min(0).nullable(),
});
const impactSchema = z.strictObject({
  measuredAt: z.string().max(40),
  verdict: z.enum(['improved', 'not-improved', 'insufficient']),
  summary: z.string().max(500),
  before: windowStatsSchema,
  after: windowStatsSchema,
});
export type SkillImpactRecord = z.output<typeof impactSchema>;

/** What only the file holds (see the file comment). */
export interface SkillExtras {
  readonly trigger: SkillTrigger | null;
  /** The runbook draft of the pattern, relative to the data folder. */
  readonly runbook: string | null;
  readonly check: SkillCheck | null;
  /** `template`, or `model` when a model wrote the steps (with its name). */
  readonly written: 'template' | 'model';
  readonly model: string | null;
  readonly publication: SkillPublication | null;
  readonly impact: SkillImpactRecord | null;
  /** Who promoted, validated or rolled it back last, and when (as recorded by the store). */
  readonly decidedBy: string | null;
}

export const NO_EXTRAS: SkillExtras = {
  trigger: null,
  runbook: null,
  check: null,
  written: 'template',
  model: null,
  publication: null,
  impact: null,
  decidedBy: null,
};

/** What the database holds, as the file shows it. */
export interface SkillRowFacts {
  readonly id: string;
  readonly title: string;
  readonly state: SkillState;
  readonly evidence: readonly string[];
  readonly occurrences: number;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly promotedAt: number | null;
  readonly rolledBackAt: number | null;
}

function iso(t: number | null): string | null {
  return t === null ? null : new Date(t).toISOString();
}

function pick<T>(schema: z.ZodType<T>, value: unknown): T | null {
  const r = schema.safeParse(value);
  return r.success ? r.data : null;
}

/** The file's text for a skill. Keys are fixed here; every untrusted string is a YAML value. */
export function renderSkillFile(row: SkillRowFacts, extras: SkillExtras, body: string): string {
  const data: Record<string, unknown> = {
    id: row.id,
    title: row.title,
    status: row.state,
    trigger: extras.trigger,
    occurrences: row.occurrences,
    evidence: [...row.evidence],
    runbook: extras.runbook,
    check: extras.check,
    written: extras.written,
    model: extras.model,
    createdAt: iso(row.createdAt),
    updatedAt: iso(row.updatedAt),
    promotedAt: iso(row.promotedAt),
    rolledBackAt: iso(row.rolledBackAt),
    decidedBy: extras.decidedBy,
    publication: extras.publication,
    impact: extras.impact,
  };
  for (const [key, value] of Object.entries(data)) if (value === null) delete data[key];
  return withFrontmatter(data, body);
}

export interface SkillFile {
  /** The frontmatter's `status` as written (informational: the database is the truth). */
  readonly status: string | null;
  readonly extras: SkillExtras;
  readonly body: string;
}

/** Reads a skill file back; null when it does not exist. */
export function readSkillFile(path: string): SkillFile | null {
  const text = readText(path);
  if (text === null) return null;
  const { data, body } = splitFrontmatter(text);
  const get = (key: string): unknown =>
    typeof data === 'object' && data !== null && !Array.isArray(data)
      ? (data as Record<string, unknown>)[key]
      : undefined;
  const status = get('status');
  const model = get('model');
  const decidedBy = get('decidedBy');
  const runbook = get('runbook');
  return {
    status: typeof status === 'string' ? status : null,
    extras: {
      trigger: pick(triggerSchema, get('trigger')),
      runbook:
        typeof runbook === 'string' && /^runbooks\/[a-z0-9-]{1,120}\.md$/.test(runbook) ? runbook : null,
      check: pick(checkSchema, get('check')),
      written: get('written') === 'model' ? 'model' : 'template',
      model: typeof model === 'string' ? model.slice(0, 200) : null,
      publication: pick(publicationSchema, get('publication')),
      impact: pick(impactSchema, get('impact')),
      decidedBy: typeof decidedBy === 'string' ? decidedBy.slice(0, 200) : null,
    },
    body,
  };
}

export function writeSkillFile(path: string, row: SkillRowFacts, extras: SkillExtras, body: string): void {
  writeFileAtomic(path, renderSkillFile(row, extras, body));
}
