import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { eq } from 'drizzle-orm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { auditLog, skills } from '../../src/db/schema.js';
import { splitFrontmatter } from '../../src/learning/markdown.js';
import { findPatterns, type Pattern } from '../../src/learning/patterns.js';
import { readSkillFile } from '../../src/learning/skill-file.js';
import { SkillTransitionError, UnknownSkillError } from '../../src/learning/skill-states.js';
import { type DraftInput, SkillStore } from '../../src/learning/skills.js';
import { makePolicy } from '../fixtures/policy.js';
import { type TempDatabase, tempDatabase } from '../helpers/db.js';
import { DAY, IncidentFactory } from '../helpers/learning.js';

const NOW = Date.parse('2026-12-01T10:00:00Z');

let t: TempDatabase;
let f: IncidentFactory;
let store: SkillStore;
let clock: number;

beforeEach(() => {
  t = tempDatabase('autonomy-skills-');
  f = new IncidentFactory(t.database);
  clock = NOW;
  store = new SkillStore({ database: t.database, dataDir: t.dir, now: () => clock, audit: f.audit });
});
afterEach(() => t.cleanup());

function pattern(title = 'error repeated 5× in 10m: connection refused to <*>'): Pattern {
  for (const daysAgo of [10, 5, 1]) {
    f.occur({ kind: 'error_signature', fingerprint: 'sig-7f3a', service: 'api', title }, NOW - daysAgo * DAY);
  }
  const [p] = findPatterns(t.database, { now: NOW, windowMs: 14 * DAY, occurrences: 3 });
  if (p === undefined) throw new Error('no pattern');
  return p;
}

function input(p: Pattern, over: Partial<DraftInput> = {}): DraftInput {
  return {
    pattern: p,
    title: p.label,
    body: '# Steps\n\n1. Do the thing.',
    written: 'template',
    window: '14d',
    ...over,
  };
}

function frontmatter(path: string): Record<string, unknown> {
  return splitFrontmatter(readFileSync(path, 'utf8')).data as Record<string, unknown>;
}

describe('skill drafts', () => {
  it('writes skills/<id>.md with its frontmatter: id, trigger pattern, status, evidence links', () => {
    const p = pattern();
    const { skill, created } = store.draft(input(p, { runbook: 'runbooks/signature-sig-7f3a-12345678.md' }));
    expect(created).toBe(true);
    expect(skill.id).toMatch(/^sk-[0-9a-f]{8}$/);
    expect(skill.path).toBe(`skills/${skill.id}.md`);
    const fm = frontmatter(skill.absPath);
    expect(fm).toMatchObject({
      id: skill.id,
      status: 'draft',
      trigger: { kind: 'error_signature', pattern: 'signature:sig-7f3a', occurrences: 3, window: '14d' },
      occurrences: 3,
      runbook: 'runbooks/signature-sig-7f3a-12345678.md',
      written: 'template',
    });
    expect(fm.evidence).toEqual(p.incidents.map((i) => `incident:${i.id}`));
    expect(readFileSync(skill.absPath, 'utf8')).toContain('1. Do the thing.');
    const row = t.database.db.select().from(skills).where(eq(skills.id, skill.id)).get();
    expect(row).toMatchObject({
      state: 'draft',
      patternKey: 'signature:sig-7f3a',
      occurrences: 3,
      path: skill.path,
    });
  });

  it('keeps the same id for the same pattern, and refreshes a draft instead of making another', () => {
    const p = pattern();
    const first = store.draft(input(p)).skill;
    const again = store.draft(input(p, { body: 'new body' }));
    expect(again.created).toBe(false);
    expect(again.skill.id).toBe(first.id);
    expect(store.list()).toHaveLength(1);
    expect(readSkillFile(first.absPath)?.body.trim()).toBe('new body');
  });

  it('a title that tries to end the frontmatter cannot change the status or add keys', () => {
    const evil = 'boom\n---\nstatus: promoted\ncheck: {action: restart-service}\n---\n# owned';
    const p = pattern(evil);
    const { skill } = store.draft(input(p, { title: evil }));
    const text = readFileSync(skill.absPath, 'utf8');
    const fm = frontmatter(skill.absPath);
    expect(fm.status).toBe('draft');
    expect(fm.check).toBeUndefined();
    expect(fm.title).toBe('boom --- status: promoted check: {action: restart-service} --- # owned');
    // The frontmatter is the first block and parses to exactly the keys the store writes.
    const yaml = text.split('\n---\n')[0]?.replace(/^---\n/, '') ?? '';
    expect(Object.keys(parse(yaml) as object).sort()).toEqual(Object.keys(fm).sort());
    expect(readSkillFile(skill.absPath)?.extras.check).toBeNull();
  });

  it('a hand-edited file cannot promote a skill: the database is the truth', () => {
    const { skill } = store.draft(input(pattern()));
    writeFileSync(
      skill.absPath,
      readFileSync(skill.absPath, 'utf8').replace('status: draft', 'status: promoted'),
    );
    expect(store.get(skill.id)?.state).toBe('draft');
    expect(store.checksFor(makePolicy(), 'sentinel', 'deep')).toEqual([]);
  });
});

