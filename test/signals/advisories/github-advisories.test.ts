/**
 * GitHub security and repository advisories matched against the policy's inventory, through
 * POST /hooks/github with real payloads (@octokit/webhooks-examples), and GitHub's range syntax.
 * A match is an advisory signal per installed package@version (as OSV matches are, in the same
 * incident as OSV's for that advisory); an advisory that affects nothing we run is accepted and
 * ignored with the reasons.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseGithubRange, patchedVersions } from '../../../src/signals/advisories/github.js';
import { buildInventory } from '../../../src/signals/advisories/inventory.js';
import { advisorySignals } from '../../../src/signals/advisories/match.js';
import type { OsvRecord } from '../../../src/signals/advisories/osv.js';
import { compileDoc, makePolicyDoc } from '../../fixtures/policy.js';
import { type Accepted, type IngestSetup, ingestSetup } from '../../helpers/ingest.js';

type Payload = Record<string, unknown>;
type Example = { name: string; examples: Payload[] };
const require = createRequire(import.meta.url);
const GITHUB_EXAMPLES = require('@octokit/webhooks-examples') as Example[];

interface Vulnerability {
  package: { ecosystem: string; name: string };
  vulnerable_version_range: string;
  first_patched_version: { identifier: string } | null;
}

/** The real `updated` security advisory: GHSA-6fmm-47qc-p4m4, npm harp `<= 0.29.0`, no fix. */
function harpAdvisory(action = 'updated'): Payload {
  const found = GITHUB_EXAMPLES.find((w) => w.name === 'security_advisory')?.examples.find(
    (e) => e.action === 'updated',
  );
  if (!found) throw new Error('no security_advisory updated example');
  return { ...structuredClone(found), action };
}

function vulnerabilities(p: Payload): Vulnerability[] {
  return (p.security_advisory as { vulnerabilities: Vulnerability[] }).vulnerabilities;
}

let dir: string;
let s: IngestSetup;
let started = false;
let n = 0;

/** A policy whose inventory is two list files in a temp folder. */
function withInventory(files: Record<string, string>): void {
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const policy = compileDoc(
    makePolicyDoc({
      edit: (d) => {
        d.inventory = { npmLockfiles: [], lists: Object.keys(files) };
      },
    }),
    join(dir, 'autonomy.policy.yaml'),
  );
  s = ingestSetup({ policy });
  started = true;
}

