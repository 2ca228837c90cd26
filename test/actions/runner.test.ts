import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { and, eq } from 'drizzle-orm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RUNNER_SCRIPT, readRunState, runStateFile } from '../../src/actions/executors/run-state.js';
import { Runner, type RunnerOptions, type RunRequest } from '../../src/actions/runner.js';
import { actionUsage } from '../../src/actions/usage.js';
import { AuditLog } from '../../src/audit/log.js';
import { type Database, migrate, openDatabase } from '../../src/db/connection.js';
import { approvals, proposals, runs } from '../../src/db/schema.js';
import { decide } from '../../src/policy/decide.js';
import type { Params, Policy, Proposal } from '../../src/policy/types.js';
import type { AgentName } from '../../src/policy/vocabulary.js';
import { sequentialIds } from '../../src/process/ids.js';
import { createLogger } from '../../src/process/log.js';
import { makePolicy, makeState } from '../fixtures/policy.js';
import { eventually, LogSink } from '../helpers/bot.js';
import { familyPids, goneWithin, killAll, type Scripts, writeScripts } from '../helpers/processes.js';

const T0 = Date.parse('2025-06-02T10:00:00Z');
const NODE = process.execPath;
/** A policy env placeholder as written in the catalog (`${NAME}`), not JS interpolation. */
const envRef = (name: string): string => `\${${name}}`;
const ANY = { pattern: '.*', maxLength: 300 } as const;

let dir: string;
let scripts: Scripts;
let database: Database;
let audit: AuditLog;
let policy: Policy;
let sink: LogSink;
let clock: number;
const spawned = new Set<number>();

function makeRunner(over: Partial<RunnerOptions> = {}): Runner {
  return new Runner({
    database,
    audit,
    now: () => clock,
    newId: sequentialIds(),
    log: createLogger('debug', sink),
    env: { PATH: process.env.PATH, ALLOWED_TOKEN: 'tok-1234-secret', OTHER_SECRET: 'do-not-pass' },
    dryRun: false,
    ...over,
  });
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'autonomy-runner-'));
  scripts = writeScripts(dir);
  database = openDatabase(join(dir, 'autonomy.db'));
  migrate(database);
  clock = T0;
  audit = new AuditLog(database, { now: () => clock });
  sink = new LogSink();
  const family = (id: string, agent: AgentName, cls: 'test-run' | 'maintenance') => ({
    id,
    agent,
    description: 'a command with a grandchild',
    tier: 0 as const,
    class: cls,
    target: 'ci',
    params: { pidFile: ANY },
    executor: { command: [NODE, scripts.family, '{pidFile}', 'wait'] },
    timeout: '30s',
  });
  policy = makePolicy({
    phase: 3,
    extraActions: [
      family('v-family', 'validator', 'test-run'),
      family('b-family', 'builder', 'maintenance'),
      {
        id: 'v-echo',
        agent: 'validator',
        description: 'echo argv and env',
        tier: 0,
        class: 'test-run',
        target: 'ci',
        params: { msg: ANY },
        executor: { command: [NODE, scripts.echo, '{msg}'], env: ['ALLOWED_TOKEN'] },
      },
      {
        id: 'v-touch',
        agent: 'validator',
        description: 'touch a file',
        tier: 0,
        class: 'test-run',
        target: 'ci',
        params: { file: ANY },
        executor: { command: ['touch', '{file}'] },
      },
      {
        id: 'v-http',
        agent: 'validator',
        description: 'call CI',
        tier: 0,
        class: 'test-run',
        target: 'ci',
        params: {},
        executor: {
          http: {
            method: 'GET',
            url: 'http://127.0.0.1:9/x',
            headers: { authorization: `Bearer ${envRef('CI_TOKEN')}` },
          },
        },
      },
    ],
  });
});

afterEach(() => {
  killAll(spawned);
  spawned.clear();
  database.close();
  rmSync(dir, { recursive: true, force: true });
});

