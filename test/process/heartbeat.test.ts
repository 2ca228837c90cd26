import { describe, expect, it } from 'vitest';
import { startHeartbeat } from '../../src/process/heartbeat.js';

describe('the heartbeat (dead-man switch)', () => {
  it('pings the URL at start and then on every interval, and logs failures without the URL path', async () => {
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
    await new Promise((r) => setTimeout(r, 100));
    expect(calls.length).toBeGreaterThanOrEqual(3);
    fail = true;
    await new Promise((r) => setTimeout(r, 50));
    stop();
    const n = calls.length;
    await new Promise((r) => setTimeout(r, 80));
    expect(calls.length).toBe(n); // stopped
    expect(warnings[0]?.msg).toBe('heartbeat ping failed');
    expect(JSON.stringify(warnings)).not.toContain('secret-uuid');
    expect(JSON.stringify(warnings)).toContain('hc.example.com');
  });
});
