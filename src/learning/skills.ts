/**
 * The SkillStore: the learning loop's skills, as rows of the `skills` table (the truth for state,
 * times and evidence) and markdown files `skills/<id>.md` in the data folder (rewritten from the
 * row on every change, keeping the body and the file-only fields: see skill-file.ts).
 *
 * Ids are stable per pattern (`sk-` and the first 8 hex digits of the SHA-256 of the pattern key),
 * so the same pattern always finds its skill again. Every move follows skill-states.ts, is one
 * write transaction (the row is updated only if it is still in the state it was read in, and the
 * file is written inside it: if the write fails, nothing changed) and is audited (`skill.<state>`).
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { desc, eq, inArray } from 'drizzle-orm';
import type { AuditLog } from '../audit/log.js';
import { type Database, type FastStatement, fastStatement, writeTransaction } from '../db/connection.js';
import { type SkillState, skills } from '../db/schema.js';
import type { Policy } from '../policy/types.js';
import type { AgentName } from '../policy/vocabulary.js';
import type { Clock } from '../process/ids.js';
import { oneLine } from './markdown.js';
import { incidentFacts, type Pattern, type PatternSource, patternOf } from './patterns.js';
import { type SkillSweepCheck, sweepChecks } from './skill-checks.js';
import {
  NO_EXTRAS,
  readSkillFile,
  type SkillCheck,
  type SkillExtras,
  type SkillImpactRecord,
  type SkillPublication,
  type SkillRowFacts,
  writeSkillFile,
} from './skill-file.js';
import { canMove, SkillTransitionError, UnknownSkillError } from './skill-states.js';

/** Skills whose runbook is attached to alerts and whose checks run: published and not withdrawn. */
export const LIVE_STATES: ReadonlySet<SkillState> = new Set(['promoted', 'validated']);

/** Evidence kept per skill (the latest). */
const MAX_EVIDENCE = 50;
const MAX_TITLE = 120;

export interface Skill extends SkillRowFacts {
  readonly patternKey: string;
  /** The file, relative to the data folder (`skills/sk-1a2b3c4d.md`). */
  readonly path: string;
  readonly absPath: string;
}

export interface DraftInput {
  readonly pattern: Pattern;
  readonly title: string;
  /** The markdown body (steps learned, evidence), already quoted where it holds untrusted text. */
  readonly body: string;
  readonly written: 'template' | 'model';
  readonly model?: string | null;
  readonly check?: SkillCheck | null;
  /** The pattern's runbook draft, relative to the data folder. */
  readonly runbook?: string | null;
  /** The promotion window as written in the policy (`14d`), for the trigger. */
  readonly window: string;
}

export interface RunbookLink {
  /** `Runbook: <skill title>`. */
  readonly label: string;
  /** Absolute path of the skill file. */
  readonly path: string;
  /** Relative to the data folder. */
  readonly relativePath: string;
  readonly skill: string;
}

export interface SkillStoreOptions {
  readonly database: Database;
  /** The bot's data folder: skills/ is created in it. */
  readonly dataDir: string;
  readonly now: Clock;
  readonly audit?: AuditLog;
}

interface MoveOptions {
  readonly by: string;
  readonly set?: Partial<typeof skills.$inferInsert>;
  readonly extras?: Partial<SkillExtras>;
  readonly evidence?: readonly string[];
  readonly outcome: string;
}

type Row = typeof skills.$inferSelect;

function mergeEvidence(old: readonly string[], added: readonly string[]): string[] {
  const out = [...old];
  for (const e of added) if (!out.includes(e)) out.push(e);
  return out.slice(-MAX_EVIDENCE);
}

export class SkillStore {
  readonly #o: SkillStoreOptions;
  /** Any live skill at all? Prepared once: asked for every incident card. */
  readonly #anyLive: FastStatement<Record<string, never>>;

