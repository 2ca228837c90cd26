import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createMentor } from '../../src/agents/mentor/agent.js';
import type { AgentProposal, ProposalOutcome } from '../../src/agents/runtime/types.js';
import { approvals, proposals } from '../../src/db/schema.js';
import { measureImpact, verdictOf } from '../../src/learning/impact.js';
import { skillsList } from '../../src/learning/list.js';
import { splitFrontmatter } from '../../src/learning/markdown.js';
import type { Pattern } from '../../src/learning/patterns.js';
import { SkillStore } from '../../src/learning/skills.js';
import { fakeContext } from '../fakes/agent-context.js';
import { makePolicy } from '../fixtures/policy.js';
import { rowsReadFrom, type TempDatabase, tempDatabase } from '../helpers/db.js';
import { DAY, HOUR, IncidentFactory } from '../helpers/learning.js';

// The fixture policy: learning.validationWindow 7d, staleAfter 60d (the default), promotion 3 in 14d.
const POLICY = makePolicy({ phase: 3 });
const P = Date.parse('2026-11-01T00:00:00Z'); // when the skill is promoted
const W = 7 * DAY;

let t: TempDatabase;
let f: IncidentFactory;
let store: SkillStore;
let clock: number;

beforeEach(() => {
  t = tempDatabase('autonomy-impact-');
  f = new IncidentFactory(t.database);
  clock = P - 30 * DAY;
  store = new SkillStore({ database: t.database, dataDir: t.dir, now: () => clock, audit: f.audit });
});
afterEach(() => {
  vi.restoreAllMocks();
  t.cleanup();
});

/** A skill for error signature `fp`, promoted at P. */
function promoted(fp = 'sig-x'): string {
  const pattern: Pattern = {
    key: `signature:${fp}`,
    kind: 'error_signature',
    label: `error signature ${fp}`,
    service: null,
    incidents: [],
  };
  clock = P - DAY;
  const { skill } = store.draft({
    pattern,
    title: pattern.label,
    body: 'steps',
    written: 'template',
    window: '14d',
  });
  clock = P;
  store.promote(skill.id, 'slack:user:U0APPROVER');
  return skill.id;
}

/** Incidents of `fp` at these times (ms), each resolved after `mttr`. */
function incidentsAt(fp: string, times: number[], mttr: number): void {
  for (const at of times) f.occur({ kind: 'error_signature', fingerprint: fp }, at, mttr);
}

function ctx(onPropose?: (p: AgentProposal) => ProposalOutcome) {
  return fakeContext({
    agent: 'mentor',
    policy: POLICY,
    rootDataDir: t.dir,
    now: () => clock,
    trigger: 'sweep:deep',
    ...(onPropose ? { onPropose } : {}),
  });
}

const mentor = () => createMentor({ database: t.database, skills: store });

const ASKED: ProposalOutcome = {
  decision: {
    verdict: 'ask',
    code: 'needs-approval',
    tier: 3,
    phase: 3,
    reason: 'tier 3: asks for approval',
  },
  approval: 'a9',
};

