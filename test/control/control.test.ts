import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditLog } from '../../src/audit/log.js';
import { type ControlSnapshot, ControlStore, isKilled, readControl } from '../../src/control/state.js';
import { watchControl } from '../../src/control/watch.js';
import { type Database, migrate, openDatabase } from '../../src/db/connection.js';
import type { AgentName } from '../../src/policy/vocabulary.js';

const T0 = Date.UTC(2025, 0, 6, 9, 0, 0);

let dir: string;
let file: string;
let clock: number;
const open: Database[] = [];
const stops: (() => void)[] = [];

function connect(): { database: Database; audit: AuditLog; control: ControlStore } {
  const database = openDatabase(file);
  migrate(database);
  open.push(database);
  const now = () => clock;
  const audit = new AuditLog(database, { now });
  return { database, audit, control: new ControlStore(database, audit, { now }) };
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'autonomy-control-'));
  file = join(dir, 'autonomy.db');
  clock = T0;
});

afterEach(() => {
  for (const stop of stops.splice(0)) stop();
  for (const database of open.splice(0)) database.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('kill and resume', () => {
  it('kills an agent, keeps it killed across a restart, and audits who did it', () => {
    const { control, database } = connect();
    const change = control.kill('guardian', 'cli:user:ana', 'runaway advisories');
    expect(change.changed).toBe(true);
    expect(change.message).toMatch(/guardian killed \(runaway advisories\)/);
    expect(change.audit).toMatchObject({
      kind: 'control.kill',
      agent: 'guardian',
      actor: 'cli:user:ana',
      trigger: 'cli',
      data: { target: 'guardian', value: 1, previous: 0, changed: true, reason: 'runaway advisories' },
    });
    database.close();

    const again = connect();
    const snapshot = again.control.snapshot();
    expect([...snapshot.killedAgents]).toEqual(['guardian']);
    expect(snapshot.killedAll).toBe(false);
    expect(isKilled(snapshot, 'guardian')).toBe(true);
    expect(isKilled(snapshot, 'sentinel')).toBe(false);
    expect(snapshot.entries.get('kill:guardian')).toEqual({
      kind: 'kill',
      scope: 'guardian',
      value: 1,
      actor: 'cli:user:ana',
      reason: 'runaway advisories',
      at: T0,
    });
    expect(again.audit.verify()).toMatchObject({ ok: true, count: 1 });
  });

  it('is idempotent: killing a killed agent changes nothing and says who killed it', () => {
    const { control, audit } = connect();
    control.kill('builder', 'slack:user:U123', 'flaky deploys');
    clock += 60_000;
    const again = control.kill('builder', 'cli:user:bo');
    expect(again.changed).toBe(false);
    expect(again.message).toBe(
      'builder was already killed (by slack:user:U123 at 2025-01-06T09:00:00.000Z: flaky deploys); nothing changed',
    );
    expect(again.snapshot.entries.get('kill:builder')).toMatchObject({ actor: 'slack:user:U123', at: T0 });
    expect(audit.records().map((r) => [r.kind, r.actor, (r.data as { changed: boolean }).changed])).toEqual([
      ['control.kill', 'slack:user:U123', true],
      ['control.kill', 'cli:user:bo', false],
    ]);
  });

  it('kill all stops every agent; resume all lifts only the global switch and says what stays killed', () => {
    const { control } = connect();
    control.kill('mentor', 'cli:user:ana');
    const all = control.kill('all', 'discord:user:123456', 'incident 42');
    expect(all.message).toMatch(/all agents killed/);
    for (const agent of ['sentinel', 'guardian', 'builder', 'validator', 'mentor'] as AgentName[]) {
      expect(isKilled(all.snapshot, agent)).toBe(true);
    }
    const lifted = control.resume('all', 'discord:user:123456');
    expect(lifted.changed).toBe(true);
    expect(lifted.message).toBe(
      'the global kill switch is lifted; still killed by name: mentor (resume each by name)',
    );
    expect(lifted.audit).toMatchObject({
      kind: 'control.resume',
      agent: null,
      data: { target: 'all', value: 0 },
    });
    expect(isKilled(lifted.snapshot, 'guardian')).toBe(false);
    expect(isKilled(lifted.snapshot, 'mentor')).toBe(true);

    const mentor = control.resume('mentor', 'cli:user:ana');
    expect(mentor).toMatchObject({ changed: true, message: 'mentor resumed' });
    expect(control.resume('mentor', 'cli:user:ana')).toMatchObject({
      changed: false,
      message: 'mentor was not killed; nothing changed',
    });
    expect(control.snapshot().entries.size).toBe(0);
  });

  it('says when resuming an agent leaves the global switch on', () => {
    const { control } = connect();
    control.kill('all', 'cli:user:ana');
    control.kill('sentinel', 'cli:user:ana');
    const change = control.resume('sentinel', 'cli:user:ana');
    expect(change.message).toBe(
      'sentinel resumed, but the global kill switch is still on (`resume all` lifts it)',
    );
    expect(isKilled(change.snapshot, 'sentinel')).toBe(true);
  });

  it('rejects an unknown agent or a missing actor, and writes nothing', () => {
    const { control, audit } = connect();
    expect(() => control.kill('gaurdian' as AgentName, 'cli:user:ana')).toThrow(
      'unknown agent "gaurdian": use all, sentinel, guardian, builder, validator, mentor',
    );
    expect(() => control.kill('guardian', ' ')).toThrow(/needs an actor/);
    expect(audit.verify()).toMatchObject({ ok: true, count: 0 });
    expect(control.snapshot().entries.size).toBe(0);
  });

  it('rolls back the change when its audit record cannot be written', () => {
    const { control, database } = connect();
    database.sqlite.exec(
      "CREATE TRIGGER audit_full BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'disk full'); END",
    );
    expect(() => control.kill('guardian', 'cli:user:ana')).toThrow('disk full');
    expect(control.snapshot().killedAgents.size).toBe(0);
  });
});

describe('phase and budget overrides', () => {
  it('sets, reports and clears the global and per-agent phase, audited with the actor', () => {
    const { control, audit } = connect();
    const global = control.setPhase(2, null, 'slack:user:UADMIN', 'weekly review');
    expect(global.message).toBe('the global phase set to 2 (suggest-only), overriding the policy file');
    const guardian = control.setPhase(3, 'guardian', 'slack:user:UADMIN', 'guardian is ready');
    expect(guardian.snapshot.phaseOverride).toBe(2);
    expect([...guardian.snapshot.agentPhaseOverrides]).toEqual([['guardian', 3]]);
    expect(control.setPhase(3, 'guardian', 'cli:user:ana').changed).toBe(false);

    const cleared = control.setPhase(null, null, 'cli:user:ana');
    expect(cleared.message).toBe('the global phase override cleared: the policy file decides');
    expect(cleared.snapshot.phaseOverride).toBeNull();
    expect(cleared.snapshot.agentPhaseOverrides.get('guardian')).toBe(3);
    expect(() => control.setPhase(5 as 1, null, 'cli:user:ana')).toThrow(
      'unknown rollout phase 5: use 1, 2, 3 or 4',
    );

    expect(audit.records().map((r) => [r.kind, r.agent, r.actor])).toEqual([
      ['control.phase', null, 'slack:user:UADMIN'],
      ['control.phase', 'guardian', 'slack:user:UADMIN'],
      ['control.phase', 'guardian', 'cli:user:ana'],
      ['control.phase', null, 'cli:user:ana'],
    ]);
  });

  it('sets and clears token budgets per agent and globally', () => {
    const { control } = connect();
    expect(control.setBudget('guardian', 50_000, 'cli:user:ana').message).toBe(
      "guardian's daily token budget set to 50000 tokens",
    );
    control.setBudget('all', 200_000, 'cli:user:ana');
    let snapshot = control.snapshot();
    expect(snapshot.budgetOverrides.get('guardian')).toBe(50_000);
    expect(snapshot.budgetOverride).toBe(200_000);
    expect(snapshot.entries.get('budget:guardian')).toMatchObject({ actor: 'cli:user:ana', value: 50_000 });
    control.setBudget('guardian', null, 'cli:user:ana');
    snapshot = control.snapshot();
    expect(snapshot.budgetOverrides.size).toBe(0);
    expect(() => control.setBudget('guardian', -1, 'cli:user:ana')).toThrow(/whole number >= 0/);
    expect(() => control.setBudget('guardian', 1.5, 'cli:user:ana')).toThrow(/whole number >= 0/);
  });
});

describe('watchControl', () => {
  function nextChange(database: Database): Promise<{ snapshot: ControlSnapshot; at: number }> {
    return new Promise((resolve, reject) => {
      const stop = watchControl(
        database,
        (snapshot) => {
          stop();
          resolve({ snapshot, at: performance.now() });
        },
        200,
        reject,
      );
      stops.push(stop);
    });
  }

  it('sees a kill written by another connection (the CLI) within 1 second', async () => {
    const bot = connect();
    const cli = connect();
    // Unrelated writes from the bot itself do not count as control changes.
    bot.audit.append({ kind: 'run', agent: 'sentinel' });
    const seen = nextChange(bot.database);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const killedAt = performance.now();
    cli.control.kill('guardian', 'cli:user:ana', 'chat is down');
    const { snapshot, at } = await seen;
    expect(at - killedAt).toBeLessThan(1000);
    expect(isKilled(snapshot, 'guardian')).toBe(true);
    expect(snapshot.entries.get('kill:guardian')?.actor).toBe('cli:user:ana');
  });

  it('sees a change made through the same connection, and nothing after stop()', async () => {
    const bot = connect();
    const changes: ControlSnapshot[] = [];
    const stop = watchControl(bot.database, (snapshot) => changes.push(snapshot), 20);
    stops.push(stop);
    bot.control.setPhase(1, null, 'console:user:ops');
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(changes.map((s) => s.phaseOverride)).toEqual([1]);

    // Writes that leave the control state as it was do not call onChange.
    bot.control.setPhase(1, null, 'console:user:ops');
    bot.audit.append({ kind: 'run', agent: 'mentor' });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(changes).toHaveLength(1);

    stop();
    bot.control.kill('all', 'console:user:ops');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(changes).toHaveLength(1);
    expect(readControl(bot.database).killedAll).toBe(true);
  });
});
