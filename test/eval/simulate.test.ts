import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/connection.js';
import { proposals, runs } from '../../src/db/schema.js';
import { formatSimulation, simulate } from '../../src/eval/simulate.js';
import { decide } from '../../src/policy/decide.js';
import type { Params, Policy } from '../../src/policy/types.js';
import type { AgentName } from '../../src/policy/vocabulary.js';
import { makePolicy, makeState } from '../fixtures/policy.js';
import { type TempDatabase, tempDatabase } from '../helpers/db.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY_START = Date.UTC(2026, 10, 20); // policy time zone: UTC
const SINCE = DAY_START + 6 * HOUR;
const NOW = DAY_START + 24 * HOUR;

let temp: TempDatabase;
let database: Database;
let n = 0;

beforeEach(() => {
  temp = tempDatabase('autonomy-simulate-');
  database = temp.database;
  n = 0;
});
afterEach(() => temp.cleanup());

/** The phase 1 policy the proposals were decided under; it still had a `legacy-purge` action. */
const observePolicy = makePolicy({
  phase: 1,
  extraActions: [
    {
      id: 'legacy-purge',
      agent: 'builder',
      description: 'Purge old artefacts',
      tier: 2,
      class: 'maintenance',
      target: 'ci',
      params: {},
      executor: { command: ['purge'] },
    },
  ],
});
/** The candidate: phase 3, the fixture's allowlists (sentinel: silence-alert; builder: rotate-logs). */
const candidate = makePolicy({ phase: 3 });

/** Stores a proposal exactly as the bot would: decided by decide() under `policy` at `at`. */
function store(
  agent: AgentName,
  actionId: string,
  params: Params,
  at: number,
  policy: Policy = observePolicy,
) {
  n += 1;
  const d = decide(policy, makeState(), { agent, actionId, params }, at);
  database.db
    .insert(proposals)
    .values({
      id: `p${n}`,
      agent,
      actionId,
      params: { ...params },
      verdict: d.verdict,
      code: d.code,
      reason: d.reason,
      tier: d.tier,
      phase: d.phase,
      decidedAt: at,
    })
    .run();
  return d;
}

function seed() {
  const t = SINCE + HOUR;
  store('sentinel', 'silence-alert', { alert: 'DiskFull' }, t); // -> execute (allowlisted)
  store('sentinel', 'silence-alert', { alert: 'DiskFull' }, t + 5 * MIN); // -> cooldown (15m after the first)
  store('sentinel', 'silence-alert', { alert: 'DiskFull' }, t + 20 * MIN); // -> execute again
  store('sentinel', 'restart-service', { service: 'web' }, t + 30 * MIN); // tier 3 -> ask
  store('sentinel', 'collect-logs', { service: 'web', lines: 100 }, t + 31 * MIN); // tier 0: execute both
  store('builder', 'clear-cache', { cache: 'npm' }, t + 32 * MIN); // tier 2, not allowlisted -> suggest
  store('sentinel', 'silence-alert', { alert: 'bad alert!' }, t + 33 * MIN); // bad params both
  store('guardian', 'file-advisory', {}, t + 34 * MIN); // tier 1 -> suggest
  store('builder', 'legacy-purge', {}, t + 35 * MIN); // removed from the candidate -> unknown-action
  store('sentinel', 'silence-alert', { alert: 'Old' }, SINCE - HOUR); // before the period: not replayed
}