function request(actionId: string, params: Params, over: Partial<RunRequest> = {}): RunRequest {
  const action = policy.actions.get(actionId);
  if (!action) throw new Error(`no action ${actionId}`);
  const proposal: Proposal = { agent: action.agent, actionId, params };
  const decision = decide(policy, makeState(), proposal, clock);
  return { proposal, action, decision, trigger: { source: 'webhook', ref: 'sig_1' }, ...over };
}

function runRow(id: string) {
  return database.db.select().from(runs).where(eq(runs.id, id)).get();
}

describe('Runner.execute', () => {
  it('refuses anything but an execute decision, and writes nothing', async () => {
    const runner = makeRunner();
    const req = request('v-echo', { msg: 'x' });
    await expect(
      runner.execute({ ...req, decision: { ...req.decision, verdict: 'ask', code: 'needs-approval' } }),
    ).rejects.toThrow(/needs a decision to execute, got ask/);
    const smuggled = { ...req, proposal: { ...req.proposal, params: { msg: 'x', extra: '$(id)' } } };
    await expect(runner.execute(smuggled)).rejects.toThrow(/unknown param "extra"/);
    expect(database.db.select().from(runs).all()).toHaveLength(0);
    expect(audit.records()).toHaveLength(0);
  });

  it('records the run and its audit trail with the template metadata', async () => {
    const runner = makeRunner();
    const req = request(
      'v-echo',
      { msg: 'hello world' },
      {
        model: { name: 'qwen2.5:7b', provider: 'ollama' },
        evidence: ['https://ci.example.test/jobs/1'],
      },
    );
    expect(req.decision.verdict).toBe('execute');
    const result = await runner.execute(req);
    expect(result.status).toBe('succeeded');
    expect(result.outcome).toMatch(/^exit 0 after/);
    const row = runRow(result.runId);
    expect(row).toMatchObject({
      agent: 'validator',
      triggerSource: 'webhook',
      triggerRef: 'sig_1',
      model: 'qwen2.5:7b',
      provider: 'ollama',
      actionId: 'v-echo',
      actionClass: 'test-run',
      tier: 0,
      verdict: 'execute',
      status: 'succeeded',
      startedAt: T0,
      cpuMs: null,
    });
    expect(row?.evidence).toEqual(result.evidence);
    expect(result.evidence).toContain(`run:${result.runId}`);
    expect(result.evidence).toContain('https://ci.example.test/jobs/1');
    expect(result.evidence.some((e) => /^sha256:[0-9a-f]{64}$/.test(e))).toBe(true);

    const [start, done] = audit.records();
    expect(start?.kind).toBe('run.start');
    expect(done).toMatchObject({
      kind: 'run',
      agent: 'validator',
      trigger: 'webhook',
      model: 'ollama/qwen2.5:7b',
      actionClass: 'test-run',
      tier: 0,
      verdict: 'execute',
      outcome: result.outcome,
    });
    expect(done?.evidence).toEqual(result.evidence);
    expect(audit.verify().ok).toBe(true);
  });

  it("refuses, before anything starts, a run whose record would lack a field of the policy's evidence.required", async () => {
    let required: ('trigger' | 'model' | 'actionClass' | 'tier' | 'outcome' | 'evidence')[] = [
      ...policy.doc.evidence.required,
    ];
    expect(required).toContain('evidence');
    const runner = makeRunner({ requiredFields: () => required });
    const file = join(dir, 'touched');
    // Nothing led to this run: no incident, no approval, no evidence id.
    const bare = request('v-touch', { file }, { evidence: [' '] });
    await expect(runner.execute(bare)).rejects.toMatchObject({
      code: 'RUN_REFUSED',
      missing: ['evidence'],
      message:
        'v-touch was not run: its run record would lack evidence, which the policy requires (evidence.required); a run needs something that led to it (an incident, an approval, a signal or an agent run)',
    });
    expect(existsSync(file)).toBe(false);
    expect(database.db.select().from(runs).all()).toHaveLength(0);
    expect(actionUsage(database, 'v-touch', clock, 'UTC').countToday).toBe(0);
    const [refused, ...rest] = audit.records();
    expect(rest).toHaveLength(0);
    expect(refused).toMatchObject({
      kind: 'run.refused',
      agent: 'validator',
      actor: 'system:runner',
      trigger: 'webhook',
      model: 'rules',
      actionClass: 'test-run',
      tier: 0,
      verdict: 'deny',
      evidence: [],
      data: { actionId: 'v-touch', missing: ['evidence'], params: { file } },
    });
    expect(sink.records.some((r) => r.level === 40 && /v-touch was not run/.test(String(r.msg)))).toBe(true);

    // A blank trigger is missing too, both named at once.
    const noTrigger = { ...bare, trigger: { source: '' } };
    await expect(runner.execute(noTrigger)).rejects.toMatchObject({ missing: ['trigger', 'evidence'] });

    // With what led to it, it runs; and the list is read at each run (a policy reload applies).
    const led = await runner.execute(request('v-touch', { file }, { evidence: ['signal:sig_1'] }));
    expect(led.status).toBe('succeeded');
    expect(existsSync(file)).toBe(true);
    required = ['trigger', 'model'];
    expect((await runner.execute(bare)).status).toBe('succeeded');
  });

  it('writes the running row and the audit record before the command starts', async () => {
    const runner = makeRunner();
    const pidFile = join(dir, 'before.pids');
    const running = runner.execute(request('v-family', { pidFile }, { model: null }));
    const { child, grandchild } = await familyPids(pidFile);
    spawned.add(child).add(grandchild);
    const [flight] = runner.inFlight();
    expect(flight).toMatchObject({ agent: 'validator', actionId: 'v-family' });
    // The pid is the run's process group (its runner leads it; the command is in it).
    const pgrp = (pid: number) => readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ')[2];
    expect(pgrp(child)).toBe(String(flight?.pid));
    expect(pgrp(grandchild)).toBe(String(flight?.pid));
    expect(runRow(flight?.runId ?? '')?.status).toBe('running');
    expect(audit.records().map((r) => [r.kind, r.model])).toEqual([['run.start', 'rules']]);
    runner.killAgent('validator', 'cli:user:test');
    await running;
  });

  it('keeps the action secrets out of output, audit and logs', async () => {
    const runner = makeRunner();
    const result = await runner.execute(request('v-echo', { msg: 'x' }));
    expect(result.status).toBe('succeeded');
    const stdout = result.execution?.kind === 'command' ? result.execution.stdoutTail : '';
    expect(stdout).toContain('[redacted ALLOWED_TOKEN]');
    expect(stdout).not.toContain('tok-1234-secret');
    expect(stdout).not.toContain('do-not-pass');
    const everything = JSON.stringify(audit.records()) + JSON.stringify(sink.records);
    expect(everything).not.toContain('tok-1234-secret');
  });

  it('records a missing header env var as a failed run that sent nothing', async () => {
    const runner = makeRunner();
    const result = await runner.execute(request('v-http', {}));
    expect(result.status).toBe('failed');
    expect(result.outcome).toMatch(/not started: .*CI_TOKEN, which is not set/);
    expect(result.execution).toBeNull();
    expect(runRow(result.runId)?.status).toBe('failed');
  });

  it('in dry-run mode records what would run and runs nothing', async () => {
    const runner = makeRunner({ dryRun: true });
    const file = join(dir, 'dry-run-marker');
    const result = await runner.execute(request('v-touch', { file }));
    expect(result.status).toBe('skipped');
    expect(result.dryRun).toBe(true);
    expect(result.display).toBe(`touch ${file}`);
    expect(existsSync(file)).toBe(false);
    expect(runRow(result.runId)?.status).toBe('skipped');
    expect(audit.records()[0]?.outcome).toBe(`started (dry run) touch ${file}`);
  });
});

