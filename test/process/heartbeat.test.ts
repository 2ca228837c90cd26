import { afterEach, describe, expect, it, vi } from 'vitest';
import { startHeartbeat } from '../../src/process/heartbeat.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('the heartbeat (dead-man switch)', () => {
  it('pings the URL at start and then on every interval, and logs failures without the URL path', async () => {
    // The test's clock: pings come when it says, however busy the machine (on the wall clock, a
    // worker stalled for 80 ms left two pings in the first 100 ms where three were expected).
    vi.useFakeTimers();
    const calls: string[] = [];
    const warnings: { obj: object; msg: string }[] = [];
    let fail = false;
    const fakeFetch = (async (url: string) => {
      calls.push(url);
      return fail ? new Response('nope', { status: 500 }) : new Response('ok');
    }) as unknown as typeof fetch;
    const stop = startHeartbeat({
      url: 'https://hc.example.com/ping/secret-uuid',
      intervalMs: 30,
      fetch: fakeFetch,
      log: { warn: (obj, msg) => warnings.push({ obj, msg }) },
    });
    await vi.advanceTimersByTimeAsync(90);
    expect(calls).toHaveLength(4); // at start, then at 30, 60 and 90 ms
    fail = true;
    await vi.advanceTimersByTimeAsync(30);
    expect(calls).toHaveLength(5);
    stop();
    await vi.advanceTimersByTimeAsync(300);
    expect(calls).toHaveLength(5); // stopped
    expect(warnings[0]?.msg).toBe('heartbeat ping failed');
    expect(JSON.stringify(warnings)).not.toContain('secret-uuid');
    expect(JSON.stringify(warnings)).toContain('hc.example.com');
  });
});
