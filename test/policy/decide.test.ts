import { canonicalize } from 'json-canonicalize';
import { describe, expect, it } from 'vitest';
import { sha256 } from '../../src/policy/compile.js';
import { decide } from '../../src/policy/decide.js';
import { bindingHash, checkParams, targetSystem } from '../../src/policy/params.js';
import type { Authorisation, DecisionState, Params, Policy, Proposal } from '../../src/policy/types.js';
import type { AgentName, Phase, Tier } from '../../src/policy/vocabulary.js';
import {
  type ActionInput,
  compileDoc,
  defaultActions,
  makePolicy,
  makePolicyDoc,
  makeState,
} from '../fixtures/policy.js';

const NOW = Date.parse('2025-06-02T10:00:00Z');
const MIN = 60_000;
const HOUR = 60 * MIN;

const prop = (agent: string, actionId: string, params: unknown = {}): Proposal =>
  ({ agent, actionId, params }) as unknown as Proposal;

function action(p: Policy, id: string) {
  const a = p.actions.get(id);
  if (a === undefined) throw new Error(`no action ${id} in the fixture`);
  return a;
}

function approval(p: Policy, id: string, params: Params, over: Partial<Authorisation> = {}): Authorisation {
  return {
    kind: 'approval',
    id: 'apr-1',
    bindingHash: bindingHash(action(p, id), params),
    expiresAt: NOW + 30 * MIN,
    by: 'slack:user:U0APPROVER',
    ...over,
  };
}

// ---------------------------------------------------------------------------------------------
// The table: phases x catalog tiers x allowlisted x kill x class lift x authorisation.
// ---------------------------------------------------------------------------------------------

/**
 * The specification, written out from DESIGN.md ("The decision", step 5), not from the code.
 * Keyed by phase, then by EFFECTIVE tier; tier 2 has [not allowlisted, allowlisted].
 * Values are `verdict:code` with no kill switch on and no approval or grant on file.
 */
const PHASE_SPEC: Record<Phase, Record<0 | 1 | 3, string> & { 2: [string, string] }> = {
  1: {
    0: 'execute:tier0',
    1: 'observe:observe-phase',
    2: ['observe:observe-phase', 'observe:observe-phase'],
    3: 'observe:observe-phase',
  },
  2: {
    0: 'execute:tier0',
    1: 'suggest:suggest-phase',
    2: ['suggest:suggest-phase', 'suggest:suggest-phase'],
    3: 'suggest:suggest-phase',
  },
  3: {
    0: 'execute:tier0',
    1: 'suggest:suggest-phase',
    2: ['suggest:not-allowlisted', 'execute:allowlisted'],
    3: 'ask:needs-approval',
  },
  4: {
    0: 'execute:tier0',
    1: 'suggest:suggest-phase',
    2: ['suggest:not-allowlisted', 'execute:allowlisted'],
    3: 'ask:needs-approval',
  },
};

/** Tier 3 with a matching, unexpired authorisation on file: phase 3 takes approvals only, phase 4 grants too. */
const TIER3_AUTH_SPEC: Record<3 | 4, Record<'approval' | 'grant', string>> = {
  3: { approval: 'execute:approved', grant: 'ask:needs-approval' },
  4: { approval: 'execute:approved', grant: 'execute:granted' },
};

/** Kill switches: on for the proposing agent (or all) -> deny; on for another agent -> no effect. */
const KILLS = ['none', 'agent', 'all', 'other-agent'] as const;
const AUTHS = ['none', 'approval', 'grant'] as const;

function expected(
  phase: Phase,
  catalogTier: Tier,
  allowlisted: boolean,
  kill: (typeof KILLS)[number],
  lift: boolean,
  auth: (typeof AUTHS)[number],
): { outcome: string; tier: Tier } {
  // DESIGN step 4: effective tier = max(tier, 3 if the class requires approval).
  const tier: Tier = lift ? 3 : catalogTier;
  if (kill === 'agent' || kill === 'all') return { outcome: 'deny:killed', tier };
  if (tier === 3 && auth !== 'none' && (phase === 3 || phase === 4)) {
    return { outcome: TIER3_AUTH_SPEC[phase][auth], tier };
  }
  const cell = PHASE_SPEC[phase][tier];
  return { outcome: typeof cell === 'string' ? cell : cell[allowlisted ? 1 : 0], tier };
}

/** One sentinel action per (catalog tier, class lift, allowlisted); lift = class service-affecting. */
function tableActions(): ActionInput[] {
  const out: ActionInput[] = [];
  for (const tier of [0, 1, 2, 3] as const) {
    for (const lift of [false, true]) {
      for (const al of [false, true]) {
        out.push({
          id: tableId(tier, lift, al),
          agent: 'sentinel',
          description: `table action t${tier}`,
          tier,
          class: lift ? 'service-affecting' : 'alerting',
          target: 'web',
          params: { note: { pattern: '[a-z]{1,8}', maxLength: 8 } },
          executor: { command: ['true'] },
        });
      }
    }
  }
  return out;
}
const tableId = (tier: Tier, lift: boolean, al: boolean) =>
  `t${tier}-${lift ? 'lift' : 'nolift'}-${al ? 'al' : 'noal'}`;

