import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditLog } from '../../src/audit/log.js';
import { Outbox } from '../../src/chat/outbox.js';
import { SubscriptionStore } from '../../src/chat/subscriptions.js';
import { outbox as outboxTable, policyVersions, runs } from '../../src/db/schema.js';
import { RETENTION_SCHEDULE, Schedules } from '../../src/metrics/schedules.js';
import type { Policy } from '../../src/policy/types.js';
import { cronTimes } from '../../src/time/cron.js';
import { FakeScheduler } from '../fakes/scheduler.js';
import { makePolicy, type PolicyInput } from '../fixtures/policy.js';
import { type TempDatabase, tempDatabase } from '../helpers/db.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

function berlinPolicy(edit?: (doc: PolicyInput) => void): Policy {
  return makePolicy({
    edit: (doc) => {
      doc.metrics.digest = { schedule: '0 9 * * 1', timezone: 'Europe/Berlin', channels: ['console:main'] };
      doc.triggers.timezone = 'Europe/Berlin';
      doc.evidence.review = { cadence: '0 10 * * 1', channels: ['console:review'] };
      edit?.(doc);
    },
  });
}

let temp: TempDatabase;
let t: number;
let policy: Policy;
let scheduler: FakeScheduler;
let outbox: Outbox;
let audit: AuditLog;
let subscriptions: SubscriptionStore;
let queued = 0;
const open: Schedules[] = [];

function schedules(): Schedules {
  const s = new Schedules({
    database: temp.database,
    audit,
    outbox,
    subscriptions,
    policy: () => policy,
    now: () => t,
    dataDir: temp.dir,
    publicUrl: 'https://bot.example.com',
    scheduler,
    onQueued: () => {
      queued += 1;
    },
  });
  open.push(s);
  return s;
}

function posts(prefix: string): { channel: string; key: string; title: string; image?: { path: string } }[] {
  return temp.database.db
    .select()
    .from(outboxTable)
    .all()
    .filter((r) => r.dedupeKey.startsWith(prefix))
    .map((r) => {
      const m = r.message as { title: string; image?: { path: string } };
      return { channel: r.channel, key: r.dedupeKey, title: m.title, ...(m.image ? { image: m.image } : {}) };
    });
}

function firstStartAt(at: number): void {
  temp.database.db
    .insert(policyVersions)
    .values({
      hash: 'h',
      sourcePath: 'p.yaml',
      content: 'x',
      loadedAt: at,
      actor: 'system:start',
      active: true,
    })
    .run();
}

const local = (at: number) =>
  new Intl.DateTimeFormat('en-GB', {
    timeZone: 'Europe/Berlin',
    weekday: 'short',
    hour: '2-digit',
    minute: '2-digit',
  }).format(at);

beforeEach(() => {
  temp = tempDatabase('autonomy-schedules-');
  t = Date.UTC(2026, 2, 16, 12);
  policy = berlinPolicy();
  scheduler = new FakeScheduler();
  audit = new AuditLog(temp.database, { now: () => t });
  outbox = new Outbox(temp.database, audit, { now: () => t });
  subscriptions = new SubscriptionStore(temp.database, audit, () => t);
  queued = 0;
});
afterEach(async () => {
  for (const s of open.splice(0)) await s.stop();
  temp.cleanup();
});

