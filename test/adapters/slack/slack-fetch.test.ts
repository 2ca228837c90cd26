/**
 * The Web API client on the adapter's `fetch` (slack-fetch.ts), against a local HTTP server: what
 * the client reads of a response arrives, an unread response (a 429) does not hold its connection,
 * and the client's timeout still ends a call Slack never answers.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ErrorCode, WebClient } from '@slack/web-api';
import { afterEach, describe, expect, it } from 'vitest';
import { slackFetch } from '../../../adapters/slack/slack-fetch.js';
import { startFakeSlackApi } from '../../fakes/slack-api.js';

interface Api {
  url: string;
  server: Server;
  bodies: string[];
  connections: number;
}

let api: Api | null = null;

async function startApi(answer: (req: IncomingMessage, res: ServerResponse) => void): Promise<Api> {
  const bodies: string[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      bodies.push(Buffer.concat(chunks).toString('utf8'));
      answer(req, res);
    });
  });
  const started: Api = { url: '', server, bodies, connections: 0 };
  server.on('connection', () => {
    started.connections++;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  started.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/`;
  api = started;
  return started;
}

afterEach(async () => {
  if (api === null) return;
  const { server } = api;
  api = null;
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const client = (url: string, timeout = 10_000) =>
  new WebClient('xoxb-test', {
    slackApiUrl: url,
    fetch: slackFetch,
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    timeout,
  });

describe("the Slack client's fetch", () => {
  it('sends the form and hands the client the answer, its headers included', async () => {
    const a = await startApi((req, res) => {
      res.writeHead(200, {
        'content-type': 'application/json; charset=utf-8',
        'x-oauth-scopes': 'chat:write, commands',
      });
      res.end(
        JSON.stringify({ ok: true, channel: 'C1', ts: '1700000000.000100', seen: req.headers.authorization }),
      );
    });
    const result = await client(a.url).chat.postMessage({
      channel: 'C1',
      text: 'Disk 91% on db-1',
      blocks: [{ type: 'section', text: { type: 'mrkdwn', text: '*Disk* 91% & rising' } }],
    });
    expect(result).toMatchObject({ ok: true, ts: '1700000000.000100', seen: 'Bearer xoxb-test' });
    expect(result.response_metadata?.scopes).toEqual(['chat:write', 'commands']);
    const form = new URLSearchParams(a.bodies[0]);
    expect(form.get('channel')).toBe('C1');
    expect(JSON.parse(form.get('blocks') ?? '[]')).toEqual([
      { type: 'section', text: { type: 'mrkdwn', text: '*Disk* 91% & rising' } },
    ]);
  });

  it("uploads a file as multipart (the digest's chart), Node's own FormData and all", async () => {
    const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47]), Buffer.alloc(2048, 7)]);
    const slack = await startFakeSlackApi();
    try {
      await expect(
        client(slack.url).files.uploadV2({
          channel_id: 'C1',
          thread_ts: '1.2',
          file: png,
          filename: 'week.png',
        }),
      ).resolves.toMatchObject({ ok: true });
      const upload = slack.uploads[0];
      expect(upload?.type).toMatch(/^multipart\/form-data; boundary=/);
      expect(upload?.data.includes(png)).toBe(true);
      expect(slack.callsTo('files.completeUploadExternal')).toHaveLength(1);
    } finally {
      await slack.close();
    }
  });

  it('429s reach the caller with their Retry-After, and their connections serve the next calls', async () => {
    let calls = 0;
    const a = await startApi((_req, res) => {
      calls++;
      if (calls <= 20) {
        // A body bigger than a socket's buffers: left unread, it would hold its connection.
        res.writeHead(429, { 'retry-after': '7', 'content-type': 'application/json' });
        res.end(JSON.stringify({ ok: false, error: 'ratelimited', detail: 'x'.repeat(1 << 20) }));
      } else {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ok: true, ts: '1.2' }));
      }
    });
    const web = client(a.url);
    for (let i = 0; i < 20; i++) {
      const error = (await web.chat.postMessage({ channel: 'C1', text: 'x' }).catch((e: unknown) => e)) as {
        code: string;
        retryAfter: number;
      };
      expect(error.code).toBe(ErrorCode.RateLimitedError);
      expect(error.retryAfter).toBe(7);
    }
    await expect(web.chat.postMessage({ channel: 'C1', text: 'x' })).resolves.toMatchObject({ ok: true });
    // The 429s' bodies were read, so their connections were free again (undici opens a second one
    // when a call follows the last one's end in the same turn, and reuses the two after that).
    expect(a.connections).toBeLessThanOrEqual(2);
  });

  it('an HTTP error carries its status, reason and body', async () => {
    const a = await startApi((_req, res) => {
      res.writeHead(503, { 'content-type': 'text/plain' });
      res.end('upstream unavailable');
    });
    const error = (await client(a.url)
      .chat.postMessage({ channel: 'C1', text: 'x' })
      .catch((e: unknown) => e)) as {
      code: string;
      statusCode: number;
      statusMessage: string;
      body: unknown;
    };
    expect(error).toMatchObject({
      code: ErrorCode.HTTPError,
      statusCode: 503,
      statusMessage: 'Service Unavailable',
      body: 'upstream unavailable',
    });
  });

  it("the client's timeout ends a call Slack never answers", async () => {
    const a = await startApi(() => {});
    const started = performance.now();
    const error = (await client(a.url, 300)
      .chat.postMessage({ channel: 'C1', text: 'x' })
      .catch((e: unknown) => e)) as { code: string };
    expect(error.code).toBe(ErrorCode.RequestError);
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(a.bodies).toHaveLength(1);
  });
});
