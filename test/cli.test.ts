import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditLog } from '../src/audit/log.js';
import { run } from '../src/cli.js';
import { openDatabase } from '../src/db/connection.js';
import { DEFAULT_POLICY, ROOT, type TempSetup, tempSetup } from './helpers/bot.js';

let setup: TempSetup;
let clock: number;

beforeEach(() => {
  setup = tempSetup();
  clock = Date.UTC(2026, 10, 2, 9, 0, 0);
});
afterEach(() => setup.cleanup());

function collect(stream: PassThrough): () => string {
  let text = '';
  stream.on('data', (c: Buffer) => {
    text += c.toString('utf8');
  });
  return () => text;
}

async function cli(...args: string[]) {
  return cliWithInput('', ...args);
}

async function cliWithInput(input: string, ...args: string[]) {
  const stdin = new PassThrough();
  stdin.end(input);
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out = collect(stdout);
  const err = collect(stderr);
  const code = await run(args, {
    stdin,
    stdout,
    stderr,
    env: { ...setup.env, USER: 'alice' },
    cwd: setup.dir,
    now: () => clock,
  });
  return { code, out: out(), err: err() };
}

describe('autonomy policy', () => {
  it('check prints a summary for a valid file', async () => {
    const r = await cli('policy', 'check', DEFAULT_POLICY);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/phase\s*:?\s*1/i);
    expect(r.err).toBe('');
  });

  it('check prints every error as FILE:LINE:COL  path  message and exits 1', async () => {
    setup.savePolicy(
      setup
        .policyText()
        .replace('phase: 1 # observe-only baseline', 'phase: 9')
        .replace(/approvalTimeout: .*/, 'approvalTimeout: soon'),
    );
    const r = await cli('policy', 'check', 'policy/bot.policy.yaml');
    expect(r.code).toBe(1);
    const lines = r.err.trim().split('\n');
    const errors = lines.filter((l) => l.includes('bot.policy.yaml:'));
    expect(errors).toHaveLength(2);
    for (const l of errors) expect(l).toMatch(/^\S+bot\.policy\.yaml:\d+:\d+ {2}\S+ {2}.+/);
    expect(r.err).toContain('control.approvalTimeout');
    expect(r.err).toContain('rollout.phase');
    expect(lines.at(-1)).toContain('2 error(s)');
    expect(lines.at(-1)).toMatch(/^error \[POLICY_INVALID\]: /);
  });

  it('check warns about an action its agent may never run, and the file stays valid', async () => {
    setup.savePolicy(
      setup.policyText().replace(/requiresApproval: \[service-affecting\]/, 'requiresApproval: []'),
    );
    const r = await cli('policy', 'check', 'policy/bot.policy.yaml');
    expect(r.code).toBe(0);
    expect(r.err).toMatch(
      /bot\.policy\.yaml:\d+:\d+ {2}actions\[\d+\]\.class {2}warning: restart-service can never run: sentinel lists class service-affecting neither under autonomous nor under requiresApproval/,
    );
    expect(r.out).toContain('valid');
  });

  it('check names a missing file plainly', async () => {
    const r = await cli('policy', 'check', 'nope.yaml');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/nope\.yaml:1:1/);
    expect(r.err).not.toMatch(/at .*\.js:\d+/); // no stack trace
  });

  it('schema prints the JSON Schema that the policy files reference', async () => {
    const r = await cli('policy', 'schema');
    expect(r.code).toBe(0);
    const printed = JSON.parse(r.out);
    const committed = JSON.parse(readFileSync(join(ROOT, 'policies', 'policy.schema.json'), 'utf8'));
    expect(printed).toEqual(committed);
  });

  it('reload says plainly when no bot is running', async () => {
    const r = await cli('policy', 'reload');
    expect(r.code).toBe(1);
    expect(r.err).toContain('no bot is running');
    expect(r.err).toMatch(/^error \[CLI_NO_BOT\]: no bot is running/);
  });
});

describe('autonomy kill / resume', () => {
  it('kills and resumes as cli:user:$USER, audited, with the reason', async () => {
    const k = await cli('kill', 'guardian', '--reason', 'bad deploy');
    expect(k.code).toBe(0);
    expect(k.out).toContain('guardian killed');
    expect(k.out).toContain('no bot is running');
    const r = await cli('resume', 'guardian');
    expect(r.code).toBe(0);

    const db = openDatabase(setup.dbFile);
    try {
      const records = new AuditLog(db, { now: () => clock }).records();
      expect(records.map((x) => [x.kind, x.agent, x.actor])).toEqual([
        ['control.kill', 'guardian', 'cli:user:alice'],
        ['control.resume', 'guardian', 'cli:user:alice'],
      ]);
      expect(records[0]?.data).toMatchObject({ reason: 'bad deploy' });
    } finally {
      db.close();
    }
  });

  it('takes the reason as trailing words too', async () => {
    const k = await cli('kill', 'all', 'incident', '42');
    expect(k.code).toBe(0);
    expect(k.out).toContain('incident 42');
  });

  it('answers a typo with a suggestion, exit 2, and changes nothing', async () => {
    const r = await cli('kill', 'guardain');
    expect(r.code).toBe(2);
    expect(r.err).toContain('did you mean guardian?');
    const v = await cli('kil', 'guardian');
    expect(v.code).toBe(2);
    expect(v.err).toContain('Did you mean kill?');
    const verify = await cli('audit', 'verify');
    expect(verify.out).toContain('0 record(s)');
  });
});

