import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/connection.js';
import { approvals, incidents, modelUsage, proposals, signals } from '../../src/db/schema.js';
import { buildDigest, chartPath, digestDedupeKey, digestText } from '../../src/metrics/digest.js';
import type { Policy } from '../../src/policy/types.js';
import { makePolicy } from '../fixtures/policy.js';
import { agentKit } from '../helpers/agent-kit.js';
import { type TempDatabase, tempDatabase } from '../helpers/db.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
/** Monday 2026-03-30 09:00 UTC. */
const NOW = Date.UTC(2026, 2, 30, 9);

let temp: TempDatabase;
let database: Database;
let n = 0;

beforeEach(() => {
  temp = tempDatabase('autonomy-digest-');
  database = temp.database;
  n = 0;
});
afterEach(() => temp.cleanup());

function policyIn(timezone: string): Policy {
  return makePolicy({
    edit: (doc) => {
      doc.metrics.digest.timezone = timezone;
    },
  });
}

function incident(startedAt: number, o: { detectAfter?: number; resolveAfter?: number } = {}): void {
  n += 1;
  database.db
    .insert(incidents)
    .values({
      id: `inc${n}`,
      number: n,
      fingerprint: `fp${n}`,
      title: `incident ${n}`,
      severity: 'warning',
      status: o.resolveAfter === undefined ? 'open' : 'resolved',
      startedAt,
      detectedAt: startedAt + (o.detectAfter ?? MIN),
      resolvedAt: o.resolveAfter === undefined ? null : startedAt + o.resolveAfter,
    })
    .run();
}

function signature(at: number, fingerprint: string, title: string): void {
  n += 1;
  database.db
    .insert(signals)
    .values({
      id: `sig${n}`,
      kind: 'error_signature',
      source: 'logs',
      dedupeKey: `k${n}`,
      fingerprint,
      title,
      severity: 'warning',
      payload: {},
      receivedAt: at,
    })
    .run();
}

function decidedApproval(state: 'approved' | 'denied' | 'expired', at: number): void {
  n += 1;
  database.db
    .insert(proposals)
    .values({
      id: `p${n}`,
      agent: 'sentinel',
      actionId: 'restart-service',
      params: { service: 'web' },
      verdict: 'ask',
      code: 'needs-approval',
      reason: 'tier 3',
      tier: 3,
      decidedAt: at,
    })
    .run();
  database.db
    .insert(approvals)
    .values({
      id: `ap${n}`,
      number: n,
      proposalId: `p${n}`,
      agent: 'sentinel',
      actionId: 'restart-service',
      params: { service: 'web' },
      bindingHash: 'h',
      state,
      requestedAt: at - MIN,
      expiresAt: at + 30 * MIN,
      decidedBy: state === 'expired' ? null : 'slack:user:U1',
      decidedAt: at,
      updatedAt: at,
    })
    .run();
}

const BAD = ['NaN', 'Infinity', 'undefined', 'null'];