  constructor(options: SkillStoreOptions) {
    this.#o = options;
    this.#anyLive = fastStatement(
      options.database,
      options.database.db
        .select({ id: skills.id })
        .from(skills)
        .where(inArray(skills.state, [...LIVE_STATES]))
        .limit(1),
    );
  }

  get dataDir(): string {
    return this.#o.dataDir;
  }

  #skill(row: Row): Skill {
    const path = row.path ?? `skills/${row.id}.md`;
    return {
      id: row.id,
      patternKey: row.patternKey,
      title: row.title ?? row.id,
      state: row.state,
      evidence: row.evidence,
      occurrences: row.occurrences,
      createdAt: row.createdAt,
      updatedAt: row.updatedAt,
      promotedAt: row.promotedAt,
      rolledBackAt: row.rolledBackAt,
      path,
      absPath: join(this.#o.dataDir, path),
    };
  }

  #row(id: string): Row | undefined {
    return this.#o.database.db.select().from(skills).where(eq(skills.id, id)).get();
  }

  get(id: string): Skill | null {
    const row = this.#row(id);
    return row === undefined ? null : this.#skill(row);
  }

  byPattern(patternKey: string): Skill | null {
    const row = this.#o.database.db
      .select()
      .from(skills)
      .where(eq(skills.patternKey, patternKey))
      .orderBy(desc(skills.createdAt))
      .get();
    return row === undefined ? null : this.#skill(row);
  }

  /** Every skill, most recently changed first. */
  list(states?: readonly SkillState[]): Skill[] {
    const q = this.#o.database.db.select().from(skills);
    const rows = (states === undefined ? q : q.where(inArray(skills.state, [...states])))
      .orderBy(desc(skills.updatedAt), skills.id)
      .all();
    return rows.map((r) => this.#skill(r));
  }

  /** The stable id of a pattern's skill: `sk-` + 8 hex digits (longer only if 8 collide). */
  idFor(patternKey: string): string {
    const hex = createHash('sha256').update(patternKey).digest('hex');
    for (const length of [8, 12, 16, 24, 40]) {
      const id = `sk-${hex.slice(0, length)}`;
      const row = this.#row(id);
      if (row === undefined || row.patternKey === patternKey) return id;
    }
    throw new Error(`no free skill id for pattern ${JSON.stringify(patternKey.slice(0, 80))}`);
  }

  /** The file's own fields and body (file-only fields are defaults when the file is missing). */
  file(id: string): { extras: SkillExtras; body: string } {
    const skill = this.get(id);
    if (skill === null) throw new UnknownSkillError(id);
    const f = readSkillFile(skill.absPath);
    return f === null ? { extras: NO_EXTRAS, body: '' } : { extras: f.extras, body: f.body };
  }

  /**
   * Drafts a skill for a pattern: a new draft, a refreshed draft (new facts, new body), or a stale
   * skill drafted again. Any other state is refused (SkillTransitionError): a proposed or published
   * skill is not rewritten behind its approver's back.
   */
  draft(input: DraftInput, by = 'agent:mentor'): { skill: Skill; created: boolean } {
    const { database, now } = this.#o;
    const id = this.idFor(input.pattern.key);
    const path = `skills/${id}.md`;
    const title = oneLine(input.title, MAX_TITLE) || id;
    const evidence = input.pattern.incidents.map((i) => `incident:${i.id}`);
    const extras: SkillExtras = {
      ...NO_EXTRAS,
      trigger: {
        kind: input.pattern.kind,
        pattern: input.pattern.key.slice(0, 1000),
        label: oneLine(input.pattern.label, 300),
        occurrences: input.pattern.incidents.length,
        window: input.window,
      },
      runbook: input.runbook ?? null,
      check: input.check ?? null,
      written: input.written,
      model: input.model ?? null,
    };
    return writeTransaction(database, () => {
      const t = now();
      const old = this.#row(id);
      if (old !== undefined && old.state !== 'draft' && old.state !== 'stale') {
        throw new SkillTransitionError(id, old.state, 'draft');
      }
      const values = {
        title,
        state: 'draft' as const,
        path,
        occurrences: input.pattern.incidents.length,
        evidence: mergeEvidence(old?.evidence ?? [], evidence),
        updatedAt: t,
      };
      let row: Row;
      if (old === undefined) {
        row = database.db
          .insert(skills)
          .values({ id, patternKey: input.pattern.key, createdAt: t, ...values })
          .returning()
          .get();
      } else {
        row = database.db.update(skills).set(values).where(eq(skills.id, id)).returning().get() as Row;
      }
      const skill = this.#skill(row);
      // A refreshed draft keeps its last publication request (the mentor's backoff reads it).
      const kept = old === undefined ? null : (readSkillFile(skill.absPath)?.extras.publication ?? null);
      writeSkillFile(skill.absPath, skill, { ...extras, publication: kept }, input.body);
      this.#audit(
        old === undefined ? 'skill.draft' : old.state === 'stale' ? 'skill.redraft' : 'skill.refresh',
        by,
        skill,
        `${old === undefined ? 'drafted' : 'refreshed'} ${id} from ${skill.occurrences} incidents`,
      );
      return { skill, created: old === undefined };
    });
  }

  /** draft -> proposed: publication was asked for (approval `a12`). */
  markProposed(id: string, approval: string, reason = ''): Skill {
    return this.#move(id, 'proposed', {
      by: 'agent:mentor',
      evidence: [`approval:${approval}`],
      extras: {
        publication: {
          action: 'publish-skill',
          at: new Date(this.#o.now()).toISOString(),
          verdict: 'ask',
          approval,
          reason: oneLine(reason, 500),
        },
      },
      outcome: `publication of ${id} asked for (approval ${approval})`,
    });
  }

  /** Records a publication or rollback request that did not become an approval (file only). */
  notePublication(id: string, publication: SkillPublication): void {
    this.#rewrite(id, { publication });
  }

  /** Records an impact measurement (file only). */
  noteImpact(id: string, impact: SkillImpactRecord): void {
    this.#rewrite(id, { impact });
  }

  /** proposed -> draft: the publication request ended without publishing (denied, expired, failed). */
  withdraw(id: string, reason: string): Skill {
    return this.#move(id, 'draft', { by: 'agent:mentor', outcome: `back to draft: ${oneLine(reason, 300)}` });
  }

  /** draft|proposed -> promoted: published (by the approver, or a standing grant). */
  promote(id: string, by: string): Skill {
    const t = this.#o.now();
    return this.#move(id, 'promoted', {
      by,
      set: { promotedAt: t, rolledBackAt: null },
      extras: { decidedBy: by },
      outcome: `promoted ${id}`,
    });
  }

  /** promoted -> validated: it helped (the numbers are kept in the file). */
  validate(id: string, by: string, impact: SkillImpactRecord): Skill {
    return this.#move(id, 'validated', {
      by,
      extras: { impact, decidedBy: by },
      outcome: `validated ${id}: ${impact.summary}`,
    });
  }

  /** promoted|validated -> rolled_back: withdrawn; its runbook link and check stop. */
  rollBack(id: string, by: string, impact: SkillImpactRecord | null = null): Skill {
    return this.#move(id, 'rolled_back', {
      by,
      set: { rolledBackAt: this.#o.now() },
      extras: { decidedBy: by, ...(impact === null ? {} : { impact }) },
      outcome: `rolled back ${id}${impact === null ? '' : `: ${impact.summary}`}`,
    });
  }

  /** draft|promoted|validated -> stale: its pattern was not seen for a while. */
  markStale(id: string, reason: string): Skill {
    return this.#move(id, 'stale', { by: 'agent:mentor', outcome: `stale: ${oneLine(reason, 300)}` });
  }

  /** The runbook link for alerts of an incident's pattern, when a live skill covers it. */
  runbookForIncident(incidentId: string): RunbookLink | null {
    return this.runbooksForIncidents([incidentId])[0] ?? null;
  }

  /** The same for several incidents (a triage's history), in their order. */
  runbooksForIncidents(incidentIds: readonly string[]): (RunbookLink | null)[] {
    // No live skill, no runbook: skip finding each incident's pattern (its first signal).
    if (this.#anyLive.get({}) === undefined) return incidentIds.map(() => null);
    return incidentIds.map((id) => {
      const facts = incidentFacts(this.#o.database, id);
      return facts === null ? null : this.#link(facts.patternKey);
    });
  }

  /** The same from a signal's facts (kind, fingerprint, service, payload). */
  runbookFor(source: PatternSource): RunbookLink | null {
    return this.#link(patternOf(source).key);
  }

  #link(patternKey: string): RunbookLink | null {
    const skill = this.byPattern(patternKey);
    if (skill === null || !LIVE_STATES.has(skill.state)) return null;
    return {
      label: `Runbook: ${oneLine(skill.title, 100)}`,
      path: skill.absPath,
      relativePath: skill.path,
      skill: skill.id,
    };
  }

  /** Checks of live skills that `agent` runs in its `sweep` sweep, valid under `policy`. */
  checksFor(policy: Policy, agent: AgentName, sweep: 'light' | 'deep'): SkillSweepCheck[] {
    const live = this.list([...LIVE_STATES]).map((s) => ({
      id: s.id,
      check: readSkillFile(s.absPath)?.extras.check ?? null,
    }));
    return sweepChecks(policy, agent, sweep, live);
  }

  #rewrite(id: string, patch: Partial<SkillExtras>): void {
    const skill = this.get(id);
    if (skill === null) throw new UnknownSkillError(id);
    const f = readSkillFile(skill.absPath);
    writeSkillFile(
      skill.absPath,
      skill,
      { ...(f?.extras ?? NO_EXTRAS), ...patch },
      f?.body ?? missingBody(skill),
    );
  }

  #move(id: string, to: SkillState, m: MoveOptions): Skill {
    const { database, now } = this.#o;
    return writeTransaction(database, () => {
      const old = this.#row(id);
      if (old === undefined) throw new UnknownSkillError(id);
      if (!canMove(old.state, to)) throw new SkillTransitionError(id, old.state, to);
      const row = database.db
        .update(skills)
        .set({
          ...m.set,
          state: to,
          updatedAt: now(),
          evidence: mergeEvidence(old.evidence, m.evidence ?? []),
        })
        .where(eq(skills.id, id))
        .returning()
        .get() as Row;
      const skill = this.#skill(row);
      const f = readSkillFile(skill.absPath);
      writeSkillFile(
        skill.absPath,
        skill,
        { ...(f?.extras ?? NO_EXTRAS), ...m.extras },
        f?.body ?? missingBody(skill),
      );
      this.#audit(`skill.${to}`, m.by, skill, m.outcome);
      return skill;
    });
  }

  #audit(kind: string, actor: string, skill: Skill, outcome: string): void {
    this.#o.audit?.appendInTx({
      kind,
      agent: 'mentor',
      actor,
      outcome,
      evidence: [`skill:${skill.id}`, skill.path],
      data: { skill: skill.id, state: skill.state, pattern: skill.patternKey.slice(0, 300) },
    });
  }
}

function missingBody(skill: Skill): string {
  return `# ${skill.id}\n\nThe file was missing; it was written again from the database. Evidence: ${skill.evidence.length} item(s).`;
}
