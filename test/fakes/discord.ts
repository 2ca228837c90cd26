/**
 * A local stand-in for Discord: the REST API (the routes the adapter uses) and a small gateway
 * (HELLO, heartbeat ACK, READY, RESUMED, then dispatches the test pushes). A real discord.js
 * Client logs in to it with `rest: { api: fake.apiUrl }`.
 *
 *   const discord = await startFakeDiscord();
 *   discord.dispatch('INTERACTION_CREATE', slashCommand('status'));
 *   discord.failNext({ status: 429, retryAfter: 1.5 });   // next REST call answers 429
 *   discord.drop();                                        // the gateway drops every socket
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type WebSocket, WebSocketServer } from 'ws';

export interface RestCall {
  readonly method: string;
  readonly path: string;
  readonly body: unknown;
  readonly contentType: string;
  /** Files of a multipart request (attachments), by their file name. */
  readonly files: readonly { readonly name: string; readonly data: Buffer }[];
  /** The message the fake answered a message post or edit with (its `id` is the ref edits name). */
  result?: Record<string, unknown>;
}

export interface ScriptedFailure {
  readonly status: number;
  /** Discord JSON error code (10003 Unknown Channel, ...). */
  readonly code?: number;
  /** Seconds (429). */
  readonly retryAfter?: number;
}

export const BOT_USER_ID = '900000000000000001';
export const APPLICATION_ID = '900000000000000002';
export const GUILD_ID = '900000000000000003';

