/**
 * Signature ids stored before issue 21's masking changes keep resolving, and new lines of the same
 * events land on them: the snapshot in the fixture was written by the miner as it was then.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { migrate, openDatabase } from '../../../src/db/connection.js';
import {
  MASKING_VERSION,
  SignatureMiner,
  type TemplateRecord,
} from '../../../src/signals/signatures/miner.js';
import { RepeatTracker } from '../../../src/signals/signatures/repeats.js';
import { optionalFits, spanFits } from '../../../src/signals/signatures/rules.js';
import { TemplateStore } from '../../../src/signals/signatures/template-store.js';

const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'signatures');
const stored = JSON.parse(readFileSync(join(FIXTURE, 'stored-before-issue-21.json'), 'utf8')) as {
  lines: string[];
  ids: string[];
  snapshot: unknown[];
};

/** A template record as the miner of masking `masking` stored it (none: before issue 21). */
function storedRecord(
  masking: number | undefined,
  signature: string,
  template: string,
  firstSeen = 1_000,
  count = 3,
): TemplateRecord {
  const record = { signature, template, count, firstSeen, lastSeen: firstSeen + 10, aliases: [] };
  return masking === undefined ? record : { ...record, masking };
}

describe('signature ids stored before the masking changed', () => {
  it('still resolve after a restart through the template store, and new lines land on them', () => {
    const database = openDatabase(':memory:');
    migrate(database);
    // What the older version saved.
    new TemplateStore(database).save(stored.snapshot as never);

    const store = new TemplateStore(database);
    const miner = SignatureMiner.restore(store.load(), { now: () => 1_800_000_000_000 });
    for (const id of new Set(stored.ids)) expect(miner.resolve(id)).not.toBeNull();

    stored.lines.forEach((line, i) => {
      const again = miner.add(line);
      // the id stored for this line, or the stored id it was merged into
      expect(again.signature).toBe(miner.resolve(stored.ids[i] as string));
      expect(again.isNew).toBe(false);
    });
    // The two sizes of one Proxifier event were two ids then; they are one event now, and both ids
    // answer to it (the older keeps its id).
    const [big, small] = [stored.ids[3] as string, stored.ids[4] as string];
    expect(big).not.toBe(small);
    expect(miner.resolve(small)).toBe(big);
    expect(miner.templateOf(big)).toBe('<*> close, <*> sent, <*> received, lifetime <*>');
    // A kernel line with its own stamp lands on the stored id too.
    expect(miner.add('Jun 14 15:16:03 combo kernel: [  7.000001] eth0: link becomes ready').signature).toBe(
      miner.resolve(stored.ids[6] as string),
    );

    // Saved again, and loaded once more: the same ids, now in today's shape.
    store.save(miner.snapshot());
    const reloaded = SignatureMiner.restore(new TemplateStore(database).load());
    for (const id of stored.ids) expect(reloaded.resolve(id)).toBe(miner.resolve(id));
    const bySignature = (m: SignatureMiner) =>
      [...m.snapshot()].sort((x, y) => (x.signature < y.signature ? -1 : 1));
    expect(bySignature(reloaded)).toEqual(bySignature(miner));
  });
});

describe('a value that changes the token count', () => {
  it('does not keep a repeated error from reaching its threshold', () => {
    const miner = new SignatureMiner({ now: () => 0 });
    const repeats = new RepeatTracker({ threshold: 4, windowMs: 60_000, cooldownMs: 60_000 });
    const lines = [
      'upload failed: 1,234 bytes (1.2 KB) written in 1.5 s',
      'upload failed: 120 bytes written in 00:01:02',
      'upload failed: 98,304 bytes (96 KB) written in 850 ms',
      'upload failed: 7 bytes written in 2 min',
    ];
    const fired = lines.map((l, i) => repeats.observe(miner.add(l, i).signature, i));
    expect(fired[3]).toMatchObject({ count: 4 });
    expect(miner.size).toBe(1);
  });

  it('keeps a quoted value with spaces, and a request line, one token', () => {
    const miner = new SignatureMiner({ now: () => 0 });
    const a = miner.add('Service "Windows Update" entered the stopped state.');
    const b = miner.add('Service "BITS" entered the stopped state.');
    expect(b.signature).toBe(a.signature);
    // nginx appends `host: "..."` only when the request had one: one event either way
    const c = miner.add(
      '*1 connect() failed (111: Connection refused) while connecting to upstream, client: 10.0.0.1, server: _, request: "GET / HTTP/1.1"',
    );
    const d = miner.add(
      '*2 connect() failed (111: Connection refused) while connecting to upstream, client: 10.0.0.2, server: _, request: "GET /x HTTP/1.1", host: "example.com"',
    );
    expect(d.signature).toBe(c.signature);
  });
});

