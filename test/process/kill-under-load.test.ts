/**
 * kill -9 of a real bot process under load, restarted on the same data folder (issue 19): alerts
 * for N distinct incidents go in over HTTP while sentinel works through them, each triage running a
 * tier 0 command that takes a moment. The bot is SIGKILLed while jobs wait and a command runs, then
 * started again. Afterwards: every accepted alert is stored, every incident has its card queued and
 * was triaged once, the command that was running when the bot died is recorded with its real
 * outcome and never ran twice, and the audit chain verifies. Uses dist/ (`npm run build` first;
 * `npm test` does it).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { eventually, listening, ROOT, type TempSetup, tempSetup } from '../helpers/bot.js';

const BIN = join(ROOT, 'dist', 'src', 'cli.js');
const TOKEN = 'kill-under-load-ingest-token-0123456789';
const exec = promisify(execFile);
/** Distinct incidents: one service each (signals of one service join its incident). */
const N = 8;
/** How long the evidence command takes. */
const COMMAND_MS = 600;

let setup: TempSetup | null = null;
const children: ChildProcess[] = [];

beforeAll(() => {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run \`npm run build\` (npm test does it first)`);
});

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    }
  }
  setup?.cleanup();
  setup = null;
});

/** A name with no digits (names that differ only by a number are one family: one incident). */
function word(i: number): string {
  return String.fromCharCode(97 + (i % 26)).repeat(1 + Math.floor(i / 26));
}

/**
 * The default policy with sentinel's evidence action replaced by a command that marks its start,
 * waits COMMAND_MS and appends one 'x' to a file named for its service: the file's length is how
 * many times it ran for that service.
 */
function policyWithSlowEvidence(text: string, markers: string): string {
  const script =
    `const fs = require('fs'), f = ${JSON.stringify(markers)} + '/' + process.argv[1];` +
    ` fs.writeFileSync(f + '.started', ''); setTimeout(() => fs.appendFileSync(f, 'x'), ${COMMAND_MS})`;
  const before = `    params:
      service:
        enum: [web, api, worker]
    executor:
      command: [journalctl, "--unit={service}", --since=-15min, --lines=200, --no-pager, --output=short-iso]
    timeout: 30s
    cooldown: 1m
`;
  const after = `    params:
      service: { pattern: "load-[a-z]{1,8}", maxLength: 13 }
    executor:
      command: [${JSON.stringify(process.execPath)}, -e, ${JSON.stringify(script)}, "{service}"]
    timeout: 30s
`;
  expect(text).toContain(before);
  expect(text).toContain('    - ci\n');
  return text.replace(before, after).replace('    - ci\n', '    - ci\n    - load-*\n');
}

function alert(i: number): string {
  const name = `Load${word(i)}Down`;
  return JSON.stringify({
    version: '4',
    groupKey: `{}:{alertname="${name}"}`,
    status: 'firing',
    receiver: 'autonomy',
    groupLabels: { alertname: name },
    commonLabels: {},
    commonAnnotations: {},
    externalURL: 'http://alertmanager.example.test:9093',
    alerts: [
      {
        status: 'firing',
        labels: { alertname: name, severity: 'warning', service: `load-${word(i)}` },
        annotations: { summary: `${name} on load-${word(i)}` },
        startsAt: new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString(),
        endsAt: '0001-01-01T00:00:00Z',
        generatorURL: 'http://prometheus.example.test:9090/graph',
      },
    ],
  });
}

async function start(s: TempSetup): Promise<{ proc: ChildProcess; url: string }> {
  const proc = spawn(process.execPath, [BIN, 'start'], { env: { ...process.env, ...s.env }, cwd: s.dir });
  children.push(proc);
  return { proc, url: await listening(proc).url };
}

async function post(url: string, body: string): Promise<number> {
  const res = await fetch(`${url}/hooks/alertmanager`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body,
  });
  await res.arrayBuffer();
  return res.status;
}

function rows<T>(dbFile: string, query: string): T[] {
  const db = new Database(dbFile, { readonly: true, fileMustExist: true });
  try {
    return db.prepare(query).all() as T[];
  } finally {
    db.close();
  }
}

interface RunRow {
  id: string;
  agent: string;
  action_id: string | null;
  status: string;
  incident_id: string | null;
  trigger_ref: string | null;
}