describe('killAgent', () => {
  it("aborts that agent's in-flight runs at once, grandchildren included, and only that agent's", async () => {
    const runner = makeRunner();
    const start = (actionId: string, name: string) => {
      const pidFile = join(dir, `${name}.pids`);
      const done = runner.execute(request(actionId, { pidFile }));
      return { done, pids: familyPids(pidFile) };
    };
    const v1 = start('v-family', 'v1');
    const v2 = start('v-family', 'v2');
    const b1 = start('b-family', 'b1');
    const [p1, p2, pb] = await Promise.all([v1.pids, v2.pids, b1.pids]);
    for (const p of [p1, p2, pb]) spawned.add(p.child).add(p.grandchild);
    expect(runner.inFlight()).toHaveLength(3);

    const t0 = performance.now();
    expect(runner.killAgent('validator', 'slack:user:U0OPERATOR', 'flapping')).toEqual({ aborted: 2 });
    // Marked at once, before any process is waited on.
    const interrupted = database.db.select().from(runs).where(eq(runs.status, 'interrupted')).all();
    expect(interrupted).toHaveLength(2);
    expect(interrupted[0]?.outcome).toBe('killed by slack:user:U0OPERATOR (flapping)');
    await goneWithin([p1.child, p1.grandchild, p2.child, p2.grandchild], 1000);
    expect(performance.now() - t0).toBeLessThan(1000);

    const [r1, r2] = await Promise.all([v1.done, v2.done]);
    for (const r of [r1, r2]) {
      expect(r.status).toBe('interrupted');
      expect(r.outcome).toMatch(/^killed by slack:user:U0OPERATOR \(flapping\); stopped after/);
      expect(runRow(r.runId)?.status).toBe('interrupted');
    }
    // The builder's run goes on.
    expect(process.kill(pb.grandchild, 0)).toBe(true);
    expect(runner.inFlight().map((f) => f.agent)).toEqual(['builder']);
    expect(runner.killAgent('validator', 'slack:user:U0OPERATOR')).toEqual({ aborted: 0 });

    expect(runner.killAgent('all', 'cli:user:admin')).toEqual({ aborted: 1 });
    await goneWithin([pb.child, pb.grandchild], 1000);
    expect((await b1.done).status).toBe('interrupted');
    const kinds = audit.records().map((r) => r.kind);
    expect(kinds.filter((k) => k === 'run.killed')).toHaveLength(3);
    expect(kinds.filter((k) => k === 'run')).toHaveLength(3);
    expect(audit.verify().ok).toBe(true);
  });

  it('close() lets short runs finish and stops the rest', async () => {
    const runner = makeRunner();
    const pidFile = join(dir, 'close.pids');
    const long = runner.execute(request('v-family', { pidFile }));
    const { child, grandchild } = await familyPids(pidFile);
    spawned.add(child).add(grandchild);
    expect(await runner.close(50)).toEqual({ finished: 0, stopped: 1 });
    expect((await long).outcome).toMatch(/^killed by system:shutdown/);
    await expect(runner.execute(request('v-echo', { msg: 'late' }))).rejects.toThrow(/shutting down/);
  });
});