describe('signature ids stored before quoted text became one value', () => {
  it('merge under the older id on restore, and new lines land on it', () => {
    const record = (signature: string, template: string, firstSeen: number) =>
      storedRecord(9, signature, template, firstSeen);
    // under masking 9 a quoted text that opened with a capitalised word kept that word
    const miner = SignatureMiner.restore(
      [
        record('s_older', "AH01071: Got error 'PHP <*>'", 1_000),
        record('s_newer', "AH01071: Got error '<*>'", 2_000),
      ],
      { now: () => 3_000 },
    );
    expect(miner.resolve('s_newer')).toBe('s_older');
    expect(miner.templateOf('s_older')).toBe("AH01071: Got error '<*>'");
    const line = miner.add(
      "[Mon May 04 18:30:11.752929 2024] [proxy_fcgi:error] [pid 43892:tid 517753038019612] [client 1.2.3.4:5] AH01071: Got error 'PHP message: PHP Fatal error:  Uncaught Error: Call to undefined function foo()'",
    );
    expect(line.signature).toBe('s_older');
    expect(line.isNew).toBe(false);
  });
});

describe('signature ids stored before a keyed quoted value ended at the next key', () => {
  it('keep getting the new lines of their message', () => {
    // under masking 10 `err="<*>"` was kept as the key and its quoted value
    const miner = SignatureMiner.restore([storedRecord(10, 's_err', 'failed to sync err="<*>" retry=<*>')], {
      now: () => 10,
    });
    const line = miner.add('failed to sync err="Get "https://x": connection refused" retry=3');
    expect(line.signature).toBe('s_err');
    expect(line.isNew).toBe(false);
  });
});

describe('signature ids stored while a keyed quoted value lost its opening quote', () => {
  it("take today's shape, keep their ids, and keep getting the new lines of their message", () => {
    // under masking 9 to 14 `pod="default/web-1"` was stored as `pod=<*>"`
    const miner = SignatureMiner.restore(
      [storedRecord(14, 's_probe', '"Probe failed" probeType=<*>" pod=<*>" output=<*>"')],
      { now: () => 10 },
    );
    expect(miner.templateOf('s_probe')).toBe('"Probe failed" probeType="<*>" pod="<*>" output="<*>"');
    const line = miner.add(
      'I0828 00:53:16.429604 6293 prober.go:107] "Probe failed" probeType="Readiness" pod="default/web-1" output="Get \\"http://10.5.30.81:8080/ready\\": context deadline exceeded"',
    );
    expect(line.signature).toBe('s_probe');
    expect(line.isNew).toBe(false);
    expect(miner.snapshot()).toEqual([
      expect.objectContaining({
        signature: 's_probe',
        template: '"Probe failed" probeType="<*>" pod="<*>" output="<*>"',
        count: 4,
        masking: MASKING_VERSION,
      }),
    ]);
    // two keys stay two messages, quoted or not
    expect(miner.add('"Probe failed" probeType="Readiness" node="n1" output="x"').signature).not.toBe(
      's_probe',
    );
  });
});