describe('simulate', () => {
  it('replays phase 1 proposals under a phase 3 candidate with an allowlist', () => {
    seed();
    const r = simulate(database, candidate, { since: SINCE, now: NOW });
    expect(r.total).toBe(9);
    expect(r.changed).toBe(7);
    expect(r.byAgent.sentinel).toEqual({
      total: 6,
      changed: 4,
      before: { observe: 4, suggest: 0, execute: 1, ask: 0, deny: 1 },
      after: { observe: 0, suggest: 0, execute: 3, ask: 1, deny: 2 },
    });
    expect(r.byAgent.builder).toMatchObject({ total: 2, changed: 2, after: { suggest: 1, deny: 1 } });
    expect(r.byAgent.guardian).toMatchObject({ total: 1, changed: 1, after: { suggest: 1 } });
    expect(r.byAgent.mentor.total).toBe(0);
    expect(r.byTier['2']?.after).toMatchObject({ execute: 2, deny: 2, suggest: 1 });
    expect(r.byTier.unknown?.after).toMatchObject({ deny: 1 });
    expect(r.transitions[0]).toMatchObject({
      agent: 'sentinel',
      beforeVerdict: 'observe',
      afterVerdict: 'execute',
      afterCode: 'allowlisted',
      count: 2,
    });
    const codes = new Set(r.transitions.map((t) => t.afterCode));
    expect(codes).toEqual(
      new Set([
        'allowlisted',
        'cooldown',
        'needs-approval',
        'not-allowlisted',
        'suggest-phase',
        'unknown-action',
      ]),
    );
  });

  it('an action removed in the candidate is denied as unknown, with both reasons shown', () => {
    seed();
    const r = simulate(database, candidate, { since: SINCE, now: NOW });
    const purge = r.examples.find((e) => e.actionId === 'legacy-purge');
    expect(purge?.before).toMatchObject({ verdict: 'observe', code: 'observe-phase', tier: 2 });
    expect(purge?.after).toMatchObject({ verdict: 'deny', code: 'unknown-action', tier: null });
    expect(purge?.after.reason).toMatch(/not in the policy's catalog/);
    expect(purge?.before.reason).toMatch(/phase 1/);
  });

  it('bad params stay denied and are not reported as changes', () => {
    seed();
    const r = simulate(database, candidate, { since: SINCE, now: NOW, examples: 100 });
    expect(r.examples).toHaveLength(7);
    expect(r.examples.some((e) => e.params.alert === 'bad alert!')).toBe(false);
    expect(r.byAgent.sentinel.before.deny).toBe(1);
  });

  it('limits examples, one per kind of change first', () => {
    seed();
    const r = simulate(database, candidate, { since: SINCE, now: NOW, examples: 3 });
    expect(r.examples).toHaveLength(3);
    const kinds = new Set(r.examples.map((e) => `${e.actionId}|${e.after.code}`));
    expect(kinds.size).toBe(3);
  });

  it('counts stored runs before the period toward the daily cap', () => {
    for (let i = 1; i <= 5; i++) {
      database.db
        .insert(runs)
        .values({
          id: `r${i}`,
          agent: 'sentinel',
          triggerSource: 'webhook',
          actionId: 'silence-alert',
          verdict: 'execute',
          startedAt: DAY_START + i * HOUR - 30 * MIN,
          status: 'succeeded',
        })
        .run();
    }
    store('sentinel', 'silence-alert', { alert: 'DiskFull' }, SINCE + HOUR);
    store('sentinel', 'silence-alert', { alert: 'DiskFull' }, DAY_START + 25 * HOUR); // next day
    const r = simulate(database, candidate, { since: SINCE, now: NOW + 2 * HOUR });
    expect(r.examples.map((e) => e.after.code)).toEqual(['daily-cap', 'allowlisted']);
    expect(r.examples[0]?.after.reason).toMatch(/daily cap of 5 reached/);
  });

  it('uses a given state: a global kill denies everything', () => {
    seed();
    const r = simulate(database, candidate, {
      since: SINCE,
      now: NOW,
      state: makeState({ killedAll: true }),
    });
    expect(r.byAgent.sentinel.after).toMatchObject({ deny: 6, execute: 0 });
  });

  it('formats the report for the terminal', () => {
    seed();
    const text = formatSimulation(simulate(database, candidate, { since: SINCE, now: NOW }));
    expect(text).toContain('Proposals decided 2026-11-20T06:00:00Z to 2026-11-21T00:00:00Z: 9');
    expect(text).toContain('Would change: 7 of 9');
    expect(text).toMatch(/sentinel\s+6 proposals, 4 changed/);
    expect(text).toContain('after:  execute 3, ask 1, deny 2');
    expect(text).toContain('2x  sentinel: tier 2 observe -> tier 2 execute (allowlisted)');
    expect(text).toContain('1x  builder: tier 2 observe -> no tier deny (unknown-action)');
    expect(text).toMatch(/guardian\s+1 proposal, 1 changed/);
    expect(text).not.toMatch(/NaN|undefined/);
  });

  it('an empty period says so and suggests a longer --since', () => {
    const text = formatSimulation(simulate(database, candidate, { since: SINCE, now: NOW }));
    expect(text).toContain('Nothing to replay');
    expect(() => simulate(database, candidate, { since: NOW, now: SINCE })).toThrow(/since < now/);
  });
});
