/**
 * The policy file as code: the shipped policies load and compile, and every kind of bad input is
 * reported as `FILE:LINE:COL  path  message` at the right place, all at once, sorted by line.
 * Bad inputs are the default policy with exactly one thing changed (via the yaml Document API).
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Document, parseDocument } from 'yaml';
import { formatIssue, PolicyError, type PolicyIssue } from '../../src/policy/errors.js';
import { type LoadResult, loadPolicyFile, parsePolicy } from '../../src/policy/load.js';
import { summarizePolicy } from '../../src/policy/summary.js';

const DEFAULT = 'policies/default.policy.yaml';
const PRODUCTION = 'policies/examples/production.policy.yaml';
const FILE = 'p.yaml';
let defaultText = '';

beforeAll(async () => {
  defaultText = await readFile(DEFAULT, 'utf8');
});

/** The default policy with one edit made through the yaml Document API (comments kept). */
function edit(change: (doc: Document) => void): string {
  const doc = parseDocument(defaultText);
  change(doc);
  return String(doc);
}

function issuesOf(text: string): PolicyIssue[] {
  const result = parsePolicy(text, FILE);
  if (result.ok) throw new Error('expected the policy to be rejected');
  return [...result.issues];
}

/** The one issue a single edit causes. */
function onlyIssue(text: string): PolicyIssue {
  const issues = issuesOf(text);
  expect(issues.map(formatIssue)).toHaveLength(1);
  return issues[0] as PolicyIssue;
}

/** 1-based line and column of the first occurrence of `needle` at or after line `after`. */
function where(text: string, needle: string, after = 1): { line: number; col: number } {
  const lines = text.split('\n');
  for (let i = after - 1; i < lines.length; i++) {
    const col = (lines[i] as string).indexOf(needle);
    if (col !== -1) return { line: i + 1, col: col + 1 };
  }
  throw new Error(`not found: ${needle}`);
}

/** `p.yaml:LINE:COL` of `needle`, moved `skip` characters (past a `key: `, or -1 back to a quote). */
function at(text: string, needle: string, skip = 0): string {
  const { line, col } = where(text, needle);
  return `${FILE}:${line}:${col + skip}`;
}

const SCOPED_ACTION = {
  id: 'flush-db',
  agent: 'builder',
  description: 'Flush a database',
  tier: 2,
  class: 'maintenance',
  target: 'payments-db',
  executor: { command: ['true'] },
};