async function deliver(event: string, payload: Payload, delivery = `adv-${++n}`): Promise<Accepted> {
  const res = await s.github(event, delivery, payload);
  expect(res.status).toBe(202);
  return (await res.json()) as Accepted;
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'autonomy-gh-adv-'));
});
afterEach(() => {
  if (started) {
    expect(s.errors).toEqual([]);
    s.cleanup();
    started = false;
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('security_advisory against the inventory', () => {
  it('a matched install is an advisory signal naming where it is installed; nothing else is', async () => {
    withInventory({
      'deployed.txt': 'harp@0.29.0\nleft-pad@1.3.0\n',
      'edge.txt': '# edge proxies\nharp@0.29.0\nharp@0.30.0\n',
    });
    const reply = await deliver('security_advisory', harpAdvisory(), 'd-1');
    expect(reply).toEqual({ accepted: 1, duplicates: 0, incidents: ['i1'], ignored: null });
    const [signal] = s.incidents.signals('i1');
    expect(signal).toMatchObject({ kind: 'advisory', source: 'github' });
    expect(signal?.title).toBe(
      'GHSA-6fmm-47qc-p4m4 harp@0.29.0: Unauthorized File Access in harp (CVSS 7.9; no fix yet)',
    );
    expect(s.incidents.get('i1')).toMatchObject({
      fingerprint: 'advisory:GHSA-6fmm-47qc-p4m4',
      // GitHub's CVSS score (the vector is empty in this payload): 7.9 is below critical's 9.0.
      severity: 'warning',
      service: null,
    });
    const row = s.database.sqlite
      .prepare('SELECT dedupe_key, payload FROM signals WHERE incident_id = ?')
      .get(s.incidents.get('i1')?.id) as { dedupe_key: string; payload: string };
    expect(row.dedupe_key).toBe('github:d-1:harp@0.29.0');
    expect(JSON.parse(row.payload)).toMatchObject({
      ghsa: 'GHSA-6fmm-47qc-p4m4',
      package: 'harp',
      version: '0.29.0',
      vulnerable: '<= 0.29.0',
      fixed: null,
      upgradeTo: null,
      files: ['deployed.txt', 'edge.txt'],
      affected: [
        { file: 'deployed.txt', name: 'harp', version: '0.29.0', dev: false },
        { file: 'edge.txt', name: 'harp', version: '0.29.0', dev: false },
      ],
    });
    // GitHub re-sends the delivery: stored once.
    expect(await deliver('security_advisory', harpAdvisory(), 'd-1')).toMatchObject({
      accepted: 0,
      duplicates: 1,
    });
  });

  it('reads GitHub ranges as semver (prereleases by order), one signal per version, with the upgrade', async () => {
    withInventory({
      'deployed.txt': 'harp@0.28.1\nharp@0.30.0\nharp@0.30.1-rc.1\nharp@0.30.1\nharp@1.0.0\n',
    });
    const advisory = harpAdvisory();
    const [v] = vulnerabilities(advisory);
    if (!v) throw new Error('the example lost its vulnerability');
    v.vulnerable_version_range = '>= 0.29.0, < 0.30.1';
    v.first_patched_version = { identifier: '0.30.1' };
    vulnerabilities(advisory).push({
      package: { ecosystem: 'npm', name: 'harp' },
      vulnerable_version_range: '= 1.0.0',
      first_patched_version: { identifier: '1.0.1' },
    });
    const reply = await deliver('security_advisory', advisory);
    expect(reply).toMatchObject({ accepted: 3, incidents: ['i1'] });
    expect(s.incidents.signals('i1').map((x) => x.title)).toEqual(
      expect.arrayContaining([
        'GHSA-6fmm-47qc-p4m4 harp@0.30.0: Unauthorized File Access in harp (CVSS 7.9; upgrade to 0.30.1)',
        'GHSA-6fmm-47qc-p4m4 harp@0.30.1-rc.1: Unauthorized File Access in harp (CVSS 7.9; upgrade to 0.30.1)',
        'GHSA-6fmm-47qc-p4m4 harp@1.0.0: Unauthorized File Access in harp (CVSS 7.9; upgrade to 1.0.1)',
      ]),
    );
    expect(s.incidents.get('i1')?.signalCount).toBe(3);
  });

  it('accepts and ignores, with the reasons, an advisory that affects nothing we run', async () => {
    withInventory({ 'deployed.txt': 'harp@0.30.0\n' });
    expect(await deliver('security_advisory', harpAdvisory())).toEqual({
      accepted: 0,
      duplicates: 0,
      incidents: [],
      ignored:
        'security_advisory GHSA-6fmm-47qc-p4m4 affects nothing in the inventory: ' +
        'harp@0.30.0 is outside the affected versions (<= 0.29.0)',
    });
    const django = GITHUB_EXAMPLES.find((w) => w.name === 'security_advisory')?.examples.find(
      (e) => e.action === 'published',
    ) as Payload;
    expect((await deliver('security_advisory', django)).ignored).toBe(
      'security_advisory GHSA-rf4j-j272-fj86 affects nothing in the inventory: ' +
        'pip packages are not in the inventory (only npm is matched)',
    );
    const odd = harpAdvisory();
    const [v] = vulnerabilities(odd);
    if (v) v.vulnerable_version_range = '';
    expect((await deliver('security_advisory', odd)).ignored).toBe(
      'security_advisory GHSA-6fmm-47qc-p4m4 affects nothing in the inventory: ' +
        'harp: the range "" cannot be read as versions; it was skipped',
    );
    expect(s.rowCounts()).toMatchObject({ signals: 0, incidents: 0 });
    expect(s.counters.accepts.get('github ignored')).toBe(3);
  });

  it('is one incident with the OSV feed for the same advisory, resolved when GitHub withdraws it', async () => {
    withInventory({ 'deployed.txt': 'harp@0.29.0\n' });
    await deliver('security_advisory', harpAdvisory());
    // The same advisory from the OSV feed (what /hooks/osv stores for it).
    const osv: OsvRecord = {
      id: 'GHSA-6fmm-47qc-p4m4',
      modified: '2023-01-09T05:02:26Z',
      aliases: ['CVE-2019-5438'],
      summary: 'Unauthorized File Access in harp',
      affected: [
        {
          package: { ecosystem: 'npm', name: 'harp' },
          ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { last_affected: '0.29.0' }] }],
        },
      ],
    };
    const { signals } = advisorySignals(
      [osv],
      buildInventory([{ file: 'deployed.txt', name: 'harp', version: '0.29.0', dev: false }]),
    );
    expect(s.store.ingest(signals)).toMatchObject([{ status: 'stored', incident: { shortId: 'i1' } }]);
    s.clock += 60_000;
    expect(await deliver('security_advisory', harpAdvisory('withdrawn'))).toMatchObject({
      accepted: 1,
      incidents: ['i1'],
    });
    expect(s.incidents.get('i1')).toMatchObject({ status: 'resolved', resolvedBy: 'source:github' });
  });
});

