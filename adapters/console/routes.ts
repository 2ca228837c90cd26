/**
 * The console's HTTP routes on the bot's one server: the page, one page per message, and the small
 * JSON API the page and scripts use. Transport only: commands and clicks go to the core's
 * ChatInbound acting as the policy's console user; the feed comes from the ConsoleAdapter; digest
 * charts come from the data folder's digests/.
 */
import { readFile, realpath } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Context, Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { getCookie, setCookie } from 'hono/cookie';
import { streamSSE } from 'hono/streaming';
import { z } from 'zod';
import type { ChatInbound } from '../../src/chat/adapter.js';
import { BUTTON_ACTIONS, type ChatMessage, SHORT_ID } from '../../src/chat/message.js';
import { CHART_NAME, DIGEST_DIR } from '../../src/metrics/digest.js';
import type { Clock } from '../../src/process/ids.js';
import type { Logger } from '../../src/process/log.js';
import { errorBody } from '../http/error-body.js';
import {
  bearerToken,
  ConsoleSessions,
  hostRefusal,
  originRefusal,
  SESSION_COOKIE,
  tokenMatches,
} from './auth.js';
import type { ConsoleAdapter, FeedEvent } from './console-adapter.js';
import { feedPage, messagePage, type NoticeKind, noticePage, pageHeaders } from './page.js';

export interface ConsoleDeps {
  readonly adapter: ConsoleAdapter;
  readonly inbound: ChatInbound;
  /** The console token (AUTONOMY_CONSOLE_TOKEN or the data folder's console-token). */
  readonly token: string;
  /** Who the console acts as: the policy's `control.consoleUser`. */
  readonly consoleUser: () => string;
  /** Hosts the console answers to (see defaultAllowedHosts). */
  readonly allowedHosts: () => readonly string[];
  readonly publicUrl: string | null;
  readonly now: Clock;
  readonly log: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** Comment line sent on idle streams, so proxies keep them open. Default 15 s. */
  readonly heartbeatMs?: number;
  /** How often the page polls for changes while its live stream is down. Default 5 s. */
  readonly pollMs?: number;
  /** The data folder: digest charts are served from its `digests/` folder (nothing else). */
  readonly dataDir?: string | null;
}

export const MAX_BODY_BYTES = 64 * 1024;
export const DEFAULT_CHANNEL = 'console:main';
const STREAM_RETRY_MS = 3000;
/** Writes a slow viewer may owe before its stream is closed (it reconnects and catches up). */
const MAX_PENDING_WRITES = 1000;
const MESSAGE_ID = /^[A-Za-z0-9_-]{1,100}$/;
const APPROVAL_ID = /^a[1-9][0-9]{0,8}$/;

const consoleChannel = z
  .string()
  .regex(/^console:[A-Za-z0-9._-]{1,64}$/, 'a console channel like console:main');
const commandBody = z.strictObject({
  text: z.string().trim().min(1, 'the command is empty; try "status" or "help"').max(2000),
  channel: consoleChannel.optional(),
});
const clickBody = z.strictObject({
  target: z.string().regex(SHORT_ID, 'a short id like a12 or i7'),
  action: z.enum(BUTTON_ACTIONS),
  nonce: z.string().min(8).max(64),
  reason: z.string().max(500).optional(),
  hours: z.int().min(1).max(168).optional(),
  channel: consoleChannel.optional(),
});
const decideBody = z.strictObject({
  reason: z.string().max(500).optional(),
  nonce: z.string().min(8).max(64).optional(),
  channel: consoleChannel.optional(),
});
const feedQuery = z.strictObject({
  channel: consoleChannel.optional(),
  after: z.coerce.number().int('a whole number (a cursor from an earlier answer)').min(0).optional(),
});

type Auth = 'bearer' | 'cookie';
const JSON_HEADERS = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' };