describe('the shipped policies', () => {
  it('loads and compiles the default policy: phase 1, five agents, approvers, a small catalog', async () => {
    const result = await loadPolicyFile(DEFAULT);
    if (!result.ok) throw new Error(result.issues.map(formatIssue).join('\n'));
    const { policy } = result;
    expect(policy.source).toBe(DEFAULT);
    expect(policy.hash).toBe(
      createHash('sha256')
        .update(await readFile(DEFAULT))
        .digest('hex'),
    );
    expect(policy.phase).toBe(1);
    expect(policy.enabledAgents.size).toBe(5);
    expect(policy.doc.control.roles.approvers).toContain('console:user:local');
    expect(policy.doc.agents.sentinel.autonomous).toEqual(['evidence', 'alerting']);
    expect(policy.doc.agents.sentinel.requiresApproval).toEqual(['service-affecting']);
    expect(policy.doc.triggers.events).toHaveLength(7);
    expect(policy.actions.get('collect-evidence')?.effectiveTier).toBe(0);
    expect(policy.actions.get('run-smoke-tests')?.effectiveTier).toBe(2);
    expect(policy.actions.get('restart-service')?.effectiveTier).toBe(3);
    expect(defaultText.startsWith('# yaml-language-server: $schema=./policy.schema.json\n')).toBe(true);
  });

  it('loads the production example: phase 3 with overrides, a dozen actions across all agents', async () => {
    const result = await loadPolicyFile(PRODUCTION);
    if (!result.ok) throw new Error(result.issues.map(formatIssue).join('\n'));
    const { policy } = result;
    expect(policy.phase).toBe(3);
    expect(policy.agentPhase.size).toBeGreaterThan(0);
    expect(policy.actions.size).toBeGreaterThanOrEqual(12);
    expect(new Set([...policy.actions.values()].map((a) => a.agent)).size).toBe(5);
    const tier3 = [...policy.actions.values()].filter((a) => a.effectiveTier === 3).map((a) => a.id);
    expect(tier3).toEqual(
      expect.arrayContaining(['restart-service', 'release-override', 'publish-policy-change']),
    );
    for (const ids of policy.allowlist.values()) {
      for (const id of ids) expect(policy.actions.get(id)?.effectiveTier).toBe(2);
    }
  });

  it('summarizes a valid policy for `autonomy policy check`', async () => {
    const result = await loadPolicyFile(PRODUCTION);
    if (!result.ok) throw new Error('production example should load');
    const summary = summarizePolicy(result.policy);
    expect(summary).toContain(`${PRODUCTION}: valid`);
    expect(summary).toContain(result.policy.hash.slice(0, 12));
    expect(summary).toMatch(
      /phase\s+3 auto low-risk \(overrides: guardian 2 suggest-only; mentor 2 suggest-only\)/,
    );
    expect(summary).toMatch(/actions\s+13 \(tier 0: 3, tier 1: 0, tier 2: 6, tier 3: 4\)/);
    expect(summary).toContain('validator: run-smoke-tests, rerun-ci-job');
    expect(summary).toMatch(/approvers\s+3 /);
    expect(summary).toMatch(/in scope\s+web, api/);
  });

  it('hashes the same text the same way from a string and from the file', async () => {
    const fromText = parsePolicy(defaultText, DEFAULT);
    const fromFile = await loadPolicyFile(DEFAULT);
    expect(fromText.ok && fromFile.ok && fromText.policy.hash === fromFile.policy.hash).toBe(true);
  });
});

describe('files that are not a policy at all', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'autonomy-policy-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reports an unreadable file as one issue at 1:1 with the OS error', async () => {
    const path = join(dir, 'missing.yaml');
    const result: LoadResult = await loadPolicyFile(path);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues).toHaveLength(1);
    expect(formatIssue(result.issues[0] as PolicyIssue)).toMatch(
      new RegExp(`^${path}:1:1  \\(root\\)  cannot read the policy file: ENOENT`),
    );
  });

  it('reports YAML syntax errors with their line and column', () => {
    const issues = issuesOf('version: 1\npurpose: [web, api\nagents:\n\tsentinel: {}\n');
    expect(issues.length).toBeGreaterThan(0);
    for (const i of issues) expect(i.message).toMatch(/^not valid YAML: /);
    expect(issues.some((i) => i.line >= 2)).toBe(true);
  });

  it('reports an alias with no anchor where it is used', () => {
    expect(issuesOf('version: 1\npurpose: *base\n').map(formatIssue)).toEqual([
      `${FILE}:2:10  purpose  *base has no anchor; define &base above it`,
    ]);
  });

  it('reports a file that is YAML but not a mapping', () => {
    expect(formatIssue(onlyIssue('just some text\n'))).toBe(
      `${FILE}:1:1  (root)  expected a mapping (key: value lines), got "just some text"`,
    );
  });

  it('reports an empty file', async () => {
    const path = join(dir, 'empty.yaml');
    await writeFile(path, '');
    const result = await loadPolicyFile(path);
    expect(result.ok ? [] : result.issues.map(formatIssue)).toEqual([
      `${path}:1:1  (root)  the file is empty; start from policies/default.policy.yaml`,
    ]);
  });
});

