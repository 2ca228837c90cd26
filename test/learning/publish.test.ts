/**
 * Publishing and rolling back a skill as catalog actions: the builtin executor through the real
 * runner, decide() and the real approval flow; the catalog rules for builtins; the default policy.
 */
import { readFileSync } from 'node:fs';
import { eq } from 'drizzle-orm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ExecutionRequest } from '../../src/actions/approvals/ports.js';
import { describeExecution } from '../../src/actions/render.js';
import { Runner } from '../../src/actions/runner.js';
import { approvals, runs } from '../../src/db/schema.js';
import { registerSkillBuiltins } from '../../src/learning/builtins.js';
import { splitFrontmatter } from '../../src/learning/markdown.js';
import { findPatterns } from '../../src/learning/patterns.js';
import { SkillStore } from '../../src/learning/skills.js';
import { checkPolicy } from '../../src/policy/check.js';
import { decide } from '../../src/policy/decide.js';
import { loadPolicyFile } from '../../src/policy/load.js';
import { policySchema } from '../../src/policy/schema.js';
import type { Policy, Proposal } from '../../src/policy/types.js';
import { createLogger } from '../../src/process/log.js';
import { type ActionInput, makePolicy, makePolicyDoc, makeState } from '../fixtures/policy.js';
import { APPROVER, type Kit, makeKit, type Node, T0 } from '../helpers/approvals-kit.js';
import { LogSink } from '../helpers/bot.js';
import { DAY, IncidentFactory } from '../helpers/learning.js';

const SKILL_PARAM = { skill: { pattern: 'sk-[a-f0-9]{8,40}', maxLength: 43 } } as const;

function skillActions(): ActionInput[] {
  const action = (id: string, builtin: 'skill-publish' | 'skill-rollback'): ActionInput => ({
    id,
    agent: 'mentor',
    description: `${id} (builtin)`,
    tier: 3,
    class: 'policy-publication',
    target: 'autonomy',
    params: { ...SKILL_PARAM },
    executor: { builtin },
    timeout: '30s',
  });
  return [action('publish-skill', 'skill-publish'), action('rollback-skill', 'skill-rollback')];
}

function learningPolicy(phase: 1 | 2 | 3 | 4): Policy {
  return makePolicy({
    phase,
    extraActions: skillActions(),
    edit: (d) => d.purpose.inScope.push('autonomy'),
  });
}

let kit: Kit;
let node: Node;
let runner: Runner;
let store: SkillStore;
let skillId: string;

function setUp(over: { dryRun?: boolean; register?: boolean } = {}): void {
  kit = makeKit(learningPolicy(3));
  let current: Runner | null = null;
  node = kit.connect({ executor: { execute: (req: ExecutionRequest) => (current as Runner).execute(req) } });
  const now = () => kit.clock;
  runner = new Runner({
    database: node.database,
    audit: node.audit,
    now,
    newId: (p) => `${p}_${Math.random().toString(36).slice(2, 10)}`,
    log: createLogger('error', new LogSink()),
    env: {},
    dryRun: over.dryRun ?? false,
  });
  current = runner;
  store = new SkillStore({ database: node.database, dataDir: kit.dir, now, audit: node.audit });
  if (over.register !== false) registerSkillBuiltins(runner, store, node.database);
  const f = new IncidentFactory(node.database);
  for (const d of [9, 5, 2]) f.occur({ kind: 'error_signature', fingerprint: 'sig-9a' }, T0 - d * DAY);
  kit.clock = T0;
  const [pattern] = findPatterns(node.database, { now: T0, windowMs: 14 * DAY, occurrences: 3 });
  if (pattern === undefined) throw new Error('no pattern');
  skillId = store.draft({
    pattern,
    title: pattern.label,
    body: '1. steps',
    written: 'template',
    window: '14d',
  }).skill.id;
}

afterEach(() => kit.cleanup());

function publish(): Proposal {
  return {
    agent: 'mentor',
    actionId: 'publish-skill',
    params: { skill: skillId },
    rationale: 'came back 3×',
  };
}

/** As the pipeline does it: decide, ask, mark the skill proposed; returns the approval's short id. */
function ask(policy: Policy): string {
  const decision = decide(policy, makeState(), publish(), kit.clock);
  expect(decision).toMatchObject({ verdict: 'ask', code: 'needs-approval', tier: 3 });
  const { shortId } = node.approvals.request(publish(), decision, { trigger: 'cron' });
  store.markProposed(skillId, shortId);
  return shortId;
}

