/**
 * A local fake of Slack's Web API (and of response_url), for a real Bolt app / WebClient to call
 * through `clientOptions.slackApiUrl`. Records every call; can be scripted to fail:
 *
 *   const api = await startFakeSlackApi();
 *   api.fail('chat.postMessage', { status: 429, retryAfter: 2 }, 3);  // next 3 calls: 429 Retry-After 2
 *   api.fail('chat.postMessage', { status: 500 });                  // next call: HTTP 500
 *   api.fail('chat.update', { error: 'message_not_found' });          // next call: ok:false
 *   api.groups.set('S1', ['U1']);                                    // usergroups.users.list
 *   api.socketUrl = 'ws://127.0.0.1:1234';                           // apps.connections.open
 *   api.url            // http://127.0.0.1:PORT/api/
 *   api.responseUrl()  // a fresh response_url; api.responses holds what was sent to it
 */
import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeSlackCall {
  readonly method: string;
  readonly args: Record<string, unknown>;
  readonly token: string | null;
  /** What the fake answered (a post's `ts` is the ref later updates name); unset for scripted failures. */
  result?: Record<string, unknown>;
}

export type FakeFailure =
  | { readonly status: 429; readonly retryAfter: number }
  | { readonly status: 500 | 502 | 503 }
  | { readonly error: string };

export interface FakeSlackApi {
  readonly url: string;
  readonly calls: FakeSlackCall[];
  readonly responses: { readonly path: string; readonly body: Record<string, unknown> }[];
  /** What was uploaded to an upload_url (files upload v2): the raw request body, its size and type. */
  readonly uploads: {
    readonly path: string;
    readonly bytes: number;
    readonly data: Buffer;
    readonly type: string;
  }[];
  readonly groups: Map<string, string[]>;
  socketUrl: string | null;
  fail(method: string, failure: FakeFailure, times?: number): void;
  callsTo(method: string): FakeSlackCall[];
  responseUrl(): string;
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function parseArgs(text: string, contentType: string): Record<string, unknown> {
  if (contentType.includes('application/json')) return JSON.parse(text || '{}') as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [k, v] of new URLSearchParams(text)) {
    out[k] = v.startsWith('[') || v.startsWith('{') ? safeJson(v) : v;
  }
  return out;
}

function safeJson(v: string): unknown {
  try {
    return JSON.parse(v);
  } catch {
    return v;
  }
}

export async function startFakeSlackApi(): Promise<FakeSlackApi> {
  const calls: FakeSlackCall[] = [];
  const responses: { path: string; body: Record<string, unknown> }[] = [];
  const failures: { method: string; failure: FakeFailure }[] = [];
  const groups = new Map<string, string[]>();
  const uploads: FakeSlackApi['uploads'][number][] = [];
  let base = '';
  let ts = 1_700_000_000;
  let responseCount = 0;
  let view = 0;

  const answer = (method: string, args: Record<string, unknown>): Record<string, unknown> => {
    switch (method) {
      case 'chat.postMessage':
        ts += 1;
        return { ok: true, channel: args.channel, ts: `${ts}.000100` };
      case 'chat.update':
        return { ok: true, channel: args.channel, ts: args.ts };
      case 'chat.postEphemeral':
        return { ok: true, message_ts: `${ts}.000200` };
      case 'views.open':
        view += 1;
        return { ok: true, view: { id: `V${view}` } };
      case 'usergroups.users.list':
        return groups.has(String(args.usergroup))
          ? { ok: true, users: groups.get(String(args.usergroup)) }
          : { ok: false, error: 'no_such_subteam' };
      case 'apps.connections.open':
        return api.socketUrl ? { ok: true, url: api.socketUrl } : { ok: false, error: 'invalid_auth' };
      case 'files.getUploadURLExternal':
        return { ok: true, upload_url: `${base}/upload/F${calls.length}`, file_id: `F${calls.length}` };
      case 'files.completeUploadExternal':
        return { ok: true, files: args.files };
      case 'auth.test':
        return { ok: true, user_id: 'UBOT', bot_id: 'BBOT', team_id: 'T1' };
      default:
        return { ok: false, error: 'unknown_method' };
    }
  };

  const server: Server = createServer((req, res) => {
    void (async () => {
      const raw = await readBody(req);
      const text = raw.toString('utf8');
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      if (path.startsWith('/upload/')) {
        uploads.push({ path, bytes: raw.length, data: raw, type: req.headers['content-type'] ?? '' });
        res.writeHead(200, { 'content-type': 'text/plain' }).end('OK');
        return;
      }
      if (path.startsWith('/respond/')) {
        responses.push({ path, body: parseArgs(text, 'application/json') });
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
        return;
      }
      const method = path.replace(/^\/api\//, '');
      const args = parseArgs(text, req.headers['content-type'] ?? '');
      const auth = req.headers.authorization;
      const call: FakeSlackCall = { method, args, token: auth?.replace(/^Bearer /, '') ?? null };
      calls.push(call);
      const i = failures.findIndex((f) => f.method === method);
      const failure = i >= 0 ? failures.splice(i, 1)[0]?.failure : undefined;
      if (failure) {
        if ('status' in failure) {
          const headers: Record<string, string> = { 'content-type': 'application/json' };
          if (failure.status === 429) headers['retry-after'] = String(failure.retryAfter);
          res.writeHead(failure.status, headers).end(JSON.stringify({ ok: false, error: 'ratelimited' }));
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ok: false, error: failure.error }));
        return;
      }
      call.result = answer(method, args);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(call.result));
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  base = `http://127.0.0.1:${port}`;

  const api: FakeSlackApi = {
    url: `${base}/api/`,
    calls,
    responses,
    uploads,
    groups,
    socketUrl: null,
    fail(method, failure, times = 1) {
      for (let n = 0; n < times; n++) failures.push({ method, failure });
    },
    callsTo: (method) => calls.filter((c) => c.method === method),
    responseUrl: () => `${base}/respond/${++responseCount}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  return api;
}

/** Headers for a request signed as Slack signs them (v0 HMAC-SHA256 of `v0:<ts>:<body>`). */
export function slackSignedHeaders(body: string, secret: string, tsSeconds: number): Record<string, string> {
  const sig = `v0=${createHmac('sha256', secret).update(`v0:${tsSeconds}:${body}`).digest('hex')}`;
  return {
    'content-type': 'application/x-www-form-urlencoded',
    'x-slack-request-timestamp': String(tsSeconds),
    'x-slack-signature': sig,
  };
}