describe('one problem, reported where it is', () => {
  it('duplicate key: points at the second one', () => {
    const text = defaultText.replace(
      '  perAgentConcurrency: 1',
      '  perAgentConcurrency: 1\n  maxConcurrentLocal: 3',
    );
    const issue = onlyIssue(text);
    expect(formatIssue(issue)).toBe(
      `${at(text, 'maxConcurrentLocal: 3')}  models.maxConcurrentLocal  maxConcurrentLocal is already set above in this mapping; keep one of the two`,
    );
  });

  it('a context too small for the reply cap: points at the model that has it', () => {
    const text = edit((d) => d.setIn(['models', 'local', 'contextTokens'], 1024));
    expect(formatIssue(onlyIssue(text))).toBe(
      `${at(text, '1024')}  models.local.contextTokens  llama3.2:3b has 1024 context tokens, too few for replies of up to 1024 (maxOutputTokens) and a prompt; raise contextTokens or lower maxOutputTokens`,
    );
  });

  it('unknown key: names it, points at the key and suggests the closest one', () => {
    const text = edit((d) => d.setIn(['research', 'citation'], true));
    expect(formatIssue(onlyIssue(text))).toBe(
      `${at(text, 'citation: true')}  research.citation  unknown key citation; did you mean citations?`,
    );
  });

  it('unknown key with no close match lists the allowed ones', () => {
    const text = edit((d) => d.setIn(['triggers', 'errorSignatures', 'colour'], 'blue'));
    expect(formatIssue(onlyIssue(text))).toBe(
      `${at(text, 'colour: blue')}  triggers.errorSignatures.colour  unknown key colour; allowed here: threshold, window, cooldown`,
    );
  });

  it('wrong type', () => {
    const text = edit((d) => d.setIn(['models', 'maxConcurrentLocal'], 'two'));
    expect(formatIssue(onlyIssue(text))).toBe(
      `${at(text, 'two')}  models.maxConcurrentLocal  expected a number, got "two"`,
    );
  });

  it('value outside an enum of literals', () => {
    const text = edit((d) => d.setIn(['actions', 0, 'tier'], 5));
    expect(formatIssue(onlyIssue(text))).toBe(
      `${at(text, 'tier: 5', 'tier: '.length)}  actions[0].tier  expected one of 0, 1, 2, 3, got 5`,
    );
  });

  it('missing required section', () => {
    const text = edit((d) => d.delete('learning'));
    expect(formatIssue(onlyIssue(text))).toBe(
      `${FILE}:1:1  learning  missing section learning; add it (see policies/default.policy.yaml)`,
    );
  });

  it('missing required key: points at its parent', () => {
    const text = edit((d) => d.deleteIn(['triggers', 'sweeps', 'deep']));
    expect(formatIssue(onlyIssue(text))).toBe(
      `${at(text, 'sweeps:')}  triggers.sweeps.deep  missing key deep; add it (deep checks, every N hours)`,
    );
  });

  it('bad duration', () => {
    const text = edit((d) => d.setIn(['control', 'approvalTimeout'], '30 minutes'));
    expect(formatIssue(onlyIssue(text))).toBe(
      `${at(text, '30 minutes')}  control.approvalTimeout  "30 minutes" is not a duration like 30s, 15m, 6h or 14d`,
    );
  });

  it('bad cron expression', () => {
    const text = edit((d) => d.setIn(['triggers', 'sweeps', 'light'], '*/5 * * *'));
    expect(formatIssue(onlyIssue(text))).toBe(
      `${at(text, '*/5 * * *', -1)}  triggers.sweeps.light  not a cron expression (expected 5 or 6 fields but got 4); write minute hour day month weekday, e.g. "*/5 * * * *"`,
    );
  });

  it('cron field out of range', () => {
    const text = edit((d) => d.setIn(['metrics', 'digest', 'schedule'], '0 25 * * 1'));
    expect(onlyIssue(text).message).toMatch(/^not a cron expression \(25 is not a valid hour\)/);
  });

  it('bad time zone', () => {
    const text = edit((d) => d.setIn(['metrics', 'digest', 'timezone'], 'Mars/Olympus'));
    expect(formatIssue(onlyIssue(text))).toBe(
      `${at(text, 'Mars/Olympus')}  metrics.digest.timezone  Mars/Olympus is not a time zone; write an IANA name like UTC or Europe/Berlin`,
    );
  });

  it('duplicate action id', () => {
    const text = edit((d) => {
      const copy = (d.getIn(['actions', 0]) as { toJSON(): unknown }).toJSON();
      d.addIn(['actions'], copy);
    });
    const issue = onlyIssue(text);
    expect(issue.path).toBe('actions[5].id');
    expect(issue.message).toBe('action id collect-evidence is already used by actions[0]; rename one');
    expect(issue.line).toBe(
      where(text, 'id: collect-evidence', where(text, 'id: restart-service').line).line,
    );
  });

  it('allowlisted tier 3 action', () => {
    const text = edit((d) => d.setIn(['agents', 'sentinel', 'allowlist'], ['restart-service']));
    expect(formatIssue(onlyIssue(text))).toBe(
      `${at(text, 'restart-service')}  agents.sentinel.allowlist[0]  restart-service is tier 3 and always needs an approval; only tier 2 actions can be allowlisted`,
    );
  });

  it('an action whose class its agent lists in neither list loads, with a warning at its class', () => {
    const text = edit((d) => d.setIn(['agents', 'sentinel', 'requiresApproval'], []));
    const result = parsePolicy(text, FILE);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.warnings.map(formatIssue)).toEqual([
      `${at(text, 'class: service-affecting', 7)}  actions[2].class  warning: restart-service can never run: sentinel lists ` +
        'class service-affecting neither under autonomous nor under requiresApproval, so every proposal of it is ' +
        'denied; add service-affecting to one of agents.sentinel.autonomous or agents.sentinel.requiresApproval, ' +
        'or remove the action',
    ]);
    expect(result.policy.actions.get('restart-service')?.classList).toBeNull();
    // The shipped policies list every class their actions use: no warnings.
    expect(parsePolicy(defaultText, FILE)).toMatchObject({ ok: true, warnings: [] });
  });

  it('research.prohibited leaving something out loads, with a warning that it is still impossible', () => {
    const text = edit((d) => d.setIn(['research', 'prohibited'], ['submissions']));
    const result = parsePolicy(text, FILE);
    expect(result.ok).toBe(true);
    expect(result.warnings.map((w) => [w.path, w.message])).toEqual([
      [
        'research.prohibited',
        'posting, account-actions are not listed, but still impossible: the research tools only read, so no agent ' +
          'can post, act on an account or submit anything, whatever this list says; list all of posting, ' +
          'account-actions, submissions',
      ],
    ]);
  });

  it('warnings are kept apart from errors when the file is invalid', () => {
    const text = edit((d) => {
      d.setIn(['agents', 'sentinel', 'requiresApproval'], []);
      d.setIn(['control', 'approvalTimeout'], 'soon');
    });
    const result = parsePolicy(text, FILE);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues.map((i) => i.path)).toEqual(['control.approvalTimeout']);
    expect(result.warnings.map((i) => i.path)).toEqual(['actions[2].class']);
  });

  it('allowlisted tier 2 action lifted to tier 3 by its class says the lift is why', () => {
    const text = edit((d) => {
      d.setIn(['agents', 'validator', 'autonomous'], ['evidence']);
      d.setIn(['agents', 'validator', 'requiresApproval'], ['release-override', 'test-run']);
    });
    const issue = onlyIssue(text);
    expect(issue.path).toBe('agents.validator.allowlist[0]');
    expect(issue.message).toBe(
      'run-smoke-tests is tier 2, but class test-run requires approval for validator, which lifts it to tier 3; ' +
        'remove it here, or move test-run from requiresApproval to autonomous',
    );
  });

  it('allowlisted action that does not exist, or belongs to another agent', () => {
    const missing = onlyIssue(edit((d) => d.setIn(['agents', 'builder', 'allowlist'], ['bump-deps'])));
    expect(missing.message).toBe('no action has id bump-deps; add it to actions or remove it here');
    const foreign = onlyIssue(edit((d) => d.setIn(['agents', 'builder', 'allowlist'], ['run-smoke-tests'])));
    expect(foreign.message).toBe(
      'run-smoke-tests belongs to validator; an agent can only allowlist its own actions',
    );
  });

  it('placeholder naming no param', () => {
    const text = edit((d) => d.setIn(['actions', 2, 'executor', 'command', 2], '{svc}'));
    const issues = issuesOf(text).map(formatIssue);
    expect(issues).toContain(
      `${at(text, '{svc}', -1)}  actions[2].executor.command[2]  {svc} names no param; declare params.svc or fix the name`,
    );
  });

  it('fixed target out of scope', () => {
    const text = edit((d) => d.addIn(['actions'], SCOPED_ACTION));
    expect(formatIssue(onlyIssue(text))).toBe(
      `${at(text, 'target: payments-db', 'target: '.length)}  actions[5].target  payments-db is listed as out of scope; pick an in-scope system or change purpose`,
    );
  });

  it('param target whose enum reaches out of scope, or outside the in-scope list', () => {
    const text = edit((d) =>
      d.setIn(['actions', 1, 'params', 'system', 'enum'], ['web', 'payments-db', 'mainframe']),
    );
    const issues = issuesOf(text);
    expect(issues.map((i) => [i.path, i.message])).toEqual([
      [
        'actions[1].params.system.enum[1]',
        'payments-db is listed as out of scope; remove it or change purpose',
      ],
      [
        'actions[1].params.system.enum[2]',
        'mainframe is not an in-scope system (in scope: web, api, worker, ci, autonomy); remove it or change purpose',
      ],
    ]);
  });

  it('string param with no pattern or enum', () => {
    const text = edit((d) => d.deleteIn(['actions', 0, 'params', 'service', 'enum']));
    const issue = onlyIssue(text);
    expect(issue.path).toBe('actions[0].params.service');
    expect(issue.message).toBe(
      'string param service accepts any text; add a pattern (e.g. "[a-z0-9][a-z0-9-]*") or an enum',
    );
  });

  it('tier 3 actions with no approvers', () => {
    const text = edit((d) => d.setIn(['control', 'roles', 'approvers'], []));
    expect(formatIssue(onlyIssue(text))).toBe(
      `${at(text, 'approvers: []', 'approvers: '.length)}  control.roles.approvers  no approvers, but 3 action(s) need approval (restart-service, publish-skill, rollback-skill); add an identity like slack:user:U123 or console:user:local`,
    );
  });
});