describe('signature ids stored before a server banner became one value', () => {
  it('keep getting the new lines of their message; a lone masked path stays a path', () => {
    const record = (signature: string, template: string) => storedRecord(10, signature, template);
    // under masking 10 a banner's versions were masked and its products and comments kept
    const miner = SignatureMiner.restore(
      [
        record('s_banner', 'Apache/<*> (Unix) OpenSSL/<*> configured -- resuming normal operations'),
        record('s_path', 'reading config from etc/<*> failed'),
      ],
      { now: () => 10 },
    );
    const line = miner.add(
      '[Mon Dec 04 04:47:44 2023] [notice] Apache/2.4.58 (Ubuntu) configured -- resuming normal operations',
    );
    expect(line.signature).toBe('s_banner');
    expect(line.isNew).toBe(false);
    expect(miner.templateOf('s_path')).toBe('reading config from etc/<*> failed');
  });
});

describe('signature ids stored before a quoted request line in a sentence became one value', () => {
  const record = (signature: string, template: string, firstSeen: number) =>
    storedRecord(11, signature, template, firstSeen);

  it('merge under the older id on restore, and new lines land on it', () => {
    // under masking 11 sshd's quoted `'GET / HTTP/1.1'` kept its method apart from other quoted text
    const miner = SignatureMiner.restore(
      [
        record('s_older', "Bad protocol version identification 'GET <*>' from <*> port <*>", 1_000),
        record('s_newer', 'Bad protocol version identification <*> from <*> port <*>', 2_000),
        record('s_quoted', "Bad protocol version identification 'SSH<*>-Nmap' from <*> port <*>", 1_500),
      ],
      { now: () => 3_000 },
    );
    expect(miner.resolve('s_quoted')).toBe('s_older');
    expect(miner.templateOf('s_older')).toBe("Bad protocol version identification '<*>' from <*> port <*>");
    for (const sent of ['GET / HTTP/1.1', 'SSH-1.5-Nmap', 'HELP']) {
      const line = miner.add(`Bad protocol version identification '${sent}' from 1.2.3.4 port 5`);
      expect(line.signature).toBe('s_older');
      expect(line.isNew).toBe(false);
    }
    // the template that had lost its quotes keeps resolving
    expect(miner.resolve('s_newer')).not.toBeNull();
  });

  it("a request log's stored request line keeps its method when re-shaped", () => {
    const miner = SignatureMiner.restore(
      [
        record('s_get', '<*> "GET <*>" status: <*> len: <*> time: <*>', 1_000),
        record('s_post', '<*> "POST <*>" status: <*> len: <*> time: <*>', 2_000),
      ],
      { now: () => 3_000 },
    );
    expect(miner.resolve('s_post')).toBe('s_post');
    const post = miner.add('10.0.0.1 "POST /v2/servers HTTP/1.1" status: 202 len: 733 time: 0.51');
    expect(post.signature).toBe('s_post');
    expect(post.isNew).toBe(false);
    expect(miner.add('10.0.0.2 "GET /v2/servers HTTP/1.1" status: 200 len: 1893 time: 0.24').signature).toBe(
      's_get',
    );
  });
});

describe('signature ids stored before every rate unit was a unit', () => {
  it('merge under the older id on restore, and new lines land on it', () => {
    const record = (signature: string, template: string, firstSeen: number) =>
      storedRecord(12, signature, template, firstSeen);
    // under masking 12 `kB/s` (dd's SI rate) was a word after the value
    const miner = SignatureMiner.restore(
      [record('s_older', '<*> copied, <*> kB/s', 1_000), record('s_newer', '<*> copied, <*>', 2_000)],
      { now: () => 3_000 },
    );
    expect(miner.resolve('s_newer')).toBe('s_older');
    expect(miner.templateOf('s_older')).toBe('<*> copied, <*>');
    for (const line of [
      '1048576 bytes copied, 0.011 s, 95.3 kB/s',
      '512 bytes copied, 0.000123 s, 4.2 MB/s',
    ]) {
      const again = miner.add(line);
      expect(again.signature).toBe('s_older');
      expect(again.isNew).toBe(false);
    }
  });
});