describe('the weekly digest', () => {
  it('on an empty database: every metric n/a or 0, a chart, no NaN, no crash', async () => {
    const d = await buildDigest({ database, policy: policyIn('UTC'), now: NOW, dataDir: temp.dir });
    expect(d.weekStart).toBe('2026-03-23');
    expect(d.message.kind).toBe('digest');
    expect(d.message.title).toBe('Weekly autonomy digest: week of 2026-03-23');
    const all = JSON.stringify(d.message);
    for (const bad of BAD) expect(all).not.toContain(bad);
    expect(d.message.body).toContain('Incidents detected                    0 (unchanged)');
    expect(d.message.body).toContain('MTTR median (0 resolved)              n/a');
    expect(d.message.body).toContain('Top recurring signatures\n  none this week');
    expect(d.message.body).toContain('Last 8 weeks');
    expect(d.message.image).toEqual({
      path: 'digests/2026-03-23.png',
      alt: expect.stringContaining('Incidents: 0, 0'),
    });
    expect(d.chartFile).toBe(join(temp.dir, chartPath('2026-03-23')));
    expect(
      readFileSync(d.chartFile as string)
        .subarray(1, 4)
        .toString('latin1'),
    ).toBe('PNG');
    // Written through a temporary file: only the chart is left.
    expect(readdirSync(join(temp.dir, 'digests'))).toEqual(['2026-03-23.png']);
  });

  it('a week with no incidents but other activity: n/a where nothing was measured, counts where something was', async () => {
    incident(NOW - 14 * 24 * HOUR, { resolveAfter: 30 * MIN }); // the week before
    signature(NOW - 3 * 24 * HOUR, 'sig-a', 'TypeError: x is not a function');
    signature(NOW - 2 * 24 * HOUR, 'sig-a', 'TypeError: x is not a function');
    signature(NOW - 2 * 24 * HOUR, 'sig-b', 'ECONNRESET');
    decidedApproval('approved', NOW - 4 * 24 * HOUR);
    decidedApproval('denied', NOW - 3 * 24 * HOUR);
    decidedApproval('expired', NOW - 2 * 24 * HOUR);
    database.db
      .insert(modelUsage)
      .values({
        agent: 'guardian',
        model: 'qwen',
        provider: 'ollama',
        promptTokens: 900,
        completionTokens: 100,
        at: NOW - 24 * HOUR,
      })
      .run();
    const d = await buildDigest({ database, policy: policyIn('UTC'), now: NOW, dataDir: temp.dir });
    const body = d.message.body;
    expect(body).toContain('Incidents detected                    0 (-1 vs 1, better)');
    expect(body).toContain('MTTR median (0 resolved)              n/a');
    expect(body).toContain('Model tokens per resolved incident    n/a');
    expect(body).toContain('Approvals given / denied / expired    1 / 1 / 1');
    expect(body).toMatch(/2x {2}TypeError: x is not a function \[sig-a\]\n\s+1x {2}ECONNRESET \[sig-b\]/);
    expect(body).toContain('guardian   1,000 tokens in 1 call of 2,800,000 (0%)');
    // The week before is in the table with its one incident.
    expect(body).toMatch(/2026-03-16\s+1\s+1m 00s\s+30m 00s/);
    for (const bad of BAD) expect(JSON.stringify(d.message)).not.toContain(bad);
  });

  it('counts weeks in the digest time zone across a DST change (Europe/Berlin, 2026-03-29)', () => {
    // Sunday 23:30 in Berlin (CEST, UTC+2) is in the week of 03-23; Monday 00:30 local is not.
    incident(Date.UTC(2026, 2, 29, 21, 30));
    incident(Date.UTC(2026, 2, 29, 22, 30));
    // Monday 2026-03-23 00:30 in Berlin (CET, UTC+1) is Sunday 23:30 UTC: in the week only in Berlin.
    incident(Date.UTC(2026, 2, 22, 23, 30));
    const berlin = digestText(database, policyIn('Europe/Berlin'), Date.UTC(2026, 2, 30, 7));
    expect(berlin.weekStart).toBe('2026-03-23');
    expect(berlin.week.to - berlin.week.from).toBe(167 * HOUR);
    expect(berlin.text).toContain('Weekly metrics 2026-03-23 to 2026-03-29 (Europe/Berlin)');
    // Berlin: Monday 00:30 (03-23) and Sunday 23:30 (03-29) this week, nothing the week before.
    expect(berlin.text).toMatch(/Incidents detected\s+2 \(\+2 vs 0, worse\)/);
    const utc = digestText(database, policyIn('UTC'), Date.UTC(2026, 2, 30, 7));
    expect(utc.week.to - utc.week.from).toBe(168 * HOUR);
    // UTC: both Sunday-evening ones this week; the 03-22 23:30Z one falls in the week before.
    expect(utc.text).toMatch(/Incidents detected\s+2 \(\+1 vs 1, worse\)/);
  });

  it('without a data folder: the text alone, no image', async () => {
    const d = await buildDigest({ database, policy: policyIn('UTC'), now: NOW, dataDir: null });
    expect(d.message.image).toBeUndefined();
    expect(d.chartFile).toBeNull();
    expect(existsSync(join(temp.dir, 'digests'))).toBe(false);
  });

  it('a chart that cannot be written leaves the digest text and says why', async () => {
    const d = await buildDigest({
      database,
      policy: policyIn('UTC'),
      now: NOW,
      dataDir: join(temp.dir, 'bot.db', 'not-a-folder'),
    });
    expect(d.message.image).toBeUndefined();
    expect(d.message.body).toContain('Weekly metrics 2026-03-23 to 2026-03-29 (UTC)');
    expect(d.warnings).toEqual([expect.stringContaining('the digest chart could not be drawn')]);
  });

  it('asked for before any complete week has data: the week so far, and says so', async () => {
    // The bot's first record is from this Monday morning: last week is empty because it did not run.
    incident(NOW - 2 * HOUR, { resolveAfter: 30 * MIN });
    const d = await buildDigest({
      database,
      policy: policyIn('UTC'),
      now: NOW,
      dataDir: temp.dir,
      weekSoFar: true,
    });
    expect(d.soFar).toBe(true);
    expect(d.message.title).toBe('Autonomy digest: the week so far (since 2026-03-30)');
    expect(d.text.split('\n')[0]).toBe(
      'Covers the week so far, 2026-03-30 00:00 to 2026-03-30 09:00 (UTC): no complete week has data yet (the first record is from 2026-03-30 07:01).',
    );
    expect(d.text).toMatch(/Incidents detected\s+1 /);
    expect(d.text).toMatch(/MTTR median \(1 resolved\)\s+30m 00s/);
    expect(d.trend.at(-1)?.label).toBe('2026-03-30 (so far)');
    expect(d.text).toMatch(/2026-03-30 \(so far\)\s+1 /);
    // Its chart is its own file: the complete week's chart of that Monday is not overwritten.
    expect(d.message.image?.path).toBe(chartPath('2026-03-30', true));
    expect(existsSync(join(temp.dir, 'digests', '2026-03-30-so-far.png'))).toBe(true);
    for (const bad of BAD) expect(JSON.stringify(d.message)).not.toContain(bad);
  });

  it('asked for with a complete week of data, or scheduled: the last complete week, and says so', () => {
    incident(NOW - 3 * 24 * HOUR);
    const asked = digestText(database, policyIn('UTC'), NOW, undefined, { weekSoFar: true });
    expect(asked.soFar).toBe(false);
    expect(asked.text.split('\n')[0]).toBe(
      'Covers the last complete week, 2026-03-23 to 2026-03-29 (UTC), against the week before.',
    );
    expect(asked.text).toMatch(/Incidents detected\s+1 /);
    // The scheduled digest always reports the last complete week, even before it has data.
    temp.cleanup();
    temp = tempDatabase('autonomy-digest-');
    database = temp.database;
    const scheduled = digestText(database, policyIn('UTC'), NOW);
    expect(scheduled.soFar).toBe(false);
    expect(scheduled.weekStart).toBe('2026-03-23');
  });

  it('one dedupe key per week and channel', () => {
    expect(digestDedupeKey('2026-03-23', 'slack:C1')).toBe('digest:2026-03-23:slack:C1');
  });
});

describe('/autonomy digest on day one', () => {
  it('posts the week so far and says in its reply which period it covers', async () => {
    const k = agentKit();
    try {
      const reply = await k.core.commands.digest('console:main', 'console:user:local');
      expect(reply.title).toBe('Digest posted to console:main');
      expect(reply.body).toMatch(/^Covers the week so far, 2026-03-02 00:00 to 2026-03-02 10:00 \(UTC\)/);
      const posted = k.messages().find((m) => m.message.kind === 'digest');
      expect(posted?.message.title).toBe('Autonomy digest: the week so far (since 2026-03-02)');
      expect(posted?.message.body).toMatch(/^Covers the week so far/);
    } finally {
      k.close();
    }
  });
});