describe('decide: the phase x tier x allowlist x kill x class table', () => {
  const catalog = tableActions();
  const allowlist = catalog.filter((a) => a.id.endsWith('-al')).map((a) => a.id);
  const policies = new Map<Phase, Policy>();
  for (const phase of [1, 2, 3, 4] as const) {
    policies.set(
      phase,
      makePolicy({
        phase,
        extraActions: catalog,
        agents: { sentinel: { allowlist: ['silence-alert', ...allowlist] } },
      }),
    );
  }
  const params = { note: 'abc' };

  const rows: [Phase, Tier, boolean, (typeof KILLS)[number], boolean, (typeof AUTHS)[number]][] = [];
  for (const phase of [1, 2, 3, 4] as const)
    for (const tier of [0, 1, 2, 3] as const)
      for (const al of [false, true])
        for (const kill of KILLS)
          for (const lift of [false, true])
            for (const auth of AUTHS) rows.push([phase, tier, al, kill, lift, auth]);

  it('has every combination', () => {
    expect(rows).toHaveLength(4 * 4 * 2 * 4 * 2 * 3);
  });

  it.each(rows)(
    'phase %i, tier %i, allowlisted %s, kill %s, lift %s, auth %s',
    (phase, tier, al, kill, lift, auth) => {
      const policy = policies.get(phase) as Policy;
      const id = tableId(tier, lift, al);
      const state: DecisionState = makeState({
        killedAll: kill === 'all',
        killedAgents: new Set<AgentName>(
          kill === 'agent' ? ['sentinel'] : kill === 'other-agent' ? ['guardian'] : [],
        ),
        authorisation: auth === 'none' ? undefined : approval(policy, id, params, { kind: auth }),
      });
      const want = expected(phase, tier, al, kill, lift, auth);
      const d = decide(policy, state, prop('sentinel', id, params), NOW);
      expect(`${d.verdict}:${d.code}`).toBe(want.outcome);
      expect(d.tier).toBe(want.tier);
      if (kill !== 'all') expect(d.phase).toBe(phase);
      expect(d.reason.length).toBeGreaterThan(10);
      const needsHash = d.verdict === 'ask' || (d.verdict === 'execute' && want.tier === 3);
      if (needsHash) expect(d.bindingHash).toBe(bindingHash(action(policy, id), params));
      else expect(d.bindingHash).toBeUndefined();
    },
  );
});

// ---------------------------------------------------------------------------------------------

describe('decide: kill switches and agents', () => {
  const policy = makePolicy({ phase: 3 });

  it('names the killed agent, and a global kill', () => {
    const one = decide(
      policy,
      makeState({ killedAgents: new Set(['guardian']) }),
      prop('guardian', 'scan-config', { host: 'web' }),
      NOW,
    );
    expect(one).toMatchObject({
      verdict: 'deny',
      code: 'killed',
      reason: 'guardian is killed (kill switch)',
    });
    const all = decide(
      policy,
      makeState({ killedAll: true }),
      prop('guardian', 'scan-config', { host: 'web' }),
      NOW,
    );
    expect(all).toMatchObject({ verdict: 'deny', code: 'killed' });
    expect(all.reason).toContain('global kill switch');
  });

  it('a kill switch wins over a matching approval', () => {
    const params = { service: 'web' };
    const state = makeState({
      killedAgents: new Set(['sentinel']),
      authorisation: approval(policy, 'restart-service', params),
    });
    expect(decide(policy, state, prop('sentinel', 'restart-service', params), NOW).code).toBe('killed');
  });

  it('a global kill wins even over junk proposals', () => {
    expect(decide(policy, makeState({ killedAll: true }), null as unknown as Proposal, NOW).code).toBe(
      'killed',
    );
  });

  it('denies an agent disabled in the policy', () => {
    const p = makePolicy({ phase: 3, agents: { mentor: { enabled: false } } });
    const d = decide(p, makeState(), prop('mentor', 'draft-runbook', { topic: 'disk-full' }), NOW);
    expect(d).toMatchObject({ verdict: 'deny', code: 'agent-disabled' });
    expect(d.reason).toContain('agents.mentor.enabled');
  });

  it('denies an agent the policy does not know', () => {
    for (const agent of ['root', '', '__proto__', 'constructor', 42, null]) {
      const d = decide(
        policy,
        makeState(),
        { agent, actionId: 'collect-logs', params: {} } as unknown as Proposal,
        NOW,
      );
      expect(d.verdict).toBe('deny');
      expect(d.code).toBe('unknown-agent');
    }
  });
});

describe('decide: input that cannot be trusted to be read', () => {
  const policy = makePolicy({ phase: 3 });
  it('fails closed with invalid-input when the proposal throws on read', () => {
    const hostile = new Proxy(
      {},
      {
        get() {
          throw new Error('boom');
        },
      },
    ) as unknown as Proposal;
    const d = decide(policy, makeState(), hostile, NOW);
    expect(d).toMatchObject({ verdict: 'deny', code: 'invalid-input' });
    expect(d.reason).toContain('could not be read');
  });

  it('fails closed with invalid-input when the clock is not a time', () => {
    const d = decide(
      policy,
      makeState(),
      prop('sentinel', 'collect-logs', { service: 'web', lines: 1 }),
      Number.NaN,
    );
    expect(d).toMatchObject({ verdict: 'deny', code: 'invalid-input' });
  });
});

