import { createRequire } from 'node:module';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type Accepted,
  type IngestSetup,
  ingestSetup,
  type Rejected,
  SECRET,
  signGithub,
} from '../../helpers/ingest.js';

type Example = { name: string; examples: Record<string, unknown>[] };
const require = createRequire(import.meta.url);
const GITHUB_EXAMPLES = require('@octokit/webhooks-examples') as Example[];

function example(event: string, pick: (e: Record<string, unknown>) => boolean): Record<string, unknown> {
  const found = GITHUB_EXAMPLES.find((w) => w.name === event)?.examples.find(pick);
  if (!found) throw new Error(`no ${event} example matches`);
  return structuredClone(found);
}

let s: IngestSetup;
beforeEach(() => {
  s = ingestSetup();
});
afterEach(() => {
  expect(s.errors).toEqual([]);
  s.cleanup();
});

describe('POST /hooks/github (real payloads from @octokit/webhooks-examples)', () => {
  it('turns a failed check_run into a failed_job signal and a green one into its resolution', async () => {
    const failed = example(
      'check_run',
      (e) => e.action === 'completed' && (e.check_run as { conclusion: string }).conclusion === 'failure',
    );
    const res = await s.github('check_run', 'd-1', failed);
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ accepted: 1, duplicates: 0, incidents: ['i1'], ignored: null });
    expect(s.incidents.get('i1')).toMatchObject({
      fingerprint: 'github:ci:Codertocat/Hello-World:changes:check:Octocoders-linter',
      title: 'Codertocat/Hello-World: Octocoders-linter failed on changes',
      severity: 'warning',
      service: 'Codertocat/Hello-World',
    });
    // Redelivery (same X-GitHub-Delivery) is stored once.
    expect(await (await s.github('check_run', 'd-1', failed)).json()).toMatchObject({
      accepted: 0,
      duplicates: 1,
    });
    const green = structuredClone(failed);
    (green.check_run as { conclusion: string }).conclusion = 'success';
    s.clock += 60_000;
    await s.github('check_run', 'd-2', green);
    expect(s.incidents.get('i1')).toMatchObject({ status: 'resolved', resolvedBy: 'source:github' });
  });

  it('turns a failed workflow_run into a failed_job, and ignores a cancelled one with the reason', async () => {
    const run = example(
      'workflow_run',
      (e) => (e.workflow_run as { conclusion: string }).conclusion === 'success',
    );
    // The examples hold only green runs: the same real payload, red.
    (run.workflow_run as { conclusion: string }).conclusion = 'failure';
    const res = await s.github('workflow_run', 'd-10', run);
    expect(await res.json()).toMatchObject({ accepted: 1, incidents: ['i1'] });
    expect(s.incidents.get('i1')?.fingerprint).toBe('github:ci:octo-org/octo-repo:master:workflow:2823525');
    (run.workflow_run as { conclusion: string }).conclusion = 'cancelled';
    const cancelled = (await (await s.github('workflow_run', 'd-11', run)).json()) as Accepted;
    expect(cancelled).toMatchObject({ accepted: 0, incidents: [] });
    expect(cancelled.ignored).toBe('workflow cancelled is not a failure');
  });

  it('turns advisories and Dependabot alerts into advisory signals; fixed resolves', async () => {
    const created = example('dependabot_alert', (e) => e.action === 'created');
    expect(await (await s.github('dependabot_alert', 'd-20', created)).json()).toMatchObject({
      incidents: ['i1'],
    });
    expect(s.incidents.get('i1')).toMatchObject({
      fingerprint: 'github:dependabot:wolfy1339/pika-pack:20',
      severity: 'warning',
      title:
        'GHSA-c2qf-rxjj-qqgw in wolfy1339/pika-pack: semver: semver vulnerable to Regular Expression Denial of Service',
    });
    // A global advisory for packages this bot does not run (pip's django): accepted, ignored, said why.
    const published = example('security_advisory', (e) => e.action === 'published');
    expect(await (await s.github('security_advisory', 'd-21', published)).json()).toEqual({
      accepted: 0,
      duplicates: 0,
      incidents: [],
      ignored:
        'security_advisory GHSA-rf4j-j272-fj86 affects nothing in the inventory: the inventory is empty ' +
        '(list what you run in the policy: inventory.npmLockfiles or inventory.lists); ' +
        'pip packages are not in the inventory (only npm is matched)',
    });
    // Withdrawn: stored as the resolution of whatever it opened (nothing here).
    const withdrawn = example('security_advisory', (e) => e.action === 'withdrawn');
    const w = (await (await s.github('security_advisory', 'd-22', withdrawn)).json()) as Accepted;
    expect(w).toMatchObject({ accepted: 1, incidents: [] });
    // repository_advisory has no example in the package: GitHub's documented shape.
    const repoAdvisory = {
      action: 'published',
      repository: { full_name: 'octo-org/octo-repo' },
      repository_advisory: {
        ghsa_id: 'GHSA-abcd-1234-efgh',
        summary: 'Path traversal in the static file server',
        severity: 'critical',
        cvss: { vector_string: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', score: 9.8 },
        html_url: 'https://github.com/octo-org/octo-repo/security/advisories/GHSA-abcd-1234-efgh',
        vulnerabilities: [
          {
            package: { ecosystem: 'npm', name: 'octo-static' },
            vulnerable_version_range: '< 1.2.3',
            patched_versions: '1.2.3',
          },
        ],
      },
    };
    // About a repository of ours: a signal even though the inventory does not list the package.
    expect(await (await s.github('repository_advisory', 'd-23', repoAdvisory)).json()).toMatchObject({
      incidents: ['i2'],
    });
    expect(s.incidents.get('i2')).toMatchObject({
      severity: 'critical',
      fingerprint: 'advisory:GHSA-abcd-1234-efgh',
      service: 'octo-org/octo-repo',
    });
    const fixed = example('dependabot_alert', (e) => e.action === 'fixed');
    (fixed.alert as { number: number }).number = 20;
    fixed.repository = created.repository;
    s.clock += 1000;
    await s.github('dependabot_alert', 'd-24', fixed);
    expect(s.incidents.get('i1')).toMatchObject({ status: 'resolved', resolvedBy: 'source:github' });
  });

  it('accepts every example payload GitHub sends (2xx, never 5xx), ignoring what makes no signal', async () => {
    let n = 0;
    for (const hook of GITHUB_EXAMPLES) {
      for (const payload of hook.examples) {
        const res = await s.github(hook.name, `ex-${n++}`, payload);
        expect(res.status, `${hook.name} ${String(payload.action)}`).toBeLessThan(300);
        const body = (await res.json()) as Accepted;
        if (hook.name === 'push')
          expect(body.ignored).toMatch(/^push: not an event this bot turns into signals/);
      }
    }
    expect(n).toBeGreaterThan(300);
    expect(s.counters.rejectedTotal).toBe(0);
  });

  it("answers ping, and takes GitHub's default form encoding", async () => {
    const ping = await s.github(
      'ping',
      'p-1',
      example('ping', () => true),
    );
    expect(ping.status).toBe(200);
    expect(await ping.json()).toMatchObject({ ok: true });
    const failed = example(
      'check_run',
      (e) => e.action === 'completed' && (e.check_run as { conclusion: string }).conclusion === 'failure',
    );
    const form = `payload=${encodeURIComponent(JSON.stringify(failed))}`;
    const res = await s.post('/hooks/github', form, {
      'content-type': 'application/x-www-form-urlencoded',
      'x-github-event': 'check_run',
      'x-github-delivery': 'f-1',
      'x-hub-signature-256': signGithub(SECRET, form),
    });
    expect(await res.json()).toMatchObject({ accepted: 1, incidents: ['i1'] });
  });

  it('rejects forged, missing and wrongly keyed signatures with 401, counted, writing nothing', async () => {
    const failed = example(
      'check_run',
      (e) => e.action === 'completed' && (e.check_run as { conclusion: string }).conclusion === 'failure',
    );
    const body = JSON.stringify(failed);
    const headers = {
      'content-type': 'application/json',
      'x-github-event': 'check_run',
      'x-github-delivery': 'x-1',
    };
    const forged = JSON.stringify({ ...failed, action: 'completed', sender: { login: 'mallory' } });
    const cases: Record<string, string>[] = [
      {},
      { 'x-hub-signature-256': signGithub('another-secret', body) },
      { 'x-hub-signature-256': signGithub(SECRET, forged) },
      { 'x-hub-signature-256': 'sha256=zz' },
      { 'x-hub-signature': `sha1=${'0'.repeat(40)}` },
    ];
    for (const extra of cases) {
      const res = await s.post('/hooks/github', body, { ...headers, ...extra });
      expect(res.status).toBe(401);
      expect(((await res.json()) as Rejected).error).toMatch(/GITHUB_WEBHOOK_SECRET/);
    }
    expect(s.counters.rejections.get('github bad_signature')).toBe(cases.length);
    expect(s.rowCounts()).toMatchObject({ signals: 0, incidents: 0 });
  });

  it('is off (503, never unsigned) without GITHUB_WEBHOOK_SECRET', async () => {
    const off = ingestSetup({ githubSecret: null });
    try {
      const res = await off.github('check_run', 'o-1', { action: 'completed' });
      expect(res.status).toBe(503);
      expect(((await res.json()) as Rejected).error).toMatch(/set GITHUB_WEBHOOK_SECRET/);
      expect(off.counters.rejections.get('github not_configured')).toBe(1);
    } finally {
      off.cleanup();
    }
  });
});
