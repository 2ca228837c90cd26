import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditLog } from '../../../src/audit/log.js';
import type { InboundCommand } from '../../../src/chat/adapter.js';
import { runCommand } from '../../../src/chat/commands/execute.js';
import { parseCommand, VERBS } from '../../../src/chat/commands/grammar.js';
import {
  CommandRefusal,
  type CommandServices,
  type IncidentSummary,
} from '../../../src/chat/commands/services.js';
import { type ChatMessage, message } from '../../../src/chat/message.js';
import { ControlStore } from '../../../src/control/state.js';
import { type Database, migrate, openDatabase } from '../../../src/db/connection.js';
import type { Policy } from '../../../src/policy/types.js';
import { makePolicy } from '../../fixtures/policy.js';

const OPERATOR = 'slack:user:UOPS1';
const APPROVER = 'slack:user:UAPP1';
const ADMIN = 'slack:user:UADM1';
const STRANGER = 'slack:user:UNOBODY';
const GROUP = 'slack:group:SONCALL';

let dir: string;
let database: Database;
let audit: AuditLog;
let control: ControlStore;
let policy: Policy;
let calls: string[];
/** The unresolved incidents the services know, newest first. */
let open: IncidentSummary[];
const now = () => Date.UTC(2026, 10, 24, 12, 0, 0);

function services(): CommandServices {
  return {
    now,
    policy: () => policy,
    control,
    audit,
    status: () => ({
      pendingApprovals: [],
      openIncidents: open,
      mutes: [],
      budgets: [{ agent: 'mentor', usedToday: 1200, dailyTokens: 50000, overriddenBy: null }],
      lastRuns: [],
      outbox: { pending: 3, failed: 0, oldestPendingAgeMs: 4000 },
      lastPolicyError: null,
      policyVersion: 2,
      health: [{ name: 'database', status: 'ok' }],
      grants: [],
    }),
    onKill: (target) => {
      calls.push(`onKill ${target}`);
      return { aborted: 2, voided: 1 };
    },
    approvals: {
      list: () => [],
      decide: async (id, input) => {
        calls.push(`decide ${id} ${input.verdict} ${input.reason ?? ''}`.trim());
        return message({ kind: 'reply', title: `${input.verdict}d ${id}` });
      },
    },
    incidents: {
      list: () => open,
      get: (id) => open.find((i) => i.shortId === id) ?? null,
      acknowledge: (id, actor) => {
        if (id !== 'i7') throw new CommandRefusal(`No incident ${id}`);
        calls.push(`ack ${id} ${actor}`);
        return `${id} acknowledged`;
      },
      resolve: (id, _actor, note) => `${id} resolved${note ? `: ${note}` : ''}`,
    },
    mutes: {
      mute: (kind, target, ms) => `muted ${kind} ${target} for ${ms} ms`,
      unmute: (kind, target) => `unmuted ${kind} ${target}`,
    },
    subscriptions: {
      subscribe: (channel) => {
        calls.push(`subscribe ${channel}`);
        return true;
      },
      unsubscribe: () => false,
    },
    runTrail: (id) => (id === 'run_1' ? ['run started', 'run succeeded'] : null),
    skills: () => [],
    digest: async () => message({ kind: 'reply', title: 'digest posted' }),
  };
}

async function run(actor: string, text: string, groups: string[] = []): Promise<ChatMessage> {
  const cmd: InboundCommand = { platform: 'slack', actor, actorGroups: groups, channel: 'slack:C0OPS', text };
  return runCommand(services(), cmd);
}