describe('decide: catalog and ownership', () => {
  const policy = makePolicy({ phase: 4 });

  it('denies an unknown action, echoing at most 40 characters of it', () => {
    const long = `x${'y'.repeat(500)}`;
    const d = decide(policy, makeState(), prop('sentinel', long), NOW);
    expect(d).toMatchObject({ verdict: 'deny', code: 'unknown-action', tier: null });
    expect(d.reason.length).toBeLessThan(120);
    for (const id of ['', 'toString', '__proto__', 'constructor', 7, null, undefined, {}, ['collect-logs']]) {
      const r = decide(
        policy,
        makeState(),
        { agent: 'sentinel', actionId: id, params: {} } as unknown as Proposal,
        NOW,
      );
      expect(r).toMatchObject({ verdict: 'deny', code: 'unknown-action' });
    }
  });

  it("denies another agent's action", () => {
    const d = decide(policy, makeState(), prop('guardian', 'restart-service', { service: 'web' }), NOW);
    expect(d).toMatchObject({ verdict: 'deny', code: 'not-owner', tier: 3 });
    expect(d.reason).toBe('restart-service belongs to sentinel, not guardian');
  });
});

// ---------------------------------------------------------------------------------------------

describe('checkParams', () => {
  const policy = makePolicy({
    extraActions: [
      {
        id: 'proto-params',
        agent: 'builder',
        description: 'params named like Object.prototype members',
        tier: 0,
        class: 'maintenance',
        target: 'ci',
        params: { constructor: { enum: ['a', 'b'] }, toJSON: { pattern: '[a-z]+', maxLength: 8 } },
        executor: { command: ['true'] },
      },
      {
        id: 'both-rules',
        agent: 'builder',
        description: 'a param with a pattern and an enum',
        tier: 0,
        class: 'maintenance',
        target: 'ci',
        params: { v: { pattern: '[a-z]+', enum: ['abc', 'ABC'] } },
        executor: { command: ['true'] },
      },
    ],
  });
  const logs = action(policy, 'collect-logs'); // service: pattern [a-z][a-z0-9-]{0,30}; lines: integer 1..10000
  const page = action(policy, 'page-oncall'); // severity: enum warning|critical
  const ok = { service: 'web', lines: 100 };

  const bad: [string, unknown, RegExp][] = [
    ['missing', { service: 'web' }, /missing param lines/],
    ['extra', { ...ok, force: true }, /unknown param "force"/],
    ['string for integer', { service: 'web', lines: '100' }, /param lines must be an integer, got "100"/],
    ['number for string', { service: 7, lines: 1 }, /param service must be a string, got 7/],
    ['float', { service: 'web', lines: 1.5 }, /param lines must be an integer/],
    ['NaN', { service: 'web', lines: Number.NaN }, /param lines must be an integer/],
    ['Infinity', { service: 'web', lines: Number.POSITIVE_INFINITY }, /param lines must be an integer/],
    ['unsafe integer', { service: 'web', lines: 2 ** 53 }, /param lines must be an integer/],
    ['bigint', { service: 'web', lines: 5n }, /param lines must be an integer/],
    ['below min', { service: 'web', lines: 0 }, /param lines must be >= 1, got 0/],
    ['above max', { service: 'web', lines: 10_001 }, /param lines must be <= 10000/],
    ['null value', { service: null, lines: 1 }, /param service must be a string, got null/],
    ['object value', { service: { toString: () => 'web' }, lines: 1 }, /param service must be a string/],
    ['array value', { service: ['web'], lines: 1 }, /param service must be a string, got an array/],
    [
      'too long',
      { service: `a${'b'.repeat(40)}`, lines: 1 },
      /param service is 41 characters long, at most 31/,
    ],
    ['pattern miss', { service: 'Web', lines: 1 }, /param service does not match its pattern, got "Web"/],
    ['pattern is anchored', { service: 'web; rm -rf /', lines: 1 }, /does not match its pattern/],
    ['shell metacharacters', { service: 'web$(id)', lines: 1 }, /does not match its pattern/],
    ['newline', { service: 'web\nx', lines: 1 }, /control or invalid character \(U\+000a\) at 3/],
    ['NUL', { service: 'web\u0000', lines: 1 }, /U\+0000/],
    ['escape', { service: '\u001b[31mweb', lines: 1 }, /U\+001b/],
    ['DEL', { service: 'web\u007f', lines: 1 }, /U\+007f/],
    ['C1', { service: 'web\u0085', lines: 1 }, /U\+0085/],
    ['bidi override', { service: 'web\u202e', lines: 1 }, /U\+202e/],
    ['line separator', { service: 'web\u2028', lines: 1 }, /U\+2028/],
    ['lone surrogate', { service: 'web\ud800', lines: 1 }, /U\+d800/],
    [
      '__proto__ key (JSON)',
      JSON.parse('{"service":"web","lines":1,"__proto__":{"x":1}}'),
      /unknown param "__proto__"/,
    ],
    ['constructor key', { ...ok, constructor: 'x' }, /unknown param "constructor"/],
    [
      'non-enumerable declared param',
      Object.defineProperty({ lines: 1 }, 'service', { value: 'web', enumerable: false }),
      /param service must be a plain value/,
    ],
    ['null', null, /params must be an object, got null/],
    ['undefined', undefined, /params must be an object, got undefined/],
    ['string', 'service=web', /params must be an object, got "service=web"/],
    ['number', 3, /params must be an object, got 3/],
    ['array', ['web', 1], /params must be an object, got an array/],
    ['empty array', [], /got an array/],
    ['Map', new Map(Object.entries(ok)), /plain object/],
    ['Date', new Date(), /plain object/],
    ['inherited values', Object.assign(Object.create({ service: 'web' }), { lines: 1 }), /plain object/],
    ['proxy', new Proxy({ ...ok }, {}), /proxy/],
    [
      'getter',
      Object.defineProperty({ lines: 1 }, 'service', { get: () => 'web', enumerable: true }),
      /param service must be a plain value, not a getter/,
    ],
  ];

  it.each(bad)('rejects %s', (_name, params, why) => {
    expect(checkParams(logs, params)).toMatch(why);
    const d = decide(makePolicy({ phase: 4 }), makeState(), prop('sentinel', 'collect-logs', params), NOW);
    expect(d).toMatchObject({ verdict: 'deny', code: 'bad-params' });
  });

  it('ignores symbol keys, which JSON cannot carry and nothing downstream reads', () => {
    expect(checkParams(logs, { ...ok, [Symbol('s')]: 1 })).toBeNull();
  });

  it('accepts valid params, including a null-prototype object', () => {
    expect(checkParams(logs, ok)).toBeNull();
    expect(checkParams(logs, Object.assign(Object.create(null), ok))).toBeNull();
    expect(checkParams(logs, JSON.parse('{"lines":10000,"service":"a"}'))).toBeNull();
  });

  it('enum: members only, and the message lists what is allowed', () => {
    expect(checkParams(page, { severity: 'critical' })).toBeNull();
    expect(checkParams(page, { severity: 'CRITICAL' })).toMatch(
      /param severity must be one of warning, critical; got "CRITICAL"/,
    );
    expect(checkParams(page, { severity: 'toString' })).toMatch(/must be one of/);
  });

  it('a param with both a pattern and an enum must satisfy both', () => {
    const both = action(policy, 'both-rules');
    expect(checkParams(both, { v: 'abc' })).toBeNull();
    expect(checkParams(both, { v: 'ABC' })).toMatch(/pattern/);
    expect(checkParams(both, { v: 'xyz' })).toMatch(/one of/);
  });

  it('never echoes more than 40 characters of a bad value', () => {
    const why = checkParams(logs, { service: `A${'x'.repeat(25)}`, lines: 1 }) as string;
    expect(why).toContain('"Axxxxxxxxxxxxxxxxxxxxxxxxx"');
    const long = checkParams(page, { severity: `${'z'.repeat(100)}` }) as string;
    expect(long).toContain(`"${'z'.repeat(40)}…"`);
    expect(long).not.toContain('z'.repeat(41));
  });

  it('params named constructor and toJSON are never taken from the prototype', () => {
    const a = action(policy, 'proto-params');
    expect(checkParams(a, {})).toMatch(/missing param constructor/);
    expect(checkParams(a, { constructor: 'a' })).toMatch(/missing param toJSON/);
    expect(checkParams(a, { constructor: 'a', toJSON: 'x' })).toBeNull();
    // canonical key order whatever order the object was built in
    expect(bindingHash(a, { constructor: 'a', toJSON: 'x' })).toBe(
      bindingHash(a, { toJSON: 'x', constructor: 'a' }),
    );
  });

  it('an action without params takes exactly {}', () => {
    const a = action(policy, 'file-advisory');
    expect(checkParams(a, {})).toBeNull();
    expect(checkParams(a, { x: 1 })).toMatch(/unknown param "x"/);
  });
});