describe('repository_advisory', () => {
  it('names the matched installs when the inventory has the package, in the repository', async () => {
    withInventory({ 'deployed.txt': 'octo-static@1.2.0\n' });
    const advisory = {
      action: 'published',
      repository: { full_name: 'octo-org/octo-repo' },
      repository_advisory: {
        ghsa_id: 'GHSA-abcd-1234-efgh',
        summary: 'Path traversal in the static file server',
        severity: 'critical',
        cvss: { vector_string: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', score: 9.8 },
        vulnerabilities: [
          {
            package: { ecosystem: 'npm', name: 'octo-static' },
            vulnerable_version_range: '< 1.2.3',
            patched_versions: '1.2.3',
          },
        ],
      },
    };
    expect(await deliver('repository_advisory', advisory)).toMatchObject({ accepted: 1, incidents: ['i1'] });
    expect(s.incidents.get('i1')).toMatchObject({
      fingerprint: 'advisory:GHSA-abcd-1234-efgh',
      service: 'octo-org/octo-repo',
      severity: 'critical',
      title:
        'GHSA-abcd-1234-efgh octo-static@1.2.0: Path traversal in the static file server (CVSS 9.8; upgrade to 1.2.3)',
    });
  });
});

describe("GitHub's range syntax", () => {
  it('is a list of comparators that must all hold; anything else is unreadable, never "every version"', () => {
    const test = (range: string, version: string) => parseGithubRange(range)?.test(version);
    expect(test('>= 1.0.0, < 1.2.3', '1.2.2')).toBe(true);
    expect(test('>= 1.0.0, < 1.2.3', '1.2.3')).toBe(false);
    expect(test('>= 1.0.0, < 1.2.3', '0.9.9')).toBe(false);
    expect(test('>= 1.0.0, < 1.2.3', '1.2.3-beta.2')).toBe(true);
    expect(test('<= 0.29.0', '0.29.0')).toBe(true);
    expect(test('= 0.2.0', '0.2.0')).toBe(true);
    expect(test('= 0.2.0', '0.2.1')).toBe(false);
    expect(test('> 2.0.0', '2.0.0')).toBe(false);
    for (const bad of ['', '*', '>= 1.0.0 || < 0.5.0', 'latest', '>= 1.0.0,', '< 1.0.0; rm -rf /']) {
      expect(parseGithubRange(bad), bad).toBeNull();
    }
    expect(patchedVersions('1.2.3')).toEqual(['1.2.3']);
    expect(patchedVersions('>= 1.2.3, 2.0.1')).toEqual(['1.2.3', '2.0.1']);
    expect(patchedVersions('none yet')).toEqual([]);
  });
});