describe('impact numbers', () => {
  it('recurrence per week and median time to resolve, before and after promotion', () => {
    incidentsAt('sig-x', [P - 6 * DAY, P - 4 * DAY, P - 2 * DAY], HOUR);
    incidentsAt('sig-x', [P + 3 * DAY], 20 * 60_000);
    const impact = measureImpact(t.database, 'signature:sig-x', P, W);
    expect(impact).toMatchObject({
      verdict: 'improved',
      summary: 'recurrence 3/wk → 1/wk, MTTR 1h → 20m',
      before: { incidents: 3, resolved: 3, mttrMs: HOUR },
      after: { incidents: 1, resolved: 1, mttrMs: 20 * 60_000 },
    });
  });

  it("with the skill's evidence, the same numbers from the pattern's incidents alone, not every incident of the windows", () => {
    incidentsAt('sig-x', [P - 6 * DAY, P - 4 * DAY, P - 2 * DAY], HOUR);
    incidentsAt('sig-x', [P + 3 * DAY], 20 * 60_000);
    for (let i = 0; i < 40; i++)
      incidentsAt(`other-${i}`, [P - 5 * DAY + i * HOUR, P + 2 * DAY + i * HOUR], HOUR);
    const evidence = t.database.sqlite
      .prepare("SELECT 'incident:' || id AS e FROM incidents WHERE fingerprint = 'sig-x'")
      .all()
      .map((r) => (r as { e: string }).e);
    const everyOne = measureImpact(t.database, 'signature:sig-x', P, W);

    const incidentsRead = rowsReadFrom(t.database, 'incidents');
    expect(measureImpact(t.database, 'signature:sig-x', P, W, evidence)).toEqual(everyOne);
    expect(incidentsRead()).toBe(4);
  });

  it('no incidents on either side is "not enough data yet", without dividing by zero', () => {
    const impact = measureImpact(t.database, 'signature:sig-none', P, W);
    expect(impact.verdict).toBe('insufficient');
    expect(impact.summary).toBe('not enough data yet: no incident of the pattern before or after promotion');
    expect(impact.before).toMatchObject({ incidents: 0, perWeek: 0, mttrMs: null });
  });

  it('one metric better and none worse is an improvement; same or mixed is not', () => {
    const s = (incidents: number, mttrMs: number | null) => ({
      from: 0,
      to: W,
      incidents,
      resolved: incidents,
      perWeek: incidents,
      mttrMs,
    });
    expect(verdictOf(s(3, HOUR), s(3, 10 * 60_000))).toBe('improved');
    expect(verdictOf(s(3, HOUR), s(3, HOUR))).toBe('not-improved');
    expect(verdictOf(s(3, HOUR), s(1, 2 * HOUR))).toBe('not-improved');
    expect(verdictOf(s(0, null), s(2, HOUR))).toBe('not-improved');
    expect(verdictOf(s(2, HOUR), s(0, null))).toBe('improved');
  });
});

describe('mentor: validation after the window', () => {
  it('improved: the skill is validated, with the numbers in its file', async () => {
    const id = promoted();
    incidentsAt('sig-x', [P - 6 * DAY, P - 4 * DAY, P - 2 * DAY], HOUR);
    clock = P + W - HOUR;
    const early = ctx();
    await mentor().deep?.(early);
    expect(store.get(id)?.state).toBe('promoted'); // still measuring
    expect(skillsList(t.database, POLICY, clock).find((r) => r.id === id)?.impact).toBe(
      'measuring until 2026-11-08',
    );

    clock = P + W;
    const c = ctx();
    await mentor().deep?.(c);
    expect(store.get(id)?.state).toBe('validated');
    const fm = splitFrontmatter(readFileSync(store.get(id)?.absPath as string, 'utf8')).data as Record<
      string,
      unknown
    >;
    expect(fm).toMatchObject({
      status: 'validated',
      impact: { verdict: 'improved', before: { incidents: 3 }, after: { incidents: 0 } },
    });
    expect(c.posts.map((p) => p.title)).toEqual([`Skill ${id} validated`]);
    expect(c.proposals).toEqual([]);
    expect(skillsList(t.database, POLICY, clock).find((r) => r.id === id)?.impact).toBe(
      'recurrence 3/wk → 0/wk, MTTR 1h → n/a',
    );
  });

  it('not improved: a rollback proposal with the numbers, asked once', async () => {
    const id = promoted();
    incidentsAt('sig-x', [P - 5 * DAY, P - 2 * DAY], 30 * 60_000);
    incidentsAt('sig-x', [P + DAY, P + 3 * DAY, P + 5 * DAY], 45 * 60_000);
    clock = P + W + HOUR;
    const c = ctx(() => ASKED);
    await mentor().deep?.(c);
    expect(c.proposals).toEqual([
      {
        actionId: 'rollback-skill',
        params: { skill: id },
        rationale: `Roll back skill ${id}: no improvement after promotion (recurrence 2/wk → 3/wk, MTTR 30m → 45m; 2 incidents before, 3 after, 7d each).`,
      },
    ]);
    expect(c.posts).toHaveLength(1);
    expect(c.posts[0]).toMatchObject({
      kind: 'suggestion',
      title: `Skill ${id} did not help: rollback proposed`,
      fields: [
        { label: 'Recurrence', value: '2/wk → 3/wk' },
        { label: 'MTTR (min)', value: '30 → 45' },
        { label: 'Approval', value: 'a9' },
      ],
    });
    expect(store.get(id)?.state).toBe('promoted'); // a person decides
    expect(skillsList(t.database, POLICY, clock).find((r) => r.id === id)?.impact).toBe(
      'recurrence 2/wk → 3/wk, MTTR 30m → 45m',
    );

    clock += 6 * HOUR;
    const next = ctx(() => ASKED);
    await mentor().deep?.(next);
    expect(next.proposals).toEqual([]);
    expect(next.posts).toEqual([]);
  });

  it('a denied rollback keeps the skill: validated by the person who denied it', async () => {
    const id = promoted();
    incidentsAt('sig-x', [P - 5 * DAY], 30 * 60_000);
    incidentsAt('sig-x', [P + DAY, P + 3 * DAY], 30 * 60_000);
    clock = P + W + HOUR;
    await mentor().deep?.(ctx(() => ASKED));
    t.database.db
      .insert(proposals)
      .values({
        id: 'prop_9',
        agent: 'mentor',
        actionId: 'rollback-skill',
        params: { skill: id },
        verdict: 'ask',
        code: 'needs-approval',
        reason: 'asks',
        decidedAt: clock,
      })
      .run();
    t.database.db
      .insert(approvals)
      .values({
        id: 'apr_9',
        number: 9,
        proposalId: 'prop_9',
        agent: 'mentor',
        actionId: 'rollback-skill',
        params: { skill: id },
        bindingHash: 'h',
        state: 'denied',
        requestedAt: clock,
        expiresAt: clock + HOUR,
        decidedBy: 'slack:user:U0APPROVER',
        decidedAt: clock,
        updatedAt: clock,
      })
      .run();
    clock += DAY;
    await mentor().deep?.(ctx(() => ASKED));
    expect(store.get(id)?.state).toBe('validated');
    const fm = splitFrontmatter(readFileSync(store.get(id)?.absPath as string, 'utf8')).data as Record<
      string,
      unknown
    >;
    expect(fm.decidedBy).toBe('slack:user:U0APPROVER');
  });

  it('no data: says so on the skill, proposes nothing, keeps it promoted', async () => {
    const id = promoted();
    clock = P + W + HOUR;
    const c = ctx(() => ASKED);
    await mentor().deep?.(c);
    expect(c.proposals).toEqual([]);
    expect(store.get(id)?.state).toBe('promoted');
    const fm = splitFrontmatter(readFileSync(store.get(id)?.absPath as string, 'utf8')).data as Record<
      string,
      unknown
    >;
    expect(fm.impact).toMatchObject({ verdict: 'insufficient' });
  });
});