describe('targetSystem and bindingHash', () => {
  const policy = makePolicy();

  it('takes a fixed target or the target param', () => {
    expect(targetSystem(action(policy, 'page-oncall'), { severity: 'warning' })).toBe('pagerduty');
    expect(targetSystem(action(policy, 'restart-service'), { service: 'api' })).toBe('api');
  });

  it('is SHA-256 of the RFC 8785 canonical JSON of {entryHash, params}', () => {
    const a = action(policy, 'scale-service');
    const params = { service: 'web', replicas: 3 };
    expect(bindingHash(a, params)).toBe(sha256(canonicalize({ entryHash: a.entryHash, params })));
    expect(bindingHash(a, { replicas: 3, service: 'web' })).toBe(bindingHash(a, params));
    expect(bindingHash(a, { service: 'web', replicas: 4 })).not.toBe(bindingHash(a, params));
  });
});

// ---------------------------------------------------------------------------------------------

describe('decide: scope', () => {
  // in scope: web, api, worker, ci, wiki, pagerduty, alertmanager, staging-*, github, db-*
  // out of scope: payments, db-prod-*
  const outAction = (id: string, target: string): ActionInput => ({
    id,
    agent: 'sentinel',
    description: `targets ${target}`,
    tier: 0,
    class: 'evidence',
    target,
    params: {},
    executor: { command: ['true'] },
  });
  const policy = makePolicy({
    phase: 3,
    extraActions: [outAction('poke-payments', 'payments'), outAction('poke-mainframe', 'mainframe')],
  });
  const logs = (service: string) =>
    decide(policy, makeState(), prop('sentinel', 'collect-logs', { service, lines: 5 }), NOW);

  it('denies a fixed target listed as out of scope, or not listed in scope', () => {
    const d = decide(policy, makeState(), prop('sentinel', 'poke-payments'), NOW);
    expect(d).toMatchObject({ verdict: 'deny', code: 'out-of-scope' });
    expect(d.reason).toContain('payments is listed as out of scope');
    expect(decide(policy, makeState(), prop('sentinel', 'poke-mainframe'), NOW).code).toBe('out-of-scope');
  });

  it('checks a target taken from a param', () => {
    expect(logs('web').verdict).toBe('execute');
    expect(logs('staging-web').verdict).toBe('execute');
    expect(logs('db-replica').verdict).toBe('execute');
    expect(logs('payments')).toMatchObject({ verdict: 'deny', code: 'out-of-scope' });
    expect(logs('intranet')).toMatchObject({ verdict: 'deny', code: 'out-of-scope' });
  });

  it('an out-of-scope glob beats an in-scope glob', () => {
    const d = logs('db-prod-1'); // in db-*, and in db-prod-*
    expect(d).toMatchObject({ verdict: 'deny', code: 'out-of-scope' });
    expect(d.reason).toContain('db-prod-*');
  });

  it('params are checked before scope', () => {
    expect(logs('PAYMENTS').code).toBe('bad-params');
  });
});