describe('signature ids stored split before a name of several words was one value', () => {
  // Stored under masking 13, whose shapes are today's: only the rule that a `<*>` covers a name of
  // several words with its pid glued on came later, so nothing re-shapes them; restore alone has to
  // see they are one message.
  const record = (signature: string, template: string, firstSeen: number, count: number, masking = 13) =>
    storedRecord(masking, signature, template, firstSeen, count);
  const ONE_WORD = 'Sandbox: <*> deny(<*>) file-write-create <*>';
  const WITH_SPACES = 'Sandbox: Google Chrome Helper(<*>) deny(<*>) file-write-create <*>';
  const sandbox = (process: string, pid: number) =>
    `Feb 25 01:21:52 MacBook-Pro sandboxd[4260]: Sandbox: ${process}(${pid}) deny(1) file-write-create /dev/dtracehelper`;

  it.each([
    ['the one-word names', ONE_WORD, WITH_SPACES],
    ['the name with spaces', WITH_SPACES, ONE_WORD],
  ])(
    'are one signature after a restart, under the older id (older: %s)',
    (_, olderTemplate, youngerTemplate) => {
      const database = openDatabase(':memory:');
      migrate(database);
      // least recently seen first, as a snapshot is: the younger template was seen last
      new TemplateStore(database).save([
        record('s_older', olderTemplate, 1_000, 40),
        record('s_younger', youngerTemplate, 2_000, 7),
      ]);
      const store = new TemplateStore(database);
      const miner = SignatureMiner.restore(store.load(), { now: () => 1_800_000_000_000 });

      expect(miner.size).toBe(1);
      expect(miner.resolve('s_younger')).toBe('s_older');
      expect(miner.templateOf('s_older')).toBe(ONE_WORD);
      expect(miner.snapshot()).toEqual([
        expect.objectContaining({
          signature: 's_older',
          count: 47,
          firstSeen: 1_000,
          aliases: ['s_younger'],
        }),
      ]);
      for (const line of [sandbox('Google Chrome Helper', 81650), sandbox('mdworker_shared', 81651)]) {
        const again = miner.add(line);
        expect(again.signature).toBe('s_older');
        expect(again.isNew).toBe(false);
      }
      expect(miner.size).toBe(1);

      // saved and loaded once more: one row, and the younger id still answers to the older
      store.save(miner.snapshot());
      const reloaded = SignatureMiner.restore(new TemplateStore(database).load());
      expect(reloaded.size).toBe(1);
      expect(reloaded.resolve('s_younger')).toBe('s_older');
      expect(reloaded.add(sandbox('Google Chrome Helper', 81652)).signature).toBe('s_older');
    },
  );

  it.each([
    ['a value of two words', '<*> has been <*> by <*>', '<*> has been powered off by <*>'],
    ['a value of two words first', '<*> failed: disk full on <*>', 'backup job failed: disk full on <*>'],
    [
      'an optional part in front',
      'upstream timed out reading response header from <*>',
      'client: <*>, upstream timed out reading response header from <*>',
    ],
  ])('stored split by %s, are one signature after a restart whichever was stored first', (_, short, long) => {
    for (const [older, younger] of [
      [short, long],
      [long, short],
    ] as const) {
      for (const stored of [
        [record('s_older', older, 1_000, 3), record('s_younger', younger, 2_000, 2)],
        [record('s_younger', younger, 2_000, 2), record('s_older', older, 1_000, 3)],
      ]) {
        const miner = SignatureMiner.restore(stored);
        expect(miner.size).toBe(1);
        expect(miner.resolve('s_younger')).toBe('s_older');
        expect(miner.templateOf('s_older')).toBe(short);
        expect(miner.snapshot()[0]?.count).toBe(5);
      }
    }
  });

  it('stored as a chain, each covering the next longer, are one signature whatever order they were stored in', () => {
    const chain = [
      record('s_oldest', 'nightly backup of volume data disk finished on <*>', 1_000, 2),
      record('s_middle', 'nightly backup of volume <*> finished on <*>', 2_000, 2),
      record('s_newest', '<*> of volume <*> finished on <*>', 3_000, 2),
    ];
    const orders = [
      [0, 1, 2],
      [0, 2, 1],
      [1, 0, 2],
      [1, 2, 0],
      [2, 0, 1],
      [2, 1, 0],
    ];
    for (const order of orders) {
      const miner = SignatureMiner.restore(order.map((i) => chain[i]));
      expect(miner.size).toBe(1);
      expect(miner.templateOf('s_oldest')).toBe('<*> of volume <*> finished on <*>');
      expect(miner.resolve('s_middle')).toBe('s_oldest');
      expect(miner.resolve('s_newest')).toBe('s_oldest');
    }
  });

  it('any two stored templates of different lengths are one signature after a restart exactly when the rules join them', () => {
    // seeded, so the same pairs every run: a template with a span or an optional part inserted
    let seed = 21;
    const random = () => {
      seed = (seed * 16807) % 2147483647;
      return seed / 2147483647;
    };
    const pool = [
      '<*>',
      '<*>',
      'a',
      'b',
      'c',
      'a,',
      'a;',
      'host:',
      'key:',
      'x=<*>',
      '"<*>",',
      '"<*>"',
      'Helper(<*>)',
    ];
    const pick = () => pool[Math.floor(random() * pool.length)] as string;
    let joined = 0;
    const wrong: string[] = [];
    for (let n = 0; n < 3_000; n++) {
      const short = Array.from({ length: 3 + Math.floor(random() * 4) }, pick);
      const at = Math.floor(random() * (short.length + 1));
      const long = [
        ...short.slice(0, at),
        ...Array.from({ length: 1 + Math.floor(random() * 4) }, pick),
        ...short.slice(at),
      ];
      if (random() < 0.3) long[Math.floor(random() * long.length)] = pick();
      const fits = spanFits(short, long) || optionalFits(short, long);
      if (fits) joined++;
      const miner = SignatureMiner.restore([
        record('s_long', long.join(' '), 1_000, 1),
        record('s_short', short.join(' '), 2_000, 1),
      ]);
      if (miner.size !== (fits ? 1 : 2)) wrong.push(`${short.join(' ')} | ${long.join(' ')}`);
    }
    expect(wrong).toEqual([]);
    expect(joined).toBeGreaterThan(100);
  });

  it("are checked once, on the first start after the upgrade: the next save writes them back under today's version", () => {
    const database = openDatabase(':memory:');
    migrate(database);
    new TemplateStore(database).save([
      record('s_other', 'nightly backup finished on <*>', 500, 3),
      record('s_older', ONE_WORD, 1_000, 40),
      record('s_younger', WITH_SPACES, 2_000, 7),
    ]);
    const store = new TemplateStore(database);
    const miner = SignatureMiner.restore(store.load(), { now: () => 1_800_000_000_000 });
    // the merged one, and the one that did not change but was checked under today's rules
    expect(store.save(miner.snapshot())).toEqual({ written: 2, deleted: 1 });
    const again = new TemplateStore(database).load();
    expect(again).toEqual([
      expect.objectContaining({ signature: 's_other', masking: MASKING_VERSION }),
      expect.objectContaining({ signature: 's_older', masking: MASKING_VERSION }),
    ]);
    expect(SignatureMiner.restore(again).snapshot()).toEqual(miner.snapshot());
  });

  it("stored by today's rules, are restored as they are, without the check (a restart stays quick)", () => {
    // Templates today's miner stored were checked as they came in; this pair could only have been
    // stored apart by an older one, so it shows whether a restart checks again.
    const miner = SignatureMiner.restore([
      record('s_older', ONE_WORD, 1_000, 40, MASKING_VERSION),
      record('s_younger', WITH_SPACES, 2_000, 7, MASKING_VERSION),
    ]);
    expect(miner.size).toBe(2);
    expect(miner.resolve('s_younger')).toBe('s_younger');
  });

  it('templates of messages that only look alike stay as they were stored', () => {
    const records = [
      record('s_deny', ONE_WORD, 1_000, 5),
      record('s_allow', 'Sandbox: Google Chrome Helper(<*>) allow(<*>) file-write-create <*>', 2_000, 5),
      record('s_terminating', '[instance: <*>] Terminating instance', 3_000, 5),
      record('s_deleting', '[instance: <*>] Deleting instance files <*>', 4_000, 5),
      record('s_claim', '[instance: <*>] Claim successful on node <*>', 5_000, 5),
      record('s_reset', 'could not receive data from client: Connection reset by peer', 6_000, 5),
      record('s_timeout', 'could not receive data from client: Connection timed out', 7_000, 5),
      record('s_dns_changed', 'network changed: <*>(<*>) DNS! Proxy SMB', 8_000, 5),
      record('s_dns_lost', 'network changed: DNS- Proxy- SMB', 9_000, 5),
      // a `<*>` covers a word or two, not a span that holds a value of its own
      record('s_switched', '<*> has been <*> by <*>', 10_000, 5),
      record('s_moved', '<*> has been moved to <*> by <*>', 11_000, 5),
    ];
    const miner = SignatureMiner.restore(records, { now: () => 20_000 });
    const bySignature = (rs: readonly { signature: string }[]) =>
      [...rs].sort((x, y) => (x.signature < y.signature ? -1 : 1));
    // as stored, only marked as checked under today's rules
    expect(bySignature(miner.snapshot())).toEqual(
      bySignature(records.map((r) => ({ ...r, masking: MASKING_VERSION }))),
    );
    const allow = miner.add(
      'Feb 25 01:21:52 MacBook-Pro sandboxd[4260]: Sandbox: Google Chrome Helper(81650) allow(1) file-write-create /dev/dtracehelper',
    );
    expect(allow.signature).toBe('s_allow');
    expect(miner.add(sandbox('mdworker_shared', 81651)).signature).toBe('s_deny');
  });
});

