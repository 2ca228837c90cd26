import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { claimPidFile, pidFilePath, runningPid } from '../../src/process/pidfile.js';
import { processIdentity } from '../../src/process/proc-identity.js';

let dir: string;
let other: ChildProcess | null = null;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'autonomy-pid-'));
});
afterEach(async () => {
  if (other && other.exitCode === null) {
    other.kill('SIGKILL');
    await new Promise((r) => other?.once('exit', r));
  }
  other = null;
  rmSync(dir, { recursive: true, force: true });
});

/** A live process that is not the bot (as a reused pid would be). */
function stranger(): number {
  other = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  return other.pid as number;
}

describe.runIf(process.platform === 'linux')('the pid file names its owner', () => {
  it('writes the pid and the process identity; a second claim on the folder is refused', () => {
    const release = claimPidFile(dir);
    const [pid, identity] = readFileSync(pidFilePath(dir), 'utf8').split('\n');
    expect(pid).toBe(String(process.pid));
    expect(identity).toBe(processIdentity(process.pid));
    expect(runningPid(dir)).toBe(process.pid);
    expect(() => claimPidFile(dir)).toThrow(/another autonomy \(pid \d+\) is running/);
    release();
    expect(runningPid(dir)).toBeNull();
  });

  it('a file naming a live process that is not the bot (reused pid) does not refuse the start', () => {
    const pid = stranger();
    // What a crashed bot left: its pid, now someone else's, and the identity of the bot that was.
    writeFileSync(pidFilePath(dir), `${pid}\n00000000-0000-0000-0000-000000000000:12345\n`);
    expect(runningPid(dir)).toBeNull();
    const release = claimPidFile(dir);
    expect(runningPid(dir)).toBe(process.pid);
    release();
  });

  it('a file naming the live process that wrote it still refuses the start', () => {
    const pid = stranger();
    writeFileSync(pidFilePath(dir), `${pid}\n${processIdentity(pid)}\n`);
    expect(runningPid(dir)).toBe(pid);
    expect(() => claimPidFile(dir)).toThrow(`another autonomy (pid ${pid}) is running`);
  });

  it('a one-line file from an older version counts a live pid as the bot (nothing to compare)', () => {
    const pid = stranger();
    writeFileSync(pidFilePath(dir), `${pid}\n`);
    expect(runningPid(dir)).toBe(pid);
  });

  it('a file naming a dead pid or holding garbage is taken over', () => {
    writeFileSync(pidFilePath(dir), '999999999\nx:1\n');
    expect(runningPid(dir)).toBeNull();
    writeFileSync(pidFilePath(dir), 'not a pid\n');
    expect(runningPid(dir)).toBeNull();
    claimPidFile(dir)();
  });
});
