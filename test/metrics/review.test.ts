import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditLog } from '../../src/audit/log.js';
import { ControlStore } from '../../src/control/state.js';
import { approvals, policyVersions, proposals, runs } from '../../src/db/schema.js';
import { buildReview, reviewDedupeKey, reviewPeriod } from '../../src/metrics/review.js';
import type { Policy } from '../../src/policy/types.js';
import type { Tier } from '../../src/policy/vocabulary.js';
import { makePolicy } from '../fixtures/policy.js';
import { type TempDatabase, tempDatabase } from '../helpers/db.js';

const MIN = 60_000;
const DAY = 86_400_000;
/** Monday 2026-03-23 10:00 UTC: the review slot; the period starts a week before. */
const SLOT = Date.UTC(2026, 2, 23, 10);
const IN = SLOT - 3 * DAY; // Friday 2026-03-20 10:00 UTC

let temp: TempDatabase;
let t = IN;
let audit: AuditLog;
let control: ControlStore;
let policy: Policy;

beforeEach(() => {
  temp = tempDatabase('autonomy-review-');
  t = IN;
  audit = new AuditLog(temp.database, { now: () => t });
  control = new ControlStore(temp.database, audit, { now: () => t });
  policy = makePolicy({
    edit: (doc) => {
      doc.evidence.review = { cadence: '0 10 * * 1', channels: ['console:review'] };
    },
  });
});
afterEach(() => temp.cleanup());

function run(id: string, tier: Tier, at: number, o: { actionId?: string; outcome?: string } = {}): void {
  temp.database.db
    .insert(runs)
    .values({
      id,
      agent: 'sentinel',
      triggerSource: tier === 3 ? 'approval' : 'webhook',
      actionId: o.actionId ?? 'restart-service',
      tier,
      verdict: 'execute',
      outcome: o.outcome ?? 'done',
      startedAt: at,
      finishedAt: at + MIN,
      status: 'succeeded',
    })
    .run();
}

function approval(
  number: number,
  state: 'succeeded' | 'denied' | 'expired' | 'void' | 'pending',
  at: number,
  o: { runId?: string; by?: string; reason?: string } = {},
): void {
  temp.database.db
    .insert(proposals)
    .values({
      id: `p${number}`,
      agent: 'sentinel',
      actionId: 'restart-service',
      params: { service: 'web' },
      verdict: 'ask',
      code: 'needs-approval',
      reason: 'tier 3',
      tier: 3,
      decidedAt: at - MIN,
    })
    .run();
  temp.database.db
    .insert(approvals)
    .values({
      id: `ap${number}`,
      number,
      proposalId: `p${number}`,
      agent: 'sentinel',
      actionId: 'restart-service',
      params: { service: 'web' },
      bindingHash: 'h',
      state,
      requestedAt: at - MIN,
      expiresAt: at + 30 * MIN,
      decidedBy: o.by ?? null,
      decidedAt: state === 'pending' ? null : at,
      reason: o.reason ?? null,
      runId: o.runId ?? null,
      updatedAt: at,
    })
    .run();
}

