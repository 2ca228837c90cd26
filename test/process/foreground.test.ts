import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { Foreground } from '../../src/process/foreground.js';

describe('foreground work goes before agent jobs', () => {
  it('with nothing in flight, a job takes its turn on a later turn of the event loop, never in the caller', async () => {
    const fg = new Foreground();
    let turned = false;
    const turn = fg.turn(1000).then(() => {
      turned = true;
    });
    expect(turned).toBe(false);
    await turn;
    expect(turned).toBe(true);
  });

  it('waits while a request or a delivery is in flight, and goes once the last one ends', async () => {
    const fg = new Foreground();
    const endRequest = fg.begin();
    const endDelivery = fg.begin();
    expect(fg.busy).toBe(2);
    let turned = false;
    const turn = fg.turn(60_000).then(() => {
      turned = true;
    });
    for (let i = 0; i < 5; i++) await nextTurn();
    expect(turned).toBe(false);
    endRequest();
    endRequest(); // a second call does nothing
    expect(fg.busy).toBe(1);
    for (let i = 0; i < 5; i++) await nextTurn();
    expect(turned).toBe(false);
    endDelivery();
    await turn;
    expect([turned, fg.busy]).toEqual([true, 0]);
  });

  it('looks again when new work began while it was being woken: a lane that sends message after message', async () => {
    const fg = new Foreground();
    let end = fg.begin();
    let turned = false;
    const turn = fg.turn(60_000).then(() => {
      turned = true;
    });
    // Each delivery ends and the next begins in the same breath (the outbox lane's loop).
    for (let i = 0; i < 3; i++) {
      await nextTurn();
      end();
      end = fg.begin();
    }
    for (let i = 0; i < 5; i++) await nextTurn();
    expect(turned).toBe(false);
    end();
    await turn;
    expect(turned).toBe(true);
  });

  it('never starves a job: after maxWaitMs it goes whatever is in flight', async () => {
    const fg = new Foreground();
    fg.begin(); // a request that never ends
    const started = performance.now();
    await fg.turn(30);
    expect(performance.now() - started).toBeGreaterThanOrEqual(29);
    expect(fg.busy).toBe(1);
  });
});