describe('publishing a skill through the approval flow', () => {
  beforeEach(() => setUp());

  it('phase 3: asks; the approval runs the builtin through the runner and the skill is promoted', async () => {
    const shortId = ask(kit.policy);
    expect(store.get(skillId)?.state).toBe('proposed');
    const request = node.sink.posts().find((m) => m.message.kind === 'approval');
    expect(JSON.stringify(request?.message)).toContain(`builtin skill-publish`);

    kit.clock += 60_000;
    await node.approvals.decide(shortId, { actor: APPROVER, verdict: 'approve', via: 'command', wait: true });

    const skill = store.get(skillId);
    expect(skill).toMatchObject({ state: 'promoted', promotedAt: kit.clock });
    const fm = splitFrontmatter(readFileSync(skill?.absPath as string, 'utf8')).data as Record<
      string,
      unknown
    >;
    expect(fm).toMatchObject({ status: 'promoted', decidedBy: APPROVER });
    const approval = node.database.db
      .select()
      .from(approvals)
      .where(eq(approvals.number, Number(shortId.slice(1))))
      .get();
    expect(approval?.state).toBe('succeeded');
    const run = node.database.db
      .select()
      .from(runs)
      .where(eq(runs.id, approval?.runId as string))
      .get();
    expect(run).toMatchObject({
      agent: 'mentor',
      actionId: 'publish-skill',
      actionClass: 'policy-publication',
      tier: 3,
      status: 'succeeded',
      triggerSource: 'approval',
    });
    expect(run?.outcome).toContain(`skill ${skillId} promoted`);
    expect(run?.evidence).toEqual(expect.arrayContaining([`skill:${skillId}`, `skills/${skillId}.md`]));
  });

  it('a denial promotes nothing', async () => {
    const shortId = ask(kit.policy);
    await node.approvals.decide(shortId, {
      actor: APPROVER,
      verdict: 'deny',
      via: 'command',
      reason: 'not yet',
    });
    expect(store.get(skillId)?.state).toBe('proposed');
    expect(node.database.db.select().from(runs).all()).toEqual([]);
  });

  it('rolling back needs its own approval, and runs the rollback builtin', async () => {
    const first = ask(kit.policy);
    await node.approvals.decide(first, { actor: APPROVER, verdict: 'approve', via: 'command', wait: true });
    const rollback: Proposal = { agent: 'mentor', actionId: 'rollback-skill', params: { skill: skillId } };
    const decision = decide(kit.policy, makeState(), rollback, kit.clock);
    expect(decision.verdict).toBe('ask');
    const { shortId } = node.approvals.request(rollback, decision, { trigger: 'cron' });
    await node.approvals.decide(shortId, { actor: APPROVER, verdict: 'approve', via: 'command', wait: true });
    expect(store.get(skillId)).toMatchObject({ state: 'rolled_back', rolledBackAt: kit.clock });
  });

  it('phase 2 suggests and phase 1 only observes: nothing runs, nothing is asked', () => {
    expect(decide(learningPolicy(2), makeState(), publish(), kit.clock)).toMatchObject({
      verdict: 'suggest',
    });
    expect(decide(learningPolicy(1), makeState(), publish(), kit.clock)).toMatchObject({
      verdict: 'observe',
    });
    // A skill id that is not an id is refused before anything else.
    expect(
      decide(
        kit.policy,
        makeState(),
        { ...publish(), params: { skill: 'sk-x\n---\nstatus: promoted' } },
        kit.clock,
      ),
    ).toMatchObject({ verdict: 'deny', code: 'bad-params' });
  });
});