beforeEach(() => {
  open = [];
  dir = mkdtempSync(join(tmpdir(), 'autonomy-cmd-'));
  database = openDatabase(join(dir, 'a.db'));
  migrate(database);
  audit = new AuditLog(database, { now });
  control = new ControlStore(database, audit, { now });
  policy = makePolicy({
    phase: 1,
    edit: (doc) => {
      doc.control.roles = { operators: [OPERATOR, GROUP], approvers: [APPROVER], admins: [ADMIN] };
    },
  });
  calls = [];
});
afterEach(() => {
  database.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('parsing /autonomy commands', () => {
  it('parses every verb from its own example', () => {
    for (const v of VERBS) {
      const r = parseCommand(`/autonomy ${v.example}`);
      expect(r.ok, `${v.verb}: ${JSON.stringify(r)}`).toBe(true);
      if (r.ok) expect(r.command.verb).toBe(v.verb);
    }
  });

  it('suggests the command meant for a typo, with the arguments kept', () => {
    const r = parseCommand('kil guardian');
    expect(r).toMatchObject({ ok: false, error: 'unknown command "kil": did you mean `kill guardian`?' });
  });

  it('suggests agent names and says what ids look like', () => {
    expect(parseCommand('kill guardain')).toMatchObject({
      ok: false,
      error: expect.stringContaining('did you mean guardian?'),
    });
    expect(parseCommand('approve 12')).toMatchObject({ ok: true, command: { verb: 'approve', id: 'a12' } });
    expect(parseCommand('approve x9')).toMatchObject({
      ok: false,
      error: expect.stringContaining('like a12'),
    });
    expect(parseCommand('mute service web forever')).toMatchObject({
      ok: false,
      error: expect.stringContaining('30m, 2h or 1d'),
    });
    expect(parseCommand('mute servise web 2h')).toMatchObject({
      ok: false,
      error: expect.stringContaining('did you mean service?'),
    });
    expect(parseCommand('budget mentor lots')).toMatchObject({
      ok: false,
      usage: expect.stringContaining('budget'),
    });
  });

  it('needs a reason to change the phase and keeps quoted words together', () => {
    expect(parseCommand('phase 2')).toMatchObject({
      ok: false,
      error: expect.stringContaining('needs a reason'),
    });
    expect(parseCommand('phase 2 builder "weekly review ok"')).toMatchObject({
      ok: true,
      command: { verb: 'phase', phase: 2, agent: 'builder', reason: 'weekly review ok' },
    });
  });
});

describe('running commands under the policy roles', () => {
  it('lets an operator kill; the kill is audited with the actor and reaches in-flight work', async () => {
    const r = await run(OPERATOR, 'kill guardian flapping deploys');
    expect(r.title).toContain('guardian killed');
    expect(r.body).toContain('2 run(s) aborted, 1 pending approval(s) voided');
    expect(calls).toEqual(['onKill guardian']);
    expect(control.snapshot().killedAgents.has('guardian')).toBe(true);
    expect(audit.records({ kind: 'control.kill' })[0]).toMatchObject({ actor: OPERATOR, agent: 'guardian' });
  });

  it('authorises by group membership too', async () => {
    const r = await run('slack:user:UOTHER', 'kill all', [GROUP]);
    expect(r.title).toContain('killed');
    expect(control.snapshot().killedAll).toBe(true);
  });

  it('refuses a stranger, names the role needed, audits the refusal and changes nothing', async () => {
    const r = await run(STRANGER, 'kill guardian');
    expect(r.title).toBe('Refused: `kill` needs an operator, approver or admin');
    expect(r.body).toContain('no role in the policy');
    expect(control.snapshot().killedAgents.size).toBe(0);
    expect(calls).toEqual([]);
    expect(audit.records({ kind: 'command.refused' })[0]).toMatchObject({ actor: STRANGER });
  });

  it('keeps resume, budgets and phase changes for admins, approvals for approvers', async () => {
    await run(OPERATOR, 'kill builder');
    expect((await run(OPERATOR, 'resume builder')).title).toBe('Refused: `resume` needs an admin');
    expect((await run(ADMIN, 'resume builder')).title).toContain('builder resumed');
    expect((await run(OPERATOR, 'budget mentor 100')).title).toBe('Refused: `budget` needs an admin');
    expect((await run(OPERATOR, 'budget mentor')).body).toContain('mentor: 1200 used of 50000');
    expect((await run(OPERATOR, 'approve a3')).title).toBe('Refused: `approve` needs an approver');
    expect((await run(APPROVER, 'deny a3 not during the sale')).title).toBe('denyd a3');
    expect(calls).toContain('decide a3 deny not during the sale');
  });

  it('moves the phase up one step at a time with a reason, but lowers it at once', async () => {
    const jump = await run(ADMIN, 'phase 3 looks fine');
    expect(jump.title).toContain('one step at a time');
    expect(control.snapshot().phaseOverride).toBeNull();
    const step = await run(ADMIN, 'phase 2 weekly review 2026-11-23');
    expect(step.body).toContain('was 1 (observe-only), now 2 (suggest-only)');
    expect(control.snapshot().phaseOverride).toBe(2);
    expect(audit.records({ kind: 'control.phase' }).at(-1)).toMatchObject({ actor: ADMIN });
    const down = await run(ADMIN, 'phase 1 agent misbehaved');
    expect(control.snapshot().phaseOverride).toBe(1);
    expect(down.title).not.toContain('Refused');
    const show = await run(OPERATOR, 'phase');
    expect(show.body).toContain('global: 1 observe-only (runtime override)');
  });

  it('answers unknown ids plainly and lists help by role', async () => {
    expect((await run(OPERATOR, 'ack i99')).title).toBe('No incident i99');
    expect((await run(OPERATOR, 'ack 7')).title).toBe('i7 acknowledged');
    const h = await run(STRANGER, 'help');
    expect(h.body).toContain('kill <agent|all> [reason]');
    expect(h.body).toContain('You have no role');
    expect((await run(STRANGER, 'help mute')).body).toContain('example: /autonomy mute service web 2h');
  });

  it('shows status with the outbox backlog, budgets and health', async () => {
    await run(OPERATOR, 'kill mentor');
    const r = await run(OPERATOR, 'status');
    const fields = Object.fromEntries(r.fields.map((f) => [f.label, f.value]));
    expect(fields['Kill switches']).toBe('mentor');
    expect(fields.Outbox).toBe('3 pending, 0 failed, oldest 4s');
    expect(fields.Agents).toContain('mentor: phase 1, KILLED');
    expect(r.audience).toBe(OPERATOR);
  });

  it('counts every open incident in a bad hour, lists the newest 20 and says how many are not shown', async () => {
    open = Array.from({ length: 30 }, (_, k) => ({
      shortId: `i${30 - k}`,
      title: `DiskFull on svc-${30 - k}`,
      severity: 'critical' as const,
      status: 'open',
      service: `svc-${30 - k}`,
      signalCount: 1,
      startedAt: now(),
    }));
    const listed = await run(OPERATOR, 'incidents');
    expect(listed.title).toBe('30 open incident(s)');
    const lines = listed.body.split('\n');
    expect(lines).toHaveLength(21);
    expect(lines[0]).toMatch(/^i30 /);
    expect(lines[19]).toMatch(/^i11 /);
    expect(lines[20]).toBe(
      '… and 10 older, not shown (narrow them: /autonomy incidents service <name> or team <name>)',
    );
    // the oldest is still found by a filter
    const one = await run(OPERATOR, 'incidents service svc-1');
    expect([one.title, one.body]).toEqual([
      '1 open incident(s) of service svc-1',
      expect.stringMatching(/^i1 /),
    ]);
    const status = Object.fromEntries((await run(OPERATOR, 'status')).fields.map((f) => [f.label, f.value]));
    expect(status['Open incidents (30)']).toMatch(
      /\n… and 10 older, not shown \(\/autonomy incidents lists them\)$/,
    );
  });

  it('subscribes the channel the command came from', async () => {
    expect((await run(OPERATOR, 'subscribe')).title).toBe('slack:C0OPS now gets the weekly digest');
    expect(calls).toContain('subscribe slack:C0OPS');
    expect((await run(OPERATOR, 'audit run_1')).body).toBe('run started\nrun succeeded');
    expect((await run(OPERATOR, 'audit run_2')).title).toBe('No run run_2');
  });
});

describe('control changes are announced', () => {
  type Said = { channel: string; message: ChatMessage };
  async function runAnnounced(actor: string, text: string): Promise<{ reply: ChatMessage; said: Said[] }> {
    const said: Said[] = [];
    policy = makePolicy({
      phase: 1,
      edit: (doc) => {
        doc.control.roles = { operators: [OPERATOR, GROUP], approvers: [APPROVER], admins: [ADMIN] };
        doc.control.approvalChannels = ['slack:C0APPROVALS', 'slack:C0OPS'];
      },
    });
    const s: CommandServices = {
      ...services(),
      announce: (channel, m) => said.push({ channel, message: m }),
    };
    const reply = await runCommand(s, { platform: 'slack', actor, channel: 'slack:C0OPS', text });
    return { reply, said };
  }
  const fields = (m: ChatMessage | undefined) =>
    Object.fromEntries((m?.fields ?? []).map((f) => [f.label, f.value]));

  it('kill, resume, phase, budget and mute say who, what, why and how to undo it, where made and to approvers', async () => {
    const kill = await runAnnounced(OPERATOR, 'kill guardian flapping deploys');
    expect(kill.said.map((s) => s.channel)).toEqual(['slack:C0OPS', 'slack:C0APPROVALS']);
    expect(kill.said[0]?.message.title).toBe(
      `${OPERATOR} killed guardian (2 run(s) aborted, 1 approval(s) voided)`,
    );
    expect(fields(kill.said[0]?.message)).toMatchObject({
      Who: OPERATOR,
      Why: 'flapping deploys',
      Undo: '/autonomy resume guardian (admins)',
    });
    const resume = await runAnnounced(ADMIN, 'resume guardian fixed');
    expect(resume.said[0]?.message.title).toBe(`${ADMIN} resumed guardian`);
    expect(fields(resume.said[0]?.message).Undo).toBe('/autonomy kill guardian <reason>');
    const phase = await runAnnounced(ADMIN, 'phase 2 reviewed a week');
    expect(phase.said[0]?.message.title).toMatch(/set all agents to phase 2 .*was 1/);
    expect(fields(phase.said[0]?.message).Undo).toBe('/autonomy phase 1');
    const budget = await runAnnounced(ADMIN, 'budget mentor 90000');
    expect(budget.said[0]?.message.title).toBe(`${ADMIN} set mentor's daily budget to 90000 tokens`);
    expect(fields(budget.said[0]?.message).Undo).toBe('/autonomy budget mentor 50000');
    const mute = await runAnnounced(OPERATOR, 'mute service checkout 2h deploy window');
    expect(mute.said[0]?.message.title).toBe(
      `${OPERATOR} muted service checkout until 2026-11-24T14:00:00.000Z`,
    );
    expect(fields(mute.said[0]?.message)).toMatchObject({
      Why: 'deploy window',
      Undo: '/autonomy unmute service checkout',
    });
  });

  it('announces nothing that did not change, and nothing for a refused command', async () => {
    expect((await runAnnounced(ADMIN, 'resume guardian')).said).toHaveLength(0);
    expect((await runAnnounced(STRANGER, 'kill all')).said).toHaveLength(0);
  });
});