// ---------------------------------------------------------------------------------------------

describe("decide: only the classes an agent's section lists (agents.*.autonomous / requiresApproval)", () => {
  // sentinel lists evidence and service-affecting, but not alerting: page-oncall (tier 1) and
  // silence-alert (tier 2, allowlisted) are alerting.
  const noAlerting = (phase: Phase) =>
    makePolicy({ phase, agents: { sentinel: { autonomous: ['evidence'] } } });
  const silence = prop('sentinel', 'silence-alert', { alert: 'DiskFull' });

  it('denies an action whose class the agent lists in neither, in every phase, saying which lists', () => {
    for (const phase of [1, 2, 3, 4] as const) {
      const d = decide(noAlerting(phase), makeState(), silence, NOW);
      expect(d).toMatchObject({ verdict: 'deny', code: 'class-not-allowed', tier: 2, phase });
      expect(d.reason).toBe(
        'silence-alert: class alerting is neither autonomous nor requires approval for sentinel ' +
          '(agents.sentinel.autonomous / requiresApproval), so sentinel may not act in it',
      );
      const page = decide(
        noAlerting(phase),
        makeState(),
        prop('sentinel', 'page-oncall', { severity: 'critical' }),
        NOW,
      );
      expect(page.code).toBe('class-not-allowed');
    }
    // The same proposal under the full lists runs (allowlisted tier 2 in phase 3).
    expect(decide(makePolicy({ phase: 3 }), makeState(), silence, NOW).verdict).toBe('execute');
  });

  it('a tier 0 action of an unlisted class does not run either, though tier 0 runs in every phase', () => {
    const policy = makePolicy({ phase: 1, agents: { sentinel: { autonomous: ['alerting'] } } });
    const d = decide(
      policy,
      makeState(),
      prop('sentinel', 'collect-logs', { service: 'web', lines: 5 }),
      NOW,
    );
    expect(d).toMatchObject({ verdict: 'deny', code: 'class-not-allowed', tier: 0 });
  });

  it('an approval on file does not make an unlisted class run', () => {
    const listed = makePolicy({ phase: 3 });
    const auth = approval(listed, 'restart-service', { service: 'web' });
    const restart = prop('sentinel', 'restart-service', { service: 'web' });
    expect(decide(listed, makeState({ authorisation: auth }), restart, NOW).code).toBe('approved');
    const unlisted = makePolicy({ phase: 3, agents: { sentinel: { requiresApproval: [] } } });
    const d = decide(unlisted, makeState({ authorisation: auth }), restart, NOW);
    expect(d).toMatchObject({ verdict: 'deny', code: 'class-not-allowed' });
  });

  it('comes after the kill switch, ownership, params and scope (DESIGN order), before the phase', () => {
    const policy = noAlerting(3);
    expect(decide(policy, makeState({ killedAgents: new Set(['sentinel']) }), silence, NOW).code).toBe(
      'killed',
    );
    expect(
      decide(policy, makeState(), prop('guardian', 'silence-alert', { alert: 'DiskFull' }), NOW).code,
    ).toBe('not-owner');
    expect(
      decide(policy, makeState(), prop('sentinel', 'silence-alert', { alert: 'rm -rf' }), NOW).code,
    ).toBe('bad-params');
  });
});

