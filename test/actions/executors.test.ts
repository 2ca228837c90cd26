import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { prepareCommand, processAlive, runCommand } from '../../src/actions/executors/command.js';
import { prepareHttp, runHttp } from '../../src/actions/executors/http.js';
import {
  fillArgv,
  fillBody,
  fillUrl,
  MissingEnvError,
  TemplateError,
} from '../../src/actions/executors/template.js';
import { describeExecution, shellQuote } from '../../src/actions/render.js';
import { checkParams } from '../../src/policy/params.js';
import { placeholders } from '../../src/policy/placeholders.js';
import type { CompiledAction, Params } from '../../src/policy/types.js';
import { type ActionInput, makePolicy } from '../fixtures/policy.js';
import { familyPids, goneWithin, killAll, type Scripts, writeScripts } from '../helpers/processes.js';

let dir: string;
let scripts: Scripts;
const spawned = new Set<number>();
const NODE = process.execPath;
/** A policy env placeholder as written in the catalog (`${NAME}`), not JS interpolation. */
const envRef = (name: string): string => `\${${name}}`;
const ANY = { pattern: '.*', maxLength: 200 } as const;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'autonomy-exec-'));
  scripts = writeScripts(dir);
});
afterEach(() => {
  killAll(spawned);
  spawned.clear();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let seq = 0;
/** A validator test-run action (tier 0) compiled through the real schema and compiler. */
function action(input: Partial<ActionInput> & Pick<ActionInput, 'executor'>): CompiledAction {
  const id = `t-${++seq}`;
  const policy = makePolicy({
    extraActions: [
      { id, agent: 'validator', description: 'test', tier: 0, class: 'test-run', target: 'ci', ...input },
    ],
  });
  const a = policy.actions.get(id);
  if (!a) throw new Error('fixture action missing');
  return a;
}

function checked(a: CompiledAction, params: Params): Params {
  expect(checkParams(a, params)).toBeNull();
  return params;
}

describe('the placeholder rule', () => {
  it(`recognises {param} and \${ENV}; other braces are literal`, () => {
    const found = placeholders(`{"a":{x}, "b":"${envRef('TOKEN')}", "c":{}, "d":{ y }, "e":{1}}`).map(
      (p) => `${p.kind}:${p.name}`,
    );
    expect(found).toEqual(['param:x', 'env:TOKEN']);
    expect(fillBody('{"a":{}, "n":{n}, "s":"{s}"}', { n: 5, s: 'q"\\' })).toBe(
      '{"a":{}, "n":5, "s":"q\\"\\\\"}',
    );
  });

  it('fills argv element by element, never joined', () => {
    expect(fillArgv(['git', '--msg={m}', '{m}'], { m: 'a b' })).toEqual(['git', '--msg=a b', 'a b']);
    expect(() => fillArgv(['x', envRef('HOME')], {})).toThrow(TemplateError);
    expect(() => fillArgv(['x', '{nope}'], {})).toThrow(/names no param/);
  });

  it('percent-encodes params in URLs so they cannot add a path, query or host', () => {
    expect(fillUrl('https://ci.example.com/jobs/{j}?q={q}', { j: '../a b', q: 'x&y=1#z' })).toBe(
      'https://ci.example.com/jobs/..%2Fa%20b?q=x%26y%3D1%23z',
    );
  });
});

describe('command executor', () => {
  it('passes params with spaces, quotes and $(...) as single literal argv elements', async () => {
    const a = action({
      params: { msg: ANY, n: { type: 'integer', min: 0 } },
      executor: { command: [NODE, scripts.echo, '{msg}', '--count={n}', 'literal {} {1} { x }'] },
    });
    const hostile = `it's "quoted" $(rm -rf /) \`id\` ; echo pwned`;
    const params = checked(a, { msg: hostile, n: 3 });
    const r = await runCommand(prepareCommand(a, params, process.env));
    expect(r.exitCode).toBe(0);
    const seen = JSON.parse(r.stdoutTail) as { argv: string[] };
    expect(seen.argv).toEqual([hostile, '--count=3', 'literal {} {1} { x }']);
  });

  it('gives the child only PATH and the allowlisted env vars', async () => {
    const a = action({ executor: { command: [NODE, scripts.echo], env: ['ALLOWED_VAR', 'UNSET_VAR'] } });
    const env = { PATH: process.env.PATH, ALLOWED_VAR: 'ok', PARENT_SECRET: 'hunter2-secret', HOME: '/root' };
    const spec = prepareCommand(a, {}, env);
    expect(spec.missingEnv).toEqual(['UNSET_VAR']);
    const r = await runCommand(spec);
    const seen = JSON.parse(r.stdoutTail) as { env: Record<string, string> };
    expect(Object.keys(seen.env).sort()).toEqual(['ALLOWED_VAR', 'PATH']);
    expect(r.stdoutTail).not.toContain('hunter2-secret');
    expect(r.envNames).toEqual(['PATH', 'ALLOWED_VAR']);
  });

  it('runs in the catalog working directory, and says so when it is missing', async () => {
    const work = join(dir, 'work');
    mkdirSync(work, { recursive: true });
    const ok = await runCommand(
      prepareCommand(action({ executor: { command: [NODE, scripts.echo], cwd: work } }), {}, process.env),
    );
    expect((JSON.parse(ok.stdoutTail) as { cwd: string }).cwd).toBe(work);
    const missing = action({ executor: { command: [NODE, scripts.echo], cwd: join(dir, 'nope') } });
    const r = await runCommand(prepareCommand(missing, {}, process.env));
    expect(r.pid).toBeNull();
    expect(r.error).toMatch(/working directory .*nope does not exist/);
  });

  it('keeps the tail of long output and a digest of all of it', async () => {
    const a = action({ executor: { command: [NODE, scripts.noisy, '300000'] } });
    const r = await runCommand(prepareCommand(a, {}, process.env), { maxOutputBytes: 64 * 1024 });
    expect(r.stdoutBytes).toBe(300_003);
    expect(Buffer.byteLength(r.stdoutTail)).toBe(64 * 1024);
    expect(r.stdoutTail.endsWith('xxx\nEND') || r.stdoutTail.endsWith('xEND')).toBe(true);
    const line = `${'x'.repeat(99)}\n`;
    const full = `${line.repeat(3000).slice(0, 300_000)}END`;
    expect(r.stdoutSha256).toBe(createHash('sha256').update(full).digest('hex'));
    expect(r.stderrTail).toBe('warn');
    expect(r.cpuMs).toBeNull();
  });

  it('reports a program that does not exist', async () => {
    const a = action({ executor: { command: ['/nonexistent/program-xyz'] } });
    const r = await runCommand(prepareCommand(a, {}, process.env));
    expect(r.exitCode).toBeNull();
    expect(r.error).toMatch(/cannot start \/nonexistent\/program-xyz: not found/);
  });

  it('on abort kills the whole process group, grandchild included, within 1 s', async () => {
    const pidFile = join(dir, 'abort.pids');
    const a = action({ executor: { command: [NODE, scripts.family, pidFile, 'wait'] }, timeout: '30s' });
    const controller = new AbortController();
    const running = runCommand(prepareCommand(a, {}, process.env), {
      signal: controller.signal,
      onSpawn: (pid) => spawned.add(pid),
    });
    const { child, grandchild } = await familyPids(pidFile);
    spawned.add(grandchild);
    controller.abort();
    const ms = await goneWithin([child, grandchild], 1000);
    const r = await running;
    expect(r.aborted).toBe(true);
    expect(r.timedOut).toBe(false);
    expect(r.signal).toBe('SIGTERM');
    expect(r.stdoutTail).toContain('family ready');
    expect(ms).toBeLessThan(1000);
  });

  it('on timeout kills the group and says it timed out', async () => {
    const pidFile = join(dir, 'timeout.pids');
    const a = action({ executor: { command: [NODE, scripts.family, pidFile, 'wait'] }, timeout: '700ms' });
    // The executor's clock is fake: its 700 ms pass once the family is up, however slow the
    // machine is to start two node processes (a real 700 ms could end before they started).
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const running = runCommand(prepareCommand(a, {}, process.env), { onSpawn: (pid) => spawned.add(pid) });
      const { child, grandchild } = await familyPids(pidFile);
      spawned.add(grandchild);
      expect(await processAlive(grandchild)).toBe(true);
      vi.advanceTimersByTime(700);
      const r = await running;
      expect(r.timedOut).toBe(true);
      expect(r.signal).toBe('SIGTERM');
      await goneWithin([child, grandchild], 1000);
    } finally {
      vi.useRealTimers();
    }
  });

  it('escalates to SIGKILL when the group ignores SIGTERM', async () => {
    const pidFile = join(dir, 'trap.pids');
    const a = action({ executor: { command: [NODE, scripts.family, pidFile, 'trap'] }, timeout: '30s' });
    const controller = new AbortController();
    const running = runCommand(prepareCommand(a, {}, process.env), {
      signal: controller.signal,
      killGraceMs: 300,
      onSpawn: (pid) => spawned.add(pid),
    });
    const { child, grandchild } = await familyPids(pidFile);
    spawned.add(grandchild);
    controller.abort();
    await goneWithin([child, grandchild], 1500);
    const r = await running;
    expect(r.signal).toBe('SIGKILL');
  });

  it('stops what a finished command left running in its group', async () => {
    const pidFile = join(dir, 'exit.pids');
    const a = action({ executor: { command: [NODE, scripts.family, pidFile, 'exit'] }, timeout: '30s' });
    const r = await runCommand(prepareCommand(a, {}, process.env), { onSpawn: (pid) => spawned.add(pid) });
    const { grandchild } = await familyPids(pidFile);
    spawned.add(grandchild);
    expect(r.exitCode).toBe(0);
    expect(r.wallMs).toBeLessThan(5000);
    await goneWithin([grandchild], 1000);
  });

  it('in dry-run mode says what would run and runs nothing', async () => {
    const marker = join(dir, 'dry-marker');
    const a = action({ params: { f: ANY }, executor: { command: ['touch', '{f}'] } });
    const r = await runCommand(prepareCommand(a, checked(a, { f: marker }), process.env), { dryRun: true });
    expect(r.dryRun).toBe(true);
    expect(r.argv).toEqual(['touch', marker]);
    expect(r.pid).toBeNull();
    expect(existsSync(marker)).toBe(false);
  });
});

describe('http executor', () => {
  let server: Server;
  let base: string;
  const seen: { method: string; url: string; headers: IncomingMessage['headers']; body: string }[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString();
      });
      req.on('end', () => {
        seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
        if (req.url?.startsWith('/slow')) return; // never answers
        if (req.url?.startsWith('/big')) {
          res.end('y'.repeat(1_000_000));
          return;
        }
        if (req.url?.startsWith('/moved')) {
          res.writeHead(302, { location: 'http://elsewhere.example/' }).end();
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  afterEach(() => {
    seen.length = 0;
  });

  const retry = (extra: Partial<ActionInput> = {}) =>
    action({
      params: { job: ANY, note: ANY },
      executor: {
        http: {
          method: 'POST',
          url: `${base}/jobs/{job}/retry?note={note}`,
          headers: { authorization: `Bearer ${envRef('CI_TOKEN')}`, 'x-job': '{job}' },
          body: '{"job":"{job}","note":"{note}","literal":{}}',
        },
      },
      ...extra,
    });

  it('sends the method, an encoded URL, env-filled headers and a JSON-escaped body', async () => {
    const a = retry();
    const params = checked(a, { job: 'a b/../c', note: 'say "hi" & bye\\' });
    const r = await runHttp(prepareHttp(a, params, { CI_TOKEN: 'tok-very-secret' }));
    expect(r.status).toBe(200);
    expect(r.ok).toBe(true);
    expect(r.body).toBe('{"ok":true}');
    const req = seen[0];
    expect(req?.method).toBe('POST');
    expect(req?.url).toBe('/jobs/a%20b%2F..%2Fc/retry?note=say%20%22hi%22%20%26%20bye%5C');
    expect(req?.headers.authorization).toBe('Bearer tok-very-secret');
    expect(req?.headers['content-type']).toBe('application/json');
    expect(JSON.parse(req?.body ?? '')).toEqual({ job: 'a b/../c', note: 'say "hi" & bye\\', literal: {} });
    expect(JSON.stringify(r)).not.toContain('tok-very-secret');
    expect(r.headerNames).toEqual(['authorization', 'x-job', 'content-type']);
  });

  it('refuses to send when a header env var is missing, naming the variable', () => {
    const a = retry();
    const params = checked(a, { job: '1', note: 'x' });
    expect(() => prepareHttp(a, params, {})).toThrow(MissingEnvError);
    expect(() => prepareHttp(a, params, {})).toThrow(/CI_TOKEN, which is not set/);
    expect(seen).toHaveLength(0);
  });

  it('never echoes a secret that cannot go in a header', () => {
    const a = retry();
    const params = checked(a, { job: '1', note: 'x' });
    expect(() => prepareHttp(a, params, { CI_TOKEN: 'abc\nInjected: 1' })).toThrow(
      /CI_TOKEN holds characters a header cannot carry/,
    );
    try {
      prepareHttp(a, params, { CI_TOKEN: 'abc\nInjected: 1' });
    } catch (err) {
      expect((err as Error).message).not.toContain('Injected');
    }
  });

  it('times out a request that gets no answer', async () => {
    const a = action({ executor: { http: { method: 'GET', url: `${base}/slow` } }, timeout: '300ms' });
    const t0 = performance.now();
    const r = await runHttp(prepareHttp(a, {}, {}));
    expect(r.timedOut).toBe(true);
    expect(r.status).toBeNull();
    expect(r.error).toMatch(/no complete response within 300 ms/);
    expect(performance.now() - t0).toBeLessThan(2000);
  });

  it('caps the body it keeps and stops reading', async () => {
    const a = action({ executor: { http: { method: 'GET', url: `${base}/big` } } });
    const r = await runHttp(prepareHttp(a, {}, {}), { maxBodyBytes: 1024 });
    expect(r.status).toBe(200);
    expect(r.body).toBe('y'.repeat(1024));
    expect(r.truncated).toBe(true);
  });

  it('does not follow redirects', async () => {
    const a = action({ executor: { http: { method: 'GET', url: `${base}/moved` } } });
    const r = await runHttp(prepareHttp(a, {}, {}));
    expect(r.status).toBe(302);
    expect(r.ok).toBe(false);
    expect(seen).toHaveLength(1);
  });

  it('aborts on the kill switch', async () => {
    const a = action({ executor: { http: { method: 'GET', url: `${base}/slow` } }, timeout: '30s' });
    const controller = new AbortController();
    const running = runHttp(prepareHttp(a, {}, {}), { signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    const r = await running;
    expect(r.aborted).toBe(true);
    expect(r.wallMs).toBeLessThan(1000);
  });

  it('in dry-run mode sends nothing', async () => {
    const a = retry();
    const params = checked(a, { job: '7', note: 'n' });
    const r = await runHttp(prepareHttp(a, params, { CI_TOKEN: 'tok' }), { dryRun: true });
    expect(r.dryRun).toBe(true);
    expect(r.url).toBe(`${base}/jobs/7/retry?note=n`);
    expect(seen).toHaveLength(0);
  });
});

describe('what an approval request shows', () => {
  it('the argv shell-quoted, the target, and the tier and why', () => {
    const policy = makePolicy();
    const restart = policy.actions.get('restart-service') as CompiledAction;
    const d = describeExecution(restart, { service: 'web' });
    expect(d.display).toBe('systemctl restart web');
    expect(d.target).toBe('web');
    expect(d.tier).toBe(3);
    expect(d.tierReason).toMatch(/lifted to 3: class service-affecting requires approval/);
    expect(shellQuote(`it's $(x)`)).toBe(`'it'\\''s $(x)'`);
    const a = action({ params: { msg: ANY }, executor: { command: ['echo', '{msg}'] } });
    expect(describeExecution(a, { msg: 'a b; rm -rf /' }).display).toBe(`echo 'a b; rm -rf /'`);
  });

  it(`METHOD URL with params filled and secrets as \${NAME}, never their values`, () => {
    const a = action({
      params: { job: ANY },
      executor: {
        http: {
          method: 'POST',
          url: 'https://ci.example.com/jobs/{job}/retry',
          headers: { authorization: `Bearer ${envRef('CI_TOKEN')}` },
        },
      },
    });
    const d = describeExecution(a, { job: 'x y' }, { env: { CI_TOKEN: 'tok-secret' } });
    expect(d.display).toBe('POST https://ci.example.com/jobs/x%20y/retry');
    expect(d.headers).toEqual({ authorization: `Bearer ${envRef('CI_TOKEN')}` });
    expect(d.missingEnv).toEqual([]);
    expect(JSON.stringify(d)).not.toContain('tok-secret');
    expect(describeExecution(a, { job: '1' }, { env: {} }).missingEnv).toEqual(['CI_TOKEN']);
  });
});