export interface FakeDiscord {
  readonly apiUrl: string;
  readonly calls: RestCall[];
  readonly identifies: number;
  readonly resumes: number;
  readonly connections: number;
  dispatch(type: string, data: unknown): void;
  failNext(failure: ScriptedFailure): void;
  /** Closes every gateway socket abruptly (as a network drop); the next HELLO waits `helloDelayMs`. */
  drop(helloDelayMs?: number): void;
  /** Resolves when `predicate` holds on the REST calls (polls; short timeout). */
  waitFor(predicate: (calls: readonly RestCall[]) => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startFakeDiscord(): Promise<FakeDiscord> {
  const calls: RestCall[] = [];
  const failures: ScriptedFailure[] = [];
  const sockets = new Set<WebSocket>();
  const threads = new Set<string>();
  let seq = 0;
  let nextId = 1_000_000_000_000_000n;
  const counts = { identifies: 0, resumes: 0, connections: 0 };
  let base = '';
  let helloDelayMs = 0;

  const server: Server = createServer((req, res) => {
    void readBody(req).then(({ body, contentType, files }) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const path = url.pathname.replace(/^\/api\/v10/, '');
      const method = req.method ?? 'GET';
      const json = (status: number, data: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(JSON.stringify(data));
      };
      if (path === '/gateway/bot') {
        json(200, {
          url: base.replace('http', 'ws'),
          shards: 1,
          session_start_limit: { total: 1000, remaining: 1000, reset_after: 0, max_concurrency: 1 },
        });
        return;
      }
      const call: RestCall = { method, path, body, contentType, files };
      calls.push(call);
      const failure = failures.shift();
      if (failure) {
        const headers: Record<string, string> = {};
        if (failure.retryAfter !== undefined) {
          headers['retry-after'] = String(failure.retryAfter);
          headers['x-ratelimit-scope'] = 'user';
        }
        json(
          failure.status,
          failure.status === 429
            ? { message: 'You are being rate limited.', retry_after: failure.retryAfter ?? 1, global: false }
            : { message: failure.code === 10003 ? 'Unknown Channel' : 'error', code: failure.code ?? 0 },
          headers,
        );
        return;
      }
      if (/^\/interactions\/\d+\/[^/]+\/callback$/.test(path)) {
        res.writeHead(204);
        res.end();
        return;
      }
      // A thread started from a message has the message's id; Discord refuses a second one.
      const startThread = /^\/channels\/(\d+)\/messages\/(\d+)\/threads$/.exec(path);
      if (startThread && method === 'POST') {
        const id = startThread[2] ?? '';
        if (threads.has(id)) {
          json(400, { message: 'A thread has already been created for this message', code: 160004 });
          return;
        }
        threads.add(id);
        json(201, { id, type: 11, parent_id: startThread[1], name: (body as { name?: string })?.name });
        return;
      }
      const channelMessages = /^\/channels\/(\d+)\/messages(?:\/(\d+))?$/.exec(path);
      if (channelMessages) {
        const id = channelMessages[2] ?? String(nextId++);
        call.result = message(id, channelMessages[1] ?? '', body);
        json(200, call.result);
        return;
      }
      if (/^\/webhooks\/\d+\/[^/]+\/messages\/(?:@|%40)original$/.test(path)) {
        json(200, message(String(nextId++), '1', body));
        return;
      }
      if (path === '/applications/@me') {
        json(200, { id: APPLICATION_ID, name: 'autonomy', flags: 0 });
        return;
      }
      if (/^\/applications\/\d+(\/guilds\/\d+)?\/commands$/.test(path)) {
        json(200, body);
        return;
      }
      json(404, { message: `fake Discord has no route ${method} ${path}`, code: 0 });
    });
  });
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    wss.handleUpgrade(req, socket, head, (ws) => {
      counts.connections++;
      sockets.add(ws);
      ws.on('close', () => sockets.delete(ws));
      const send = (payload: unknown) => ws.send(JSON.stringify(payload));
      const hello = setTimeout(() => send({ op: 10, d: { heartbeat_interval: 30_000 } }), helloDelayMs);
      helloDelayMs = 0;
      ws.on('close', () => clearTimeout(hello));
      ws.on('message', (raw) => {
        const packet = JSON.parse(String(raw)) as { op: number };
        if (packet.op === 1) send({ op: 11 });
        if (packet.op === 2) {
          counts.identifies++;
          send({
            op: 0,
            t: 'READY',
            s: ++seq,
            d: {
              v: 10,
              user: { id: BOT_USER_ID, username: 'autonomy', discriminator: '0', bot: true, avatar: null },
              guilds: [],
              session_id: 'fake-session',
              resume_gateway_url: base.replace('http', 'ws'),
              shard: [0, 1],
              application: { id: APPLICATION_ID, flags: 0 },
            },
          });
        }
        if (packet.op === 6) {
          counts.resumes++;
          send({ op: 0, t: 'RESUMED', s: ++seq, d: {} });
        }
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    apiUrl: `${base}/api`,
    calls,
    get identifies() {
      return counts.identifies;
    },
    get resumes() {
      return counts.resumes;
    },
    get connections() {
      return counts.connections;
    },
    dispatch(type, data) {
      for (const ws of sockets) ws.send(JSON.stringify({ op: 0, t: type, s: ++seq, d: data }));
    },
    failNext(failure) {
      failures.push(failure);
    },
    drop(delayMs = 0) {
      helloDelayMs = delayMs;
      for (const ws of sockets) ws.terminate();
    },
    async waitFor(predicate, timeoutMs = 3000) {
      const until = Date.now() + timeoutMs;
      while (!predicate(calls)) {
        if (Date.now() > until) throw new Error(`fake Discord: timed out; calls: ${JSON.stringify(calls)}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    async close() {
      for (const ws of sockets) ws.terminate();
      wss.close();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

function message(id: string, channelId: string, body: unknown): Record<string, unknown> {
  return {
    id,
    channel_id: channelId,
    type: 0,
    content: '',
    author: { id: BOT_USER_ID, username: 'autonomy', discriminator: '0', bot: true, avatar: null },
    timestamp: '2026-11-24T00:00:00.000Z',
    edited_timestamp: null,
    tts: false,
    mention_everyone: false,
    mentions: [],
    mention_roles: [],
    attachments: [],
    embeds: [],
    components: [],
    pinned: false,
    flags: 0,
    ...(body !== null && typeof body === 'object' ? body : {}),
  };
}

async function readBody(
  req: IncomingMessage,
): Promise<{ body: unknown; contentType: string; files: { name: string; data: Buffer }[] }> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const raw = Buffer.concat(chunks);
  const text = raw.toString('utf8');
  const contentType = req.headers['content-type'] ?? '';
  if (text === '') return { body: null, contentType, files: [] };
  if (contentType.startsWith('multipart/form-data')) {
    const json = /name="payload_json"[^\r\n]*\r\n(?:[^\r\n]+\r\n)*\r\n([\s\S]*?)\r\n--/.exec(text);
    // The attachments, byte for byte (the fetch API's own multipart parser).
    const form = await new Response(raw, { headers: { 'content-type': contentType } }).formData();
    const files: { name: string; data: Buffer }[] = [];
    for (const [, value] of form) {
      if (typeof value !== 'string')
        files.push({ name: value.name, data: Buffer.from(await value.arrayBuffer()) });
    }
    return { body: json?.[1] ? JSON.parse(json[1]) : null, contentType, files };
  }
  return { body: JSON.parse(text), contentType, files: [] };
}

interface Member {
  readonly userId: string;
  readonly roles?: readonly string[];
}

function interactionBase(id: string, member: Member, channelId: string) {
  return {
    id,
    application_id: APPLICATION_ID,
    token: `token-${id}`,
    version: 1,
    guild_id: GUILD_ID,
    channel_id: channelId,
    channel: { id: channelId, type: 0, name: 'ops', guild_id: GUILD_ID, nsfw: false, position: 0 },
    app_permissions: '0',
    locale: 'en-US',
    guild_locale: 'en-US',
    entitlements: [],
    authorizing_integration_owners: { '0': GUILD_ID },
    context: 0,
    member: {
      user: { id: member.userId, username: `user${member.userId}`, discriminator: '0', avatar: null },
      roles: member.roles ?? [],
      permissions: '0',
      joined_at: '2026-01-01T00:00:00.000Z',
      deaf: false,
      mute: false,
      flags: 0,
    },
  };
}

/** INTERACTION_CREATE data for `/autonomy <verb> [options]`. */
export function slashCommand(
  id: string,
  verb: string,
  options: Record<string, string | number>,
  member: Member,
  channelId = '500',
) {
  return {
    ...interactionBase(id, member, channelId),
    type: 2,
    data: {
      id: '700',
      name: 'autonomy',
      type: 1,
      options: [
        {
          type: 1,
          name: verb,
          options: Object.entries(options).map(([name, value]) => ({
            name,
            type: typeof value === 'number' ? 4 : 3,
            value,
          })),
        },
      ],
    },
  };
}

/** INTERACTION_CREATE data for a click on a button with `customId`. */
export function buttonClick(id: string, customId: string, member: Member, channelId = '500') {
  return {
    ...interactionBase(id, member, channelId),
    type: 3,
    message: message('800', channelId, {}),
    data: { custom_id: customId, component_type: 2 },
  };
}

/** INTERACTION_CREATE data for a submitted modal (the deny reason). */
export function modalSubmit(id: string, customId: string, reason: string, member: Member, channelId = '500') {
  return {
    ...interactionBase(id, member, channelId),
    type: 5,
    data: {
      custom_id: customId,
      components: [{ type: 1, components: [{ type: 4, custom_id: 'reason', value: reason }] }],
    },
  };
}

/** A sample of options for each /autonomy subcommand (what a person would pick in Discord). */
export const VERB_OPTION_SAMPLES: Readonly<Record<string, Record<string, string | number>>> = {
  help: { topic: 'kill' },
  kill: { agent: 'guardian', reason: 'flapping deploys' },
  resume: { agent: 'guardian', reason: 'fixed in #123' },
  budget: { agent: 'mentor', tokens: 50000 },
  approve: { id: 'a12' },
  deny: { id: 'a12', reason: 'not during the sale' },
  ack: { id: 'i7' },
  resolve: { id: 'i7', note: 'rolled back' },
  mute: { kind: 'service', name: 'web', duration: '2h', reason: 'deploy window' },
  unmute: { kind: 'service', name: 'web' },
  phase: { phase: 2, agent: 'builder', reason: 'weekly review' },
  audit: { run: 'run_1' },
};