// ---------------------------------------------------------------------------------------------

describe('decide: approvals and grants are bound to the action entry and the params', () => {
  const params = { service: 'web' };
  const restart = (p: Policy, s: DecisionState, ps: unknown = params) =>
    decide(p, s, prop('sentinel', 'restart-service', ps), NOW);
  const policy = makePolicy({ phase: 3 });

  it('asks, with the binding hash, when there is nothing on file', () => {
    const d = restart(policy, makeState());
    expect(d).toMatchObject({ verdict: 'ask', code: 'needs-approval', tier: 3, phase: 3 });
    expect(d.bindingHash).toBe(bindingHash(action(policy, 'restart-service'), params));
    expect(d.reason).toContain('class service-affecting requires approval for sentinel');
    expect(d.reason).toContain('phase 3 (auto low-risk) asks a human');
  });

  it('executes with a matching, unexpired approval, and says who approved', () => {
    const d = restart(policy, makeState({ authorisation: approval(policy, 'restart-service', params) }));
    expect(d).toMatchObject({ verdict: 'execute', code: 'approved', tier: 3 });
    expect(d.reason).toContain('slack:user:U0APPROVER');
    expect(d.bindingHash).toBe(bindingHash(action(policy, 'restart-service'), params));
  });

  it('an approval for other params does not count', () => {
    const auth = approval(policy, 'restart-service', { service: 'api' });
    const d = restart(policy, makeState({ authorisation: auth }));
    expect(d).toMatchObject({ verdict: 'ask', code: 'needs-approval' });
    expect(d.reason).toContain('other params');
  });

  it('an approval for another action does not count', () => {
    const auth = approval(policy, 'scale-service', { service: 'web', replicas: 2 });
    expect(restart(policy, makeState({ authorisation: auth })).code).toBe('needs-approval');
    // nor does one for another action with the very same params
    const rot = makePolicy({ phase: 3 });
    const other = approval(rot, 'rotate-credentials', params);
    expect(
      decide(rot, makeState({ authorisation: other }), prop('sentinel', 'restart-service', params), NOW).code,
    ).toBe('needs-approval');
  });

  it('an expired approval does not count (expiresAt must be after now)', () => {
    for (const expiresAt of [NOW, NOW - 1, NOW - HOUR]) {
      const d = restart(
        policy,
        makeState({ authorisation: approval(policy, 'restart-service', params, { expiresAt }) }),
      );
      expect(d).toMatchObject({ verdict: 'ask', code: 'needs-approval' });
      expect(d.reason).toContain('expired');
    }
    const justInTime = approval(policy, 'restart-service', params, { expiresAt: NOW + 1 });
    expect(restart(policy, makeState({ authorisation: justInTime })).code).toBe('approved');
  });

  it('changing the action in the policy voids the approval: ask again', () => {
    const auth = approval(policy, 'restart-service', params);
    const edit = (f: (a: ActionInput) => void) =>
      makePolicy({
        phase: 3,
        edit: (doc) => {
          for (const a of doc.actions ?? []) if (a.id === 'restart-service') f(a);
        },
      });
    for (const changed of [
      edit((a) => {
        a.executor = { command: ['systemctl', 'restart', '--no-block', '{service}'] };
      }),
      edit((a) => {
        a.params = { service: { pattern: '[a-z]+', maxLength: 31 } };
      }),
      edit((a) => {
        a.cooldown = '1m';
      }),
      // a description is part of the entry as written, so it voids too (by design)
      edit((a) => {
        a.description = 'Restart a systemd service (reworded)';
      }),
    ]) {
      expect(restart(changed, makeState({ authorisation: auth }))).toMatchObject({
        verdict: 'ask',
        code: 'needs-approval',
      });
    }
  });

  it('dropping a class lift from an action that is tier 3 anyway voids nothing (same entry, same tier)', () => {
    const params = { service: 'web', replicas: 2 };
    const auth = approval(policy, 'scale-service', params);
    // service-affecting moves from requiresApproval to autonomous: no lift, and still a listed class.
    const unlifted = makePolicy({
      phase: 3,
      agents: {
        sentinel: { autonomous: ['evidence', 'alerting', 'service-affecting'], requiresApproval: [] },
      },
    });
    expect(action(unlifted, 'scale-service').entryHash).toBe(action(policy, 'scale-service').entryHash);
    const d = decide(
      unlifted,
      makeState({ authorisation: auth }),
      prop('sentinel', 'scale-service', params),
      NOW,
    );
    expect(d.code).toBe('approved');
  });

  it('changing another action, the phase, or the file around it voids nothing', () => {
    const auth = approval(policy, 'restart-service', params);
    const changed = makePolicy({
      phase: 4,
      agentPhases: { guardian: 2 },
      edit: (doc) => {
        for (const a of doc.actions ?? []) if (a.id === 'scale-service') a.description = 'changed';
        doc.purpose.outcomes.push('another outcome');
        doc.control.approvalTimeout = '1h';
      },
      extraActions: [
        {
          id: 'new-action',
          agent: 'sentinel',
          description: 'added later',
          tier: 0,
          class: 'evidence',
          target: 'web',
          executor: { command: ['true'] },
        },
      ],
    });
    expect(changed.hash).not.toBe(policy.hash);
    expect(restart(changed, makeState({ authorisation: auth }))).toMatchObject({
      verdict: 'execute',
      code: 'approved',
    });
    // the same document loaded from other bytes (comments, key order): same binding
    const same = compileDoc(makePolicyDoc({ phase: 3 }), 'elsewhere.yaml');
    expect(restart(same, makeState({ authorisation: auth })).code).toBe('approved');
  });

  it('a grant counts in phase 4 only; an approval counts in 3 and 4', () => {
    const grant = approval(policy, 'restart-service', params, { kind: 'grant', id: 'grant-1' });
    const p3 = restart(policy, makeState({ authorisation: grant }));
    expect(p3).toMatchObject({ verdict: 'ask', code: 'needs-approval' });
    expect(p3.reason).toContain('only in phase 4');
    const p4 = makePolicy({ phase: 4 });
    expect(restart(p4, makeState({ authorisation: grant }))).toMatchObject({
      verdict: 'execute',
      code: 'granted',
    });
    expect(restart(p4, makeState({ authorisation: approval(p4, 'restart-service', params) })).code).toBe(
      'approved',
    );
  });

  it('an approval does not lift phase 1 or 2', () => {
    const auth = approval(policy, 'restart-service', params);
    expect(restart(makePolicy({ phase: 1 }), makeState({ authorisation: auth })).verdict).toBe('observe');
    expect(restart(makePolicy({ phase: 2 }), makeState({ authorisation: auth })).verdict).toBe('suggest');
  });
});

