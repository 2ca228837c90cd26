/**
 * Routing (which channels), maintenance windows (held back or not, across DST changes in the
 * window's own time zone) and the policy checks of maintenance windows.
 */
import fc from 'fast-check';
import { createTask } from 'node-cron';
import { describe, expect, it } from 'vitest';
import { inMaintenance, MaintenanceCalendar } from '../../src/chat/maintenance.js';
import {
  approvalChannels,
  botNoticeChannels,
  channelsFor,
  digestChannels,
  reviewChannels,
} from '../../src/chat/routing.js';
import { checkPolicy } from '../../src/policy/check.js';
import { loadPolicyFile } from '../../src/policy/load.js';
import { policySchema } from '../../src/policy/schema.js';
import { makePolicy, makePolicyDoc, type PolicyInput } from '../fixtures/policy.js';

type WindowInput = NonNullable<PolicyInput['control']['maintenanceWindows']>[number];

const at = (iso: string) => Date.parse(iso);

function withWindows(windows: WindowInput[], timezone?: string) {
  return makePolicy({
    edit: (doc) => {
      doc.control.maintenanceWindows = windows;
      if (timezone !== undefined) doc.triggers.timezone = timezone;
    },
  });
}

describe('routing', () => {
  const policy = makePolicy({
    edit: (doc) => {
      doc.routing.agents = {
        guardian: { critical: ['slack:C0SECURITY', 'slack:C0ALERTS', 'slack:C0SECURITY'] },
        mentor: { info: [] },
      };
    },
  });

  it('uses the agent’s route for a severity when the policy sets one, else the default', () => {
    expect(channelsFor(policy, 'guardian', 'critical')).toEqual(['slack:C0SECURITY', 'slack:C0ALERTS']);
    expect(channelsFor(policy, 'guardian', 'warning')).toEqual(['slack:C0ALERTS']);
    expect(channelsFor(policy, 'sentinel', 'info')).toEqual(['console:feed']);
    // An empty list for an agent means "nowhere", not "the default".
    expect(channelsFor(policy, 'mentor', 'info')).toEqual([]);
  });

  it('approvals, digests and the weekly review have their own channels', () => {
    expect(approvalChannels(policy)).toEqual(['slack:C0APPROVALS']);
    expect(digestChannels(policy, ['discord:123456789', 'slack:C0DIGEST', 'discord:123456789'])).toEqual([
      'slack:C0DIGEST',
      'discord:123456789',
    ]);
    expect(digestChannels(policy, [])).toEqual(['slack:C0DIGEST']);
    // No review channels: the digest channels; none of those either: the approval channels.
    expect(reviewChannels(policy)).toEqual(['slack:C0DIGEST']);
    const reviewed = makePolicy({
      edit: (d) => {
        d.evidence.review.channels = ['slack:C0REVIEW'];
      },
    });
    expect(reviewChannels(reviewed)).toEqual(['slack:C0REVIEW']);
    const bare = makePolicy({
      edit: (d) => {
        d.metrics.digest.channels = [];
      },
    });
    expect(reviewChannels(bare)).toEqual(['slack:C0APPROVALS']);
    expect(digestChannels(bare, ['console:ops'])).toEqual(['console:ops']);
  });

  it('notices about the bot itself (a model server down or back) go to the warning and approval channels', () => {
    expect(botNoticeChannels(policy)).toEqual(['slack:C0ALERTS', 'slack:C0APPROVALS']);
    const shared = makePolicy({
      edit: (d) => {
        d.routing.default.warning = ['slack:C0APPROVALS', 'slack:C0OPS'];
      },
    });
    expect(botNoticeChannels(shared)).toEqual(['slack:C0APPROVALS', 'slack:C0OPS']);
  });
});

