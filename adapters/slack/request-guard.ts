/**
 * HTTP mode: the node request listener for `POST /slack/events`, and a hono mount for it. Before
 * Bolt verifies the signature (on the raw bytes), refuse requests whose timestamp is more than
 * five minutes from now in either direction: Bolt only refuses old ones, and a request signed
 * for the future could be replayed until then. Then the adapter reads and verifies the body
 * (`refusal()`): a signed body that means nothing gets a 400 at once. A failure inside Bolt's
 * listener is answered with a 500 and logged here, never left as an unhandled rejection.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import type { Hono } from 'hono';
import type { SlackAdapter } from './slack-adapter.js';

export type NodeListener = (req: IncomingMessage, res: ServerResponse) => void;

/** Why a request's timestamp is refused, or null when it is within the allowed skew. */
export function timestampRefusal(
  header: string | undefined,
  nowMs: number,
  maxSkewMs: number,
): string | null {
  if (header === undefined || !/^[0-9]{1,12}$/.test(header))
    return 'missing or malformed X-Slack-Request-Timestamp';
  const skew = Number(header) * 1000 - nowMs;
  if (skew > maxSkewMs) return 'X-Slack-Request-Timestamp is in the future (check the clock)';
  if (-skew > maxSkewMs) return 'X-Slack-Request-Timestamp is too old (replayed request?)';
  return null;
}

/** The listener for `POST /slack/events` (HTTP mode). Throws in Socket Mode, which needs no route. */
export function slackRequestListener(adapter: SlackAdapter, now: () => number = Date.now): NodeListener {
  const listener = adapter.receiverListener;
  if (listener === null) throw new Error('the Slack adapter is in Socket Mode; it has no HTTP route');
  return (req, res) => {
    const header = req.headers['x-slack-request-timestamp'];
    const refusal = timestampRefusal(
      Array.isArray(header) ? header[0] : header,
      now(),
      adapter.maxClockSkewMs,
    );
    if (refusal !== null) {
      req.resume();
      res.writeHead(401, { 'content-type': 'text/plain' });
      res.end(refusal);
      return;
    }
    handle(adapter, listener, req, res).catch((err: unknown) => {
      adapter.requestFailed(err);
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('the bot could not handle this request; see its log');
      } else if (!res.writableEnded) {
        res.destroy();
      }
    });
  };
}

async function handle(
  adapter: SlackAdapter,
  listener: NonNullable<SlackAdapter['receiverListener']>,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const refused = await adapter.refusal(req);
  if (refused !== null) {
    req.resume();
    res.writeHead(refused.status, { 'content-type': 'text/plain' });
    res.end(refused.reason);
    return;
  }
  await listener(req, res);
}

/**
 * Mounts the listener on the bot's hono app (served by @hono/node-server): the raw node request
 * goes to Bolt untouched, so the signature is checked on the bytes Slack sent.
 */
export function mountSlack(app: Hono, adapter: SlackAdapter, now?: () => number): void {
  const listener = slackRequestListener(adapter, now);
  app.post('/slack/events', (c) => {
    const env = c.env as { incoming?: IncomingMessage; outgoing?: ServerResponse } | undefined;
    if (!env?.incoming || !env.outgoing) return c.text('Slack events need the node server', 500);
    listener(env.incoming, env.outgoing);
    return RESPONSE_ALREADY_SENT;
  });
}