describe('recoverAfterRestart', () => {
  it('marks runs a dead process left running as interrupted, once, and never re-runs them', () => {
    const marker = join(dir, 'never');
    database.db
      .insert(runs)
      .values({
        id: 'run_dead',
        agent: 'sentinel',
        triggerSource: 'approval',
        triggerRef: 'apr_1',
        model: 'rules',
        actionId: 'v-touch',
        actionClass: 'service-affecting',
        tier: 3,
        verdict: 'execute',
        startedAt: T0 - 60_000,
        status: 'running',
      })
      .run();
    database.db
      .insert(proposals)
      .values({
        id: 'prop_1',
        agent: 'sentinel',
        actionId: 'restart-service',
        params: { service: 'web', file: marker },
        verdict: 'ask',
        code: 'needs-approval',
        reason: 'r',
        decidedAt: T0 - 120_000,
      })
      .run();
    database.db
      .insert(approvals)
      .values({
        id: 'apr_1',
        number: 1,
        proposalId: 'prop_1',
        agent: 'sentinel',
        actionId: 'restart-service',
        params: { service: 'web' },
        bindingHash: 'h',
        state: 'executing',
        requestedAt: T0 - 120_000,
        expiresAt: T0,
        runId: 'run_dead',
        updatedAt: T0 - 60_000,
      })
      .run();

    const runner = makeRunner();
    const recovered = runner.recoverAfterRestart();
    expect(recovered).toEqual([
      {
        runId: 'run_dead',
        agent: 'sentinel',
        actionId: 'v-touch',
        startedAt: T0 - 60_000,
        incidentId: null,
        approvalId: 'apr_1',
        kind: 'interrupted',
        status: 'interrupted',
        outcome: expect.stringMatching(
          /^interrupted: the bot stopped while this was running; it was not re-run \(no process of it was found.*check the target\)$/,
        ),
      },
    ]);
    expect(runRow('run_dead')).toMatchObject({ status: 'interrupted', finishedAt: T0 });
    const record = audit.records().at(-1);
    expect(record).toMatchObject({ kind: 'run', agent: 'sentinel', trigger: 'approval', tier: 3 });
    expect(record?.evidence).toEqual(['run:run_dead', 'approval:apr_1']);
    expect(runner.recoverAfterRestart()).toEqual([]);
    expect(existsSync(marker)).toBe(false);
    expect(runner.inFlight()).toEqual([]);
  });
});

