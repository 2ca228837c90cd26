import { describe, expect, it } from 'vitest';
import { createHttpApp } from '../../../adapters/http/server.js';
import { Foreground } from '../../../src/process/foreground.js';
import { gate } from '../../helpers/agent-kit.js';

/** The bot's HTTP app with nothing mounted but the route a test adds, counting into `foreground`. */
const appWith = (foreground: Foreground) =>
  createHttpApp({ health: () => ({ status: 'ok', checks: {} }), onError: () => {}, foreground });

describe('every request is foreground work until its answer is ready', () => {
  it('counts a request while it is handled (agent jobs wait), and not once it is answered', async () => {
    const foreground = new Foreground();
    const app = appWith(foreground);
    const held = gate();
    const during: number[] = [];
    app.post('/hooks/slow', async (c) => {
      during.push(foreground.busy);
      await held.promise; // the group commit a webhook waits for
      return c.json({ ok: true }, 202);
    });
    const answer = app.request('/hooks/slow', { method: 'POST' });
    await new Promise((r) => setImmediate(r));
    expect([during, foreground.busy]).toEqual([[1], 1]);
    held.open();
    expect((await answer).status).toBe(202);
    expect(foreground.busy).toBe(0);
  });

  it('a stream (the console live feed) counts only until its headers go, not for as long as it stays open', async () => {
    const foreground = new Foreground();
    const app = appWith(foreground);
    app.get(
      '/live',
      () =>
        new Response(new ReadableStream({ start() {} }), {
          headers: { 'content-type': 'text/event-stream' },
        }),
    );
    const res = await app.request('/live');
    expect(res.status).toBe(200);
    expect(foreground.busy).toBe(0);
    await res.body?.cancel();
  });

  it('a request that fails still ends its foreground work', async () => {
    const foreground = new Foreground();
    const app = appWith(foreground);
    app.get('/boom', () => {
      throw new Error('a bug');
    });
    expect((await app.request('/boom')).status).toBe(500);
    expect(foreground.busy).toBe(0);
  });
});