describe('kill -9 under load, restarted on the same data folder', () => {
  it('loses no signal, triages every incident once and records the command that was running with its real outcome', async () => {
    const s = tempSetup({ AUTONOMY_INGEST_TOKEN: TOKEN });
    setup = s;
    const markers = join(s.dir, 'markers');
    await import('node:fs').then((fs) => fs.mkdirSync(markers));
    s.savePolicy(policyWithSlowEvidence(s.policyText(), markers));

    const first = await start(s);
    const accepted: number[] = [];
    for (let i = 0; i < N; i++) if ((await post(first.url, alert(i))) === 202) accepted.push(i);
    expect(accepted).toHaveLength(N);

    // Mid-way: a command is running (started, not ended) and sentinel jobs still wait.
    const startedFor = (i: number) => existsSync(join(markers, `load-${word(i)}.started`));
    const ranFor = (i: number) => existsSync(join(markers, `load-${word(i)}`));
    const inFlight = await eventually(
      () => {
        const running = accepted.filter((i) => startedFor(i) && !ranFor(i));
        return running.length === 1 ? (running[0] as number) : undefined;
      },
      15_000,
      5,
    );
    const queued = rows<{ n: number }>(
      s.dbFile,
      "SELECT count(*) AS n FROM agent_jobs WHERE agent = 'sentinel' AND state = 'queued'",
    )[0]?.n;
    expect(queued).toBeGreaterThan(0);
    const died = new Promise((r) => first.proc.once('exit', r));
    first.proc.kill('SIGKILL');
    await died;
    // The command outlives the bot and ends as it would have.
    await eventually(() => ranFor(inFlight), 5_000, 10);

    await start(s);
    const done = await eventually(
      () => {
        const open = rows<{ n: number }>(
          s.dbFile,
          "SELECT count(*) AS n FROM agent_jobs WHERE state IN ('queued', 'running')",
        )[0]?.n;
        const running = rows<{ n: number }>(
          s.dbFile,
          "SELECT count(*) AS n FROM runs WHERE status = 'running'",
        )[0]?.n;
        return open === 0 && running === 0 && accepted.every(ranFor) ? true : undefined;
      },
      20_000,
      50,
    );
    expect(done).toBe(true);

    // No signal lost: every 202 stored, each its own incident.
    const incidents = rows<{ id: string; title: string }>(s.dbFile, 'SELECT id, title FROM incidents');
    expect(incidents).toHaveLength(N);
    expect(
      rows<{ n: number }>(s.dbFile, "SELECT count(*) AS n FROM signals WHERE kind = 'alert'")[0]?.n,
    ).toBe(N);

    // Every incident has its card queued (it commits with the signal that opened the incident).
    const cards = rows<{ refs: string }>(s.dbFile, 'SELECT message_refs AS refs FROM incidents');
    expect(cards.filter((c) => JSON.parse(c.refs).length === 0)).toEqual([]);

    // Every incident triaged once: one sentinel job, done; one sentinel triage run per incident.
    const jobs = rows<{ incident_id: string; state: string }>(
      s.dbFile,
      "SELECT incident_id, state FROM agent_jobs WHERE agent = 'sentinel'",
    );
    expect(jobs.map((j) => j.state)).toEqual(Array(N).fill('done'));
    expect(new Set(jobs.map((j) => j.incident_id)).size).toBe(N);
    const runs = rows<RunRow>(s.dbFile, "SELECT * FROM runs WHERE agent = 'sentinel'");
    const triage = runs.filter((r) => r.action_id === null);
    const perIncident = new Map<string, number>();
    for (const r of triage)
      perIncident.set(String(r.incident_id), (perIncident.get(String(r.incident_id)) ?? 0) + 1);
    expect(Object.fromEntries(perIncident)).toEqual(Object.fromEntries(incidents.map((i) => [i.id, 1])));

    // Every command ran exactly once, and its run is recorded with how it really ended.
    for (const i of accepted) expect(readFileSync(join(markers, `load-${word(i)}`), 'utf8')).toBe('x');
    const commands = runs.filter((r) => r.action_id === 'collect-evidence');
    expect(commands).toHaveLength(N);
    expect(commands.map((r) => r.status)).toEqual(Array(N).fill('succeeded'));
    expect(readdirSync(join(s.dir, 'data', 'runs'))).toEqual([]);

    // The audit chain is whole across the crash.
    const verify = await exec(process.execPath, [BIN, 'audit', 'verify'], {
      env: { ...process.env, ...s.env },
      cwd: s.dir,
    });
    expect(verify.stdout).toMatch(/audit chain intact: \d+ record\(s\)/);
    // The deadline covers its parts: two starts of the built bot (each over 20 s of wall clock on a
    // loaded 2-core machine), the waits above (15 + 5 + 20 s at most) and `audit verify`.
  }, 120_000);
});