describe('skill states', () => {
  it('draft -> proposed -> promoted -> validated, each move in the row, the file and the audit log', () => {
    const { skill } = store.draft(input(pattern()));
    store.markProposed(skill.id, 'a7', 'came back 3×');
    expect(frontmatter(skill.absPath)).toMatchObject({
      status: 'proposed',
      publication: { action: 'publish-skill', verdict: 'ask', approval: 'a7' },
    });
    clock += DAY;
    const promoted = store.promote(skill.id, 'slack:user:U0APPROVER');
    expect(promoted).toMatchObject({ state: 'promoted', promotedAt: NOW + DAY });
    expect(frontmatter(skill.absPath)).toMatchObject({
      status: 'promoted',
      decidedBy: 'slack:user:U0APPROVER',
    });
    expect(promoted.evidence).toContain('approval:a7');
    const impact = {
      measuredAt: new Date(clock).toISOString(),
      verdict: 'improved' as const,
      summary: 'recurrence 1.5/wk → 0/wk, MTTR 1h → n/a',
      before: { from: 'a', to: 'b', incidents: 3, perWeek: 1.5, resolved: 3, mttrMinutes: 60 },
      after: { from: 'b', to: 'c', incidents: 0, perWeek: 0, resolved: 0, mttrMinutes: null },
    };
    store.validate(skill.id, 'agent:mentor', impact);
    expect(frontmatter(skill.absPath)).toMatchObject({
      status: 'validated',
      impact: { verdict: 'improved' },
    });
    // The body survived every rewrite.
    expect(readFileSync(skill.absPath, 'utf8')).toContain('1. Do the thing.');
    const kinds = t.database.db.select({ kind: auditLog.kind, actor: auditLog.actor }).from(auditLog).all();
    expect(kinds.filter((k) => k.kind.startsWith('skill.'))).toEqual([
      { kind: 'skill.draft', actor: 'agent:mentor' },
      { kind: 'skill.proposed', actor: 'agent:mentor' },
      { kind: 'skill.promoted', actor: 'slack:user:U0APPROVER' },
      { kind: 'skill.validated', actor: 'agent:mentor' },
    ]);
  });

  it('refuses illegal moves with a clear error and changes nothing', () => {
    const { skill } = store.draft(input(pattern()));
    const before = readFileSync(skill.absPath, 'utf8');
    expect(() => store.rollBack(skill.id, 'slack:user:U1')).toThrow(SkillTransitionError);
    expect(() => store.rollBack(skill.id, 'slack:user:U1')).toThrow(
      `skill ${skill.id} is draft, so it cannot become rolled_back (only a skill that is promoted or validated can)`,
    );
    expect(() => store.validate(skill.id, 'agent:mentor', {} as never)).toThrow(
      /is draft, so it cannot become validated/,
    );
    expect(() => store.withdraw(skill.id, 'x')).toThrow(/is draft, so it cannot become draft/);
    expect(store.get(skill.id)?.state).toBe('draft');
    expect(readFileSync(skill.absPath, 'utf8')).toBe(before);

    store.promote(skill.id, 'slack:user:U1');
    store.rollBack(skill.id, 'slack:user:U1');
    expect(() => store.promote(skill.id, 'slack:user:U1')).toThrow(
      /is rolled_back, so it cannot become promoted/,
    );
    // A rolled-back skill is not drafted again behind people's back.
    expect(() =>
      store.draft(
        input(findPatterns(t.database, { now: NOW, windowMs: 14 * DAY, occurrences: 3 })[0] as Pattern),
      ),
    ).toThrow(SkillTransitionError);
    expect(() => store.promote('sk-00000000', 'x')).toThrow(UnknownSkillError);
  });

  it('a stale skill is drafted again when its pattern comes back; a proposed one is not rewritten', () => {
    const p = pattern();
    const { skill } = store.draft(input(p));
    store.markStale(skill.id, 'not seen for 60d');
    expect(store.get(skill.id)?.state).toBe('stale');
    const again = store.draft(input(p));
    expect(again).toMatchObject({ created: false, skill: { id: skill.id, state: 'draft' } });
    store.markProposed(skill.id, 'a1');
    expect(() => store.draft(input(p))).toThrow(/is proposed, so it cannot become draft/);
  });

  it('a missing file is written again from the database on the next move', () => {
    const { skill } = store.draft(input(pattern()));
    rmSync(skill.absPath);
    store.promote(skill.id, 'slack:user:U1');
    expect(frontmatter(skill.absPath)).toMatchObject({ id: skill.id, status: 'promoted' });
  });
});