// ---------------------------------------------------------------------------------------------

describe('decide: effective phase', () => {
  // silence-alert: tier 2, on sentinel's allowlist: observe in 1, suggest in 2, execute in 3 and 4.
  const VERDICT: Record<Phase, string> = { 1: 'observe', 2: 'suggest', 3: 'execute', 4: 'execute' };
  const run = (p: Policy, s: DecisionState) =>
    decide(p, s, prop('sentinel', 'silence-alert', { alert: 'Flap' }), NOW);

  const cases: [string, Phase, Phase | undefined, Phase | null, Phase | undefined, Phase][] = [
    // name, file global, file per-agent, runtime global, runtime per-agent, expected
    ['file global only', 3, undefined, null, undefined, 3],
    ['file per-agent beats file global', 3, 1, null, undefined, 1],
    ['runtime global beats file per-agent', 1, 3, 2, undefined, 2],
    ['runtime global beats file global', 1, undefined, 4, undefined, 4],
    ['runtime per-agent beats runtime global', 1, 1, 1, 3, 3],
    ['runtime per-agent beats everything, downwards too', 4, 4, 4, 1, 1],
  ];

  it.each(cases)('%s', (_name, fileGlobal, filePerAgent, runtimeGlobal, runtimePerAgent, want) => {
    const policy = makePolicy({
      phase: fileGlobal,
      agentPhases: filePerAgent === undefined ? {} : { sentinel: filePerAgent },
    });
    const state = makeState({
      phaseOverride: runtimeGlobal,
      agentPhaseOverrides: new Map(runtimePerAgent === undefined ? [] : [['sentinel', runtimePerAgent]]),
    });
    const d = run(policy, state);
    expect(d.phase).toBe(want);
    expect(d.verdict).toBe(VERDICT[want]);
  });

  it("another agent's overrides do not apply", () => {
    const policy = makePolicy({ phase: 3, agentPhases: { guardian: 1 } });
    const state = makeState({ agentPhaseOverrides: new Map([['guardian', 1]]) });
    expect(run(policy, state).phase).toBe(3);
  });

  it('a corrupt override counts as phase 1', () => {
    const state = makeState({ phaseOverride: 9 as Phase });
    expect(run(makePolicy({ phase: 3 }), state)).toMatchObject({ phase: 1, verdict: 'observe' });
  });
});

// ---------------------------------------------------------------------------------------------

