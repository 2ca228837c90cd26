/**
 * Mutes against a real SQLite file: what is held back, for how long, who lifted it, and that every
 * change is in the audit log (and nothing is written when the request is bad).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditLog } from '../../src/audit/log.js';
import { MuteStore } from '../../src/control/mutes.js';
import { type Database, migrate, openDatabase } from '../../src/db/connection.js';
import { sequentialIds } from '../../src/process/ids.js';

const T0 = Date.UTC(2025, 4, 1, 12, 0, 0);
const MIN = 60_000;
const HOUR = 60 * MIN;

let dir: string;
let database: Database;
let audit: AuditLog;
let store: MuteStore;
let t: number;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'autonomy-mutes-'));
  database = openDatabase(join(dir, 'autonomy.db'));
  migrate(database);
  t = T0;
  const now = () => t;
  audit = new AuditLog(database, { now });
  store = new MuteStore(database, audit, { now, newId: sequentialIds() });
});

afterEach(() => {
  database.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('MuteStore', () => {
  it('mutes a service for a while: matching posts are held back until it ends', () => {
    const change = store.mute('service', 'payments-api', 2 * HOUR, 'slack:user:U0OPS', 'deploying');
    expect(change.changed).toBe(true);
    expect(change.message).toMatch(/service payments-api muted until 2025-05-01T14:00:00.000Z \(deploying\)/);
    expect(change.mutes[0]).toMatchObject({ id: 'mute_1', until: T0 + 2 * HOUR, actor: 'slack:user:U0OPS' });

    expect(store.isMuted({ service: 'payments-api' }, T0 + HOUR)).toMatchObject({ target: 'payments-api' });
    expect(store.isMuted({ service: 'payments-api', agent: 'sentinel' }, T0)).not.toBeNull();
    expect(store.isMuted({ service: 'web' }, T0)).toBeNull();
    expect(store.isMuted({ agent: 'payments-api' }, T0)).toBeNull();
    expect(store.isMuted({}, T0)).toBeNull();
    expect(store.isMuted({ service: 'payments-api' }, T0 + 2 * HOUR)).toBeNull();
    expect(store.active(T0 + 2 * HOUR)).toEqual([]);
  });

  it('matches agents, signatures and service globs; the longest matching mute is the answer', () => {
    store.mute('agent', 'guardian', 30 * MIN, 'console:user:local');
    store.mute('signature', 'sig-5f2a', HOUR, 'console:user:local');
    store.mute('service', 'staging-*', 3 * HOUR, 'console:user:local');
    expect(store.isMuted({ agent: 'guardian' }, T0)?.kind).toBe('agent');
    expect(store.isMuted({ agent: 'sentinel', signature: 'sig-5f2a' }, T0)?.kind).toBe('signature');
    expect(store.isMuted({ service: 'staging-eu' }, T0)?.target).toBe('staging-*');
    expect(store.isMuted({ service: 'staging' }, T0)).toBeNull();
    expect(
      store.isMuted({ agent: 'guardian', signature: 'sig-5f2a', service: 'staging-eu' }, T0)?.until,
    ).toBe(T0 + 3 * HOUR);
    expect(store.active(T0).map((m) => m.target)).toEqual(['guardian', 'sig-5f2a', 'staging-*']);
  });

  it('a second mute of the same target replaces the first; unmute lifts it, with who and when', () => {
    store.mute('agent', 'mentor', HOUR, 'console:user:a');
    t += 10 * MIN;
    const again = store.mute('agent', 'mentor', 10 * MIN, 'console:user:b', 'shorter');
    expect(store.active(t)).toHaveLength(1);
    expect(store.isMuted({ agent: 'mentor' }, t + 15 * MIN)).toBeNull();
    expect(again.audit.data).toMatchObject({ replaced: ['mute_1'] });

    t += MIN;
    const lifted = store.unmute('agent', 'mentor', 'slack:user:U0LEAD');
    expect(lifted).toMatchObject({ changed: true, message: 'agent mentor unmuted: its posts go out again' });
    expect(lifted.mutes[0]).toMatchObject({ id: 'mute_2', liftedAt: t, liftedBy: 'slack:user:U0LEAD' });
    expect(store.isMuted({ agent: 'mentor' }, t)).toBeNull();

    const nothing = store.unmute('agent', 'mentor', 'slack:user:U0LEAD');
    expect(nothing).toMatchObject({ changed: false, message: 'agent mentor was not muted; nothing changed' });
  });

  it('audits every change with the actor, in the hash chain', () => {
    store.mute('service', 'web', HOUR, 'discord:user:123456789', 'noisy');
    store.unmute('service', 'web', 'cli:user:admin');
    store.unmute('service', 'web', 'cli:user:admin');
    const records = audit.records();
    expect(records.map((r) => [r.kind, r.actor, r.trigger])).toEqual([
      ['mute.set', 'discord:user:123456789', 'discord'],
      ['mute.lifted', 'cli:user:admin', 'cli'],
      ['mute.lifted', 'cli:user:admin', 'cli'],
    ]);
    expect(records[0]?.data).toMatchObject({
      kind: 'service',
      target: 'web',
      until: T0 + HOUR,
      reason: 'noisy',
    });
    expect(records[2]?.data).toMatchObject({ changed: false, lifted: [] });
    expect(audit.verify()).toMatchObject({ ok: true, count: 3 });
  });

  it('refuses bad requests with a reason and writes nothing', () => {
    expect(() => store.mute('agent', 'nobody', HOUR, 'console:user:a')).toThrow(/unknown agent "nobody"/);
    expect(() => store.mute('service', 'web api', HOUR, 'console:user:a')).toThrow(/not a service name/);
    expect(() => store.mute('service', 'we*b', HOUR, 'console:user:a')).toThrow(/not a service name/);
    expect(() => store.mute('service', 'web', 0, 'console:user:a')).toThrow(/more than 0 and at most 30d/);
    expect(() => store.mute('service', 'web', 31 * 24 * HOUR, 'console:user:a')).toThrow(/at most 30d/);
    expect(() => store.mute('service', 'web', HOUR, ' ')).toThrow(/needs an actor/);
    expect(() => store.mute('host' as 'service', 'web', HOUR, 'console:user:a')).toThrow(/unknown mute kind/);
    expect(store.active(T0)).toEqual([]);
    expect(audit.records()).toEqual([]);
  });

  it('a mute is seen by another connection to the same file (the CLI and the bot share it)', () => {
    store.mute('service', 'api', HOUR, 'cli:user:admin');
    const other = openDatabase(database.file);
    try {
      const reader = new MuteStore(other, new AuditLog(other, { now: () => t }), {
        now: () => t,
        newId: sequentialIds(),
      });
      expect(reader.isMuted({ service: 'api' }, T0 + MIN)).toMatchObject({ actor: 'cli:user:admin' });
    } finally {
      other.close();
    }
  });
});