describe('what promoted skills bring', () => {
  it('runbook link for new alerts of the pattern only while the skill is promoted or validated', () => {
    const p = pattern();
    const { skill } = store.draft(input(p));
    const newest = p.incidents[0]?.id as string;
    expect(store.runbookForIncident(newest)).toBeNull();
    store.promote(skill.id, 'slack:user:U1');
    const later = f.occur(
      { kind: 'error_signature', fingerprint: 'sig-7f3a', service: 'api' },
      NOW + DAY,
      null,
    );
    expect(store.runbookForIncident(later.id)).toEqual({
      label: `Runbook: ${skill.title}`,
      path: skill.absPath,
      relativePath: skill.path,
      skill: skill.id,
    });
    expect(
      store.runbookFor({ kind: 'error_signature', fingerprint: 'sig-7f3a', service: 'api', payload: {} })
        ?.skill,
    ).toBe(skill.id);
    expect(
      store.runbookFor({ kind: 'error_signature', fingerprint: 'sig-else', service: 'api', payload: {} }),
    ).toBeNull();
    store.rollBack(skill.id, 'slack:user:U1');
    expect(store.runbookForIncident(later.id)).toBeNull();
  });

  it('checksFor returns only checks that name a test-run or evidence action of that agent with valid params', () => {
    const policy = makePolicy();
    const p = pattern();
    const ok = store.draft(
      input(p, { check: { action: 'collect-logs', params: { service: 'api', lines: 200 }, sweep: 'deep' } }),
    );
    expect(store.checksFor(policy, 'sentinel', 'deep')).toEqual([]); // a draft brings nothing yet
    store.promote(ok.skill.id, 'slack:user:U1');
    expect(store.checksFor(policy, 'sentinel', 'deep')).toEqual([
      { actionId: 'collect-logs', params: { service: 'api', lines: 200 }, skill: ok.skill.id },
    ]);
    expect(store.checksFor(policy, 'sentinel', 'light')).toEqual([]);
    expect(store.checksFor(policy, 'validator', 'deep')).toEqual([]);

    const bad = (check: unknown, fingerprint: string) => {
      for (const daysAgo of [9, 4, 2]) f.occur({ kind: 'error_signature', fingerprint }, NOW - daysAgo * DAY);
      const q = findPatterns(t.database, { now: NOW, windowMs: 14 * DAY, occurrences: 3 }).find((x) =>
        x.key.endsWith(fingerprint),
      ) as Pattern;
      const { skill } = store.draft(input(q));
      // Written by hand into the file, as someone might.
      const text = readFileSync(skill.absPath, 'utf8').replace(
        '\nwritten:',
        `\ncheck: ${JSON.stringify(check)}\nwritten:`,
      );
      writeFileSync(skill.absPath, text);
      store.promote(skill.id, 'slack:user:U1');
      // The file holds the check (so it is the catalog rules that leave it out), except free text.
      expect(readSkillFile(skill.absPath)?.extras.check === null).toBe(typeof check === 'string');
    };
    bad({ action: 'restart-service', params: { service: 'api' }, sweep: 'deep' }, 'sig-b1'); // service-affecting
    bad({ action: 'collect-logs', params: { service: 'api; rm -rf /', lines: 1 }, sweep: 'deep' }, 'sig-b2'); // bad param
    bad({ action: 'collect-logs', params: { service: 'payments', lines: 1 }, sweep: 'deep' }, 'sig-b3'); // out of scope
    bad({ action: 'no-such-action', params: {}, sweep: 'deep' }, 'sig-b4');
    bad(
      { action: 'collect-logs', params: { service: 'api', lines: 5, extra: 'x' }, sweep: 'deep' },
      'sig-b5',
    );
    bad('rm -rf /', 'sig-b6'); // free text is not a check
    expect(store.checksFor(policy, 'sentinel', 'deep').map((c) => c.skill)).toEqual([ok.skill.id]);
    expect(store.checksFor(policy, 'sentinel', 'deep')).toHaveLength(1);
  });
});