describe('the review post', () => {
  it('covers the time since the previous cadence slot', () => {
    expect(reviewPeriod(policy, SLOT)).toEqual({ from: SLOT - 7 * DAY, to: SLOT, timezone: 'UTC' });
    expect(reviewDedupeKey(SLOT, 'console:review')).toBe('review:2026-03-23T10:00:00.000Z:console:review');
  });

  it('lists a tier 3 run with its approver, allowlisted tier 2 runs, approvals, a kill and policy changes', () => {
    run('run_t3', 3, IN, { outcome: 'restarted web\n(systemctl exit 0)' });
    approval(12, 'succeeded', IN - 5 * MIN, { runId: 'run_t3', by: 'slack:user:U0APPROVER' });
    run('run_t2', 2, IN + 60 * MIN, { actionId: 'silence-alert', outcome: 'silenced HighLatency' });
    run('run_t1', 1, IN + 61 * MIN, { actionId: 'page-oncall' });
    run('run_old', 3, SLOT - 8 * DAY); // before the period
    approval(13, 'denied', IN + 2 * 60 * MIN, { by: 'discord:user:42', reason: 'not during the sale' });
    approval(14, 'expired', IN + 3 * 60 * MIN);
    approval(15, 'void', IN + 4 * 60 * MIN, { reason: 'guardian was killed' });
    approval(16, 'pending', SLOT - MIN);
    t = IN + 5 * 60 * MIN;
    control.kill('guardian', 'slack:user:U0OPERATOR', 'flapping config checks');
    control.kill('guardian', 'slack:user:U0OPERATOR'); // changed nothing: not listed
    t = IN + 6 * 60 * MIN;
    control.resume('guardian', 'cli:user:admin');
    control.setPhase(3, 'validator', 'cli:user:admin', 'two clean weeks');
    temp.database.db
      .insert(policyVersions)
      .values({
        hash: 'a'.repeat(64),
        sourcePath: 'policies/default.policy.yaml',
        content: 'x',
        loadedAt: IN + 7 * 60 * MIN,
        actor: 'system:watch',
        active: true,
      })
      .run();

    const { message } = buildReview(temp.database, policy, SLOT, { publicUrl: 'https://bot.example.com' });
    expect(message.kind).toBe('notice');
    expect(message.title).toBe(
      'Review 2026-03-16 to 2026-03-23: 2 tier 2-3 action(s), 1 approval(s) given, 3 control change(s)',
    );
    expect(message.links).toEqual([{ label: 'Console', url: 'https://bot.example.com' }]);
    const body = message.body;
    expect(body).toContain('Review of 2026-03-16 10:00 to 2026-03-23 10:00 (UTC)');
    expect(body).toContain('Tier 2 and 3 actions (2)');
    expect(body).toContain(
      '2026-03-20 10:00  run_t3  sentinel/restart-service  tier 3  succeeded  approved by slack:user:U0APPROVER (a12)',
    );
    expect(body).toContain('      restarted web (systemctl exit 0)');
    expect(body).toContain(
      'run_t2  sentinel/silence-alert  tier 2  succeeded  no approval needed (allowlisted)',
    );
    expect(body).not.toContain('run_t1');
    expect(body).not.toContain('run_old');
    expect(body).toContain('Approvals: 1 given, 1 denied, 1 expired, 1 void; 1 requested and still pending');
    expect(body).toContain('a13  sentinel/restart-service  denied by discord:user:42: not during the sale');
    expect(body).toContain('a15  sentinel/restart-service  void: guardian was killed');
    expect(body).toContain('Kill switches, phases, budgets and grants (3)');
    expect(body).toMatch(
      /2026-03-20 15:00 {2}kill by slack:user:U0OPERATOR: guardian killed \(flapping config checks\)/,
    );
    expect(body).toContain('2026-03-20 16:00  resume by cli:user:admin: guardian resumed');
    expect(body).toContain(
      "phase by cli:user:admin: validator's phase set to 3 (auto low-risk), overriding the policy file (two clean weeks)",
    );
    expect(body).toContain('Policy changes (1 loaded, 0 rejected)');
    expect(body).toContain('version 1 in force, loaded by system:watch (sha256 aaaaaaaaaaaa)');
    expect(body).toContain('`/autonomy audit <run-id>`');
  });

  it('an empty period says so in one line', () => {
    run('run_old', 3, SLOT - 8 * DAY);
    const { message } = buildReview(temp.database, policy, SLOT, { publicUrl: null });
    expect(message.title).toBe('Review 2026-03-16 to 2026-03-23: nothing to review');
    expect(message.body).toBe(
      'No tier 2 or 3 actions, approvals, kills, phase changes or policy changes from 2026-03-16 10:00 to 2026-03-23 10:00 (UTC).',
    );
    expect(message.links).toEqual([]);
  });
});
