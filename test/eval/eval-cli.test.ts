import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { byPrompt, type FakeOllama, json, startFakeOllama } from '../fakes/ollama-server.js';
import { ROOT, type TempSetup, tempSetup } from '../helpers/bot.js';
import { runCli } from '../helpers/cli.js';

let setup: TempSetup;
let server: FakeOllama;

beforeEach(async () => {
  setup = tempSetup();
  server = await startFakeOllama(
    byPrompt([
      [
        'signal:storm-web-1',
        json({
          summary: 'web errors follow api being down',
          cause: 'api refuses connections (upstream)',
          causeFacts: ['signal:storm-web-3'],
          confidence: 0.8,
          proposals: [{ action: 'collect-evidence', params: { service: 'api' }, why: 'see why api crashes' }],
        }),
      ],
    ]),
  );
});
afterEach(async () => {
  await server.close();
  setup.cleanup();
});

const cli = (...args: string[]) => runCli(args, { env: setup.env, cwd: setup.dir });

/** A scenario folder with the sentinel scenarios alone (quick), or with `extra` files too. */
function folder(extra: Record<string, string> = {}): string {
  const dir = join(setup.dir, 'scenarios');
  mkdirSync(dir, { recursive: true });
  copyFileSync(join(ROOT, 'eval', 'scenarios', 'sentinel.yaml'), join(dir, 'sentinel.yaml'));
  for (const [name, text] of Object.entries(extra)) writeFileSync(join(dir, name), text);
  return dir;
}

describe('autonomy eval', () => {
  it('prints a scorecard per model, with progress on stderr', async () => {
    const r = await cli(
      'eval',
      '--host',
      server.url,
      '--scenarios',
      folder(),
      '--model',
      'small:1b',
      '--model',
      'other:3b',
    );
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^model small:1b at http:\/\/127\.0\.0\.1:\d+: 12 scenario\(s\)$/m);
    expect(r.out).toMatch(/^model other:3b at /m);
    expect(r.out).toMatch(/proposals +1 made: 1 accepted, 0 wrong \(0 must-not\), 0 refused by policy/);
    expect(r.out).toMatch(/valid JSON +1\/23 replies \(4%\)/);
    expect(r.out).toMatch(/^ {4}sentinel +12 +1 +1\/11 +1\/12 +0 +0 +0$/m);
    expect(r.out).not.toMatch(/runbook steps/);
    expect(r.err).toMatch(/^small:1b: scenario 1\/12 sentinel-storm-web-upstream-api$/m);
    expect(r.err).toMatch(/^other:3b: scenario 12\/12 /m);
  });

  it('--json: one document with each scorecard and every scenario result', async () => {
    const r = await cli('eval', '--host', server.url, '--scenarios', folder(), '--json');
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.out) as {
      scenarios: number;
      models: {
        scorecard: { model: string; proposals: { accepted: number } };
        results: { id: string; hit: boolean }[];
      }[];
    };
    expect(doc.scenarios).toBe(12);
    expect(doc.models).toHaveLength(1);
    expect(doc.models[0]?.scorecard.model).toBe('llama3.2:3b');
    expect(doc.models[0]?.scorecard.proposals.accepted).toBe(1);
    expect(doc.models[0]?.results.find((x) => x.id === 'sentinel-storm-web-upstream-api')?.hit).toBe(true);
  });

  it("--agent: only that agent's scenarios of the repository's set; an unknown agent is bad usage", async () => {
    server.setScript(() =>
      json({ summary: 'a failed job', cause: '', causeFacts: [], confidence: 0.5, proposals: [] }),
    );
    const r = await cli('eval', '--host', server.url, '--agent', 'validator', '--agent', 'mentor');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^model llama3\.2:3b at .*: 17 scenario\(s\)$/m);
    expect(r.out).toMatch(/^ {4}validator +9 /m);
    expect(r.out).toMatch(/^ {4}mentor +8 /m);
    expect(r.out).not.toMatch(/^ {4}sentinel/m);
    const bad = await cli('eval', '--host', server.url, '--agent', 'sentinal');
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--agent "sentinal": one of sentinel, guardian, builder, validator, mentor/);
  });

  it('a bad scenario file: each problem by file, line and path; exit 1 and nothing is run', async () => {
    const dir = folder({ 'broken.yaml': 'scenarios:\n  - id: x\n    agent: sentinel\n    severity: loud\n' });
    const r = await cli('eval', '--host', server.url, '--scenarios', dir);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`${join(dir, 'broken.yaml')}:4:15  scenarios[0].severity  `);
    expect(r.err).toMatch(/broken\.yaml:2:\d+ {2}scenarios\[0\]\.title /);
    expect(r.err).toMatch(/error\(s\) in the scenarios; nothing was run/);
    expect(r.err).toMatch(/^error \[EVAL_SCENARIOS_INVALID\]: /);
    expect(r.out).toBe('');
    expect(server.requests).toHaveLength(0);
  });

  it('a model the server has not got: its scorecard, then exit 1 saying it answered nothing and how to fix it', async () => {
    server.setScript(() => ({ status: 404 }));
    const r = await cli('eval', '--host', server.url, '--scenarios', folder(), '--model', 'missing:7b');
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/answered by model +0 +\(by rules: 12, unavailable 12\)/);
    expect(r.err).toMatch(
      /^error \[EVAL_NO_ANSWERS\]: missing:7b answered none of the 12 scenarios \(unavailable: missing:7b: .*404/m,
    );
    expect(r.err).toMatch(/ollama pull missing:7b/);
  });

  it('no model server: says so and how to fix it, exit 1, no stack trace', async () => {
    server.setUp(false);
    const r = await cli('eval', '--host', server.url, '--scenarios', folder());
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^error \[EVAL_NO_MODEL\]: no model server answers at http:\/\/127\.0\.0\.1:\d+/);
    expect(r.err).toMatch(/ollama serve/);
    expect(r.err).not.toMatch(/\n\s+at /);
  });
});
