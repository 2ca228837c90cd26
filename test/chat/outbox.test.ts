/**
 * The outbox and its worker against real SQLite files and the fake chat platform, on an injected
 * clock: nothing sleeps for backoff or Retry-After; the test moves the clock.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq } from 'drizzle-orm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditLog } from '../../src/audit/log.js';
import type { ChatAdapter, Platform } from '../../src/chat/adapter.js';
import type { ChatMessage, ChatMessageInput } from '../../src/chat/message.js';
import { Outbox, OutboxError } from '../../src/chat/outbox.js';
import { type OutboxMetrics, OutboxWorker, type WorkerLog } from '../../src/chat/outbox-worker.js';
import { type Database, migrate, openDatabase, writeTransaction } from '../../src/db/connection.js';
import { control, incidents, outbox } from '../../src/db/schema.js';
import { Foreground } from '../../src/process/foreground.js';
import { FakeChatAdapter } from '../fakes/chat-adapter.js';

const T0 = Date.UTC(2025, 0, 6, 9, 0, 0);

class Clock {
  t = T0;
  now = () => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

/** The wall clock, for the tests that wait in real time (poke, drain). */
class RealClock extends Clock {
  override now = () => Date.now();
}

class MemoryLog implements WorkerLog {
  readonly lines: { level: string; msg: string; obj: object }[] = [];
  info(obj: object, msg: string) {
    this.lines.push({ level: 'info', msg, obj });
  }
  warn(obj: object, msg: string) {
    this.lines.push({ level: 'warn', msg, obj });
  }
  error(obj: object, msg: string) {
    this.lines.push({ level: 'error', msg, obj });
  }
}

interface Setup {
  file: string;
  database: Database;
  audit: AuditLog;
  outbox: Outbox;
  clock: Clock;
  chat: FakeChatAdapter;
  adapters: Map<Platform, ChatAdapter>;
  log: MemoryLog;
  counts: { delivered: number; retried: number; failed: number };
  worker(options?: Partial<ConstructorParameters<typeof OutboxWorker>[0]>): OutboxWorker;
}

let dir: string;
const opened: Database[] = [];
const workers: OutboxWorker[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'autonomy-outbox-'));
});

afterEach(async () => {
  for (const w of workers.splice(0)) await w.stop();
  for (const d of opened.splice(0)) d.close();
  rmSync(dir, { recursive: true, force: true });
});

function setup(clock = new Clock(), file = join(dir, 'autonomy.db')): Setup {
  const database = openDatabase(file);
  opened.push(database);
  migrate(database);
  const audit = new AuditLog(database, { now: clock.now });
  const outbox = new Outbox(database, audit, { now: clock.now });
  const chat = new FakeChatAdapter({ platform: 'slack', now: clock.now });
  const adapters = new Map<Platform, ChatAdapter>([['slack', chat]]);
  const log = new MemoryLog();
  const counts = { delivered: 0, retried: 0, failed: 0 };
  const metrics: OutboxMetrics = {
    delivered: () => counts.delivered++,
    retried: () => counts.retried++,
    failed: () => counts.failed++,
  };
  return {
    file,
    database,
    audit,
    outbox,
    clock,
    chat,
    adapters,
    log,
    counts,
    worker: (options = {}) => {
      const w = new OutboxWorker({
        outbox,
        adapters,
        now: clock.now,
        log,
        metrics,
        random: () => 0.5,
        ...options,
      });
      workers.push(w);
      return w;
    },
  };
}

const msg = (title: string, extra: Partial<ChatMessageInput> = {}): ChatMessageInput => ({
  kind: 'alert',
  title,
  severity: 'warning',
  ...extra,
});

/** Runs passes, moving the clock to the next due retry each time, until nothing is left to send. */
async function deliverAll(s: Setup, worker: OutboxWorker, maxPasses = 10_000): Promise<number> {
  for (let pass = 0; pass < maxPasses; pass++) {
    await worker.runOnce();
    const heads = s.outbox.heads().filter((h) => h.state === 'pending');
    if (heads.length === 0) return pass + 1;
    // The next retry, or the channel's Retry-After hold when that is later.
    const next = worker.nextDue() ?? Math.min(...heads.map((h) => h.nextAttemptAt));
    if (next > s.clock.t) s.clock.t = next;
  }
  throw new Error('outbox did not drain');
}