describe('the builtin executor', () => {
  it('honours dry-run: recorded as skipped, nothing promoted', async () => {
    setUp({ dryRun: true });
    const shortId = ask(kit.policy);
    await node.approvals.decide(shortId, { actor: APPROVER, verdict: 'approve', via: 'command', wait: true });
    expect(store.get(skillId)?.state).toBe('proposed');
    const [run] = node.database.db.select().from(runs).all();
    expect(run).toMatchObject({
      status: 'skipped',
      outcome: 'dry run: builtin skill-publish was not called',
    });
  });

  it('a builtin nobody registered fails the run with the reason, and changes nothing', async () => {
    setUp({ register: false });
    const shortId = ask(kit.policy);
    await node.approvals.decide(shortId, { actor: APPROVER, verdict: 'approve', via: 'command', wait: true });
    expect(store.get(skillId)?.state).toBe('proposed');
    const [run] = node.database.db.select().from(runs).all();
    expect(run?.status).toBe('failed');
    expect(run?.outcome).toContain('builtin skill-publish is not available in this process');
  });

  it('a builtin that throws fails the run with its message (an illegal move changes nothing)', async () => {
    setUp();
    const shortId = ask(kit.policy);
    store.withdraw(skillId, 'test');
    store.markStale(skillId, 'test');
    await node.approvals.decide(shortId, { actor: APPROVER, verdict: 'approve', via: 'command', wait: true });
    const [run] = node.database.db.select().from(runs).all();
    expect(run?.status).toBe('failed');
    expect(run?.outcome).toContain(`skill ${skillId} is stale, so it cannot become promoted`);
    expect(store.get(skillId)?.state).toBe('stale');
  });

  it('shows as builtin NAME param=value in approval requests', () => {
    const action = learningPolicy(3).actions.get('publish-skill');
    expect(describeExecution(action as never, { skill: 'sk-0123abcd' })).toMatchObject({
      kind: 'builtin',
      display: 'builtin skill-publish skill=sk-0123abcd',
      target: 'autonomy',
      tier: 3,
    });
  });
});

describe('builtins in the catalog', () => {
  const issuesOf = (actions: ActionInput[]) => {
    const doc = policySchema.parse(
      makePolicyDoc({ extraActions: actions, edit: (d) => d.purpose.inScope.push('autonomy') }),
    );
    // Only the issues of the actions added here (the fixture's own catalog is not the point).
    const first = doc.actions.length - actions.length;
    return checkPolicy(doc)
      .filter((i) => i.path[0] === 'actions' && Number(i.path[1]) >= first)
      .map((i) => `${['new', ...i.path.slice(2)].join('.')}: ${i.message}`);
  };

  it('accepts the two skill actions', () => {
    expect(issuesOf(skillActions())).toEqual([]);
  });

  it('their params must be exactly the ones the builtin reads, and a builtin never runs at tier 0', () => {
    const [publishSkill] = skillActions();
    const base = publishSkill as ActionInput;
    expect(issuesOf([{ ...base, params: {} }])).toEqual([
      'new.params: builtin skill-publish reads param skill; declare params.skill with a pattern or an enum',
    ]);
    expect(issuesOf([{ ...base, params: { ...SKILL_PARAM, note: { pattern: '[a-z]{1,9}' } } }])).toEqual([
      'new.params.note: builtin skill-publish does not read param note; its params are skill',
    ]);
    expect(issuesOf([{ ...base, agent: 'validator', class: 'test-run', tier: 0 }])).toEqual([
      "new.tier: builtin skill-publish changes the bot's state, and tier 0 actions run even in phase 1 (observe-only); give it tier 3",
    ]);
    expect(() =>
      policySchema.parse(
        makePolicyDoc({ extraActions: [{ ...base, executor: { builtin: 'rm-rf' } as never }] }),
      ),
    ).toThrow(/skill-publish/);
  });

  it('the default policy declares publish-skill and rollback-skill for the mentor, tier 3, on autonomy', async () => {
    const loaded = await loadPolicyFile('policies/default.policy.yaml');
    expect(loaded.ok).toBe(true);
    if (!loaded.ok) return;
    for (const id of ['publish-skill', 'rollback-skill']) {
      expect(loaded.policy.actions.get(id)).toMatchObject({
        agent: 'mentor',
        class: 'policy-publication',
        effectiveTier: 3,
        target: { kind: 'fixed', system: 'autonomy' },
      });
    }
    const proposal: Proposal = {
      agent: 'mentor',
      actionId: 'publish-skill',
      params: { skill: 'sk-0123abcd' },
    };
    // The default policy is phase 1: observed only; from phase 3 on it asks a person.
    expect(decide(loaded.policy, makeState(), proposal, T0)).toMatchObject({ verdict: 'observe' });
    expect(decide(loaded.policy, makeState({ phaseOverride: 3 }), proposal, T0)).toMatchObject({
      verdict: 'ask',
      tier: 3,
    });
  });
});