/** The chart's bytes when `name` is a chart name and the file really is inside `<dataDir>/digests/`. */
async function readChart(dataDir: string, name: string): Promise<Buffer | null> {
  if (!CHART_NAME.test(name)) return null;
  try {
    const dir = await realpath(join(dataDir, DIGEST_DIR));
    const file = await realpath(join(dir, name));
    if (dirname(file) !== dir) return null; // a symlink out of the folder
    return await readFile(file);
  } catch {
    return null;
  }
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message))
    .join('; ');
}

/** Mounts the console on the bot's server. Returns the session store (for tests and shutdown). */
export function mountConsole(app: Hono, deps: ConsoleDeps): { readonly sessions: ConsoleSessions } {
  const sessions = new ConsoleSessions({ now: deps.now });
  const { adapter, inbound, log } = deps;
  const heartbeatMs = deps.heartbeatMs ?? 15_000;
  const pageOptions = { pollMs: deps.pollMs ?? 5000 };
  const limit = bodyLimit({
    maxSize: MAX_BODY_BYTES,
    onError: (c) =>
      c.json(errorBody(413, `the body is larger than ${MAX_BODY_BYTES} bytes`), 413, JSON_HEADERS),
  });

  const requestHost = (c: Context) => c.req.header('host') ?? new URL(c.req.url).host;
  const authOf = (c: Context): Auth | null => {
    const bearer = bearerToken(c.req.header('authorization'));
    if (bearer !== null) return tokenMatches(bearer, deps.token) ? 'bearer' : null;
    return sessions.valid(getCookie(c, SESSION_COOKIE)) ? 'cookie' : null;
  };
  const jsonError = (c: Context, status: 400 | 401 | 403 | 404 | 500, error: string) =>
    c.json(errorBody(status, error), status, JSON_HEADERS);
  /** A refused Host or Origin is worth a log line: it is an attack, or a proxy set up without AUTONOMY_PUBLIC_URL. */
  const refused = (c: Context, reason: string) => {
    log.warn({ method: c.req.method, path: c.req.path, reason }, 'console: request refused');
    return jsonError(c, 403, reason);
  };
  const notice = (c: Context, status: 200 | 401 | 403 | 404, kind: NoticeKind, detail?: string) =>
    c.body(noticePage(kind, detail), status, pageHeaders());

  /** Host, Origin and auth for an API call; a Response when refused. */
  const guardApi = (c: Context, write: boolean): Auth | Response => {
    const host = requestHost(c);
    const badHost = hostRefusal(host, deps.allowedHosts());
    if (badHost) return refused(c, badHost);
    const origin = c.req.header('origin');
    if (write && origin !== undefined) {
      const badOrigin = originRefusal(origin, host, deps.publicUrl, 'bearer');
      if (badOrigin) return refused(c, badOrigin);
    }
    const auth = authOf(c);
    if (auth === null) {
      return jsonError(
        c,
        401,
        'not signed in: open the URL printed at start, or send Authorization: Bearer <console token>',
      );
    }
    if (write) {
      const badOrigin = originRefusal(origin, host, deps.publicUrl, auth);
      if (badOrigin) return refused(c, badOrigin);
    }
    return auth;
  };

  const readJson = async <T>(c: Context, schema: z.ZodType<T>): Promise<T | Response> => {
    const text = await c.req.text();
    let value: unknown = {};
    if (text.trim() !== '') {
      try {
        value = JSON.parse(text);
      } catch (err) {
        return jsonError(c, 400, `the body is not valid JSON: ${(err as Error).message}`);
      }
    }
    const parsed = schema.safeParse(value);
    if (!parsed.success)
      return jsonError(c, 400, `the body is not what this endpoint takes: ${describeIssues(parsed.error)}`);
    return parsed.data;
  };

  const answer = async (c: Context, what: string, run: () => Promise<ChatMessage>) => {
    try {
      return c.json({ reply: await run() }, 200, JSON_HEADERS);
    } catch (err) {
      log.error({ err, what }, 'console request failed inside the bot');
      return jsonError(c, 500, `the bot could not handle this ${what} (internal error; see the bot's log)`);
    }
  };

  // --- pages -------------------------------------------------------------------------------

  const page = (c: Context, render: () => string) => {
    const badHost = hostRefusal(requestHost(c), deps.allowedHosts());
    if (badHost) {
      log.warn({ method: c.req.method, path: c.req.path, reason: badHost }, 'console: request refused');
      return notice(c, 403, 'forbidden', badHost);
    }
    const given = c.req.query('token');
    if (given !== undefined) {
      if (!tokenMatches(given, deps.token)) {
        log.warn({ path: c.req.path }, 'console: a wrong token was presented in the URL');
        return notice(c, 401, 'wrong-token');
      }
      const secure =
        new URL(c.req.url).protocol === 'https:' || c.req.header('x-forwarded-proto') === 'https';
      setCookie(c, SESSION_COOKIE, sessions.create(), {
        httpOnly: true,
        sameSite: 'Strict',
        path: '/',
        secure,
        maxAge: Math.floor(sessions.ttlMs / 1000),
      });
      log.info({ path: c.req.path }, 'console: signed in a browser with the console token');
      // 303 to the same path without the token, so it leaves the address bar and the history.
      c.header('cache-control', 'no-store');
      c.header('referrer-policy', 'no-referrer');
      return c.redirect(c.req.path, 303);
    }
    if (authOf(c) === null) return notice(c, 401, 'signed-out');
    return c.body(render(), 200, pageHeaders());
  };

  app.get('/', (c) => page(c, () => feedPage(pageOptions)));
  app.get('/messages/:id', (c) => {
    const id = c.req.param('id');
    if (!MESSAGE_ID.test(id)) return notice(c, 404, 'not-found');
    return page(c, () => messagePage(id, pageOptions));
  });

  // --- JSON API ------------------------------------------------------------------------------

  app.get('/api/messages', (c) => {
    const auth = guardApi(c, false);
    if (auth instanceof Response) return auth;
    const q = feedQuery.safeParse(c.req.query());
    if (!q.success) return jsonError(c, 400, `bad query: ${describeIssues(q.error)}`);
    const messages = adapter.list(q.data);
    return c.json({ messages, cursor: adapter.cursor }, 200, JSON_HEADERS);
  });

  app.get('/api/messages/:id', (c) => {
    const auth = guardApi(c, false);
    if (auth instanceof Response) return auth;
    const item = adapter.get(c.req.param('id'));
    if (!item) {
      return jsonError(
        c,
        404,
        `no message ${c.req.param('id')} in the console feed (it keeps the newest ${adapter.capacity})`,
      );
    }
    return c.json({ message: item }, 200, JSON_HEADERS);
  });

  // A digest chart (`message.image.path` = digests/<Monday>.png), only from the data folder's
  // digests/ and only by its exact name pattern: nothing else in the data folder is reachable.
  app.get('/api/digests/:name', async (c) => {
    const auth = guardApi(c, false);
    if (auth instanceof Response) return auth;
    const name = c.req.param('name');
    const file = deps.dataDir ? await readChart(deps.dataDir, name) : null;
    if (file === null) {
      return jsonError(c, 404, `no digest chart "${name}" (charts are named like 2026-03-23.png)`);
    }
    return c.body(new Uint8Array(file), 200, {
      'content-type': 'image/png',
      'cache-control': 'private, max-age=300',
      'content-security-policy': "default-src 'none'",
      'x-content-type-options': 'nosniff',
    });
  });

  app.post('/api/commands', limit, async (c) => {
    const auth = guardApi(c, true);
    if (auth instanceof Response) return auth;
    const body = await readJson(c, commandBody);
    if (body instanceof Response) return body;
    const text = body.text.replace(/^\/autonomy(?:\s+|$)/i, '');
    return answer(c, 'command', () =>
      inbound.command({
        platform: 'console',
        actor: deps.consoleUser(),
        channel: body.channel ?? DEFAULT_CHANNEL,
        text,
      }),
    );
  });

  app.post('/api/clicks', limit, async (c) => {
    const auth = guardApi(c, true);
    if (auth instanceof Response) return auth;
    const body = await readJson(c, clickBody);
    if (body instanceof Response) return body;
    return answer(c, 'click', () =>
      inbound.click({
        platform: 'console',
        actor: deps.consoleUser(),
        channel: body.channel ?? DEFAULT_CHANNEL,
        action: body.action,
        target: body.target,
        nonce: body.nonce,
        ...(body.reason ? { reason: body.reason } : {}),
        ...(body.hours !== undefined ? { hours: body.hours } : {}),
      }),
    );
  });

  app.post('/api/approvals/:id/:decision', limit, async (c) => {
    const auth = guardApi(c, true);
    if (auth instanceof Response) return auth;
    const { id, decision } = c.req.param();
    if (decision !== 'approve' && decision !== 'deny') {
      return jsonError(c, 404, `unknown decision "${decision}": use /api/approvals/${id}/approve or /deny`);
    }
    if (!APPROVAL_ID.test(id)) return jsonError(c, 400, `"${id}" is not an approval id; they look like a12`);
    const body = await readJson(c, decideBody);
    if (body instanceof Response) return body;
    const found = adapter.buttonNonce(id, decision);
    const nonce = body.nonce ?? found?.nonce;
    const actor = deps.consoleUser();
    const channel = body.channel ?? found?.channel ?? DEFAULT_CHANNEL;
    const reason = body.reason?.replace(/\s+/g, ' ').trim();
    if (nonce === undefined) {
      // No console message carries this approval's buttons (it went to Slack or Discord, or left
      // the feed): decide through the typed command, which checks exactly the same things.
      const text = decision === 'approve' ? `approve ${id}` : `deny ${id}${reason ? ` ${reason}` : ''}`;
      return answer(c, 'decision', () => inbound.command({ platform: 'console', actor, channel, text }));
    }
    return answer(c, 'decision', () =>
      inbound.click({
        platform: 'console',
        actor,
        channel,
        action: decision,
        target: id,
        nonce,
        ...(reason ? { reason } : {}),
      }),
    );
  });

  app.get('/api/stream', (c) => {
    const auth = guardApi(c, false);
    if (auth instanceof Response) return auth;
    const q = feedQuery.safeParse({ channel: c.req.query('channel') });
    if (!q.success) return jsonError(c, 400, `bad query: ${describeIssues(q.error)}`);
    const channel = q.data.channel;
    const lastSeen = Number(c.req.header('last-event-id') ?? Number.NaN);
    c.header('x-accel-buffering', 'no');
    return streamSSE(c, async (stream) => {
      let finish = () => {};
      const finished = new Promise<void>((resolve) => {
        finish = resolve;
      });
      let chain = Promise.resolve();
      let pending = 0;
      const send = (text: string) => {
        if (stream.closed || stream.aborted) return finish();
        if (++pending > MAX_PENDING_WRITES) {
          stream.abort();
          return finish();
        }
        chain = chain.then(
          () => stream.write(text).then(() => void pending--),
          () => finish(),
        );
      };
      const eventText = (ev: FeedEvent) => `id: ${ev.item.seq}\ndata: ${JSON.stringify(ev)}\n\n`;
      const wanted = (ev: FeedEvent) => channel === undefined || ev.item.channel === channel;
      send(`retry: ${STREAM_RETRY_MS}\n: connected\n\n`);
      // A reconnecting EventSource says what it saw last: replay what changed since.
      if (Number.isInteger(lastSeen) && lastSeen >= 0) {
        for (const item of adapter.list({ after: lastSeen, ...(channel ? { channel } : {}) })) {
          send(eventText({ type: item.postedAt === item.updatedAt ? 'post' : 'update', item }));
        }
      }
      const unsubscribe = adapter.subscribe({
        event: (ev) => {
          if (wanted(ev)) send(eventText(ev));
        },
        close: () => finish(),
      });
      const heartbeat = setInterval(() => send(': heartbeat\n\n'), heartbeatMs);
      heartbeat.unref();
      stream.onAbort(() => finish());
      await finished;
      clearInterval(heartbeat);
      unsubscribe();
    });
  });

  return { sessions };
}
