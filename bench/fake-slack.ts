/**
 * A minimal local stand-in of Slack's Web API for the chat benches (bench/ does not import test/):
 * auth.test, chat.postMessage and chat.update answer ok at once (both counted); every other method
 * answers ok with nothing. Each chat.postMessage is handed to `onPost` with the time it arrived
 * (performance.now() in this process, the bench's own clock) and its raw body. With `latencyMs`,
 * each call is answered that long after it arrived, as a real platform's round trip.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface BenchSlack {
  /** SLACK_API_URL for the bot. */
  readonly url: string;
  posts: number;
  /** chat.update calls (edits of messages posted before). */
  updates: number;
  onPost: (body: string, at: number) => void;
  close(): Promise<void>;
}

export async function startBenchSlack(options: { latencyMs?: number } = {}): Promise<BenchSlack> {
  const latencyMs = options.latencyMs ?? 0;
  let ts = 1_700_000_000;
  const slack: BenchSlack = {
    url: '',
    posts: 0,
    updates: 0,
    onPost: () => {},
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const at = performance.now();
      const method = new URL(req.url ?? '/', 'http://x').pathname.replace(/^\/api\//, '');
      let answer: Record<string, unknown> = { ok: true };
      if (method === 'auth.test') answer = { ok: true, user_id: 'UBOT', bot_id: 'BBOT', team_id: 'T1' };
      else if (method === 'chat.postMessage') {
        ts += 1;
        answer = { ok: true, channel: 'C0ALERTS', ts: `${ts}.000100` };
        slack.posts += 1;
        slack.onPost(Buffer.concat(chunks).toString('utf8'), at);
      } else if (method === 'chat.update') {
        answer = { ok: true, channel: 'C0ALERTS', ts: `${ts}.000100` };
        slack.updates += 1;
      }
      const body = JSON.stringify(answer);
      if (latencyMs > 0)
        setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end(body), latencyMs);
      else res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  (slack as { url: string }).url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/`;
  return slack;
}
