import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { installCrashGuard } from '../../src/process/crash-guard.js';

function harness() {
  const target = new EventEmitter();
  const logs: { obj: object; msg: string }[] = [];
  const audits: { kind: string; outcome: string; data: unknown }[] = [];
  const exits: number[] = [];
  const remove = installCrashGuard({
    log: { error: (obj, msg) => logs.push({ obj, msg }) },
    audit: (e) => audits.push(e),
    exit: (code) => exits.push(code),
    target: target as unknown as Pick<NodeJS.Process, 'on' | 'off'>,
  });
  return { target, logs, audits, exits, remove };
}

describe('the process crash guard', () => {
  it('logs and audits an unhandled rejection and keeps the process running', () => {
    const h = harness();
    h.target.emit(
      'unhandledRejection',
      new TypeError("Cannot read properties of null (reading 'ssl_check')"),
    );
    expect(h.exits).toEqual([]);
    expect(h.logs[0]?.msg).toMatch(/unhandled rejection: TypeError: Cannot read.*the bot keeps serving/);
    expect(h.audits).toHaveLength(1);
    expect(h.audits[0]).toMatchObject({ kind: 'process.unhandled' });
    expect(h.audits[0]?.outcome).toContain('keeps serving');
  });

  it('logs and audits an uncaught exception, then exits 1 for the supervisor', () => {
    const h = harness();
    h.target.emit('uncaughtException', new Error('boom'));
    expect(h.logs[0]?.msg).toMatch(/uncaught exception: Error: boom; exiting/);
    expect(h.audits[0]?.outcome).toContain('the process exits');
    expect(h.exits).toEqual([1]);
  });

  it('still exits when the audit cannot be written (the database is the thing that broke)', () => {
    const target = new EventEmitter();
    const logs: string[] = [];
    const exits: number[] = [];
    installCrashGuard({
      log: { error: (_o, msg) => logs.push(msg) },
      audit: () => {
        throw new Error('database is closed');
      },
      exit: (code) => exits.push(code),
      target: target as unknown as Pick<NodeJS.Process, 'on' | 'off'>,
    });
    target.emit('uncaughtException', 'a string, not an Error');
    expect(logs).toEqual([
      expect.stringContaining('non-error value a string, not an Error'),
      'could not audit the error above',
    ]);
    expect(exits).toEqual([1]);
  });

  it('removes its handlers', () => {
    const h = harness();
    h.remove();
    expect(h.target.listenerCount('unhandledRejection')).toBe(0);
    expect(h.target.listenerCount('uncaughtException')).toBe(0);
  });
});
