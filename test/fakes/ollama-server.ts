/**
 * A local stand-in for Ollama's HTTP API (/api/chat streaming and not, /api/tags, /api/version),
 * scriptable per request: delay, error status, reply text (valid or not), token counts, and
 * `byPrompt()` answers by what the prompt holds (a good model, a wrong one, a hostile one, garbage,
 * a slow one, one claiming huge token counts). Counts requests in flight and the most seen at
 * once; an aborted request stops its timer and leaves the count. `setUp(false)` makes it answer
 * every request with 503, as a server that is starting or broken.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeReply {
  readonly delayMs?: number;
  /** Answer with this HTTP status and `{error}` instead of a reply. */
  readonly status?: number;
  readonly content?: string;
  readonly promptTokens?: number;
  readonly completionTokens?: number;
}

export interface FakeChatRequest {
  readonly model: string;
  readonly messages: { role: string; content: string }[];
  readonly format?: unknown;
  readonly stream?: boolean;
  readonly options?: { readonly num_ctx?: number; readonly num_predict?: number };
}

export type Script = (request: FakeChatRequest, index: number) => FakeReply;

/** The text of every message of a request, joined. */
export function promptText(request: FakeChatRequest): string {
  return request.messages.map((m) => m.content).join('\n');
}

/**
 * A script that answers by the prompt: the first rule whose `match` the prompt's text contains (or
 * matches) answers; else `fallback`. A rule's reply may be a function of the request.
 */
export function byPrompt(
  rules: readonly (readonly [string | RegExp, FakeReply | ((request: FakeChatRequest) => FakeReply)])[],
  fallback: FakeReply = { content: 'ok' },
): Script {
  return (request) => {
    const text = promptText(request);
    for (const [match, reply] of rules) {
      const hit = typeof match === 'string' ? text.includes(match) : match.test(text);
      if (hit) return typeof reply === 'function' ? reply(request) : reply;
    }
    return fallback;
  };
}

/** A reply whose content is `value` as JSON. */
export function json(value: unknown, extra: Omit<FakeReply, 'content'> = {}): FakeReply {
  return { ...extra, content: JSON.stringify(value) };
}

export interface FakeOllama {
  readonly url: string;
  /** Every /api/chat request received, in order. */
  readonly requests: FakeChatRequest[];
  inFlight(): number;
  maxInFlight(): number;
  /** Requests the client hung up on before the reply. */
  aborted(): number;
  setScript(script: Script): void;
  /** false: every request gets a 503 (GET /api/version too). */
  setUp(up: boolean): void;
  /** GET /api/version requests received. */
  probes(): number;
  resetStats(): void;
  close(): Promise<void>;
}

export async function startFakeOllama(script: Script = () => ({ content: 'ok' })): Promise<FakeOllama> {
  let current = script;
  const requests: FakeChatRequest[] = [];
  let inFlight = 0;
  let max = 0;
  let aborted = 0;
  let up = true;
  let probes = 0;

  const chat = (req: IncomingMessage, res: ServerResponse, body: string): void => {
    let parsed: FakeChatRequest;
    try {
      parsed = JSON.parse(body) as FakeChatRequest;
    } catch {
      res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"bad json"}');
      return;
    }
    const index = requests.length;
    requests.push(parsed);
    const reply = current(parsed, index);
    inFlight++;
    if (inFlight > max) max = inFlight;
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      inFlight--;
    };
    const timer = setTimeout(() => {
      finish();
      if (reply.status !== undefined && reply.status >= 400) {
        res.writeHead(reply.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: `scripted failure ${reply.status}` }));
        return;
      }
      const content = reply.content ?? 'ok';
      const last = {
        model: parsed.model,
        created_at: new Date(0).toISOString(),
        done: true,
        done_reason: 'stop',
        prompt_eval_count: reply.promptTokens ?? 10,
        eval_count: reply.completionTokens ?? 5,
      };
      if (parsed.stream === true) {
        res.writeHead(200, { 'content-type': 'application/x-ndjson' });
        const half = Math.ceil(content.length / 2);
        for (const piece of [content.slice(0, half), content.slice(half)]) {
          res.write(
            `${JSON.stringify({ model: parsed.model, done: false, message: { role: 'assistant', content: piece } })}\n`,
          );
        }
        res.end(`${JSON.stringify({ ...last, message: { role: 'assistant', content: '' } })}\n`);
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ...last, message: { role: 'assistant', content } }));
    }, reply.delayMs ?? 0);
    res.on('close', () => {
      if (!done) {
        aborted++;
        clearTimeout(timer);
        finish();
      }
    });
    void req;
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      if (req.url === '/api/version') probes++;
      if (!up) {
        res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":"server is down"}');
        return;
      }
      if (req.method === 'POST' && req.url === '/api/chat') return chat(req, res, body);
      if (req.method === 'GET' && req.url === '/api/version') {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"version":"0.0.0-fake"}');
        return;
      }
      if (req.method === 'GET' && req.url === '/api/tags') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ models: [{ name: 'qwen2.5:7b', model: 'qwen2.5:7b', size: 1 }] }));
        return;
      }
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
    });
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    inFlight: () => inFlight,
    maxInFlight: () => max,
    aborted: () => aborted,
    setScript: (s) => {
      current = s;
    },
    setUp: (value) => {
      up = value;
    },
    probes: () => probes,
    resetStats: () => {
      max = inFlight;
      aborted = 0;
      requests.length = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