describe('actionUsage', () => {
  const insertRun = (
    id: string,
    actionId: string,
    startedAt: number,
    verdict: 'execute' | 'suggest' = 'execute',
  ) =>
    database.db
      .insert(runs)
      .values({
        id,
        agent: 'sentinel',
        triggerSource: 'cron',
        actionId,
        verdict,
        startedAt,
        status: 'succeeded',
      })
      .run();

  it('counts today in the policy time zone across the spring DST change (Europe/Berlin, 23 h)', () => {
    // 2025-03-30: clocks go 02:00 CET -> 03:00 CEST. Local midnight is 23:00Z before, 22:00Z after.
    insertRun('r1', 'silence-alert', Date.parse('2025-03-29T22:59:59Z')); // 23:59:59 on the 29th
    insertRun('r2', 'silence-alert', Date.parse('2025-03-29T23:00:00Z')); // 00:00 on the 30th
    insertRun('r3', 'silence-alert', Date.parse('2025-03-30T01:30:00Z')); // 03:30 CEST
    insertRun('r4', 'silence-alert', Date.parse('2025-03-30T21:59:00Z')); // 23:59 CEST
    insertRun('r5', 'silence-alert', Date.parse('2025-03-30T22:00:00Z')); // 00:00 on the 31st
    insertRun('r6', 'other-action', Date.parse('2025-03-30T10:00:00Z'));
    insertRun('r7', 'silence-alert', Date.parse('2025-03-30T10:00:00Z'), 'suggest');
    const now = Date.parse('2025-03-30T10:00:00Z');
    const usage = actionUsage(database, 'silence-alert', now, 'Europe/Berlin');
    expect(usage).toEqual({
      lastRunAt: Date.parse('2025-03-30T22:00:00Z'),
      countToday: 3,
      dayEndsAt: Date.parse('2025-03-30T22:00:00Z'),
    });
  });

  it('counts nothing for an unused action and refuses an unknown zone (local days: test/time/zone.test.ts)', () => {
    expect(actionUsage(database, 'never-ran', T0, 'UTC')).toEqual({
      lastRunAt: null,
      countToday: 0,
      dayEndsAt: Date.parse('2025-06-03T00:00:00Z'),
    });
    expect(() => actionUsage(database, 'x', T0, 'Mars/Olympus')).toThrow(/unknown time zone "Mars\/Olympus"/);
  });

  it('counts the runs the runner records', async () => {
    const runner = makeRunner();
    await runner.execute(request('v-echo', { msg: 'a' }));
    clock += 1000;
    await runner.execute(request('v-echo', { msg: 'b' }));
    const usage = actionUsage(database, 'v-echo', clock, 'UTC');
    expect(usage.countToday).toBe(2);
    expect(usage.lastRunAt).toBe(clock);
    const none = database.db
      .select()
      .from(runs)
      .where(and(eq(runs.actionId, 'v-echo'), eq(runs.status, 'running')))
      .all();
    expect(none).toHaveLength(0);
  });
});

