import { describe, expect, it } from 'vitest';
import {
  defaultAllowedHosts,
  hostRefusal,
  originRefusal,
  tokenMatches,
} from '../../../adapters/console/auth.js';
import { type ChatMessage, message } from '../../../src/chat/message.js';
import {
  approvalMessage,
  ORIGIN,
  PUBLIC_URL,
  consoleApp as setup,
  TOKEN,
} from '../../helpers/console-app.js';

describe('console access', () => {
  it('without a token shows a short screen that says how to get in, and API calls get 401 JSON', async () => {
    const s = setup();
    const page = await s.request('/');
    expect(page.status).toBe(401);
    expect(await page.text()).toContain('Open the URL that autonomy printed at start');
    const api = await s.request('/api/messages');
    expect(api.status).toBe(401);
    expect(await api.json()).toEqual({
      error: expect.stringContaining('Authorization: Bearer'),
      code: 'HTTP_UNAUTHORIZED',
    });
  });

  it('trades the token in the URL for a session cookie and a 303 that takes the token out of the address bar', async () => {
    const s = setup();
    const { res, cookie } = await s.login();
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/');
    const setCookie = res.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Strict/);
    expect(setCookie).toMatch(/Path=\//);
    expect(setCookie).not.toContain(TOKEN);
    expect(cookie).toMatch(/^autonomy_console=[A-Za-z0-9_-]{40,}$/);

    const page = await s.request('/', { headers: { cookie } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(await page.text()).toContain('<form id="command-form"');
    // The log says a browser signed in, never with the token.
    expect(JSON.stringify(s.sink.records)).not.toContain(TOKEN);
    expect(s.sink.messages()).toContain('console: signed in a browser with the console token');
  });

  it('a message link with the token redirects to the same message without it', async () => {
    const s = setup();
    const res = await s.request(`/messages/msg_1?token=${TOKEN}`);
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/messages/msg_1');
  });

  it('refuses a wrong token with 401 and sets no cookie', async () => {
    const s = setup();
    const res = await s.request('/?token=nope');
    expect(res.status).toBe(401);
    expect(res.headers.get('set-cookie')).toBeNull();
    expect(await res.text()).toContain('That token is not the console token');
    const api = await s.request('/api/messages', { headers: { authorization: 'Bearer nope' } });
    expect(api.status).toBe(401);
    expect(tokenMatches('nope', TOKEN)).toBe(false);
    expect(tokenMatches(TOKEN, TOKEN)).toBe(true);
    expect(tokenMatches('', '')).toBe(false);
  });

  it('accepts the bearer token on pages and API calls', async () => {
    const s = setup();
    expect((await s.request('/', { headers: s.bearer })).status).toBe(200);
    expect((await s.request('/api/messages', { headers: s.bearer })).status).toBe(200);
  });

  it('ends a session when it expires', async () => {
    const s = setup();
    const { cookie } = await s.login();
    expect((await s.request('/api/messages', { headers: { cookie } })).status).toBe(200);
    s.advance(s.sessions.ttlMs + 1);
    expect((await s.request('/api/messages', { headers: { cookie } })).status).toBe(401);
  });

  it('refuses cookie POSTs from another Origin or without one, and runs nothing', async () => {
    const s = setup();
    const { cookie } = await s.login();
    const foreign = await s.post(
      '/api/commands',
      { text: 'kill all' },
      { cookie, origin: 'https://evil.example' },
    );
    expect(foreign.status).toBe(403);
    const refusal = (await foreign.json()) as { error: string; code: string };
    expect(refusal.error).toContain('Origin "https://evil.example"');
    expect(refusal.code).toBe('HTTP_FORBIDDEN');
    const missing = await s.post('/api/commands', { text: 'kill all' }, { cookie });
    expect(missing.status).toBe(403);
    expect(((await missing.json()) as { error: string }).error).toContain('no Origin header');
    const nullOrigin = await s.post('/api/commands', { text: 'kill all' }, { cookie, origin: 'null' });
    expect(nullOrigin.status).toBe(403);
    expect(s.commands).toEqual([]);

    const same = await s.post('/api/commands', { text: 'status' }, { cookie, origin: ORIGIN });
    expect(same.status).toBe(200);
    expect(s.commands).toHaveLength(1);
  });

  it('lets bearer scripts POST without Origin, but not from a foreign one', async () => {
    const s = setup();
    expect((await s.post('/api/commands', { text: 'status' })).status).toBe(200);
    const foreign = await s.post(
      '/api/commands',
      { text: 'status' },
      { ...s.bearer, origin: 'http://evil.test' },
    );
    expect(foreign.status).toBe(403);
    expect(s.commands).toHaveLength(1);
  });

  it('refuses a Host it does not answer to (DNS rebinding), even with the token', async () => {
    const s = setup();
    const post = await s.post('/api/commands', { text: 'kill all' }, { ...s.bearer, host: 'evil.test:8787' });
    expect(post.status).toBe(403);
    expect(((await post.json()) as { error: string }).error).toContain('AUTONOMY_PUBLIC_URL');
    const page = await s.request(`/?token=${TOKEN}`, { headers: { host: 'attacker.example' } });
    expect(page.status).toBe(403);
    expect(page.headers.get('set-cookie')).toBeNull();
    expect(s.sink.messages().filter((m) => m === 'console: request refused')).toHaveLength(2);
    expect(JSON.stringify(s.sink.records)).not.toContain(TOKEN);
    expect(s.commands).toEqual([]);
    // The public URL's host and origin are fine (behind a reverse proxy).
    const proxied = await s.post(
      '/api/commands',
      { text: 'status' },
      { ...s.bearer, host: 'bot.example.com', origin: PUBLIC_URL },
    );
    expect(proxied.status).toBe(200);
  });

  it('checks hosts and origins case-insensitively and knows loopback in all its spellings', () => {
    const allowed = defaultAllowedHosts(8787, null);
    expect(allowed).toEqual(['127.0.0.1:8787', 'localhost:8787', '[::1]:8787']);
    expect(hostRefusal('LOCALHOST:8787', allowed)).toBeNull();
    expect(hostRefusal('localhost:8788', allowed)).toContain('not one this console answers to');
    expect(hostRefusal(undefined, allowed)).toBe('the request has no Host header');
    expect(originRefusal('http://[::1]:8787', '[::1]:8787', null, 'cookie')).toBeNull();
    expect(originRefusal('file://x', 'localhost:8787', null, 'bearer')).toContain('is not this console');
  });
});

describe('console JSON API', () => {
  it('POST /api/commands runs the command as the console user and answers {reply}', async () => {
    const s = setup();
    const res = await s.post('/api/commands', { text: '/autonomy kill guardian flapping' });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { reply: ChatMessage };
    expect(body.reply).toMatchObject({ kind: 'reply', title: 'ran: kill guardian flapping' });
    expect(s.commands).toEqual([
      {
        platform: 'console',
        actor: 'console:user:ops',
        channel: 'console:main',
        text: 'kill guardian flapping',
      },
    ]);
    await s.post('/api/commands', { text: 'status', channel: 'console:ops' });
    expect(s.commands[1]).toMatchObject({ text: 'status', channel: 'console:ops' });
  });

  it('answers bad bodies with 400 and a reason, oversized ones with 413, and runs nothing', async () => {
    const s = setup();
    const bad = await s.post('/api/commands', '{"text": ');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({
      error: expect.stringMatching(/^the body is not valid JSON: /),
      code: 'HTTP_BAD_REQUEST',
    });
    const wrong = await s.post('/api/commands', { txt: 'status' });
    expect(wrong.status).toBe(400);
    const reason = ((await wrong.json()) as { error: string }).error;
    expect(reason).toContain('text');
    expect(reason).toContain('txt');
    const channel = await s.post('/api/commands', { text: 'status', channel: 'slack:C123' });
    expect(channel.status).toBe(400);
    expect(((await channel.json()) as { error: string }).error).toContain('channel: a console channel');
    const big = await s.post('/api/commands', { text: 'x'.repeat(70 * 1024) });
    expect(big.status).toBe(413);
    expect(await big.json()).toEqual({
      error: 'the body is larger than 65536 bytes',
      code: 'HTTP_TOO_LARGE',
    });
    expect(s.commands).toEqual([]);
  });

  it('answers 500 with a short error when the core fails, and logs the cause', async () => {
    const s = setup({ failInbound: true });
    const res = await s.post('/api/commands', { text: 'status' });
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({
      error: "the bot could not handle this command (internal error; see the bot's log)",
      code: 'HTTP_INTERNAL',
    });
    expect(JSON.stringify(s.sink.records)).toContain('database is locked');
  });

  it('GET /api/messages lists the feed, and after=cursor returns only what changed since', async () => {
    const s = setup();
    const a = await s.adapter.post('console:main', message({ kind: 'notice', title: 'first' }));
    await s.adapter.post('console:ops', message({ kind: 'alert', title: 'second', severity: 'critical' }));
    const res = await s.request('/api/messages', { headers: s.bearer });
    const all = (await res.json()) as { messages: { id: string; message: ChatMessage }[]; cursor: number };
    expect(all.messages.map((m) => m.message.title)).toEqual(['first', 'second']);
    expect(all.messages[0]).toEqual({
      id: a.ref,
      channel: 'console:main',
      message: expect.objectContaining({ kind: 'notice', title: 'first', body: '' }),
      postedAt: Date.UTC(2026, 0, 5, 9, 0, 0),
      updatedAt: Date.UTC(2026, 0, 5, 9, 0, 0),
      seq: 1,
    });
    s.advance(1000);
    await s.adapter.update('console:main', a.ref, message({ kind: 'notice', title: 'first, edited' }));
    const since = await (await s.request(`/api/messages?after=${all.cursor}`, { headers: s.bearer })).json();
    expect(since).toMatchObject({
      messages: [{ id: a.ref, message: { title: 'first, edited' } }],
      cursor: 3,
    });
    const ops = await (await s.request('/api/messages?channel=console:ops', { headers: s.bearer })).json();
    expect((ops as { messages: unknown[] }).messages).toHaveLength(1);
    const bad = await s.request('/api/messages?after=soon', { headers: s.bearer });
    expect(bad.status).toBe(400);
    const one = await s.request(`/api/messages/${a.ref}`, { headers: s.bearer });
    expect(await one.json()).toMatchObject({
      message: { id: a.ref, updatedAt: Date.UTC(2026, 0, 5, 9, 0, 1) },
    });
    expect((await s.request('/api/messages/msg_99', { headers: s.bearer })).status).toBe(404);
  });

  it('approve and deny use the nonce of the message that carries the buttons', async () => {
    const s = setup();
    await s.adapter.post('console:approvals', approvalMessage('a12', 'nonce-a12-xyz'));
    const approve = await s.post('/api/approvals/a12/approve', {});
    expect(approve.status).toBe(200);
    expect(await approve.json()).toEqual({ reply: expect.objectContaining({ title: 'approve a12' }) });
    const deny = await s.post('/api/approvals/a12/deny', { reason: 'not during\nthe sale' });
    expect(deny.status).toBe(200);
    expect(s.clicks).toEqual([
      {
        platform: 'console',
        actor: 'console:user:ops',
        channel: 'console:approvals',
        action: 'approve',
        target: 'a12',
        nonce: 'nonce-a12-xyz',
      },
      {
        platform: 'console',
        actor: 'console:user:ops',
        channel: 'console:approvals',
        action: 'deny',
        target: 'a12',
        nonce: 'nonce-a12-xyz',
        reason: 'not during the sale',
      },
    ]);
  });

  it('decides through the typed command when no console message carries the buttons', async () => {
    const s = setup();
    await s.post('/api/approvals/a7/deny', { reason: 'wrong host' });
    expect(s.clicks).toEqual([]);
    expect(s.commands).toEqual([
      expect.objectContaining({ text: 'deny a7 wrong host', actor: 'console:user:ops' }),
    ]);
    expect((await s.post('/api/approvals/i7/approve', {})).status).toBe(400);
    expect((await s.post('/api/approvals/a7/maybe', {})).status).toBe(404);
  });

  it('POST /api/clicks hands the click to the core as it came', async () => {
    const s = setup();
    const res = await s.post('/api/clicks', {
      target: 'a3',
      action: 'grant',
      nonce: 'n0nce-123',
      hours: 4,
      channel: 'console:ops',
    });
    expect(res.status).toBe(200);
    expect(s.clicks).toEqual([
      {
        platform: 'console',
        actor: 'console:user:ops',
        channel: 'console:ops',
        action: 'grant',
        target: 'a3',
        nonce: 'n0nce-123',
        hours: 4,
      },
    ]);
    const bad = await s.post('/api/clicks', { target: 'a3', action: 'explode', nonce: 'n0nce-123' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toContain('action');
  });
});
