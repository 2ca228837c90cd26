/**
 * Values that change the token count (issue 21) do not split one message: a size written across
 * tokens, a structured logger's quoted value holding a whole error, a list or object printed by
 * name; and what is not one value stays apart (a process id and its name, the message a structured
 * logger opens its line with).
 */
import { describe, expect, it } from 'vitest';
import { maskMessage } from '../../../src/signals/signatures/mask.js';
import { SignatureMiner } from '../../../src/signals/signatures/miner.js';

function signaturesOf(lines: readonly string[]): { miner: SignatureMiner; ids: Set<string> } {
  const miner = new SignatureMiner({ now: () => 0 });
  const sigs = lines.map((l) => miner.add(l).signature);
  return { miner, ids: new Set(sigs.map((s) => miner.resolve(s) ?? s)) };
}

/** The templates the lines end up in, one per signature (after merges). */
function templatesOf(lines: readonly string[]): (string | null)[] {
  const { miner, ids } = signaturesOf(lines);
  return [...ids].map((id) => miner.templateOf(id));
}

describe('values that change the token count', () => {
  it('a size over several tokens is one value; a name in brackets after a number is not folded into it', () => {
    expect(maskMessage('sd 2:0:3:0: [sda] 7131341866 4096-byte logical blocks: (1.5 GB/5.2 GiB)')).toBe(
      'sd <*>: [sda] <*> <*>-byte logical blocks: (<*>)',
    );
    expect(maskMessage('Out of memory: Killed process 36121 (python3) total-vm:4185217kB, UID:0')).toBe(
      'Out of memory: Killed process <*> (<*>) total-vm:<*>, UID:<*>',
    );
    const { ids } = signaturesOf([
      'Out of memory: Killed process 85216 (node) total-vm:2595620kB, UID:999',
      'Out of memory: Killed process 36121 (python3) total-vm:4185217kB, UID:0',
      'Out of memory: Killed process 1211 (java) total-vm:1185217kB, UID:0',
      'Out of memory: Killed process 7 (postgres) total-vm:85217kB, UID:70',
    ]);
    expect(ids.size).toBe(1);
  });

  it('a rate is one value in whatever unit it is printed', () => {
    // dd's summary: SI rates (`kB/s`) as well as the others, with or without the sizes in brackets
    expect(
      templatesOf([
        '16777216 bytes (17 MB, 16 MiB) copied, 0.04 s, 429 MB/s',
        '1048576 bytes (1.0 MB, 1.0 MiB) copied, 0.011 s, 95.3 kB/s',
        '512 bytes copied, 0.000123 s, 4.2 MB/s',
        '2048 bytes (2.0 kB, 2.0 KiB) copied, 2.1 s, 975 B/s',
      ]),
    ).toEqual(['<*> copied, <*>']);
    for (const rate of ['2.3 KiB/s', '12 MB/sec', '1.2 Gbit/s', '300 Mbps'])
      expect(maskMessage(`transfer done at ${rate}`)).toBe('transfer done at <*>');
    expect(maskMessage('hung task blocked for 500 msecs')).toBe('hung task blocked for <*>');
  });

  it('a size as long as an epoch that opens the message is its value, not a header stamp', () => {
    // 1 GiB is ten digits, like a Unix time: with a unit after it, it is a quantity
    expect(
      templatesOf([
        '1073741824 bytes (1.1 GB, 1.0 GiB) copied, 2.5 s, 429 MB/s',
        '134217728 bytes (134 MB, 128 MiB) copied, 0.31 s, 433 MB/s',
        '16777216 bytes (17 MB, 16 MiB) copied, 0.04 s, 429 MB/s',
      ]),
    ).toEqual(['<*> copied, <*>']);
    // a stamp it still is before the rest of a header (supercomputer logs)
    expect(
      signaturesOf([
        '- 1117838570 2005.06.03 R02-M1-N0-C:J12-U11 RAS KERNEL INFO instruction cache parity error corrected',
      ]).miner.snapshot()[0]?.template,
    ).toBe('instruction cache parity error corrected');
  });

  it("a disk's capacity is one value in whatever units the kernel prints it", () => {
    // lib/string_helpers.c string_get_size: three significant figures, tens then twos
    expect(
      templatesOf(
        [
          '(512 B/512 B)',
          '(1.02 kB/1.00 KiB)',
          '(8.00 GB/7.45 GiB)',
          '(1.00 TB/932 GiB)',
          '(37.4 TB/34.0 TiB)',
        ].map(
          (capacity, i) =>
            `Jul 16 01:58:1${i} node-1 kernel: [784271.36067${i}] sd 0:0:${i}:0: [sda] 15633408 512-byte logical blocks: ${capacity}`,
        ),
      ),
    ).toEqual(['sd <*>: [sda] <*> <*>-byte logical blocks: (<*>)']);
  });

  it('a process whose name has spaces, its pid glued on, is one value like any other process', () => {
    const sandbox = (process: string, i: number) =>
      `Feb 25 01:21:5${i} MacBook-Pro sandboxd[4260]: Sandbox: ${process}(8164${i}) deny(1) file-write-create /dev/dtracehelper`;
    expect(
      templatesOf(
        [
          'mdworker_shared',
          'com.apple.WebKit',
          'assistantd',
          'Google Chrome Helper',
          'mds',
          'Google Chrome Helper',
        ].map(sandbox),
      ),
    ).toEqual(['Sandbox: <*> deny(<*>) file-write-create <*>']);
  });

  it('whichever comes first, the one-word names or the name with spaces', () => {
    // the name with spaces arrives before the name's position has become a value
    const launchd = (sender: string, i: number) =>
      `May 23 17:01:5${i} Johns-iMac com.apple.xpc.launchd[660]: Service exited due to SIGTERM | sent by ${sender}[58${i}]`;
    expect(
      templatesOf(['launchd', 'exc handler', 'mds', 'runningboardd', 'exc handler'].map(launchd)),
    ).toEqual(['Service exited due to SIGTERM | sent by <*>']);
  });

  it('a host in brackets, absent or named, is one value; so is a list of numbers of any length', () => {
    const { ids } = signaturesOf([
      'Jul 20 20:31:04 combo ftpd[16936]: connection from 113.166.157.88 (42.67.242.211) at Fri Dec 17 11:52:47 2005',
      'Feb 23 19:58:00 combo ftpd[3629]: connection from 204.27.167.94 () at Thu May 27 11:28:12 2005',
      'Apr 12 18:27:48 combo ftpd[10839]: connection from 215.81.156.200 (82-232.dsl.example.net) at Sat Apr  4 21:59:48 2005',
    ]);
    expect(ids.size).toBe(1);
    expect(maskMessage('retrying shards [1, 2, 3] now')).toBe(maskMessage('retrying shards [7] now'));
  });

  it('a list whose items are groups of tokens is one list, whatever its length', () => {
    const item = (i: number) => `node-${i} 0x${(0xfffffffe + i).toString(16)} <ok>`;
    expect(
      templatesOf(
        [1, 2, 5, 3].map(
          (n) => `inconsistent nodesets ${Array.from({ length: n }, (_, i) => item(i)).join(' ')}`,
        ),
      ),
    ).toEqual(['inconsistent nodesets node<*> <*> <ok>']);
    expect(maskMessage('peers a 1, a 2, a 3 joined')).toBe(maskMessage('peers a 9 joined'));
  });

  it("an exception's message is part of the exception, one value; an exception alone is not a value", () => {
    const { ids } = signaturesOf([
      '081109 203615 148 ERROR dfs.DataNode$DataXceiver: writeBlock blk_-1608999687919862906 received exception java.io.EOFException',
      '081109 203616 148 ERROR dfs.DataNode$DataXceiver: writeBlock blk_7503483334202473044 received exception java.net.SocketTimeoutException: 480000 millis timeout while waiting for channel to be ready for write',
      '081109 203617 148 ERROR dfs.DataNode$DataXceiver: writeBlock blk_-3544583377289625738 received exception java.io.IOException: Connection reset by peer',
    ]);
    expect(ids.size).toBe(1);
    expect(maskMessage('java.io.IOException: Connection reset by peer')).not.toBe(
      maskMessage('java.lang.NullPointerException: at x'),
    );
  });

  it("a structured logger's quoted value holding a whole error is one value; the message it opens with stays words", () => {
    const { miner, ids } = signaturesOf([
      'I0828 00:53:16.429604 6293 prober.go:107] "Probe failed" probeType="Readiness" pod="default/web-1" output="Get \\"http://10.5.30.81:8080/ready\\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)"',
      'I0828 00:53:17.429604 6293 prober.go:107] "Probe failed" probeType="Liveness" pod="shop/api-2" output="Get \\"http://10.12.233.2:8080/healthz\\": dial tcp 10.13.102.231:8080: connect: connection refused"',
      'I0828 00:53:18.429604 6293 prober.go:107] "Probe failed" probeType="Startup" pod="shop/api-3" output="HTTP probe failed with statuscode: 503"',
    ]);
    expect(ids.size).toBe(1);
    expect(miner.templateOf([...ids][0] as string)).toBe(
      '"Probe failed" probeType="<*>" pod="<*>" output="<*>"',
    );
    const other = miner.add(
      'I0828 00:53:19.429604 6293 prober.go:107] "Probe succeeded" probeType="Readiness" pod="default/web-1" output="ok"',
    );
    expect(miner.resolve(other.signature)).not.toBe([...ids][0]);
  });

  it('a quoted value that quotes text without escaping it ends where the next key or the message does', () => {
    expect(
      templatesOf([
        'I0606 05:23:51.934850 1675 status_manager.go:853] "Failed to get status for pod" podUID="5e74644b-2e44-49a1-8c78-cd91a1b32bd6" pod="shop/worker-1" err="Get "https://10.0.0.1:6443/api/v1/namespaces/default/pods/api-1": dial tcp 10.0.0.1:6443: connect: connection refused"',
        'I0721 04:52:54.998688 6523 status_manager.go:853] "Failed to get status for pod" podUID="91785e1a-3e9c-45da-b74b-6cac14d27586" pod="default/worker-2" err="pods "api-1" is forbidden: User "system:node:n1" cannot get resource "pods""',
        'I0721 04:52:55.998688 6523 status_manager.go:853] "Failed to get status for pod" podUID="91785e1a-3e9c-45da-b74b-6cac14d27587" pod="default/worker-3" err="etcdserver: request timed out"',
      ]),
    ).toEqual(['"Failed to get status for pod" podUID="<*>" pod="<*>" err="<*>"']);
    expect(maskMessage('sync failed err="pods "api-1" not found" retry="true"')).toBe(
      'sync failed err="<*>" retry="<*>"',
    );
    // a value that closed before plain words goes on closes at its own quote: the words stay
    expect(maskMessage('upload failed msg="disk full" after 3 retries')).toBe(
      'upload failed msg="<*>" after <*> retries',
    );
  });

  it('quoted free text of any length is one value; a quoted request line keeps its method', () => {
    expect(
      templatesOf([
        "[Mon May 04 18:30:11.752929 2024] [proxy_fcgi:error] [pid 43892:tid 517753038019612] [client 1.2.3.4:5] AH01071: Got error 'PHP message: PHP Fatal error:  Uncaught Error: Call to undefined function foo()'",
        "[Mon May 04 18:30:11.752929 2024] [proxy_fcgi:error] [pid 43892:tid 517753038019612] [client 1.2.3.5:6] AH01071: Got error 'PHP message: PHP Warning:  Undefined variable $x in /var/www/html/index.php on line 12'",
        "[Mon May 04 18:30:11.752929 2024] [proxy_fcgi:error] [pid 43892:tid 517753038019612] [client 1.2.3.6:7] AH01071: Got error 'Primary script unknown'",
      ]),
    ).toEqual(["AH01071: Got error '<*>'"]);
    expect(maskMessage('10.1.2.3 "GET /v2/servers HTTP/1.1" status: 200')).toBe('<*> "GET <*>" status: <*>');
    expect(maskMessage('10.1.2.3 "POST http://x/y HTTP/1.1" status: 200')).toBe('<*> "POST <*>" status: <*>');
  });

  it("quoted text after a sentence's word is one value, whatever it holds, even a request line", () => {
    // sshd quotes what a client sent: a port scanner's HTTP request is one more such value
    expect(
      templatesOf(
        ['GET / HTTP/1.1', 'SSH-1.5-Nmap', '\\x16\\x03\\x01', 'HELP', 'SSH-2.0-Go'].map(
          (sent, i) =>
            `Jun 23 14:02:1${i} web-1 sshd[7317]: Bad protocol version identification '${sent}' from 96.127.92.23${i} port 2702${i}`,
        ),
      ),
    ).toEqual(["Bad protocol version identification '<*>' from <*> port <*>"]);
    // one quoted token holding digits is as much one value as quoted text of several tokens
    expect(maskMessage("client sent 'SSH-2.0-OpenSSH_9.6', closing")).toBe("client sent '<*>', closing");
    // a request log's request line, after a key or a value, still keeps its method
    expect(maskMessage('client: 10.0.0.1, request: "POST /x HTTP/1.1"')).toBe(
      'client: <*>, request: "POST <*>"',
    );
  });

  it('a server banner (products and their comments) is one value, however many parts it lists', () => {
    const banner = (b: string) =>
      `[Wed Mar 02 08:55:08.749359 2024] [mpm_event:notice] [pid 39944:tid 254469265754278] AH00489: ${b} configured -- resuming normal operations`;
    expect(
      templatesOf([
        banner('Apache/2.4.58 (Unix)'),
        banner('Apache/2.4.57 (Debian) OpenSSL/3.0.11'),
        banner('Apache/2.4.6 (CentOS) OpenSSL/1.0.2k-fips PHP/7.4.33'),
        banner('Apache/2.4.41 (Ubuntu)'),
      ]),
    ).toEqual(['AH00489: <*> configured -- resuming normal operations']);
    expect(
      maskMessage(
        'agent Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 blocked',
      ),
    ).toBe('agent <*> blocked');
    // words in brackets after anything else stay words
    expect(maskMessage('Killed process 85216 (python3) total')).toBe('Killed process <*> (<*>) total');
    expect(maskMessage('fan 2 (Front) failed')).toBe('fan <*> (Front) failed');
  });

  it('a list or an object printed by name is one value, whatever its length', () => {
    const { ids: lists } = signaturesOf([
      'SecurityManager: users with view permissions: Set(yarn); groups with view permissions: Set(hdfs, yarn)',
      'SecurityManager: users with view permissions: Set(hdfs, spark, yarn); groups with view permissions: Set(curi)',
      'SecurityManager: users with view permissions: Set(spark); groups with view permissions: Set(hdfs, yarn, yarn)',
    ]);
    expect(lists.size).toBe(1);
    const { ids: objects } = signaturesOf([
      'Changing focus from Window{08b26d6 u0 com.android.settings/.SubSettings} to Window{cf57354 u0 NotificationShade}',
      'Changing focus from Window{3dfa924 u0 com.example.app/.ui.LoginActivity} to Window{2a6e282 u0 StatusBar}',
    ]);
    expect(objects.size).toBe(1);
    // a command line in brackets is one value: cron's `(%s) CMD (%s)`
    const { ids: commands } = signaturesOf([
      'Nov 17 13:59:06 an298 crond[19475]: (root) CMD (run-parts /etc/cron.hourly)',
      'Nov 17 14:00:01 an298 crond[19476]: (root) CMD (/usr/lib/sa/sa1 1 1)',
      'Nov 17 14:01:01 an298 crond[19477]: (root) CMD (nice -n 19 /opt/bin/backup.sh)',
    ]);
    expect(commands.size).toBe(1);
    // a list without a name is words of the message
    expect(maskMessage('Registered signal handlers for [TERM, HUP, INT]')).toBe(
      'Registered signal handlers for [TERM, HUP, INT]',
    );
  });
});
