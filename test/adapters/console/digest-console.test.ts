import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hono } from 'hono';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultAllowedHosts } from '../../../adapters/console/auth.js';
import { ConsoleAdapter } from '../../../adapters/console/console-adapter.js';
import { mountConsole } from '../../../adapters/console/routes.js';
import { message } from '../../../src/chat/message.js';
import { sequentialIds } from '../../../src/process/ids.js';
import { HOST, TOKEN } from '../../helpers/console-app.js';

const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]);
let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'autonomy-console-chart-'));
  mkdirSync(join(dir, 'digests'));
  writeFileSync(join(dir, 'digests', '2026-03-23.png'), PNG);
  writeFileSync(join(dir, 'console-token'), TOKEN);
  writeFileSync(join(dir, 'secret.png'), 'not for the browser');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function consoleWith(dataDir: string | null) {
  const app = new Hono();
  const adapter = new ConsoleAdapter({ now: Date.now, newId: sequentialIds() });
  mountConsole(app, {
    adapter,
    inbound: {
      command: async () => message({ kind: 'reply', title: 'ok' }),
      click: async () => message({ kind: 'reply', title: 'ok' }),
    },
    token: TOKEN,
    consoleUser: () => 'console:user:ops',
    allowedHosts: () => defaultAllowedHosts(8787, null),
    publicUrl: null,
    now: Date.now,
    log: pino({ level: 'silent' }),
    dataDir,
  });
  const get = (path: string, headers: Record<string, string> = {}) =>
    app.request(`http://${HOST}${path}`, { headers: { host: HOST, ...headers } });
  return { app, adapter, get };
}

const bearer = { authorization: `Bearer ${TOKEN}` };

describe('the console serves digest charts', () => {
  it('to a signed-in browser or a bearer token, as a PNG', async () => {
    const c = consoleWith(dir);
    const res = await c.get('/api/digests/2026-03-23.png', bearer);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(Buffer.from(await res.arrayBuffer()).equals(PNG)).toBe(true);

    const login = await c.get(`/?token=${TOKEN}`);
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    expect((await c.get('/api/digests/2026-03-23.png', { cookie })).status).toBe(200);
  });

  it('to nobody else: no token, a wrong token or a foreign Host get nothing', async () => {
    const c = consoleWith(dir);
    const none = await c.get('/api/digests/2026-03-23.png');
    expect(none.status).toBe(401);
    expect(none.headers.get('content-type')).toContain('application/json');
    expect((await c.get('/api/digests/2026-03-23.png', { authorization: 'Bearer wrong' })).status).toBe(401);
    const foreign = await c.app.request('http://evil.example:8787/api/digests/2026-03-23.png', {
      headers: { host: 'evil.example:8787', ...bearer },
    });
    expect(foreign.status).toBe(403);
  });

  it('only files named like a chart, only from digests/: no way out of the folder', async () => {
    const c = consoleWith(dir);
    symlinkSync(join(dir, 'secret.png'), join(dir, 'digests', '2026-01-05.png'));
    for (const path of [
      '/api/digests/console-token',
      '/api/digests/..%2Fconsole-token',
      '/api/digests/%2e%2e%2fsecret.png',
      '/api/digests/..%2Fsecret.png',
      '/api/digests/2026-03-23.png.bak',
      '/api/digests/2026-03-30.png', // not drawn
      '/api/digests/2026-01-05.png', // a link to a file outside digests/
    ]) {
      const res = await c.get(path, bearer);
      expect(res.status, path).toBe(404);
      const text = await res.text();
      expect(text, path).not.toContain('not for the browser');
      expect(text, path).not.toContain(TOKEN);
    }
    const traversal = await c.get('/api/digests/../console-token', bearer);
    expect(traversal.status).not.toBe(200);
    expect(await traversal.text()).not.toContain(TOKEN);
  });

  it('without a data folder, there is no chart to serve', async () => {
    const c = consoleWith(null);
    const res = await c.get('/api/digests/2026-03-23.png', bearer);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({
      error: expect.stringContaining('named like 2026-03-23.png'),
      code: 'HTTP_NOT_FOUND',
    });
  });
});