describe('maintenance windows', () => {
  it('holds back posts about covered services while the window runs, and nothing else', () => {
    const policy = withWindows([
      { name: 'patching', cron: '0 2 * * 0', duration: '2h', services: ['web', 'staging-*'] },
    ]);
    const sunday = (hhmm: string) => at(`2025-01-05T${hhmm}:00Z`);
    expect(inMaintenance(policy, { service: 'web', severity: 'warning' }, sunday('02:00'))).toEqual({
      name: 'patching',
      startedAt: sunday('02:00'),
      endsAt: sunday('04:00'),
    });
    expect(
      inMaintenance(policy, { service: 'staging-eu', severity: 'info' }, sunday('03:59')),
    ).not.toBeNull();
    expect(inMaintenance(policy, { service: 'web', severity: 'warning' }, sunday('04:00'))).toBeNull();
    expect(inMaintenance(policy, { service: 'web', severity: 'warning' }, sunday('01:59'))).toBeNull();
    expect(inMaintenance(policy, { service: 'api', severity: 'warning' }, sunday('03:00'))).toBeNull();
    expect(inMaintenance(policy, { service: null, severity: 'warning' }, sunday('03:00'))).toBeNull();
    // Critical goes out unless the window says otherwise; Mondays are not Sundays.
    expect(inMaintenance(policy, { service: 'web', severity: 'critical' }, sunday('03:00'))).toBeNull();
    expect(
      inMaintenance(policy, { service: 'web', severity: 'info' }, at('2025-01-06T03:00:00Z')),
    ).toBeNull();
  });

  it('covers every service when services is empty; holdCritical holds critical too; the latest end wins', () => {
    const policy = withWindows([
      { name: 'short', cron: '0 1 * * *', duration: '30m', holdCritical: true },
      { name: 'long', cron: '0 0 * * *', duration: '3h' },
    ]);
    const calendar = new MaintenanceCalendar(policy);
    expect(calendar.active({ service: 'anything', severity: 'info' }, at('2025-02-01T01:10:00Z'))?.name).toBe(
      'long',
    );
    expect(calendar.active({ severity: 'critical' }, at('2025-02-01T01:10:00Z'))?.name).toBe('short');
    expect(calendar.active({ severity: 'critical' }, at('2025-02-01T01:30:00Z'))).toBeNull();
    expect(inMaintenance(makePolicy(), { severity: 'info' }, at('2025-02-01T01:10:00Z'))).toBeNull();
  });

  it('reads the cron in the window’s time zone, else the policy’s (triggers.timezone)', () => {
    const own = withWindows([{ name: 'w', cron: '0 9 * * *', duration: '1h', timezone: 'America/New_York' }]);
    expect(inMaintenance(own, { severity: 'info' }, at('2025-01-10T14:30:00Z'))).not.toBeNull(); // 09:30 EST
    expect(inMaintenance(own, { severity: 'info' }, at('2025-01-10T09:30:00Z'))).toBeNull();
    const inherited = withWindows([{ name: 'w', cron: '0 9 * * *', duration: '1h' }], 'Asia/Tokyo');
    expect(inMaintenance(inherited, { severity: 'info' }, at('2025-01-10T00:30:00Z'))).not.toBeNull(); // 09:30 JST
  });

  it('understands node-cron’s seconds field and its day tokens (last day, nth weekday)', () => {
    const seconds = withWindows([{ name: 's', cron: '*/30 * * * * *', duration: '10s' }]);
    expect(inMaintenance(seconds, { severity: 'info' }, at('2025-03-01T10:00:35Z'))?.startedAt).toBe(
      at('2025-03-01T10:00:30Z'),
    );
    expect(inMaintenance(seconds, { severity: 'info' }, at('2025-03-01T10:00:45Z'))).toBeNull();
    const last = withWindows([{ name: 'l', cron: '0 2 L * *', duration: '1h', timezone: 'UTC' }]);
    expect(inMaintenance(last, { severity: 'info' }, at('2025-02-28T02:30:00Z'))).not.toBeNull();
    expect(inMaintenance(last, { severity: 'info' }, at('2025-02-27T02:30:00Z'))).toBeNull();
    const firstMonday = withWindows([{ name: 'm', cron: '0 2 * * 1#1', duration: '1h', timezone: 'UTC' }]);
    expect(inMaintenance(firstMonday, { severity: 'info' }, at('2025-03-03T02:30:00Z'))).not.toBeNull();
    expect(inMaintenance(firstMonday, { severity: 'info' }, at('2025-03-10T02:30:00Z'))).toBeNull();
  });

  it('starts exactly when node-cron itself would fire (property, in a zone without DST)', () => {
    const patterns = [
      '*/7 * * * *',
      '0 */3 * * *',
      '15 2 * * 1-5',
      '0 0 1,15 * *',
      '30 9 * * 0',
      '*/20 4-6 * 2-4 *',
    ];
    fc.assert(
      fc.property(
        fc.constantFrom(...patterns),
        fc.integer({ min: 1, max: 240 }),
        fc.integer({ min: at('2025-01-01T00:00:00Z'), max: at('2025-12-31T00:00:00Z') }),
        (cron, minutes, now) => {
          const policy = withWindows([{ name: 'p', cron, duration: `${minutes}m`, timezone: 'Asia/Tokyo' }]);
          const task = createTask(cron, () => undefined, { timezone: 'Asia/Tokyo' });
          try {
            let expected: number | null = null;
            for (let t = Math.floor(now / 60_000) * 60_000; t > now - minutes * 60_000; t -= 60_000) {
              if (task.match(new Date(t))) {
                expected = t;
                break;
              }
            }
            const active = inMaintenance(policy, { severity: 'info' }, now);
            expect(active?.startedAt ?? null).toBe(expected);
          } finally {
            void task.destroy();
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  describe('across daylight saving changes (Europe/Berlin)', () => {
    const berlin = (cron: string, duration: string) =>
      withWindows([{ name: 'w', cron, duration, timezone: 'Europe/Berlin' }]);
    const run = (policy: ReturnType<typeof berlin>, iso: string) => {
      const active = inMaintenance(policy, { severity: 'info' }, at(iso));
      return active === null
        ? null
        : [new Date(active.startedAt).toISOString(), new Date(active.endsAt).toISOString()];
    };

    it('follows the local clock: 02:00 is 01:00 UTC in winter and 00:00 UTC in summer', () => {
      const daily = berlin('0 2 * * *', '1h');
      expect(run(daily, '2025-03-29T01:30:00Z')).toEqual([
        '2025-03-29T01:00:00.000Z',
        '2025-03-29T02:00:00.000Z',
      ]);
      expect(run(daily, '2025-03-31T00:30:00Z')).toEqual([
        '2025-03-31T00:00:00.000Z',
        '2025-03-31T01:00:00.000Z',
      ]);
      expect(run(daily, '2025-03-31T01:30:00Z')).toBeNull();
    });

    it('March: a start in the skipped hour starts the window when the clocks jump (03:00 summer time)', () => {
      for (const cron of ['0 2 * * *', '30 2 * * *']) {
        const w = berlin(cron, '1h');
        expect(run(w, '2025-03-30T00:59:00Z'), cron).toBeNull(); // 01:59 winter time
        expect(run(w, '2025-03-30T01:00:00Z'), cron).toEqual([
          '2025-03-30T01:00:00.000Z', // 03:00 summer time
          '2025-03-30T02:00:00.000Z',
        ]);
        expect(run(w, '2025-03-30T02:00:00Z'), cron).toBeNull();
      }
    });

    it('March: the duration is elapsed time, across the jump', () => {
      const w = berlin('0 1 * * *', '3h'); // 01:00 CET = 00:00 UTC
      expect(run(w, '2025-03-30T02:59:00Z')).toEqual([
        '2025-03-30T00:00:00.000Z',
        '2025-03-30T03:00:00.000Z',
      ]);
      expect(run(w, '2025-03-30T03:00:00Z')).toBeNull();
    });

    it('October: a start in the repeated hour starts the window once, the first time', () => {
      const w = berlin('30 2 * * *', '1h');
      // 02:30 summer time = 00:30 UTC; 02:30 winter time (01:30 UTC) does not start it again.
      expect(run(w, '2025-10-26T00:29:00Z')).toBeNull();
      expect(run(w, '2025-10-26T01:00:00Z')).toEqual([
        '2025-10-26T00:30:00.000Z',
        '2025-10-26T01:30:00.000Z',
      ]);
      expect(run(w, '2025-10-26T01:45:00Z')).toBeNull();
      expect(run(w, '2025-10-26T02:45:00Z')).toBeNull();
      // The next day is an ordinary winter day: 02:30 CET = 01:30 UTC.
      expect(run(w, '2025-10-27T01:45:00Z')).toEqual([
        '2025-10-27T01:30:00.000Z',
        '2025-10-27T02:30:00.000Z',
      ]);
    });

    it('October: an hourly window starts once per local hour, and 03:00 comes once', () => {
      const hourly = berlin('0 * * * *', '10m');
      expect(run(hourly, '2025-10-26T00:05:00Z')).toEqual([
        '2025-10-26T00:00:00.000Z',
        '2025-10-26T00:10:00.000Z',
      ]); // 02:00 CEST
      expect(run(hourly, '2025-10-26T01:05:00Z')).toBeNull(); // 02:00 CET again: not a new start
      expect(run(hourly, '2025-10-26T02:05:00Z')).toEqual([
        '2025-10-26T02:00:00.000Z',
        '2025-10-26T02:10:00.000Z',
      ]); // 03:00 CET
      const three = berlin('0 3 * * *', '30m');
      expect(run(three, '2025-10-26T02:10:00Z')).toEqual([
        '2025-10-26T02:00:00.000Z',
        '2025-10-26T02:30:00.000Z',
      ]);
      expect(run(three, '2025-10-26T01:10:00Z')).toBeNull();
    });
  });

  it('answers within a few milliseconds even for a week-long window', () => {
    const policy = withWindows([
      { name: 'week', cron: '0 0 1 1 *', duration: '7d', timezone: 'Europe/Berlin' },
    ]);
    const calendar = new MaintenanceCalendar(policy);
    const june = at('2025-06-01T00:00:00Z');
    const times: number[] = [];
    for (let i = 0; i < 21; i++) {
      const started = performance.now();
      expect(calendar.active({ severity: 'info' }, june + i * 60_000)).toBeNull();
      times.push(performance.now() - started);
    }
    const median = times.sort((a, b) => a - b)[10] as number;
    console.log(`maintenance: a 7d window answered in ${median.toFixed(2)} ms (median of 21)`);
    expect(median).toBeLessThan(5);
  });
});

describe('policy checks of maintenance windows', () => {
  const issuesFor = (windows: WindowInput[]) => {
    const doc = policySchema.parse(
      makePolicyDoc({
        edit: (d) => {
          d.control.maintenanceWindows = windows;
        },
      }),
    );
    return checkPolicy(doc)
      .filter((i) => i.path[0] === 'control' && i.path[1] === 'maintenanceWindows')
      .map((i) => `${i.path.join('.')}: ${i.message}`);
  };

  it('accepts good windows and defaults to none', () => {
    expect(
      issuesFor([{ name: 'ok', cron: '0 2 * * 0', duration: '2h', services: ['web', 'staging-*'] }]),
    ).toEqual([]);
    expect(policySchema.parse(makePolicyDoc()).control.maintenanceWindows).toEqual([]);
  });

  it('says what is wrong and where: cron, duration, time zone, services, names', () => {
    const issues = issuesFor([
      { name: 'a', cron: '61 2 * * *', duration: '1h' },
      { name: 'a', cron: '0 2 * * *', duration: '0s' },
      { name: 'b', cron: '0 2 * * *', duration: '8d', timezone: 'Mars/Olympus' },
      { name: 'c', cron: '0 2 * * *', duration: '1h', services: ['payments', 'nowhere'] },
    ]);
    expect(issues).toEqual([
      expect.stringMatching(/^control\.maintenanceWindows\.0\.cron: not a cron expression/),
      expect.stringMatching(/^control\.maintenanceWindows\.1\.name: a is also the name of window 0/),
      'control.maintenanceWindows.1.duration: must be more than 0; write e.g. 30m or 2h',
      expect.stringMatching(/^control\.maintenanceWindows\.2\.duration: 8d is longer than 7d/),
      'control.maintenanceWindows.2.timezone: Mars/Olympus is not a time zone; write an IANA name like UTC or Europe/Berlin',
      expect.stringMatching(
        /^control\.maintenanceWindows\.3\.services\.0: payments is listed as out of scope/,
      ),
      expect.stringMatching(
        /^control\.maintenanceWindows\.3\.services\.1: nowhere is not an in-scope system/,
      ),
    ]);
  });

  it('the production example loads with its windows', async () => {
    const result = await loadPolicyFile('policies/examples/production.policy.yaml');
    if (!result.ok) throw new Error(result.issues.map((i) => i.message).join('\n'));
    expect(result.policy.doc.control.maintenanceWindows.map((w) => w.name)).toEqual([
      'sunday-patching',
      'staging-rebuild',
    ]);
    // Sunday 2025-01-05 02:30 Berlin = 01:30 UTC.
    expect(
      inMaintenance(result.policy, { service: 'web', severity: 'warning' }, at('2025-01-05T01:30:00Z')),
    ).toMatchObject({ name: 'sunday-patching' });
  });
});