describe('Outbox.enqueue', () => {
  it('stores a message once per dedupe key; the repeat returns the stored row and writes nothing', () => {
    const s = setup();
    const first = s.outbox.enqueue('slack:C01', msg('disk full'), { dedupeKey: 'incident:i1:opened' });
    s.clock.advance(1000);
    const again = s.outbox.enqueue('slack:C01', msg('disk full (again)'), {
      dedupeKey: 'incident:i1:opened',
    });
    expect(first.created).toBe(true);
    expect(again).toMatchObject({ created: false, id: first.id });
    expect(again.row.message).toMatchObject({ title: 'disk full' });
    expect(s.outbox.backlog()).toMatchObject({ pending: 1 });
    expect(first.row).toMatchObject({ state: 'pending', attempts: 0, nextAttemptAt: T0, createdAt: T0 });
  });

  it('refuses a bad channel, message or update target with a reason, writing nothing', () => {
    const s = setup();
    expect(() => s.outbox.enqueue('irc:#ops', msg('x'), { dedupeKey: 'k1' })).toThrow(/not a channel/);
    expect(() => s.outbox.enqueue('slack:C01', { kind: 'alert', title: '' }, { dedupeKey: 'k2' })).toThrow(
      /title/,
    );
    expect(() => s.outbox.enqueue('slack:C01', msg('x'), { dedupeKey: '' })).toThrow(OutboxError);
    expect(() => s.outbox.enqueue('slack:C01', msg('x'), { dedupeKey: 'k3', op: 'update' })).toThrow(
      /needs updateOf/,
    );
    expect(() =>
      s.outbox.enqueue('slack:C01', msg('x'), { dedupeKey: 'k4', op: 'update', updateOf: 99 }),
    ).toThrow(/no outbox message #99/);
    const post = s.outbox.enqueue('slack:C01', msg('x'), { dedupeKey: 'k5' });
    expect(() =>
      s.outbox.enqueue('slack:C02', msg('y'), { dedupeKey: 'k6', op: 'update', updateOf: post.id }),
    ).toThrow(/posted to slack:C01, not slack:C02/);
    expect(s.outbox.backlog().pending).toBe(1);
  });

  it('commits with the caller’s transaction, and rolls back with it', () => {
    const s = setup();
    expect(() =>
      writeTransaction(s.database, () => {
        s.database.db
          .insert(control)
          .values({ kind: 'kill', scope: 'all', value: 1, actor: 'cli:user:a', updatedAt: T0 })
          .run();
        s.outbox.enqueue('slack:C01', msg('all agents killed'), { dedupeKey: 'kill:1' });
        throw new Error('the handler failed after queueing');
      }),
    ).toThrow(/handler failed/);
    expect(s.outbox.backlog().pending).toBe(0);
    expect(s.database.db.select().from(control).all()).toEqual([]);

    writeTransaction(s.database, () => {
      s.outbox.enqueue('slack:C01', msg('all agents killed'), { dedupeKey: 'kill:2' });
    });
    expect(s.outbox.byKey('kill:2')).toMatchObject({ state: 'pending' });
  });
});

describe('alert storms', () => {
  /** Incident i1, folded into the storm card posted as outbox row `card` in slack:C0ALERTS. */
  function foldedIncident(s: Setup, card: number): void {
    s.database.db
      .insert(incidents)
      .values({
        id: 'inc-1',
        number: 1,
        fingerprint: 'Storm:api',
        title: 'Storm on api',
        severity: 'critical',
        service: 'api',
        startedAt: T0,
        detectedAt: T0,
        messageRefs: [{ channel: 'slack:C0ALERTS', ref: `storm:${card}` }],
      })
      .run();
  }

  it('folds what is said about a stormed incident, but its escalation still mentions people, once per storm', () => {
    const s = setup();
    const card = s.outbox.enqueue(
      'slack:C0ALERTS',
      { kind: 'alert', title: 'Alert storm: 11 new incidents' },
      { dedupeKey: 'storm-card' },
    ).id;
    foldedIncident(s, card);
    const triage = s.outbox.enqueue(
      'slack:C0ALERTS',
      { kind: 'alert', title: 'triage', refs: { incident: 'i1' } },
      { dedupeKey: 'triage' },
    );
    expect(triage.folded).toBe(true);
    const escalate = (n: number) =>
      s.outbox.enqueue(
        'slack:C0ALERTS',
        {
          kind: 'alert',
          severity: 'critical',
          title: `i1 not acknowledged (${n})`,
          refs: { incident: 'i1' },
          mentions: ['slack:user:UONCALL1'],
        },
        { dedupeKey: `escalation-${n}` },
      );
    expect(escalate(1).folded).toBe(true);
    expect(escalate(2).folded).toBe(true);
    const pending = s.database.db
      .select()
      .from(outbox)
      .where(eq(outbox.state, 'pending'))
      .all()
      .filter((r) => r.id !== card);
    const messages = pending.map((r) => r.message as ChatMessage);
    expect(messages.map((m) => m.title)).toEqual([
      'Alert storm: an incident folded into the storm card needs people',
    ]);
    expect(messages[0]?.mentions).toEqual(['slack:user:UONCALL1']);
    expect(messages[0]?.refs).toEqual({});
    expect(messages[0]?.body).toContain('Escalated: i1 not acknowledged (1)');
  });
});

describe('OutboxWorker delivery', () => {
  it('delivers in order per channel while another channel keeps failing', async () => {
    const s = setup();
    for (let i = 1; i <= 5; i++) s.outbox.enqueue('slack:C01', msg(`a${i}`), { dedupeKey: `a${i}` });
    for (let i = 1; i <= 3; i++) s.outbox.enqueue('slack:C02', msg(`b${i}`), { dedupeKey: `b${i}` });
    s.chat.serverError(4, 'slack:C01');
    const worker = s.worker();

    await worker.runOnce();
    expect(s.chat.titles('slack:C02')).toEqual(['b1', 'b2', 'b3']);
    expect(s.chat.titles('slack:C01')).toEqual([]);
    expect(s.outbox.head('slack:C01')).toMatchObject({ dedupeKey: 'a1', attempts: 1 });

    await deliverAll(s, worker);
    expect(s.chat.titles('slack:C01')).toEqual(['a1', 'a2', 'a3', 'a4', 'a5']);
    // Nothing of C1 was even attempted before a1 was through.
    const c1 = s.chat.calls.filter((c) => c.channel === 'slack:C01');
    expect(c1.slice(0, 5).map((c) => `${c.title}:${c.outcome}`)).toEqual([
      'a1:500',
      'a1:500',
      'a1:500',
      'a1:500',
      'a1:ok',
    ]);
    expect(s.counts).toEqual({ delivered: 8, retried: 4, failed: 0 });
  });

  it("sends a burst of incidents' cards side by side, 4 at a time per channel, each thread after its card", async () => {
    const s = setup(new RealClock());
    s.chat.setLatency(40);
    let inFlight = 0;
    let most = 0;
    const post = s.chat.post.bind(s.chat);
    s.chat.post = async (...args) => {
      most = Math.max(most, ++inFlight);
      try {
        return await post(...args);
      } finally {
        inFlight--;
      }
    };
    const card = (n: number) => msg(`i${n} firing`, { refs: { incident: `i${n}` } });
    for (let n = 1; n <= 8; n++) s.outbox.enqueue('slack:C01', card(n), { dedupeKey: `card:${n}` });
    s.outbox.enqueue('slack:C01', msg('i1 triage', { kind: 'notice', refs: { incident: 'i1' } }), {
      dedupeKey: 'triage:1',
    });
    for (const t of ['kill announced', 'resume announced'])
      s.outbox.enqueue('slack:C01', msg(t, { kind: 'notice' }), { dedupeKey: t });
    const worker = s.worker({ pollMs: 20 });
    worker.start();
    await waitFor(() => s.chat.posts.length === 11);
    await worker.stop();
    // Four calls to the channel on their way at once, never more (one after another: 1).
    expect(most).toBe(4);
    const titles = s.chat.titles('slack:C01');
    expect(titles.indexOf('i1 triage')).toBeGreaterThan(titles.indexOf('i1 firing'));
    // What is not about an incident keeps its order.
    expect(titles.indexOf('resume announced')).toBeGreaterThan(titles.indexOf('kill announced'));
  });

  it('a backlog of many pages: every lane head is found, oldest first, and each message goes once, in its lane order', async () => {
    const s = setup();
    const about = (n: number, title: string) => msg(title, { refs: { incident: `i${n}` } });
    // 70 incidents' cards, then their triage newest incident first, with channel notices between:
    // the lanes' rows are spread over several pages of the heads' read.
    for (let n = 1; n <= 70; n++)
      s.outbox.enqueue('slack:C01', about(n, `i${n} card`), { dedupeKey: `c${n}` });
    for (let n = 70; n >= 1; n--) {
      s.outbox.enqueue('slack:C01', about(n, `i${n} triage`), { dedupeKey: `t${n}` });
      if (n % 10 === 0)
        s.outbox.enqueue('slack:C01', msg(`notice ${n}`, { kind: 'notice' }), { dedupeKey: `n${n}` });
    }
    const heads = s.outbox.heads();
    expect(heads.map((h) => h.dedupeKey)).toEqual([
      ...Array.from({ length: 70 }, (_, i) => `c${i + 1}`),
      'n70',
    ]);
    await deliverAll(s, s.worker({ maxPerChannel: 4 }));
    const titles = s.chat.titles('slack:C01');
    expect(titles).toHaveLength(147);
    expect(new Set(titles).size).toBe(147);
    for (let n = 1; n <= 70; n++)
      expect(titles.indexOf(`i${n} triage`)).toBeGreaterThan(titles.indexOf(`i${n} card`));
    const notices = titles.filter((t) => t.startsWith('notice'));
    expect(notices).toEqual([
      'notice 70',
      'notice 60',
      'notice 50',
      'notice 40',
      'notice 30',
      'notice 20',
      'notice 10',
    ]);
    expect(s.outbox.heads()).toEqual([]);
  });

  it('with every slot of a channel taken, the oldest message goes next: a waiting card before a newer reply', async () => {
    const s = setup();
    const about = (n: number, title: string) => msg(title, { refs: { incident: `i${n}` } });
    s.outbox.enqueue('slack:C01', about(1, 'i1 card'), { dedupeKey: 'c1' });
    s.outbox.enqueue('slack:C01', about(2, 'i2 card'), { dedupeKey: 'c2' });
    s.outbox.enqueue('slack:C01', about(1, 'i1 triage'), { dedupeKey: 't1' });
    await deliverAll(s, s.worker({ maxPerChannel: 1 }));
    // i1's lane does not go on to its triage while i2's older card waits for the slot
    expect(s.chat.titles('slack:C01')).toEqual(['i1 card', 'i2 card', 'i1 triage']);
  });

  it('a slot a lane frees goes to the waiting lane at once: an agent job waiting for the foreground does not slip in between cards', async () => {
    const s = setup(new RealClock());
    const foreground = new Foreground();
    const events: string[] = [];
    const post = s.chat.post.bind(s.chat);
    let job: Promise<void> | null = null;
    s.chat.post = (channel, message, options) => {
      events.push(message.title);
      // A job (background work) asks for its turn while the first card is on its way.
      job ??= foreground.turn(5_000).then(() => {
        events.push('agent job');
      });
      return post(channel, message, options);
    };
    const card = (n: number) => msg(`i${n} card`, { refs: { incident: `i${n}` } });
    for (let n = 1; n <= 3; n++) s.outbox.enqueue('slack:C01', card(n), { dedupeKey: `card:${n}` });
    // One slot, and no poll to help: each card after the first starts when the one before frees it.
    const worker = s.worker({ maxPerChannel: 1, pollMs: 60_000, foreground });
    worker.start();
    await waitFor(() => events.includes('agent job'));
    await job;
    expect(events).toEqual(['i1 card', 'i2 card', 'i3 card', 'agent job']);
  });

  it('a Retry-After holds every lane of the channel, not only the one it answered', async () => {
    const s = setup();
    const card = (n: number) => msg(`i${n} firing`, { refs: { incident: `i${n}` } });
    s.outbox.enqueue('slack:C01', card(1), { dedupeKey: 'card:1' });
    s.chat.rateLimit(1, 30_000);
    const worker = s.worker();
    await worker.runOnce();
    expect(s.chat.calls.map((c) => `${c.title}:${c.outcome}`)).toEqual(['i1 firing:ratelimited']);
    s.outbox.enqueue('slack:C01', card(2), { dedupeKey: 'card:2' });
    s.outbox.enqueue('slack:C02', card(3), { dedupeKey: 'card:3' });
    await worker.runOnce();
    // Another channel goes on; C01 waits, whichever incident its next message is about.
    expect(s.chat.titles('slack:C02')).toEqual(['i3 firing']);
    expect(s.chat.titles('slack:C01')).toEqual([]);
    expect(worker.nextDue()).toBe(s.clock.t + 30_000);
    s.clock.t += 30_000;
    await worker.runOnce();
    expect(s.chat.titles('slack:C01').sort()).toEqual(['i1 firing', 'i2 firing']);
  });

  it('waits exactly the Retry-After the platform gave, and backs off with jitter otherwise', async () => {
    const s = setup();
    s.outbox.enqueue('slack:C01', msg('first'), { dedupeKey: 'r1' });
    s.chat.rateLimit(1, 1500);
    const worker = s.worker({ random: () => 0, baseDelayMs: 1000 });

    await worker.runOnce();
    const row = s.outbox.byKey('r1');
    expect(row).toMatchObject({ state: 'pending', attempts: 1, nextAttemptAt: T0 + 1500 });
    expect(row?.lastError).toMatch(/slack ratelimited: rate limited/);

    s.clock.advance(1499);
    await worker.runOnce();
    expect(s.chat.calls).toHaveLength(1);
    s.clock.advance(1);
    await worker.runOnce();
    expect(s.chat.posts.map((p) => [p.message.title, p.at])).toEqual([['first', T0 + 1500]]);

    // No Retry-After: 1 s, 2 s, 4 s ... with "equal jitter" (random 0 -> half of each).
    s.outbox.enqueue('slack:C01', msg('second'), { dedupeKey: 'r2' });
    s.chat.serverError(3);
    const waits: number[] = [];
    for (let i = 0; i < 3; i++) {
      await worker.runOnce();
      const next = s.outbox.byKey('r2')?.nextAttemptAt ?? 0;
      waits.push(next - s.clock.t);
      s.clock.t = next;
    }
    expect(waits).toEqual([500, 1000, 2000]);
    await worker.runOnce();
    expect(s.chat.titles('slack:C01')).toEqual(['first', 'second']);
  });

  it('delivers a burst of 200 through a 429 storm exactly once, in order per channel, never early', async () => {
    const s = setup();
    const channels = ['slack:C01', 'slack:C02', 'slack:C03', 'slack:C04'];
    for (let i = 0; i < 200; i++) {
      const channel = channels[i % 4] as string;
      s.outbox.enqueue(channel, msg(`m${i}`), { dedupeKey: `burst:${i}` });
    }
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let i = 0; i < 60; i++) s.chat.rateLimit(1, 200 + Math.floor(random() * 3000));
    s.chat.serverError(10);
    const worker = s.worker({ random });

    await deliverAll(s, worker);

    expect(s.chat.posts).toHaveLength(200);
    expect(new Set(s.chat.posts.map((p) => p.message.title)).size).toBe(200);
    for (const [c, channel] of channels.entries()) {
      const expected = Array.from({ length: 50 }, (_, k) => `m${k * 4 + c}`);
      expect(s.chat.titles(channel)).toEqual(expected);
    }
    // After every 429, the next call to that channel came no sooner than Retry-After allowed.
    const rateLimited = s.chat.calls.filter((c) => c.outcome === 'ratelimited');
    expect(rateLimited.length).toBe(60);
    expect(rateLimited.every((c) => (c.retryAfterMs ?? 0) >= 200)).toBe(true);
    for (const limited of rateLimited) {
      const i = s.chat.calls.indexOf(limited);
      const next = s.chat.calls.slice(i + 1).find((c) => c.channel === limited.channel);
      expect(next?.title).toBe(limited.title);
      expect(next?.at).toBeGreaterThanOrEqual(limited.at + (limited.retryAfterMs ?? 0));
    }
    expect(s.outbox.backlog()).toMatchObject({ pending: 0, failed: 0 });
  });

  it('keeps everything while the platform is down and delivers it all when it is back', async () => {
    const s = setup();
    s.chat.down();
    for (let i = 1; i <= 5; i++) s.outbox.enqueue('slack:C01', msg(`d${i}`), { dedupeKey: `d${i}` });
    const worker = s.worker({ maxDelayMs: 60_000 });
    for (let i = 0; i < 20; i++) {
      await worker.runOnce();
      s.clock.advance(60_000);
    }
    expect(s.chat.posts).toEqual([]);
    expect(s.outbox.backlog()).toMatchObject({ pending: 5, failed: 0 });
    expect(s.outbox.byKey('d1')?.attempts).toBeGreaterThan(5);
    expect(s.outbox.byKey('d2')?.attempts).toBe(0);
    expect(s.outbox.backlog().oldestPendingAgeMs).toBe(20 * 60_000);

    s.chat.up();
    await deliverAll(s, worker);
    expect(s.chat.titles('slack:C01')).toEqual(['d1', 'd2', 'd3', 'd4', 'd5']);
    expect(s.outbox.backlog()).toMatchObject({ pending: 0, failed: 0, oldestPendingAgeMs: null });
  });

  it('leaves messages for a platform without an adapter pending, without attempts, until one is added', async () => {
    const s = setup();
    s.outbox.enqueue('discord:123456789', msg('to discord'), { dedupeKey: 'dc1' });
    s.outbox.enqueue('slack:C01', msg('to slack'), { dedupeKey: 'sl1' });
    const worker = s.worker();
    for (let i = 0; i < 5; i++) await worker.runOnce();
    expect(s.outbox.byKey('dc1')).toMatchObject({ state: 'pending', attempts: 0 });
    expect(s.chat.titles('slack:C01')).toEqual(['to slack']);
    expect(s.log.lines.filter((l) => /no discord adapter/.test(l.msg))).toHaveLength(1);

    const discord = new FakeChatAdapter({ platform: 'discord', now: s.clock.now });
    s.adapters.set('discord', discord);
    await worker.runOnce();
    expect(discord.titles('discord:123456789')).toEqual(['to discord']);
  });

  it('gives up on a permanent error: failed, audited with the error, and the channel moves on', async () => {
    const s = setup();
    s.outbox.enqueue('slack:C404', msg('lost'), { dedupeKey: 'p1' });
    s.outbox.enqueue('slack:C404', msg('also lost'), { dedupeKey: 'p2' });
    s.chat.rejectChannel('slack:C404');
    const worker = s.worker();
    await worker.runOnce();

    expect(s.outbox.byKey('p1')).toMatchObject({ state: 'failed', attempts: 1 });
    expect(s.outbox.byKey('p2')).toMatchObject({ state: 'failed', attempts: 1 });
    const records = s.audit.records({ kind: 'outbox.failed' });
    expect(records).toHaveLength(2);
    expect(records[0]).toMatchObject({ actor: 'system:outbox' });
    expect(records[0]?.outcome).toMatch(
      /message #1 \("lost"\) to slack:C404 was not delivered after 1 attempt \(permanent\): slack channel_not_found/,
    );
    expect(records[0]?.data).toMatchObject({ reason: 'permanent', channel: 'slack:C404', dedupeKey: 'p1' });
    expect(s.audit.verify()).toMatchObject({ ok: true });
    expect(s.outbox.backlog()).toMatchObject({ pending: 0, failed: 2 });
    expect(s.counts.failed).toBe(2);
    expect(s.log.lines.some((l) => l.level === 'error' && /gave up on message #1/.test(l.msg))).toBe(true);
  });

  it('gives up after the max age, with the last error', async () => {
    const s = setup();
    s.outbox.enqueue('slack:C01', msg('old news'), { dedupeKey: 'age1' });
    s.chat.down();
    const worker = s.worker({ maxAgeMs: 3600_000, maxDelayMs: 600_000 });
    await deliverAll(s, worker);
    const row = s.outbox.byKey('age1');
    expect(row?.state).toBe('failed');
    expect(row?.lastError).toMatch(
      /still failing 1(\.\d)? h after it was queued: slack down: connect ECONNREFUSED/,
    );
    expect(s.audit.records({ kind: 'outbox.failed' })[0]?.data).toMatchObject({ reason: 'max-age' });
  });
});

describe('outages and recovery', () => {
  /**
   * One alert a second to two channels; the platform answers 429 (Retry-After 10 s) for a minute,
   * then fails (5xx / unreachable) for a minute, then is back. The clock moves in 250 ms steps, one
   * poll each, as the worker's poll loop would.
   */
  async function outage(s: Setup, worker: OutboxWorker) {
    let n = 0;
    const step = async () => {
      if (s.clock.t % 1000 === 0) {
        n++;
        s.outbox.enqueue(n % 2 ? 'slack:C01' : 'slack:C02', msg(`a${n}`), { dedupeKey: `a${n}` });
      }
      await worker.runOnce();
      s.clock.advance(250);
    };
    for (let t = 0; t < 60_000; t += 250) {
      if (t % 10_000 === 0) s.chat.rateLimit(2, 10_000);
      await step();
    }
    s.chat.down();
    for (let t = 0; t < 60_000; t += 250) await step();
    return { step, count: () => n };
  }

  it('drains a 2-minute backlog within seconds of the platform answering again, in order, once', async () => {
    const s = setup();
    const worker = s.worker();
    const { step, count } = await outage(s, worker);
    expect(s.chat.posts.length).toBeLessThan(20);
    s.chat.up();
    const back = s.clock.t;
    while (s.outbox.backlog().pending > 0 && s.clock.t - back < 600_000) await step();
    // Found within one probe (5 s) and sent at once: not each message's backoff (up to 5 min).
    expect(s.clock.t - back).toBeLessThanOrEqual(6_000);
    for (const channel of ['slack:C01', 'slack:C02']) {
      const titles = s.chat.titles(channel);
      const expected = Array.from({ length: count() }, (_, i) => i + 1)
        .filter((i) => (i % 2 ? 'slack:C01' : 'slack:C02') === channel)
        .slice(0, titles.length)
        .map((i) => `a${i}`);
      expect(titles).toEqual(expected);
    }
    expect(s.chat.posts.length).toBe(count());
    expect(new Set(s.chat.posts.map((p) => p.message.title)).size).toBe(count());
    expect(s.outbox.backlog()).toMatchObject({ pending: 0, failed: 0 });
  });

  it('probes a failing platform with one message at a time, every 5 s, not every head', async () => {
    const s = setup();
    s.chat.down();
    for (let i = 1; i <= 6; i++) s.outbox.enqueue(`slack:C0${i}`, msg(`p${i}`), { dedupeKey: `p${i}` });
    const worker = s.worker();
    for (let t = 0; t < 120_000; t += 250) {
      await worker.runOnce();
      s.clock.advance(250);
    }
    // Six first attempts, then their own backoff (1 s, 2 s, ... 64 s) plus one probe per 5 s.
    const calls = s.chat.calls.length;
    expect(calls).toBeGreaterThan(6 + 20);
    expect(calls).toBeLessThan(6 * 8 + 120 / 5 + 2);
  });

  it('keeps a Retry-After hold when the platform comes back', async () => {
    const s = setup();
    s.chat.rateLimit(1, 30_000, 'slack:C02');
    s.outbox.enqueue('slack:C02', msg('held'), { dedupeKey: 'held' });
    const worker = s.worker();
    await worker.runOnce();
    s.chat.serverError(1);
    s.outbox.enqueue('slack:C01', msg('probe'), { dedupeKey: 'probe' });
    await worker.runOnce();
    const held = s.clock.t;
    for (let t = 0; t < 20_000; t += 250) {
      await worker.runOnce();
      s.clock.advance(250);
    }
    expect(s.chat.titles('slack:C01')).toEqual(['probe']);
    expect(s.chat.titles('slack:C02')).toEqual([]);
    await deliverAll(s, worker);
    expect(s.chat.posts.find((p) => p.message.title === 'held')?.at).toBeGreaterThanOrEqual(held + 30_000);
  });

  it('health: degraded with the reason while the platform fails and while the backlog is over a minute old', async () => {
    const s = setup();
    const worker = s.worker();
    expect(worker.health()).toEqual({ status: 'ok', detail: '0 pending, 0 failed' });
    s.chat.down();
    s.outbox.enqueue('slack:C01', msg('x'), { dedupeKey: 'x' });
    await worker.runOnce();
    s.clock.advance(30_000);
    expect(worker.health().status).toBe('degraded');
    expect(worker.health().detail).toMatch(/slack failing for 30 s: .*down/);
    s.chat.up();
    s.chat.rateLimit(1, 60_000);
    s.clock.advance(5_000);
    await worker.runOnce(); // the probe: rate limited for a minute; nothing is accepted yet
    s.clock.advance(30_000);
    expect(worker.health().detail).toMatch(/slack failing for 1.1 min: .*rate limited/);
    expect(worker.health().detail).toMatch(/the oldest undelivered message is 1.1 min old/);
    await deliverAll(s, worker);
    expect(worker.health()).toEqual({ status: 'ok', detail: '0 pending, 0 failed' });
  });
});

describe('updates', () => {
  it('edits the message its post landed as, after the post', async () => {
    const s = setup();
    const post = s.outbox.enqueue('slack:C01', msg('approve a12?'), { dedupeKey: 'a12:request' });
    s.outbox.enqueue('slack:C01', msg('a12 approved by slack:user:U1'), {
      dedupeKey: 'a12:decided',
      op: 'update',
      updateOf: post.id,
    });
    s.chat.serverError(2);
    await deliverAll(s, s.worker());
    expect(s.chat.posts).toHaveLength(1);
    expect(s.chat.updates).toHaveLength(1);
    expect(s.chat.view('slack:C01').map((v) => v.message.title)).toEqual(['a12 approved by slack:user:U1']);
    const ref = s.chat.posts[0]?.ref;
    expect(s.outbox.byKey('a12:decided')).toMatchObject({ state: 'delivered', platformRef: ref });
  });

  it('posts the update as a new message when the post failed for good or the edit is refused', async () => {
    const s = setup();
    const post = s.outbox.enqueue('slack:C01', msg('approve a1?'), { dedupeKey: 'a1:req' });
    s.outbox.enqueue('slack:C01', msg('a1 denied'), { dedupeKey: 'a1:dec', op: 'update', updateOf: post.id });
    s.chat.rejectChannel('slack:C01');
    const worker = s.worker();
    await worker.runOnce();
    expect(s.outbox.byKey('a1:req')?.state).toBe('failed');
    expect(s.outbox.byKey('a1:dec')?.state).toBe('failed');

    // Post failed for good, channel fine again for the update: it is posted fresh.
    const post2 = s.outbox.enqueue('slack:C02', msg('approve a2?'), { dedupeKey: 'a2:req' });
    s.chat.rejectChannel('slack:C02', 'msg_too_long');
    await worker.runOnce();
    s.chat.acceptChannel('slack:C02');
    s.outbox.enqueue('slack:C02', msg('a2 expired'), {
      dedupeKey: 'a2:dec',
      op: 'update',
      updateOf: post2.id,
    });
    await worker.runOnce();
    expect(s.chat.titles('slack:C02')).toEqual(['a2 expired']);

    // The platform refuses the edit (message gone): posted fresh too.
    const post3 = s.outbox.enqueue('slack:C03', msg('approve a3?'), { dedupeKey: 'a3:req' });
    await worker.runOnce();
    s.chat.posts.splice(0, s.chat.posts.length, ...s.chat.posts.filter((p) => p.channel !== 'slack:C03'));
    s.outbox.enqueue('slack:C03', msg('a3 approved'), {
      dedupeKey: 'a3:dec',
      op: 'update',
      updateOf: post3.id,
    });
    await worker.runOnce();
    expect(s.chat.titles('slack:C03')).toEqual(['a3 approved']);
    expect(s.outbox.byKey('a3:dec')?.state).toBe('delivered');
    expect(s.log.lines.some((l) => /refused to edit/.test(l.msg))).toBe(true);
  });
});

describe('a card updated while its updates wait', () => {
  it('keeps only the latest pending update: a flapping card is edited once per delivery, not per change', async () => {
    const s = setup();
    const card = s.outbox.enqueue('slack:C01', msg('i7 firing'), { dedupeKey: 'i7:card' });
    const worker = s.worker({ random: () => 0 });
    await worker.runOnce();
    expect(s.chat.posts).toHaveLength(1);

    // The platform rate-limits the first edit; meanwhile the incident flaps 50 more times.
    s.chat.rateLimit(1, 30_000);
    const update = (n: number) =>
      s.outbox.enqueue('slack:C01', msg(`i7 ${n % 2 ? 'resolved' : 'firing'} (change ${n})`), {
        dedupeKey: `i7:update:${n}`,
        op: 'update',
        updateOf: card.id,
      });
    update(1);
    await worker.runOnce();
    expect(s.chat.calls).toHaveLength(2);
    for (let n = 2; n <= 51; n++) update(n);
    // Another card's pending update and a post in between are left alone.
    const other = s.outbox.enqueue('slack:C01', msg('i8 firing'), { dedupeKey: 'i8:card' });
    expect(s.outbox.byKey('i8:card')?.state).toBe('pending');

    const superseded = s.database.db
      .select()
      .from(outbox)
      .where(eq(outbox.op, 'update'))
      .all()
      .filter((r) => r.platformRef?.startsWith('superseded:'));
    expect(superseded).toHaveLength(50);
    expect(s.outbox.byKey('i7:update:1')).toMatchObject({
      state: 'delivered',
      platformRef: `superseded:${s.outbox.byKey('i7:update:2')?.id}`,
    });
    expect(s.outbox.backlog().pending).toBe(2);

    await deliverAll(s, worker);
    // One post and one edit for 51 changes; the card shows the last one; the other card is posted.
    expect(s.chat.updates.map((u) => u.message.title)).toEqual(['i7 resolved (change 51)']);
    expect(s.chat.view('slack:C01').map((v) => v.message.title)).toEqual([
      'i7 resolved (change 51)',
      'i8 firing',
    ]);
    expect(s.outbox.get(other.id)?.state).toBe('delivered');
    // Once sent, an update is history: a later one does not touch it.
    update(52);
    expect(s.outbox.byKey('i7:update:51')?.platformRef).toBe(s.chat.posts[0]?.ref);
    await deliverAll(s, worker);
    expect(s.chat.updates.map((u) => u.message.title)).toEqual([
      'i7 resolved (change 51)',
      'i7 firing (change 52)',
    ]);
  });

  it('leaves an update being sent alone, and the console never shows a superseded update', async () => {
    const s = setup();
    const console = new FakeChatAdapter({ platform: 'console', now: s.clock.now });
    s.adapters.set('console', console);
    const card = s.outbox.enqueue('console:main', msg('i9 firing'), { dedupeKey: 'i9:card' });
    await deliverAll(s, s.worker());
    const first = s.outbox.enqueue('console:main', msg('i9 acknowledged'), {
      dedupeKey: 'i9:ack',
      op: 'update',
      updateOf: card.id,
    });
    s.outbox.claim(first.id);
    s.outbox.enqueue('console:main', msg('i9 resolved'), {
      dedupeKey: 'i9:resolve',
      op: 'update',
      updateOf: card.id,
    });
    expect(s.outbox.get(first.id)?.state).toBe('sending');
    s.outbox.markDelivered(first.id, 'c1');
    const pending = s.outbox.enqueue('console:main', msg('i9 reopened'), {
      dedupeKey: 'i9:reopen',
      op: 'update',
      updateOf: card.id,
    });
    expect(s.outbox.byKey('i9:resolve')?.platformRef).toBe(`superseded:${pending.id}`);
    // The console's history shows the last update it was sent, not the one that never went.
    expect(s.outbox.consoleHistory(10)[0]?.message).toMatchObject({ title: 'i9 acknowledged' });
  });
});

describe('restart, poke and drain', () => {
  it('after a crash mid-send, a new worker on the same file delivers each message once', async () => {
    const clock = new Clock();
    const first = setup(clock);
    for (let i = 1; i <= 3; i++) first.outbox.enqueue('slack:C01', msg(`c${i}`), { dedupeKey: `c${i}` });
    expect(first.outbox.claim(1)).toMatchObject({ state: 'sending', attempts: 1 });
    first.database.close();

    const second = setup(clock, first.file);
    const worker = second.worker();
    worker.start();
    await waitFor(() => second.outbox.backlog().pending === 0);
    expect(second.chat.titles('slack:C01')).toEqual(['c1', 'c2', 'c3']);
    expect(second.outbox.byKey('c1')).toMatchObject({ state: 'delivered', attempts: 2 });
    expect(second.log.lines.some((l) => /1 message\(s\) were being sent/.test(l.msg))).toBe(true);
  });

  it('poke() delivers at once, without waiting for the next poll', async () => {
    const s = setup(new RealClock());
    const worker = s.worker({ pollMs: 60_000 });
    worker.start();
    // Let the first pass (at start) run, so the next poll is a minute away.
    await new Promise((r) => setTimeout(r, 30));
    s.outbox.enqueue('slack:C01', msg('now please'), { dedupeKey: 'poke1' });
    const started = Date.now();
    worker.poke();
    await waitFor(() => s.chat.posts.length === 1);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('a channel whose platform hangs holds up neither the other channels nor itself for ever', async () => {
    const s = setup(new RealClock());
    s.chat.hang('slack:C01');
    const worker = s.worker({ pollMs: 20, sendTimeoutMs: 300 });
    worker.start();
    s.outbox.enqueue('slack:C01', msg('stuck'), { dedupeKey: 'h1' });
    s.outbox.enqueue('slack:C02', msg('fine'), { dedupeKey: 'h2' });
    worker.poke();
    await waitFor(() => s.chat.posts.length === 1);
    s.outbox.enqueue('slack:C02', msg('still fine'), { dedupeKey: 'h3' });
    await waitFor(() => s.chat.posts.length === 2);
    expect(s.chat.titles('slack:C02')).toEqual(['fine', 'still fine']);
    expect(s.outbox.byKey('h1')?.state).toBe('sending');

    // The unanswered call counts as a failure after sendTimeoutMs, and is tried again.
    await waitFor(
      () => s.outbox.byKey('h1')?.lastError?.includes('slack timeout: no answer within') === true,
    );
    s.chat.release('slack:C01');
    await waitFor(
      () => s.outbox.byKey('h1')?.state === 'delivered' && s.chat.titles('slack:C01').length === 2,
    );
    // The documented at-least-once edge: the call that timed out landed after all, and so did the retry.
    expect(s.chat.titles('slack:C01')).toEqual(['stuck', 'stuck']);
  });

  it('drain() delivers what it can before the deadline and leaves the rest stored', async () => {
    const real = new RealClock();
    const s = setup(real);
    s.chat.setLatency(25);
    for (let i = 1; i <= 40; i++) s.outbox.enqueue('slack:C01', msg(`s${i}`), { dedupeKey: `s${i}` });
    const worker = s.worker();
    worker.start();
    const started = Date.now();
    const result = await worker.drain(300);
    const took = Date.now() - started;
    expect(took).toBeLessThan(600);
    expect(result.timedOut).toBe(true);
    expect(result.delivered).toBeGreaterThan(2);
    expect(result.delivered).toBeLessThan(40);
    expect(result.pending).toBe(40 - s.chat.posts.length);
    // Order held, nothing twice.
    expect(s.chat.titles('slack:C01')).toEqual(
      Array.from({ length: s.chat.posts.length }, (_, i) => `s${i + 1}`),
    );

    // A drain with time enough waits out a short Retry-After and finishes.
    const t = setup(real, join(dir, 'second.db'));
    t.outbox.enqueue('slack:C01', msg('x1'), { dedupeKey: 'x1' });
    t.outbox.enqueue('slack:C02', msg('x2'), { dedupeKey: 'x2' });
    t.chat.rateLimit(1, 150, 'slack:C01');
    const done = await t.worker().drain(5000);
    expect(done).toEqual({ delivered: 2, pending: 0, timedOut: false });
  });
});

describe('backlog', () => {
  it('counts undelivered and failed messages per channel with the oldest age', async () => {
    const s = setup();
    s.outbox.enqueue('slack:C01', msg('one'), { dedupeKey: 'b1' });
    s.clock.advance(5000);
    s.outbox.enqueue('slack:C01', msg('two'), { dedupeKey: 'b2' });
    s.outbox.enqueue('console:main', msg('three'), { dedupeKey: 'b3' });
    s.outbox.enqueue('slack:C09', msg('four'), { dedupeKey: 'b4' });
    s.chat.rejectChannel('slack:C09');
    s.chat.down();
    await s.worker().runOnce();
    s.clock.advance(1000);
    expect(s.outbox.backlog()).toEqual({
      pending: 4,
      failed: 0,
      oldestPendingAgeMs: 6000,
      byChannel: {
        'slack:C01': { pending: 2, failed: 0, oldestPendingAgeMs: 6000 },
        'console:main': { pending: 1, failed: 0, oldestPendingAgeMs: 1000 },
        'slack:C09': { pending: 1, failed: 0, oldestPendingAgeMs: 1000 },
      },
    });
    s.chat.up();
    await s.worker().runOnce();
    expect(s.outbox.backlog()).toMatchObject({
      pending: 1,
      failed: 1,
      byChannel: { 'slack:C09': { pending: 0, failed: 1, oldestPendingAgeMs: null } },
    });
  });
});

async function waitFor(check: () => boolean, timeoutMs = 3000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