describe('recoverAfterRestart: runs whose outcome is known', () => {
  /**
   * What a crash leaves: a `running` row, and the run's runner (spawned as the bot spawns it, in
   * its own process group) with the bot's end of its pipes closed, as when the bot died.
   */
  function leftBehind(runId: string, argv: string[]): number {
    database.db
      .insert(runs)
      .values({
        id: runId,
        agent: 'validator',
        triggerSource: 'cron',
        model: 'rules',
        actionId: 'v-echo',
        actionClass: 'test-run',
        tier: 0,
        verdict: 'execute',
        startedAt: T0 - 1000,
        status: 'running',
      })
      .run();
    const stateDir = join(dir, 'runs');
    const child = spawn(NODE, ['-e', RUNNER_SCRIPT, runStateFile(stateDir, runId), runId, ...argv], {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '' },
    });
    child.stdout?.destroy();
    child.stderr?.destroy();
    const pid = child.pid as number;
    spawned.add(pid);
    return pid;
  }

  const sleepThenExit = (ms: number, code: number) => [
    NODE,
    '-e',
    `setTimeout(() => { console.log('done'); process.exit(${code}) }, ${ms})`,
  ];

  it('records the real outcome of runs that ended while the bot was down, follows one still running, re-runs none', async () => {
    leftBehind('run_ok', sleepThenExit(0, 0));
    leftBehind('run_bad', sleepThenExit(0, 3));
    leftBehind('run_live', sleepThenExit(1500, 0));
    await eventually(
      () =>
        (readRunState(join(dir, 'runs'), 'run_ok')?.ended ?? undefined) &&
        (readRunState(join(dir, 'runs'), 'run_bad')?.ended ?? undefined),
      5000,
    );
    await eventually(() => readRunState(join(dir, 'runs'), 'run_live') ?? undefined, 5000);

    const runner = makeRunner();
    const left = runner.recoverAfterRestart();
    const by = Object.fromEntries(left.map((r) => [r.runId, r]));
    expect(by.run_ok).toMatchObject({ kind: 'finished', status: 'succeeded' });
    expect(by.run_ok?.outcome).toMatch(/^exit 0 after .*finished while the bot was down/);
    expect(by.run_bad).toMatchObject({ kind: 'finished', status: 'failed' });
    expect(by.run_bad?.outcome).toMatch(/^exit 3 /);
    expect(by.run_live).toMatchObject({ kind: 'followed', status: 'running' });
    expect(runRow('run_ok')).toMatchObject({ status: 'succeeded' });
    expect(runRow('run_bad')).toMatchObject({ status: 'failed' });
    expect(runRow('run_live')).toMatchObject({ status: 'running' });
    // A second look changes nothing (the followed run is ours now).
    expect(runner.recoverAfterRestart()).toEqual([]);

    // Followed to its end: the real exit code, audited by system:start.
    await eventually(() => runRow('run_live')?.status === 'succeeded', 5000);
    const records = audit.records({ kind: 'run' });
    expect(
      records.map((r) => [r.evidence[0], r.actor, r.data && (r.data as { status: string }).status]),
    ).toEqual(
      expect.arrayContaining([
        ['run:run_ok', 'system:start', 'succeeded'],
        ['run:run_bad', 'system:start', 'failed'],
        ['run:run_live', 'system:start', 'succeeded'],
      ]),
    );
    // The state files are cleaned up.
    expect(readRunState(join(dir, 'runs'), 'run_live')).toBeNull();
    expect(readRunState(join(dir, 'runs'), 'run_ok')).toBeNull();
  });

  it('a run whose runner was killed without a recorded end is interrupted, outcome unknown', async () => {
    const pid = leftBehind('run_sigkilled', sleepThenExit(60_000, 0));
    await eventually(() => readRunState(join(dir, 'runs'), 'run_sigkilled') ?? undefined, 5000);
    process.kill(-pid, 'SIGKILL');
    await goneWithin([pid], 2000);
    const [run] = makeRunner().recoverAfterRestart();
    expect(run).toMatchObject({ runId: 'run_sigkilled', kind: 'interrupted', status: 'interrupted' });
    expect(run?.outcome).toMatch(/process group was gone without a recorded end/);
  });

  it('a runner that was killed but is not yet reaped (a zombie) is gone, not followed', () => {
    const pid = leftBehind('run_zombie', sleepThenExit(60_000, 0));
    // Synchronous from here: this process is the runner's parent and reaps it only on its event loop.
    const stateOf = () => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
      } catch {
        return 'gone';
      }
    };
    const deadline = Date.now() + 5000;
    while (readRunState(join(dir, 'runs'), 'run_zombie') === null && Date.now() < deadline) {}
    process.kill(-pid, 'SIGKILL');
    while (stateOf() !== 'Z' && Date.now() < deadline) {}
    expect(stateOf()).toBe('Z');
    const [run] = makeRunner().recoverAfterRestart();
    expect(run).toMatchObject({ runId: 'run_zombie', kind: 'interrupted', status: 'interrupted' });
    expect(run?.outcome).toMatch(/process group was gone without a recorded end/);
  });

  it('the kill switch stops a followed run (its whole group) and records who killed it', async () => {
    const pid = leftBehind('run_follow', sleepThenExit(60_000, 0));
    await eventually(() => readRunState(join(dir, 'runs'), 'run_follow') ?? undefined, 5000);
    const runner = makeRunner();
    expect(runner.recoverAfterRestart()).toMatchObject([{ kind: 'followed' }]);
    expect(runner.killAgent('validator', 'cli:user:test', 'drill')).toEqual({ aborted: 1 });
    expect(runRow('run_follow')).toMatchObject({
      status: 'interrupted',
      outcome: 'killed by cli:user:test (drill)',
    });
    // The group is signalled at once; the runner writes the command's end and exits; only then can
    // its state file go (removed by the follower), and the row still says who killed it.
    await goneWithin([pid], 5000);
    await eventually(() => readRunState(join(dir, 'runs'), 'run_follow') === null, 5000);
    expect(runRow('run_follow')).toMatchObject({
      status: 'interrupted',
      outcome: 'killed by cli:user:test (drill)',
    });
    expect(audit.records({ kind: 'run.killed' })).toHaveLength(1);
  });

  it('a command run by the runner keeps its result: exit code, output, and a program that is not there', async () => {
    const runner = makeRunner();
    const ok = await runner.execute(request('v-echo', { msg: 'hello' }));
    expect(ok.status).toBe('succeeded');
    expect(ok.execution?.kind === 'command' ? ok.execution.stdoutTail : '').toContain('"hello"');
    expect(readRunState(join(dir, 'runs'), ok.runId)).toBeNull();
  });
});