describe('stale skills', () => {
  it('a skill whose pattern was not seen for staleAfter is marked stale; one seen recently is not', async () => {
    const quiet = promoted('sig-quiet');
    const busy = promoted('sig-busy');
    incidentsAt('sig-busy', [P + 50 * DAY], HOUR);
    clock = P + 60 * DAY - HOUR;
    const before = ctx();
    await mentor().deep?.(before);
    expect(store.get(quiet)?.state).not.toBe('stale');

    clock = P + 60 * DAY;
    const c = ctx();
    await mentor().deep?.(c);
    expect(store.get(quiet)?.state).toBe('stale');
    expect(store.get(busy)?.state).not.toBe('stale');
    expect(c.posts.map((p) => p.title)).toContain('1 skill marked stale');
    // A stale skill brings no runbook link any more.
    expect(
      store.runbookFor({ kind: 'error_signature', fingerprint: 'sig-quiet', service: null, payload: {} }),
    ).toBeNull();
  });
});

describe('/autonomy skills', () => {
  it('lists every skill with its state and a one-line impact', () => {
    const pattern: Pattern = {
      key: 'signature:sig-d',
      kind: 'error_signature',
      label: 'error signature sig-d',
      service: null,
      incidents: [],
    };
    const id = promoted();
    clock = P + DAY;
    const draft = store.draft({ pattern, title: 'a draft', body: 'b', written: 'template', window: '14d' })
      .skill.id;
    expect(skillsList(t.database, POLICY, P + 2 * DAY)).toEqual([
      { id: draft, title: 'a draft', state: 'draft', impact: '—' },
      { id, title: 'error signature sig-x', state: 'promoted', impact: 'measuring until 2026-11-08' },
    ]);
  });
});
