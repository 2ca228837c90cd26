/**
 * GitHub CI through POST /hooks/github with real payloads (@octokit/webhooks-examples): a user
 * subscribed to both workflow_run and check_run gets one incident per failure, with each delivery
 * stored as its own signal, resolved when everything that failed has passed again.
 */
import { createRequire } from 'node:module';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Accepted, type IngestSetup, ingestSetup } from '../../helpers/ingest.js';

type Payload = Record<string, unknown>;
type Example = { name: string; examples: Payload[] };
const require = createRequire(import.meta.url);
const GITHUB_EXAMPLES = require('@octokit/webhooks-examples') as Example[];

function example(event: string, pick: (e: Payload) => boolean): Payload {
  const found = GITHUB_EXAMPLES.find((w) => w.name === event)?.examples.find(pick);
  if (!found) throw new Error(`no ${event} example matches`);
  return structuredClone(found);
}

interface CheckRun {
  name: string;
  conclusion: string | null;
  head_sha: string;
  check_suite: { id: number; head_branch: string };
}
interface WorkflowRun {
  conclusion: string | null;
  head_branch: string;
  head_sha: string;
  check_suite_id: number;
  name: string;
}

/** The real failed check run (Codertocat/Hello-World, branch `changes`), with a job name and conclusion. */
function checkRun(name: string, conclusion: string, branch = 'changes'): Payload {
  const e = example(
    'check_run',
    (x) => x.action === 'completed' && (x.check_run as CheckRun).conclusion === 'failure',
  );
  const run = e.check_run as CheckRun;
  run.name = name;
  run.conclusion = conclusion;
  run.check_suite.head_branch = branch;
  return e;
}

/**
 * The real completed workflow run, as GitHub sends it for the same commit and check suite as the
 * check run above (the examples hold runs of another repository: the same payload, moved there).
 */
function workflowRun(conclusion: string): Payload {
  const e = example('workflow_run', (x) => (x.workflow_run as WorkflowRun).conclusion === 'success');
  const check = checkRun('x', 'failure');
  const c = check.check_run as CheckRun;
  e.repository = check.repository;
  const run = e.workflow_run as WorkflowRun;
  run.conclusion = conclusion;
  run.head_branch = c.check_suite.head_branch;
  run.head_sha = c.head_sha;
  run.check_suite_id = c.check_suite.id;
  return e;
}

let s: IngestSetup;
let n = 0;
beforeEach(() => {
  s = ingestSetup();
});
afterEach(() => {
  expect(s.errors).toEqual([]);
  s.cleanup();
});

async function deliver(event: string, payload: Payload): Promise<Accepted> {
  const res = await s.github(event, `ci-${++n}`, payload);
  expect(res.status).toBe(202);
  return (await res.json()) as Accepted;
}

describe('workflow_run and check_run of one failure', () => {
  it('make one incident with two signals, resolved when both have passed again', async () => {
    expect(await deliver('check_run', checkRun('Octocoders-linter', 'failure'))).toMatchObject({
      accepted: 1,
      incidents: ['i1'],
    });
    // The workflow completes long after its failed job (other jobs ran on): still the same incident.
    s.clock += 40 * 60_000;
    expect(await deliver('workflow_run', workflowRun('failure'))).toMatchObject({
      accepted: 1,
      incidents: ['i1'],
    });
    expect(s.incidents.list({ status: 'all' })).toHaveLength(1);
    expect(s.incidents.get('i1')).toMatchObject({
      status: 'open',
      signalCount: 2,
      title: 'Codertocat/Hello-World: Octocoders-linter failed on changes',
      service: 'Codertocat/Hello-World',
    });
    expect(s.incidents.signals('i1').map((x) => [x.kind, x.source, x.title])).toEqual([
      ['failed_job', 'github', 'Codertocat/Hello-World: workflow 2823525 failed on changes'],
      ['failed_job', 'github', 'Codertocat/Hello-World: Octocoders-linter failed on changes'],
    ]);
    expect(s.rowCounts().signals).toBe(2);

    // The next push: a job that never failed passes, then the failed one, then the workflow.
    s.clock += 10 * 60_000;
    expect(await deliver('check_run', checkRun('lint', 'success'))).toMatchObject({ incidents: [] });
    await deliver('check_run', checkRun('Octocoders-linter', 'success'));
    expect(s.incidents.get('i1')?.status).toBe('open');
    expect(await deliver('workflow_run', workflowRun('success'))).toMatchObject({ incidents: ['i1'] });
    expect(s.incidents.get('i1')).toMatchObject({ status: 'resolved', resolvedBy: 'source:github' });
  });

  it('keeps branches apart, and a second failing workflow on a red branch joins its incident', async () => {
    await deliver('check_run', checkRun('Octocoders-linter', 'failure'));
    expect(await deliver('check_run', checkRun('Octocoders-linter', 'failure', 'main'))).toMatchObject({
      incidents: ['i2'],
    });
    s.clock += 3 * 60 * 60_000;
    expect(await deliver('check_run', checkRun('deploy-preview', 'timed_out'))).toMatchObject({
      incidents: ['i1'],
    });
    expect(s.incidents.get('i1')?.signalCount).toBe(2);
    expect(s.audit.records({ kind: 'incident.joined' }).map((r) => r.outcome)).toEqual([
      'github:ci:Codertocat/Hello-World:changes:check:deploy-preview joined i1 (same family github:ci:Codertocat/Hello-World:changes)',
    ]);
  });
});