describe('autonomy audit', () => {
  async function seed(n: number) {
    for (let i = 0; i < n; i++) {
      clock += 24 * 3600 * 1000;
      expect((await cli(i % 2 === 0 ? 'kill' : 'resume', 'builder', `step ${i}`)).code).toBe(0);
    }
  }

  it('verify passes on an intact chain and names the first tampered record', async () => {
    await seed(4);
    expect((await cli('audit', 'verify')).out).toContain('audit chain intact: 4 record(s)');
    const db = openDatabase(setup.dbFile);
    db.sqlite.prepare("UPDATE audit_log SET actor = 'cli:user:mallory' WHERE seq = 3").run();
    db.close();
    const r = await cli('audit', 'verify');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/record 3/);
    expect(r.err).toMatch(/^error \[AUDIT_CHAIN_BROKEN\]: audit chain broken at record 3/);
  });

  it('exports jsonl and csv with the documented fields, honouring --since', async () => {
    await seed(3);
    const jsonl = await cli('audit', 'export', '--format', 'jsonl');
    const rows = jsonl.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(rows).toHaveLength(3);
    expect(Object.keys(rows[0])).toEqual([
      'seq',
      'at',
      'kind',
      'agent',
      'actor',
      'trigger',
      'model',
      'actionClass',
      'tier',
      'verdict',
      'outcome',
      'evidence',
      'prevHash',
      'hash',
      'data',
    ]);
    const csv = await cli('audit', 'export', '--format', 'csv', '--since', '36h');
    const lines = csv.out.trim().split('\n');
    expect(lines[0]).toMatch(
      /^seq,at,kind,agent,actor,trigger,model,actionClass,tier,verdict,outcome,evidence,prevHash,hash/,
    );
    expect(lines).toHaveLength(1 + 2); // header + the records of the last 36 hours (days 2 and 3)
    const bad = await cli('audit', 'export', '--format', 'xml');
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('jsonl, csv');
  });

  it('purge drops old records by the policy retention and verify still passes', async () => {
    await seed(3);
    clock += 200 * 24 * 3600 * 1000; // past the default 90d retention
    await cli('kill', 'mentor');
    const p = await cli('audit', 'purge');
    expect(p.code).toBe(0);
    expect(p.out).toContain('purged 3 record(s)');
    const v = await cli('audit', 'verify');
    expect(v.code).toBe(0);
  });

  it('rejects a nonsense --since with a hint', async () => {
    const r = await cli('audit', 'export', '--since', 'yesterday-ish');
    expect(r.code).toBe(2);
    expect(r.err).toContain('an age like 7d');
    expect(r.err).toMatch(/^error \[CLI_USAGE\]: --since "yesterday-ish"/);
  });
});

describe('autonomy migrate and usage', () => {
  it('migrate reports what it applied and is idempotent', async () => {
    const a = await cli('migrate');
    expect(a.out).toMatch(/10 migration\(s\) applied, 10 in all/);
    const b = await cli('migrate');
    expect(b.out).toMatch(/0 migration\(s\) applied/);
  });

  it('an unknown command gets a suggestion and exit 2; --help exits 0', async () => {
    const r = await cli('polcy', 'check');
    expect(r.code).toBe(2);
    expect(r.err).toContain('Did you mean policy?');
    const h = await cli('--help');
    expect(h.code).toBe(0);
    expect(h.out).toContain('kill');
  });
});

describe('autonomy backup', () => {
  it('writes a consistent copy that opens and verifies, and never overwrites', async () => {
    await cli('kill', 'guardian', 'before backup');
    const r = await cli('backup', 'backups/copy.db');
    expect(r.code).toBe(0);
    expect(r.out).toContain('backups/copy.db');
    const copy = openDatabase(join(setup.dir, 'backups', 'copy.db'));
    try {
      const log = new AuditLog(copy, { now: () => clock });
      expect(log.verify()).toMatchObject({ ok: true, count: 1 });
    } finally {
      copy.close();
    }
    const again = await cli('backup', 'backups/copy.db');
    expect(again.code).toBe(1);
    expect(again.err).toContain('never overwrites');
    expect(again.err).toMatch(/^error \[BACKUP_EXISTS\]: \S+copy\.db exists; choose a new file name/);
  });
});

