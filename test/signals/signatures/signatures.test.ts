/**
 * Error signatures: masking, header stripping, grouping accuracy on our own labelled fixtures (the
 * public benchmark is held out), stable ids, bounded memory, the `autonomy signatures` stream and
 * repeated-error detection.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runSignatures } from '../../../src/signals/signatures/cli.js';
import { groupingAccuracy } from '../../../src/signals/signatures/grouping-accuracy.js';
import { maskMessage, stripHeader } from '../../../src/signals/signatures/mask.js';
import { SignatureMiner, type TemplateRecord } from '../../../src/signals/signatures/miner.js';
import { RepeatTracker } from '../../../src/signals/signatures/repeats.js';
import { STYLES } from '../../fixtures/logs/styles.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'logs');

describe('maskMessage', () => {
  it.each([
    [
      'PacketResponder 1 for block blk_-1608999687919862906 terminating',
      'PacketResponder <*> for block blk_<*> terminating',
    ],
    ['Served block to /10.250.19.102:54106', 'Served block to <*>'],
    ['connect 10.0.0.1:8080 failed', 'connect <*> failed'],
    ['MDNS: IPV6 Addr: fe80:0:0:0:c6b3:1ff:fe4c:ec26', 'MDNS: <*> Addr: <*>'],
    ['peer 2001:db8::1 down', 'peer <*> down'],
    ['req-38101a0b-2096-447d-96ea-a692162415ae done', 'req-<*> done'],
    ['instance abcdefab-cdef-4bcd-abcd-abcdefabcdef gone', 'instance <*> gone'],
    ['mask 0x0b85eee0 at a64f992', 'mask <*> at <*>'],
    ['DHCPACK to a5:90:d0:fa:85:73 via eth1', 'DHCPACK to <*> via <*>'],
    ['Loaded C:\\Windows\\winsxs\\cbscore.dll', 'Loaded <*>'],
    ['File does not exist: /var/www/html/scripts/root.exe', 'File does not exist: <*>'],
    ['fetch https://example.test/a?b=1 ok', 'fetch <*> ok'],
    ['mail from alice@example.com rejected', 'mail from <*> rejected'],
    [
      "Successfully started service 'sparkDriver' on port 38473.",
      "Successfully started service '<*>' on port <*>.",
    ],
    ['at Sun Jul  3 23:15:38 2005 done', 'at <*> done'],
    ['from 2017-05-16 00:00:00 to 2017-05-16 01:00:00.', 'from <*> to <*>.'],
    [
      'uid=0 euid=0 tty=NODEVssh ruser= rhost=host.example.net',
      'uid=<*> euid=<*> tty=<*> ruser=<*> rhost=<*>',
    ],
    ['took 12ms and 3.5MB', 'took <*> and <*>'],
    ['estimated size 9.4 KB, free 317.5 MB', 'estimated size <*>, free <*>'],
    ['sent 1190 bytes (1.16 KB), lifetime <1 sec', 'sent <*>, lifetime <*>'],
    ['sent 120 bytes, lifetime 00:01', 'sent <*>, lifetime <*>'],
    ['sent 1,234 bytes (1.2 KB) in 1.5 s', 'sent <*> in <*>'],
    ['ciod: ready <ok> <ok> <ok>', 'ciod: ready <ok>'],
    ['Received disconnect: "Bye Bye" [preauth]', 'Received disconnect: "<*>" [preauth]'],
    ['10.0.0.1 "GET /v2/servers HTTP/1.1" status: 200', '<*> "GET <*>" status: <*>'],
    ['Fan speeds ( 3552 3534 3375 3516 )', 'Fan speeds ( <*> )'],
    ['ask 10.0.0.1:50010 to delete blk_1 blk_-2 blk_3', 'ask <*> to delete blk_<*>'],
    ['OutputCommitter is org.apache.hadoop.mapred.FileOutputCommitter', 'OutputCommitter is <*>'],
    ['isRelaunching = false, visible true', 'isRelaunching = <*>, visible <*>'],
    ['setLightsOn(false)', 'setLightsOn(<*>)'],
    ['flags [null], mode (None); strict', 'flags [<*>], mode (<*>); strict'],
    ['mode (Debian) f(on)', 'mode (Debian) f(on)'],
    ['r00=0x00000000 r01=0x00545ab0 r02=0x0', '<*>=<*>'],
    ['tag="View Lock", name=x', 'tag="<*>", name=<*>'],
  ])('%s', (message, template) => {
    expect(maskMessage(message)).toBe(template);
  });

  it('keeps the constant words and identifiers', () => {
    expect(maskMessage('workerEnv.init() ok')).toBe('workerEnv.init() ok');
    expect(maskMessage('session opened for user root')).toBe('session opened for user root');
    expect(maskMessage('Registered signal handlers for [TERM, HUP, INT]')).toBe(
      'Registered signal handlers for [TERM, HUP, INT]',
    );
  });
});

describe('stripHeader', () => {
  it.each([
    [
      '081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_1 terminating',
      'PacketResponder 1 for block blk_1 terminating',
    ],
    [
      '2015-10-18 18:01:47,978 INFO [main] org.apache.hadoop.mapreduce.v2.app.MRAppMaster: Created MRAppMaster',
      'Created MRAppMaster',
    ],
    [
      '2015-10-18 18:01:52,153 WARN [RMCommunicator Allocator] org.x.Y: ERROR IN CONTACTING RM.',
      'ERROR IN CONTACTING RM.',
    ],
    [
      '17/06/09 20:10:40 INFO executor.CoarseGrainedExecutorBackend: Registered signal handlers',
      'Registered signal handlers',
    ],
    [
      '2015-07-29 17:41:44,747 - INFO  [QuorumPeer[myid=1]/0:0:0:0:0:0:0:0:2181:FastLeaderElection@774] - Notification time out: 3200',
      'Notification time out: 3200',
    ],
    [
      '- 1117838570 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.50.675872 R02-M1-N0-C:J12-U11 RAS KERNEL INFO instruction cache parity error corrected',
      'instruction cache parity error corrected',
    ],
    [
      '134681 node-246 unix.hw state_change.unavailable 1077804742 1 Component State Change: Component alt0 is unavailable',
      'Component State Change: Component alt0 is unavailable',
    ],
    [
      '- 1131566461 2005.11.09 dn228 Nov 9 12:01:01 dn228/dn228 crond(pam_unix)[2915]: session closed for user root',
      'session closed for user root',
    ],
    [
      '2016-09-28 04:30:30, Info                  CBS    Loaded Servicing Stack v6.1.7601.23505',
      'Loaded Servicing Stack v6.1.7601.23505',
    ],
    ['Jun 14 15:16:01 combo sshd(pam_unix)[19939]: check pass; user unknown', 'check pass; user unknown'],
    ['Jun  9 06:06:20 combo syslogd 1.4.1: restart.', 'restart.'],
    ['03-17 16:13:38.811  1702  2395 D WindowManager: printFreezingDisplayLogs', 'printFreezingDisplayLogs'],
    ['20171223-22:15:29:606|Step_LSC|30002312|onStandStepChanged 3579', 'onStandStepChanged 3579'],
    [
      '[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok /etc/httpd/conf/workers2.properties',
      'workerEnv.init() ok /etc/httpd/conf/workers2.properties',
    ],
    [
      '[Sun Dec 04 04:47:44 2005] [error] [client 1.2.3.4] Directory index forbidden',
      '[client 1.2.3.4] Directory index forbidden',
    ],
    [
      '[10.30 16:49:06] chrome.exe - proxy.example.hk:5070 open through proxy proxy.example.hk:5070 HTTPS',
      'proxy.example.hk:5070 open through proxy proxy.example.hk:5070 HTTPS',
    ],
    ['Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user admin from 1.2.3.4', 'Invalid user admin from 1.2.3.4'],
    [
      'nova-api.log.1.2017-05-16_13:53:08 2017-05-16 00:00:00.008 25746 INFO nova.osapi_compute.wsgi.server [req-1 2 3 - - -] 10.11.10.1 "GET /v2 HTTP/1.1" status: 200',
      '10.11.10.1 "GET /v2 HTTP/1.1" status: 200',
    ],
    [
      'Jul  1 09:00:55 calvisitor-10-105-160-95 kernel[0]: ARPT: 620.701630: wl0: MDNS',
      'ARPT: 620.701630: wl0: MDNS',
    ],
    ['Jul  1 09:01:05 host-1 com.apple.xpc.launchd[1] (com.apple.x.35704): Service exited', 'Service exited'],
    ['[INFO] Starting server on port 8080', 'Starting server on port 8080'],
    ['ERROR: disk full', 'disk full'],
    ['2024-01-01T10:00:00.123Z WARN api: slow request', 'slow request'],
    ['2024/01/01 12:00:00 [error] 1234#0: *5 open() failed', '*5 open() failed'],
  ])('%s', (line, message) => {
    expect(stripHeader(line)).toBe(message);
  });

  it.each([
    'connection from 84.102.20.2 () at Fri Jul  1 07:09:00 2005',
    'LEADING - LEADER ELECTION TOOK - 223',
    '[instance: b9000564-fe1a-409b-b8cc-1e88b294cd1d] VM Started (Lifecycle Event)',
    'ARPT: 620.701630: wl0: MDNS: IPV6 Addr: fe80:0:0:0:c6b3:1ff:fe4c:ec26',
    'pam_unix(sshd:auth): check pass; user unknown',
    'CE sym 2, at 0x0b85eee0, mask 0x05',
    '10.251.43.21:50010 Served block blk_1 to /10.251.43.21',
    '1 ddr error(s) detected and corrected',
    '',
  ])('leaves a bare message alone: %s', (message) => {
    expect(stripHeader(message)).toBe(message);
  });
});

describe('groupingAccuracy', () => {
  it('counts a line correct only when its predicted group is exactly its true group', () => {
    // true: a a b b c; predicted: x x y y y -> a's group right (2), b and c merged (3 wrong)
    expect(groupingAccuracy(['x', 'x', 'y', 'y', 'y'], ['a', 'a', 'b', 'b', 'c']).accuracy).toBeCloseTo(0.4);
    // splitting a true group makes all its lines wrong
    expect(groupingAccuracy(['x', 'z', 'y'], ['a', 'a', 'b']).accuracy).toBeCloseTo(1 / 3);
    expect(groupingAccuracy(['1', '1', '2'], ['a', 'a', 'b']).accuracy).toBe(1);
    expect(() => groupingAccuracy(['x'], [])).toThrow(/align/);
  });
});

interface Fixture {
  readonly name: string;
  readonly lines: string[];
  readonly labels: string[];
  readonly offsets: number[];
}

function loadFixture(name: string): Fixture {
  const lines = readFileSync(join(FIXTURES, `${name}.log`), 'utf8')
    .trimEnd()
    .split('\n');
  const rows = readFileSync(join(FIXTURES, `${name}.labels.csv`), 'utf8')
    .trimEnd()
    .split('\n')
    .slice(1);
  return {
    name,
    lines,
    labels: rows.map((r) => r.split(',')[0] as string),
    offsets: rows.map((r) => Number(r.split(',')[1])),
  };
}

async function signaturesOf(
  text: string,
  options = {},
): Promise<{ line: number; signature: string; template: string }[]> {
  const out = new PassThrough();
  const chunks: string[] = [];
  out.on('data', (c: Buffer) => chunks.push(c.toString('utf8')));
  await runSignatures(Readable.from([Buffer.from(text)]), out, new SignatureMiner(), options);
  return chunks
    .join('')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l));
}

describe('grouping accuracy on the labelled fixtures', () => {
  // The target is a mean of 0.90 (Drain: 0.865 on Loghub). Our own fixtures are held to
  // 0.95, so a regression shows here before it costs the target. Floor per file: 0.85 — no style of
  // log may fall below Drain's published mean; the hard cases each fixture carries on purpose (word
  // values with few distinct values, variable-length words) cost the weakest files about 0.1.
  const MEAN_TARGET = 0.95;
  const FLOOR = 0.85;
  const fixtures = STYLES.map((s) => loadFixture(s.name));

  it('whole lines through `autonomy signatures`', async () => {
    const results: Record<string, number> = {};
    for (const f of fixtures) {
      const out = await signaturesOf(`${f.lines.join('\n')}\n`);
      expect(out.map((o) => o.line)).toEqual(f.lines.map((_, i) => i + 1));
      results[f.name] = groupingAccuracy(
        out.map((o) => o.signature),
        f.labels,
      ).accuracy;
    }
    const mean = Object.values(results).reduce((a, b) => a + b, 0) / fixtures.length;
    for (const [name, accuracy] of Object.entries(results))
      expect({ name, ok: accuracy >= FLOOR, accuracy }).toMatchObject({ ok: true });
    expect(mean).toBeGreaterThanOrEqual(MEAN_TARGET);
  });

  it('bare messages (the header cut off by the sender)', () => {
    let sum = 0;
    for (const f of fixtures) {
      const miner = new SignatureMiner({ now: () => 0 });
      const sigs = f.lines.map((l, i) => miner.add(l.slice(f.offsets[i])).signature);
      const accuracy = groupingAccuracy(
        sigs.map((s) => miner.resolve(s) ?? s),
        f.labels,
      ).accuracy;
      expect({ name: f.name, ok: accuracy >= FLOOR, accuracy }).toMatchObject({ ok: true });
      sum += accuracy;
    }
    expect(sum / fixtures.length).toBeGreaterThanOrEqual(MEAN_TARGET);
  });
});

describe('SignatureMiner', () => {
  it('a boolean passed to a call is a value: one signature for true and false', () => {
    const miner = new SignatureMiner({ now: () => 0 });
    const ids = new Set(
      [
        '08-17 17:35:12.882  2590  966 D PhoneStatusBar: setLightsOn(false)',
        '07-27 23:55:48.134  910  569 D PhoneStatusBar: setLightsOn(true)',
      ].map((l) => miner.resolve(miner.add(l).signature)),
    );
    expect(ids.size).toBe(1);
  });

  it('keeps a signature while its template generalises, and after a restart', () => {
    let clock = 1_000;
    const miner = new SignatureMiner({ now: () => clock++ });
    const first = miner.add('session opened for user root by (uid=0)');
    expect(first.isNew).toBe(true);
    const second = miner.add('session opened for user alice by (uid=0)');
    expect(second.signature).toBe(first.signature);
    expect(second.template).toBe('session opened for user <*> by (uid=<*>)');
    expect(second.count).toBe(2);

    // Word values in a position without a naming word become a variable only after enough of them:
    // each earlier one had its own signature, which now resolves to the merged template.
    const early = ['alpha', 'beta', 'gamma', 'delta'].map((h) => miner.add(`${h} : Connection timed out`));
    expect(new Set(early.map((e) => e.signature)).size).toBe(4);
    const merged = miner.add('epsilon : Connection timed out');
    expect(merged.signature).toBe(early[0]?.signature);
    expect(merged.template).toBe('<*> : Connection timed out');
    for (const e of early) expect(miner.resolve(e.signature)).toBe(merged.signature);
    expect(miner.add('zeta : Connection timed out').signature).toBe(merged.signature);

    const records: TemplateRecord[] = JSON.parse(JSON.stringify(miner.snapshot()));
    const restored = SignatureMiner.restore(records, { now: () => clock++ });
    expect(restored.snapshot()).toEqual(miner.snapshot());
    expect(restored.add('session opened for user bob by (uid=0)').signature).toBe(first.signature);
    expect(restored.add('eta : Connection timed out').signature).toBe(merged.signature);
    expect(restored.resolve(early[2]?.signature as string)).toBe(merged.signature);
    expect(restored.add('something else entirely').isNew).toBe(true);
  });

  it('gives the same signature to the same first message in two processes', () => {
    const a = new SignatureMiner().add('Disk /dev/sda1 is 91% full');
    const b = new SignatureMiner().add('Disk /dev/sdb2 is 97% full');
    expect(a.signature).toBe(b.signature);
    expect(a.signature).toMatch(/^s_[0-9a-z]+$/);
  });

  it('rejects a snapshot it did not write, saying where', () => {
    expect(() => SignatureMiner.restore([{ signature: 's_1', template: 'x' }])).toThrow(/\[0\]\.count/);
    expect(() => SignatureMiner.restore([{ signature: 's_1', template: 'x' }])).toThrow(
      expect.objectContaining({ code: 'SIGNATURES_SNAPSHOT_INVALID' }),
    );
  });

  it('keeps at most maxTemplates, evicting the least recently seen', () => {
    const miner = new SignatureMiner({ maxTemplates: 3, now: () => 0 });
    const a = miner.add('alpha one two');
    miner.add('bravo three four');
    miner.add('charlie five six');
    miner.add('alpha one two'); // alpha is now the most recent
    miner.add('delta seven eight'); // evicts bravo
    expect(miner.size).toBe(3);
    const records = miner.snapshot().map((r) => r.template);
    expect(records).toEqual(['charlie five six', 'alpha one two', 'delta seven eight']);
    expect(miner.resolve(a.signature)).toBe(a.signature);
    for (let i = 0; i < 500; i++)
      miner.add(`junk${'q'.repeat(i % 7)} token${String.fromCharCode(97 + (i % 26))} x${i}y`);
    expect(miner.size).toBeLessThanOrEqual(3);
  });

  it('never throws and always answers with a template, whatever the input', () => {
    const line = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 300 }),
      fc
        .array(
          fc.constantFrom(
            'user',
            'root',
            'failed',
            '42',
            '0x1f',
            '=',
            '"',
            '[x]',
            '/a/b',
            '',
            ' ',
            '\t',
            'a=b',
            '<*>',
          ),
          {
            maxLength: 40,
          },
        )
        .map((t) => t.join(' ')),
    );
    fc.assert(
      fc.property(fc.array(line, { minLength: 1, maxLength: 40 }), (lines) => {
        const miner = new SignatureMiner({ maxTemplates: 8, now: () => 0 });
        for (const l of lines) {
          const m = miner.add(l);
          expect(typeof m.template).toBe('string');
          expect(m.signature).toMatch(/^s_[0-9a-z]+$/);
          expect(m.count).toBeGreaterThanOrEqual(1);
        }
        expect(miner.size).toBeLessThanOrEqual(8);
        const again = SignatureMiner.restore(JSON.parse(JSON.stringify(miner.snapshot())));
        expect(again.snapshot()).toEqual(miner.snapshot());
      }),
      { numRuns: 200 },
    );
  });
});

describe('runSignatures (`autonomy signatures`)', () => {
  it('writes one JSON line per input line, whatever the line', async () => {
    const long = `GET /x ${'a'.repeat(200_000)} done`;
    const junk = Buffer.from([0xff, 0xfe, 0x00, 0x41, 0xc3, 0x28, 0x0a, 0xe2, 0x82]);
    const input = Buffer.concat([
      Buffer.from(
        'Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user admin from 1.2.3.4\n\n\r\nInvalid user test from 5.6.7.8\r\n',
      ),
      Buffer.from(`${long}\n`),
      junk,
      Buffer.from('\nlast line without newline'),
    ]);
    const out = new PassThrough();
    const chunks: string[] = [];
    out.on('data', (c: Buffer) => chunks.push(c.toString('utf8')));
    const result = await runSignatures(Readable.from([input]), out);
    const rows = chunks
      .join('')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as { line: number; signature: string; template: string });
    expect(result.lines).toBe(8);
    expect(rows.map((r) => r.line)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    for (const r of rows) {
      expect(r.signature).toMatch(/^s_/);
      expect(typeof r.template).toBe('string');
    }
    expect(rows[0]?.signature).toBe(rows[3]?.signature); // header or not, the same event
    expect(rows[0]?.template).toBe('Invalid user <*> from <*>');
    expect(rows[1]?.template).toBe('');
    expect(rows[2]?.signature).toBe(rows[1]?.signature); // empty and CR-only lines
    expect(rows[4]?.template.length).toBeLessThan(1000);
  });

  it('keeps lines aligned across batches and flushes when the input pauses', async () => {
    const text = Array.from({ length: 25 }, (_, i) => `job ${i} finished in ${i}ms`).join('\n');
    const rows = await signaturesOf(text, { batchLines: 4 });
    expect(rows.map((r) => r.line)).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    expect(new Set(rows.map((r) => r.signature)).size).toBe(1);

    const input = new PassThrough();
    const out = new PassThrough();
    const seen: string[] = [];
    out.on('data', (c: Buffer) => seen.push(c.toString('utf8')));
    const done = runSignatures(input, out, new SignatureMiner(), { idleFlushMs: 10 });
    input.write('first line\n');
    await new Promise((r) => setTimeout(r, 100));
    expect(seen.join('')).toContain('"line":1');
    input.end('second line\n');
    expect((await done).lines).toBe(2);
  });
});

describe('RepeatTracker', () => {
  it('fires at the threshold within the window, once per cooldown, with the count', () => {
    const t = new RepeatTracker({ threshold: 3, windowMs: 1_000, cooldownMs: 5_000 });
    expect(t.observe('s_a', 0)).toBeNull();
    expect(t.observe('s_a', 100)).toBeNull();
    expect(t.observe('s_a', 200)).toEqual({ signature: 's_a', count: 3, firstAt: 0, lastAt: 200 });
    expect(t.observe('s_a', 300)).toBeNull(); // cooling down
    expect(t.observe('s_b', 300)).toBeNull(); // signatures are independent
    for (let at = 400; at < 5_200; at += 100) expect(t.observe('s_a', at)).toBeNull();
    expect(t.observe('s_a', 5_200)).toEqual({ signature: 's_a', count: 10, firstAt: 4_300, lastAt: 5_200 });
  });

  it('slides the window: old occurrences stop counting', () => {
    const t = new RepeatTracker({ threshold: 3, windowMs: 1_000, cooldownMs: 0 });
    expect(t.observe('s', 0)).toBeNull();
    expect(t.observe('s', 600)).toBeNull();
    expect(t.observe('s', 1_200)).toBeNull(); // 0 left the window: 2 in (200, 1200]
    expect(t.observe('s', 1_300)?.count).toBe(3);
    expect(t.observe('s', 1_250)?.count).toBe(4); // a late timestamp counts as the latest
  });

  it('stays bounded', () => {
    const t = new RepeatTracker({
      threshold: 2,
      windowMs: 60_000,
      cooldownMs: 0,
      maxSignatures: 100,
      maxPerSignature: 50,
    });
    for (let i = 0; i < 10_000; i++) t.observe(`s_${i % 1_000}`, i);
    expect(t.size).toBeLessThanOrEqual(100);
    let last = null;
    for (let i = 0; i < 500; i++) last = t.observe('hot', 100_000 + i);
    expect(last?.count).toBe(50);
    expect(() => new RepeatTracker({ threshold: 0, windowMs: 1, cooldownMs: 0 })).toThrow(/threshold/);
  });
});