describe('signature ids stored before message codes opened the message', () => {
  const apache = (code: string, path: string) =>
    `[Fri May 14 08:58:50.113057 2024] [authz_core:error] [pid 25173:tid 917435737950363] [client 1.2.3.4:5] ${code}: client denied by server configuration: ${path}`;

  it('the first code to come takes over the stored id; another code is another signature', () => {
    // older rules cut `AH01630:` off with the header: one template for every code
    const stored = storedRecord(7, 's_stored', 'client denied by server configuration: <*>', 1_000, 40);
    const miner = SignatureMiner.restore([stored], { now: () => 3_000 });
    const first = miner.add(apache('AH01630', '/var/www/html/server-status'));
    expect(first.signature).toBe('s_stored');
    expect(first.isNew).toBe(false);
    expect(first.template).toBe('AH01630: client denied by server configuration: <*>');
    expect(miner.add(apache('AH01630', '/srv/.env')).signature).toBe('s_stored');
    const other = miner.add(apache('AH01797', '/var/www/html/backup.sql'));
    expect(other.signature).not.toBe('s_stored');
    expect(other.isNew).toBe(true);

    // saved and restored: the taken-over template is today's, and keeps getting its lines
    const again = SignatureMiner.restore(miner.snapshot(), { now: () => 4_000 });
    expect(again.add(apache('AH01630', '/x')).signature).toBe('s_stored');
    expect(again.add(apache('AH01797', '/y')).signature).toBe(other.signature);
  });

  it('a stored template not yet taken over is saved as it was, so a later restart can still hand it on', () => {
    const stored = storedRecord(
      undefined,
      's_waiting',
      'client denied by server configuration: <*>',
      1_000,
      1,
    );
    const restarted = SignatureMiner.restore(SignatureMiner.restore([stored]).snapshot());
    expect(restarted.add(apache('AH01630', '/z')).signature).toBe('s_waiting');
  });
});