describe('decide: cooldown and daily cap', () => {
  const policy = makePolicy({ phase: 3 });
  const dayEndsAt = Date.parse('2025-06-03T00:00:00Z');
  const silence = (s: DecisionState, p: Policy = policy) =>
    decide(p, s, prop('sentinel', 'silence-alert', { alert: 'Flap' }), NOW); // cooldown 15m, cap 5
  const usage = (lastRunAt: number | null, countToday: number) => ({
    usage: { lastRunAt, countToday, dayEndsAt },
  });

  it('denies inside the cooldown, with the time it frees up', () => {
    const d = silence(makeState(usage(NOW - 5 * MIN, 1)));
    expect(d).toMatchObject({
      verdict: 'deny',
      code: 'cooldown',
      retryAt: NOW + 10 * MIN,
      tier: 2,
      phase: 3,
    });
    expect(d.reason).toContain('15m');
    expect(d.reason).toContain(new Date(NOW + 10 * MIN).toISOString());
  });

  it('runs again once the cooldown has passed', () => {
    expect(silence(makeState(usage(NOW - 15 * MIN, 1))).verdict).toBe('execute');
    expect(silence(makeState(usage(null, 0))).verdict).toBe('execute');
  });

  it('denies at the daily cap until the day ends', () => {
    expect(silence(makeState(usage(NOW - HOUR, 4))).verdict).toBe('execute');
    const d = silence(makeState(usage(NOW - HOUR, 5)));
    expect(d).toMatchObject({ verdict: 'deny', code: 'daily-cap', retryAt: dayEndsAt });
    expect(d.reason).toContain('daily cap of 5');
  });

  it('when both apply, reports the later of the two', () => {
    expect(silence(makeState(usage(NOW - MIN, 5)))).toMatchObject({ code: 'daily-cap', retryAt: dayEndsAt });
    const late = { usage: { lastRunAt: NOW - MIN, countToday: 5, dayEndsAt: NOW + MIN } };
    expect(silence(makeState(late))).toMatchObject({ code: 'cooldown', retryAt: NOW + 14 * MIN });
  });

  it('applies to asks: no approval request while the action cools down', () => {
    const d = decide(
      policy,
      makeState(usage(NOW - MIN, 0)),
      prop('sentinel', 'restart-service', { service: 'web' }),
      NOW,
    ); // cooldown 10m
    expect(d).toMatchObject({ verdict: 'deny', code: 'cooldown', retryAt: NOW + 9 * MIN, tier: 3 });
  });

  it('applies to approved executions and tier 0', () => {
    const params = { service: 'web' };
    const s = makeState({
      ...usage(NOW - MIN, 0),
      authorisation: approval(policy, 'restart-service', params),
    });
    expect(decide(policy, s, prop('sentinel', 'restart-service', params), NOW).code).toBe('cooldown');
    const rerun = decide(
      policy,
      makeState(usage(null, 10)),
      prop('validator', 'rerun-ci-job', { jobId: 7 }),
      NOW,
    );
    expect(rerun.code).toBe('daily-cap');
  });

  it('does not apply to observe or suggest', () => {
    expect(silence(makeState(usage(NOW - MIN, 99)), makePolicy({ phase: 1 })).verdict).toBe('observe');
    expect(silence(makeState(usage(NOW - MIN, 99)), makePolicy({ phase: 2 })).verdict).toBe('suggest');
  });
});

// ---------------------------------------------------------------------------------------------

describe('decide: untrusted proposals', () => {
  const policy = makePolicy({ phase: 3 });

  it('ignores smuggled fields', () => {
    const base = prop('sentinel', 'restart-service', { service: 'web' });
    const smuggled = {
      ...base,
      tier: 0,
      effectiveTier: 0,
      approved: true,
      phase: 4,
      verdict: 'execute',
      authorisation: approval(policy, 'restart-service', { service: 'web' }),
      bindingHash: 'x',
    } as unknown as Proposal;
    expect(decide(policy, makeState(), smuggled, NOW)).toEqual(decide(policy, makeState(), base, NOW));
  });

  it('never throws, whatever it is handed', () => {
    const hostile = new Proxy(
      {},
      {
        get() {
          throw new Error('boom');
        },
      },
    );
    const junk: unknown[] = [
      null,
      undefined,
      0,
      'x',
      [],
      {},
      hostile,
      { agent: 'sentinel' },
      Object.create(null),
    ];
    for (const j of junk) {
      const d = decide(policy, makeState(), j as Proposal, NOW);
      expect(d.verdict).toBe('deny');
    }
    const broken = { killedAll: false } as unknown as DecisionState;
    expect(
      decide(policy, broken, prop('sentinel', 'collect-logs', { service: 'web', lines: 1 }), NOW),
    ).toMatchObject({
      verdict: 'deny',
    });
    expect(
      decide(policy, makeState(), prop('sentinel', 'collect-logs', { service: 'web', lines: 1 }), Number.NaN)
        .verdict,
    ).toBe('deny');
  });

  it('does not mutate its inputs', () => {
    const params = Object.freeze({ service: 'web' });
    const p = Object.freeze(prop('sentinel', 'restart-service', params));
    const s = Object.freeze(
      makeState({ authorisation: Object.freeze(approval(policy, 'restart-service', params)) }),
    );
    expect(decide(policy, s, p, NOW).code).toBe('approved');
  });
});

describe('the fixture', () => {
  it('covers every tier, a class lift per agent and allowlists', () => {
    const p = makePolicy();
    const tiers = new Set([...p.actions.values()].map((a) => a.tier));
    expect([...tiers].sort()).toEqual([0, 1, 2, 3]);
    const lifted = [...p.actions.values()].filter((a) => a.effectiveTier > a.tier).map((a) => a.agent);
    expect(new Set(lifted).size).toBeGreaterThanOrEqual(4);
    expect(p.allowlist.get('sentinel')?.has('silence-alert')).toBe(true);
    expect(defaultActions().length).toBe(p.actions.size);
  });
});
