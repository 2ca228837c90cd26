/**
 * Sweeps speak: a failing sweep and runs a sweep missed reach chat once each, as an incident card
 * (with how many runs were missed), and the card says when the sweep runs again. The real core
 * (signals, incidents, incident alerts, outbox) with the sweeps on a fake scheduler and clock.
 */
import { asc } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import type { ChatMessage } from '../../../src/chat/message.js';
import { outbox } from '../../../src/db/schema.js';
import { type SweepBodies, Sweeps } from '../../../src/signals/sweeps/sweeps.js';
import { FakeScheduler } from '../../fakes/scheduler.js';
import { type AgentKit, agentKit, T0 } from '../../helpers/agent-kit.js';

const MIN = 60_000;
let k: AgentKit;

afterEach(() => k?.close());

function sweeps(bodies: SweepBodies): Sweeps {
  return new Sweeps({
    database: k.db.database,
    sink: k.core.signals,
    policy: () => k.policy,
    bodies,
    isKilled: () => false,
    now: () => k.clock.t,
    newId: (prefix) => `${prefix}-${Math.random().toString(36).slice(2)}`,
    scheduler: new FakeScheduler(),
  });
}

/** What went to chat (only the sweeps speak here): new messages (posts) and edits of them (updates). */
function chat() {
  const rows = k.db.database.db
    .select()
    .from(outbox)
    .orderBy(asc(outbox.id))
    .all()
    .map((r) => ({ op: r.op, message: r.message as ChatMessage }));
  return {
    posts: rows.filter((r) => r.op === 'post').map((r) => r.message),
    updates: rows.filter((r) => r.op === 'update').map((r) => r.message),
  };
}

describe('sweeps speak in chat', () => {
  it('a failing sweep posts one card; more failures post nothing new; its recovery is said on the card and in its thread', async () => {
    k = agentKit();
    let fail = true;
    const s = sweeps({
      sentinel: {
        light: async () => {
          if (fail) throw new Error('probe host unreachable');
        },
      },
    });
    for (let i = 0; i < 5; i++) {
      k.clock.t = T0 + i * 5 * MIN;
      await s.tick('sentinel', 'light', k.clock.t);
    }
    const failing = chat();
    expect(failing.posts.map((m) => m.title)).toEqual([
      "sentinel's light sweep failed 3 times in a row: probe host unreachable",
    ]);
    expect(failing.posts[0]?.kind).toBe('alert');

    fail = false;
    k.clock.t = T0 + 5 * 5 * MIN;
    await s.tick('sentinel', 'light', k.clock.t);
    const after = chat();
    expect(after.posts).toHaveLength(2);
    expect(after.posts[1]?.title).toMatch(/^i1 resolved: the source reports the condition is over; resolved/);
    expect(after.updates.at(-1)?.title).toMatch(/^Resolved: sentinel's light sweep failed 3 times in a row/);
  });

  it('missed runs post one card saying how many; the next run says it runs again', async () => {
    k = agentKit();
    const ok = { sentinel: { light: async () => {} } };
    const before = sweeps(ok);
    before.start();
    await before.tick('sentinel', 'light', T0);
    await before.stop();

    // Down for 32 minutes: six runs (every 5 minutes) never happened.
    k.clock.t = T0 + 32 * MIN;
    sweeps(ok).start();
    const missed = chat();
    expect(missed.posts.map((m) => m.title)).toEqual([
      "6 of sentinel's light sweeps, due from 2026-03-02 10:05 to 2026-03-02 10:30 (UTC), did not run (the bot was not running, or was blocked)",
    ]);
    // Said once: another start finds nothing new.
    const again = sweeps(ok);
    again.start();
    expect(chat().posts).toHaveLength(1);

    k.clock.t = T0 + 35 * MIN;
    await again.tick('sentinel', 'light', k.clock.t);
    const back = chat();
    expect(back.posts).toHaveLength(2);
    expect(back.posts[1]?.title).toMatch(/^i1 resolved: the source reports the condition is over/);
    expect(back.updates.at(-1)?.title).toMatch(/^Resolved: 6 of sentinel's light sweeps/);
    // A later run says nothing more.
    k.clock.t = T0 + 40 * MIN;
    await again.tick('sentinel', 'light', k.clock.t);
    expect(chat().posts).toHaveLength(2);
    expect(chat().updates).toHaveLength(back.updates.length);
  });
});