describe('digest, review and retention schedules', () => {
  it('schedules the digest in the digest time zone, the review and retention in the triggers time zone', () => {
    policy = berlinPolicy((doc) => {
      doc.metrics.digest.timezone = 'America/New_York';
    });
    schedules().reload();
    expect(scheduler.active()).toEqual([
      '0 9 * * 1 America/New_York',
      '0 10 * * 1 Europe/Berlin',
      `${RETENTION_SCHEDULE} Europe/Berlin`,
    ]);
  });

  it('fires Monday 09:00 Berlin time before and after the DST change, each digest for the week before', async () => {
    const s = schedules();
    s.reload();
    // What node-cron does with "0 9 * * 1" in Europe/Berlin (src/time/cron.ts matches it): 08:00Z in
    // winter time, 07:00Z from 2026-03-29 on.
    const slots = cronTimes('0 9 * * 1', 'Europe/Berlin').between(
      Date.UTC(2026, 2, 17),
      Date.UTC(2026, 3, 7),
    );
    expect(slots).toEqual([Date.UTC(2026, 2, 23, 8), Date.UTC(2026, 2, 30, 7), Date.UTC(2026, 3, 6, 7)]);
    expect(slots.map(local)).toEqual(['Mon 09:00', 'Mon 09:00', 'Mon 09:00']);
    for (const slot of slots) {
      t = slot;
      scheduler.tick('0 9 * * 1', slot);
      await s.settled();
    }
    expect(posts('digest:')).toEqual([
      {
        channel: 'console:main',
        key: 'digest:2026-03-16:console:main',
        title: 'Weekly autonomy digest: week of 2026-03-16',
        image: { path: 'digests/2026-03-16.png', alt: expect.any(String) },
      },
      {
        channel: 'console:main',
        key: 'digest:2026-03-23:console:main',
        title: 'Weekly autonomy digest: week of 2026-03-23',
        image: { path: 'digests/2026-03-23.png', alt: expect.any(String) },
      },
      {
        channel: 'console:main',
        key: 'digest:2026-03-30:console:main',
        title: 'Weekly autonomy digest: week of 2026-03-30',
        image: { path: 'digests/2026-03-30.png', alt: expect.any(String) },
      },
    ]);
    expect(queued).toBe(3);
  });

  it('two ticks of the same slot post once per channel (policy channels and subscribers)', async () => {
    subscriptions.subscribe('slack:C0SUB', 'slack:user:U1');
    const s = schedules();
    s.reload();
    const slot = Date.UTC(2026, 2, 23, 8);
    t = slot;
    scheduler.tick('0 9 * * 1', slot);
    scheduler.tick('0 9 * * 1', slot);
    await s.settled();
    const again = await s.digestTick(slot + 60_000);
    expect(again.queued).toEqual([]);
    expect(again.already).toEqual(['console:main', 'slack:C0SUB']);
    expect(posts('digest:').map((p) => p.key)).toEqual([
      'digest:2026-03-16:console:main',
      'digest:2026-03-16:slack:C0SUB',
    ]);
  });

  it('at start, posts the digest and review due while the bot was down, once; a new bot posts nothing old', async () => {
    const slot = Date.UTC(2026, 2, 23, 8); // Monday 09:00 Berlin
    t = slot + 2 * DAY; // back on Wednesday
    firstStartAt(slot + DAY); // but this bot first ran on Tuesday
    const fresh = await schedules().start();
    expect(fresh.digest).toBeNull();
    expect(fresh.review).toBeNull();
    expect(posts('digest:')).toEqual([]);

    temp.database.db.delete(policyVersions).run();
    firstStartAt(slot - 30 * DAY);
    const first = await schedules().start();
    expect(first.digest?.queued).toEqual(['console:main']);
    expect(first.review?.queued).toEqual(['console:review']);
    const chart = join(temp.dir, 'digests', '2026-03-16.png');
    const drawnAt = statSync(chart).mtimeMs;

    // Restarted again the same week: everything is already queued, nothing is drawn again.
    const second = await schedules().start();
    expect(second.digest).toEqual({
      period: '2026-03-16',
      queued: [],
      already: ['console:main'],
      warnings: [],
    });
    expect(second.review?.queued).toEqual([]);
    expect(statSync(chart).mtimeMs).toBe(drawnAt);
    expect(posts('digest:')).toHaveLength(1);
    expect(posts('review:')).toEqual([
      expect.objectContaining({
        channel: 'console:review',
        key: 'review:2026-03-23T09:00:00.000Z:console:review',
      }),
    ]);
  });

  it('reschedules on a policy change and stops cleanly', async () => {
    const s = schedules();
    s.reload();
    policy = berlinPolicy((doc) => {
      doc.metrics.digest.schedule = '30 8 * * 2';
      doc.metrics.digest.timezone = 'Asia/Tokyo';
    });
    s.reload();
    expect(scheduler.active()).toEqual([
      '0 10 * * 1 Europe/Berlin',
      `${RETENTION_SCHEDULE} Europe/Berlin`,
      '30 8 * * 2 Asia/Tokyo',
    ]);
    expect(s.scheduled()).toContain('digest 30 8 * * 2 Asia/Tokyo');
    await s.stop();
    expect(scheduler.active()).toEqual([]);
    const late = scheduler.jobs.find((j) => j.schedule.expression === '30 8 * * 2');
    late?.onTick(t);
    await s.settled();
    expect(posts('digest:')).toEqual([]);
  });

  it('the retention job purges expired runs on its daily tick', async () => {
    temp.database.db
      .insert(runs)
      .values([
        {
          id: 'old',
          agent: 'sentinel',
          triggerSource: 'cron',
          startedAt: t - 100 * DAY,
          status: 'succeeded',
        },
        { id: 'new', agent: 'sentinel', triggerSource: 'cron', startedAt: t - 10 * DAY, status: 'succeeded' },
      ])
      .run();
    const s = schedules();
    s.reload();
    scheduler.tick(RETENTION_SCHEDULE, t);
    await s.settled();
    expect(
      temp.database.db
        .select({ id: runs.id })
        .from(runs)
        .all()
        .map((r) => r.id),
    ).toEqual(['new']);
  });
});
