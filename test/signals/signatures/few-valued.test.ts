/**
 * Few-valued words (issue 21): a word that is a value (an interface, a signal name, a trailing
 * argument) joins one signature after two or three distinct words, so a repeated error whose value
 * varies reaches its repetition threshold; a word that says what happened (`Accepted` / `Failed`)
 * keeps two signatures however many lines come.
 */
import { describe, expect, it } from 'vitest';
import { looksLikeIdentifier } from '../../../src/signals/signatures/few-valued.js';
import { SignatureMiner } from '../../../src/signals/signatures/miner.js';
import { RepeatTracker } from '../../../src/signals/signatures/repeats.js';

const header = (i: number) => `Dec  7 08:${String(10 + (i % 50)).padStart(2, '0')}:01 gw kernel: `;

describe('few-valued words', () => {
  it('a repeated error whose interface name varies reaches its repetition threshold as one signature', () => {
    const miner = new SignatureMiner({ now: () => 0 });
    const repeats = new RepeatTracker({ threshold: 3, windowMs: 60_000, cooldownMs: 60_000 });
    const alerts = ['wan', 'lan', 'mgmt'].map((iface, i) => {
      const { signature } = miner.add(
        `${header(i)}bond0: link status definitely down for interface ${iface}, disabling it`,
        i * 1_000,
      );
      return repeats.observe(signature, i * 1_000);
    });
    expect(alerts.slice(0, 2)).toEqual([null, null]);
    expect(alerts[2]?.count).toBe(3);
    expect(miner.size).toBe(1);
  });

  it('a signal name or a trailing argument is a value: one signature', () => {
    const miner = new SignatureMiner({ now: () => 0 });
    const shutdown = ['SIGTERM', 'SIGINT', 'SIGTERM'].map(
      (sig) => miner.add(`1:M 07 Dec 2026 08:10:01.123 # Received ${sig} scheduling shutdown...`).signature,
    );
    expect(new Set(shutdown).size).toBe(1);
    const ready = ['tcp', 'unix', 'tls', 'tcp', 'unix'].map(
      (kind) => miner.add(`1:M 07 Dec 2026 08:10:02.456 * Ready to accept connections ${kind}`).signature,
    );
    // the first two were two templates; the third word made the position a value, and both ids
    // resolve to the one that was kept
    expect(new Set(ready.slice(2)).size).toBe(1);
    expect(new Set(ready.map((s) => miner.resolve(s))).size).toBe(1);
    expect(miner.templateOf(ready[4] as string)).toBe('* Ready to accept connections <*>');
  });

  it('a word right after a key is a value: two package states make one signature', () => {
    const miner = new SignatureMiner({ now: () => 0 });
    const sigs = ['Staged', 'Installed', 'Absent'].map(
      (state) =>
        miner.add(
          `2026-12-07 08:10:01, Info CBS Plan: Package: KB5031356, current: Absent, pending: ${state}`,
        ).signature,
    );
    expect(new Set(sigs).size).toBe(1);
  });

  it('`Accepted password` and `Failed password` stay two signatures, whatever the users and hosts', () => {
    const miner = new SignatureMiner({ now: () => 0 });
    const users = ['root', 'alice', 'bob', 'deploy', 'git', 'admin', 'oracle'];
    const seen = { Accepted: new Set<string>(), Failed: new Set<string>() };
    for (let i = 0; i < 200; i++) {
      const verb = i % 3 === 0 ? 'Accepted' : 'Failed';
      const line = `Dec  7 08:10:01 host sshd[${1000 + i}]: ${verb} password for ${users[i % users.length]} from 10.0.${i % 7}.${i % 250} port ${40000 + i} ssh2`;
      seen[verb].add(miner.add(line).signature);
    }
    const accepted = new Set([...seen.Accepted].map((s) => miner.resolve(s)));
    const failed = new Set([...seen.Failed].map((s) => miner.resolve(s)));
    expect(accepted.size).toBe(1);
    expect(failed.size).toBe(1);
    expect([...accepted][0]).not.toBe([...failed][0]);
    expect(miner.templateOf([...accepted][0] as string)).toBe('Accepted password for <*> from <*> port <*>');
  });

  it('`link up` and `link down` stay two signatures; `opened` and `closed` too', () => {
    const miner = new SignatureMiner({ now: () => 0 });
    const sigs = ['up', 'down', 'up', 'down'].map(
      (state) => miner.add(`e1000e: eth0 NIC Link is ${state}`).signature,
    );
    expect(sigs[0]).toBe(sigs[2]);
    expect(sigs[1]).toBe(sigs[3]);
    expect(sigs[0]).not.toBe(sigs[1]);
    const session = ['opened', 'closed', 'opened', 'closed'].map(
      (what, i) => miner.add(`pam_unix(sshd:session): session ${what} for user u${i}`).signature,
    );
    expect(session[0]).not.toBe(session[1]);
  });

  it('optional `key: value` parts in any combination are one message; two keys never become one value', () => {
    const miner = new SignatureMiner({ now: () => 0 });
    const base =
      '2024/03/04 20:24:41 [error] 11412#0: *13901 connect() failed (111: Connection refused) while connecting to upstream, client: 10.1.2.3, server: _, request: "GET /x HTTP/1.1"';
    const parts = [
      ', upstream: "http://10.0.0.1:3000/"',
      ', host: "example.com"',
      ', referrer: "https://example.com/a1"',
    ];
    const lines = [
      `${base}${parts[0]}`,
      `${base}${parts[1]}`,
      `${base}${parts[2]}`,
      `${base}${parts[0]}${parts[1]}`,
      `${base}${parts[1]}${parts[2]}`,
      `${base}${parts[0]}${parts[2]}`,
      `${base}${parts[0]}${parts[1]}${parts[2]}`,
      base,
      `${base}${parts[1]}`,
      `${base}${parts[0]}${parts[1]}${parts[2]}`,
    ];
    const ids = new Set(lines.map((l) => miner.add(l).signature).map((s) => miner.resolve(s)));
    expect(ids.size).toBe(1);
    expect(miner.templateOf([...ids][0] as string)).toBe(
      '<*> connect() failed (<*>: Connection refused) while connecting to upstream, client: <*>, server: _, request: "GET <*>"',
    );
  });

  it('two settings printed into one message are values once every combination has been seen', () => {
    const miner = new SignatureMiner({ now: () => 0 });
    const line = (auth: string, acls: string) =>
      miner.add(
        `24/04/12 22:00:09 INFO spark.SecurityManager: SecurityManager: authentication ${auth}; ui acls ${acls}; users with view permissions: Set(yarn)`,
      ).signature;
    const first = [line('enabled', 'enabled'), line('disabled', 'disabled'), line('enabled', 'enabled')];
    // two combinations only: as likely two messages as two settings
    expect(new Set(first).size).toBe(2);
    const rest = [line('enabled', 'disabled'), line('disabled', 'enabled')];
    const ids = new Set([...first, ...rest].map((s) => miner.resolve(s)));
    expect(ids.size).toBe(1);
    expect(miner.templateOf([...ids][0] as string)).toBe(
      'SecurityManager: authentication <*> ui acls <*> users with view permissions: Set(yarn)',
    );
  });

  it('reads a word as an identifier by its shape only', () => {
    for (const w of ['file-read-data', 'StatusBar', 'isRelaunching', 'SIGTERM', 'NotificationShade}'])
      expect({ w, id: looksLikeIdentifier(w) }).toEqual({ w, id: true });
    for (const w of ['Failed', 'password', 'GET', 'up', 'status=<*>', '<*>', '-v'])
      expect({ w, id: looksLikeIdentifier(w) }).toEqual({ w, id: false });
  });
});
