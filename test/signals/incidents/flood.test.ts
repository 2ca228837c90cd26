/**
 * No floods: 10,000 identical alerts make one chat message (plus the agent's once-per-incident follow-ups), updated in place with the count, and
 * every event is still stored. Through the real bot: signal store, incident, alerts, outbox, console.
 */
import { count, eq, inArray } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { agentJobs, outbox, signals } from '../../../src/db/schema.js';
import { type Bot, startBot } from '../../../src/main.js';
import type { SignalInput } from '../../../src/signals/types.js';
import { eventually, LogSink, type TempSetup, tempSetup } from '../../helpers/bot.js';

let setup: TempSetup;
let bot: Bot;

afterEach(async () => {
  await bot?.stop();
  setup?.cleanup();
});

function alert(i: number): SignalInput {
  return {
    kind: 'alert',
    source: 'alertmanager',
    dedupeKey: `am:disk-full:${i}`,
    fingerprint: 'DiskFull:db-1',
    title: 'DiskFull: db-1 at 97%',
    service: 'api',
    severity: 'critical',
    payload: { n: i },
    occurredAt: 1_000 + i,
  };
}

describe('alert floods', () => {
  it('10,000 identical alerts: every one stored, one message, updated in place with the count', async () => {
    setup = tempSetup();
    // The bot's clock stands still while the flood is stored: the 10,000 alerts arrive at one
    // instant, however long this machine takes to store them. On the wall clock a loaded machine
    // took over a second, and every 200 ms of it let one more update through (9 instead of <= 5).
    let floodAt: number | null = null;
    bot = await startBot({
      env: setup.env,
      now: () => floodAt ?? Date.now(),
      logDestination: new LogSink(),
      print: () => {},
      incidentUpdateIntervalMs: 200,
    });
    floodAt = Date.now();
    for (let b = 0; b < 20; b++) {
      bot.core.signals.ingest(Array.from({ length: 500 }, (_, i) => alert(b * 500 + i)));
    }
    floodAt = null;
    const db = bot.database.db;
    expect(db.select({ n: count() }).from(signals).get()?.n).toBe(10_000);
    const incidents = bot.core.incidents.list({ status: 'unresolved' });
    expect(incidents).toHaveLength(1);
    expect(incidents[0]?.signalCount).toBe(10_000);

    // Settled: sentinel is done with the flood (no job queued or running), all that was queued is
    // delivered, and the incident's own message carries the final count. Its own message, not the
    // last one queued: sentinel's posts land before or after the throttled last update, by timing.
    const title = (r: { message: unknown }) => (r.message as { title: string }).title;
    await eventually(
      () => {
        const working = db
          .select({ n: count() })
          .from(agentJobs)
          .where(inArray(agentJobs.state, ['queued', 'running']))
          .get()?.n;
        const rows = db.select().from(outbox).where(eq(outbox.channel, 'console:main')).all();
        const card = rows.filter((r) => title(r).startsWith('DiskFull')).at(-1)?.message as
          | { fields?: { label: string; value: string }[] }
          | undefined;
        return (
          working === 0 &&
          rows.every((r) => r.state === 'delivered') &&
          card?.fields?.find((f) => f.label === 'Signals')?.value === '10000'
        );
      },
      5000,
      50,
    );
    const rows = db.select().from(outbox).where(eq(outbox.channel, 'console:main')).all();
    // One alert for the incident; sentinel's follow-ups (its triage, and the tier 0 evidence it
    // collected under the default policy) come once per incident too, not once per signal.
    const posts = rows.filter((r) => r.op === 'post').map(title);
    expect(posts.filter((t) => t.startsWith('DiskFull'))).toHaveLength(1);
    expect(posts.filter((t) => t.startsWith('Triage i1'))).toHaveLength(1);
    expect(posts.filter((t) => t.startsWith('sentinel ran collect-evidence'))).toHaveLength(1);
    // No model server runs here: sentinel says once that it works on rules alone.
    expect(posts.filter((t) => t.startsWith('sentinel works on rules alone'))).toHaveLength(1);
    expect(posts).toHaveLength(4);
    expect(rows.filter((r) => r.op === 'update').length).toBeLessThanOrEqual(5);
    // The console shows one message for it, with the count.
    const feed = (await (
      await fetch(`${bot.url}/api/messages`, {
        headers: { authorization: `Bearer ${bot.consoleUrl?.split('token=')[1]}` },
      })
    ).json()) as { messages: { message: { title: string; fields: { label: string; value: string }[] } }[] };
    const forIncident = feed.messages.filter((m) => m.message.title.startsWith('DiskFull'));
    expect(forIncident).toHaveLength(1);
    expect(forIncident[0]?.message.fields.find((f) => f.label === 'Signals')?.value).toBe('10000');
  });
});