describe('other contradictions a policy owner wants caught', () => {
  const cases: [string, (d: Document) => void, string, RegExp][] = [
    [
      'a class that is not the agent’s',
      (d) => d.setIn(['agents', 'builder', 'autonomous'], ['maintenance', 'test-run']),
      'agents.builder.autonomous[1]',
      /^test-run is not a builder class; use one of maintenance, architecture-change, security-significant$/,
    ],
    [
      'a class both autonomous and requiring approval',
      (d) => d.setIn(['agents', 'sentinel', 'requiresApproval'], ['service-affecting', 'alerting']),
      'agents.sentinel.requiresApproval[1]',
      /^alerting is also under autonomous/,
    ],
    [
      'an env var outside http headers',
      (d) =>
        d.setIn(['actions', 2, 'executor', 'command'], ['systemctl', 'restart', '{service}', `\${TOKEN}`]),
      'actions[2].executor.command[3]',
      /^\$\{TOKEN\}: env vars are only filled in in http headers; list the variable under executor.env/,
    ],
    [
      'a pattern that would let a value pose as an option',
      (d) => d.setIn(['actions', 2, 'params', 'service'], { pattern: '[a-z-]+' }),
      'actions[2].params.service.pattern',
      /^a value starting with "-" would be read as an option by systemctl/,
    ],
    [
      'a pattern that does not compile',
      (d) => d.setIn(['actions', 2, 'params', 'service'], { pattern: '[a-z' }),
      'actions[2].params.service.pattern',
      /^pattern does not compile: /,
    ],
    [
      'escalation levels out of order',
      (d) => d.setIn(['control', 'escalation', 1, 'after'], '10m'),
      'control.escalation[1].after',
      /^10m is not later than the level before \(15m\)/,
    ],
    [
      'backoff initial above max',
      (d) => d.setIn(['budgets', 'backoff', 'initial'], '1h'),
      'budgets.backoff.initial',
      /^initial 1h is longer than max 15m; swap them$/,
    ],
    [
      'an http action whose host comes from a param',
      (d) =>
        d.setIn(['actions', 1, 'executor'], {
          http: { method: 'POST', url: 'https://{system}.example.com/smoke' },
        }),
      'actions[1].executor.http.url',
      /^the host must be fixed/,
    ],
    [
      'an unknown key inside an action, with a suggestion',
      (d) => d.setIn(['actions', 0, 'cooldwn'], '1m'),
      'actions[0].cooldwn',
      /^unknown key cooldwn; did you mean cooldown\?$/,
    ],
    [
      'a typo in a param type',
      (d) => d.setIn(['actions', 0, 'params', 'service', 'type'], 'strnig'),
      'actions[0].params.service.type',
      /^expected "string", got "strnig"$/,
    ],
    [
      'a command written as one string',
      (d) => d.setIn(['actions', 2, 'executor', 'command'], 'systemctl restart web'),
      'actions[2].executor.command',
      /^expected a list, got "systemctl restart web"$/,
    ],
    [
      'an identity in the wrong form',
      (d) => d.setIn(['control', 'roles', 'operators'], ['alice']),
      'control.roles.operators[0]',
      /^"alice" is not an identity like slack:user:U123, /,
    ],
    [
      'a param name that placeholders cannot use',
      (d) => d.setIn(['actions', 0, 'params', 'Service'], { enum: ['web'] }),
      'actions[0].params.Service',
      /^param name Service is not allowed; start with a lower-case letter/,
    ],
    [
      'missing version',
      (d) => d.delete('version'),
      'version',
      /^missing version; add `version: 1` at the top$/,
    ],
    [
      'an unknown agent in routing',
      (d) => d.setIn(['routing', 'agents', 'sentinal'], { info: ['console:main'] }),
      'routing.agents.sentinal',
      /^unknown key sentinal; did you mean sentinel\?$/,
    ],
  ];
  for (const [name, change, path, message] of cases) {
    it(name, () => {
      const issue = onlyIssue(edit(change));
      expect(issue.path).toBe(path);
      expect(issue.message).toMatch(message);
    });
  }
});