describe('chat verbs from the shell (for when chat is down)', () => {
  it('status, incidents, mute and phase work as cli:user:$USER and are audited', async () => {
    const s = await cli('status');
    expect(s.code).toBe(0);
    expect(s.out).toContain('autonomy status: phase 1');
    expect(s.out).toMatch(/Kill switches: none/);
    expect((await cli('incidents')).out).toContain('No open incidents');
    expect((await cli('incidents', 'service', 'web')).out).toContain('No open incidents of service web');
    // The default policy names no teams: the refusal says so.
    expect((await cli('incidents', 'team', 'checkout')).out).toContain('the policy names no teams yet');
    const m = await cli('mute', 'service', 'web', '2h', 'deploy', 'window');
    expect(m.code).toBe(0);
    expect(m.out).toMatch(/web/);
    const p = await cli('phase', '2', 'weekly review ok');
    expect(p.out).toContain('was 1 (observe-only), now 2 (suggest-only)');
    const jump = await cli('phase', '4', 'yolo');
    expect(jump.out).toContain('one step at a time');
    const db = openDatabase(setup.dbFile);
    try {
      const kinds = new AuditLog(db, { now: () => clock }).records().map((r) => [r.kind, r.actor]);
      expect(kinds).toContainEqual(['control.phase', 'cli:user:alice']);
      expect(kinds.some(([k, a]) => String(k).startsWith('mute') && a === 'cli:user:alice')).toBe(true);
    } finally {
      db.close();
    }
  });

  it('answers bad arguments with usage and exit 2, and unknown ids plainly', async () => {
    const bad = await cli('mute', 'service', 'web', 'forever');
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('30m, 2h or 1d');
    expect(bad.err).toMatch(/^error \[CLI_USAGE\]: /);
    const unknown = await cli('ack', 'i42');
    expect(unknown.out).toMatch(/i42/);
    const none = await cli('approve', 'a9');
    expect(none.out).toMatch(/a9/);
  });
});

describe('autonomy signatures', () => {
  it('writes one JSON line per input line, grouping lines of one template under one signature', async () => {
    const input = [
      'Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user admin from 1.2.3.4',
      'Dec 10 06:55:48 LabSZ sshd[24202]: Invalid user test from 5.6.7.8',
      '',
      'Dec 10 06:56:01 LabSZ sshd[24210]: Connection closed by 9.9.9.9 [preauth]',
    ].join('\n');
    const r = await cliWithInput(`${input}\n`, 'signatures');
    expect(r.code).toBe(0);
    const rows = r.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(rows).toHaveLength(4);
    expect(rows[0].signature).toBe(rows[1].signature);
    expect(rows[0].template).toBe('Invalid user <*> from <*>');
    expect(rows[3].signature).not.toBe(rows[0].signature);
    expect(r.err).toContain('4 line(s)');
  });
});

describe('autonomy digest --preview and simulate', () => {
  it('prints the weekly metrics on an empty database without dividing by zero', async () => {
    const r = await cli('digest', '--preview');
    expect(r.code).toBe(0);
    // No complete week has data on a new database: the week so far, and it says so.
    expect(r.out).toMatch(/^Covers the week so far, \d{4}-\d\d-\d\d 00:00 to /);
    expect(r.out).toMatch(/MTTD/);
    expect(r.out).toMatch(/n\/a/);
    expect(r.out).not.toMatch(/NaN|Infinity/);
  });

  it('simulates a candidate policy over the stored proposals, and rejects an invalid candidate', async () => {
    const ok = await cli('simulate', '--policy', DEFAULT_POLICY, '--since', '7d');
    expect(ok.code).toBe(0);
    expect(ok.out.length).toBeGreaterThan(0);
    setup.savePolicy(setup.policyText().replace('phase: 1 # observe-only baseline', 'phase: 9'));
    const bad = await cli('simulate', '--policy', 'policy/bot.policy.yaml');
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/bot\.policy\.yaml:\d+:\d+ {2}rollout\.phase/);
    expect(bad.err).toContain('error [POLICY_INVALID]: 1 error(s) in the candidate policy');
  });
});

describe('autonomy drift accept', () => {
  it("records the watched files' current content as guardian's baseline, and refuses files not watched", async () => {
    writeFileSync(join(setup.dir, 'policy', 'nginx.conf'), 'worker_processes 2;\n');
    setup.savePolicy(setup.policyText().replace('  watch: []', '  watch: [nginx.conf]'));
    const ok = await cli('drift', 'accept');
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(/^nginx\.conf: baseline sha256 [0-9a-f]{64} \(20 bytes\)$/m);
    const baselines = JSON.parse(
      readFileSync(join(setup.dir, 'data', 'agents', 'guardian', 'baselines.json'), 'utf8'),
    ) as { files: Record<string, { baseline: { size: number } }> };
    expect(Object.values(baselines.files).map((f) => f.baseline.size)).toEqual([20]);

    const bad = await cli('drift', 'accept', 'passwd');
    expect(bad.code).toBe(1);
    expect(bad.err).toContain(
      'error [DRIFT_NOT_WATCHED]: not in drift.watch: passwd (watched: nginx.conf); nothing was changed',
    );
  });
});