describe('several problems at once', () => {
  it('reports schema and semantic problems together, sorted by line', () => {
    const text = edit((d) => {
      d.setIn(['models', 'maxConcurrentLocal'], 'two'); // schema
      d.setIn(['research', 'citation'], true); // schema: unknown key
      d.setIn(['control', 'roles', 'approvers'], []); // semantic
      d.setIn(['triggers', 'sweeps', 'deep'], '0 */6 * *'); // semantic: cron
      d.setIn(['actions', 1, 'id'], 'collect-evidence'); // semantic: duplicate id (+ allowlist)
    });
    const issues = issuesOf(text);
    expect(issues.map((i) => i.path)).toEqual([
      'agents.validator.allowlist[0]',
      'triggers.sweeps.deep',
      'models.maxConcurrentLocal',
      'research.citation',
      'control.roles.approvers',
      'actions[1].id',
    ]);
    const lines = issues.map((i) => i.line);
    expect(lines).toEqual([...lines].sort((a, b) => a - b));
    for (const i of issues) expect(formatIssue(i)).toMatch(/^p\.yaml:\d+:\d+ {2}\S+ {2}\S.*$/);
  });

  it('keeps checking the actions that parse when another action does not', () => {
    const text = edit((d) => {
      d.setIn(['actions', 0, 'tier'], 'zero');
      d.setIn(['agents', 'sentinel', 'allowlist'], ['restart-service']);
    });
    expect(issuesOf(text).map((i) => i.path)).toEqual(['agents.sentinel.allowlist[0]', 'actions[0].tier']);
  });
});

describe('PolicyError', () => {
  it('carries the issues, a code, the cause, and a message with the first issue', () => {
    const issues = issuesOf(edit((d) => d.setIn(['control', 'approvalTimeout'], 'soon')));
    const cause = new Error('reload');
    const err = new PolicyError(issues, { cause });
    expect(err).toBeInstanceOf(Error);
    expect(err.code).toBe('POLICY_INVALID');
    expect(err.issues).toBe(issues);
    expect(err.cause).toBe(cause);
    expect(err.message).toContain(formatIssue(issues[0] as PolicyIssue));
  });
});
