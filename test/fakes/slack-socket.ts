/**
 * A local stand-in for Slack's Socket Mode WebSocket, for a real Bolt SocketModeReceiver to connect
 * to. It sits on the fake Web API: `apps.connections.open` there answers this socket's URL.
 * It speaks Slack's protocol (https://api.slack.com/apis/socket-mode): `hello` on connect, pings,
 * envelopes (`slash_commands`, `interactive`, `events_api`) each with an `envelope_id`, the app's
 * ack `{ envelope_id, payload? }`, and `disconnect` (refresh_requested) after which the app opens
 * a new connection. An envelope not acked in time is redelivered with `retry_attempt`, as Slack does
 * (`loseAcks` makes that happen by losing acks).
 *
 *   const socket = await startFakeSlackSocket(api);      // sets api.socketUrl
 *   await socket.connected();                            // a connection said hello
 *   const ack = await socket.deliver('slash_commands', { command: '/autonomy', ... });
 *   ack.ms                                               // envelope sent -> ack received
 *   socket.refresh();                                    // asks the app to reconnect
 */
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { type WebSocket, WebSocketServer } from 'ws';
import type { FakeSlackApi } from './slack-api.js';

export type EnvelopeType = 'slash_commands' | 'interactive' | 'events_api';

export interface SocketAck {
  readonly envelopeId: string;
  /** What the app answered with the ack (Bolt sends `{}` unless the handler passed a response). */
  readonly payload: Record<string, unknown>;
  /** Milliseconds from the envelope being sent to its ack arriving. */
  readonly ms: number;
  /** Which delivery was acked (0: the first; Slack retries an un-acked envelope up to 3 times). */
  readonly attempt: number;
}

export interface FakeSlackSocket {
  readonly url: string;
  /** Every connection the app opened, in order. */
  readonly connections: number;
  /** Acks in arrival order, including any for envelopes the test did not wait on. */
  readonly acks: SocketAck[];
  /** Resolves when a connection has been greeted (and the app can take envelopes). */
  connected(count?: number, timeoutMs?: number): Promise<void>;
  /** Sends one envelope on the newest connection; resolves with its ack (rejects after every retry). */
  deliver(type: EnvelopeType, payload: Record<string, unknown>): Promise<SocketAck>;
  /** Tells the app to reconnect, as Slack does before recycling a connection. */
  refresh(): void;
  close(): Promise<void>;
}

export interface FakeSlackSocketOptions {
  /** Slack waits 3 s for an ack before redelivering; tests may shorten it. */
  readonly ackTimeoutMs?: number;
  readonly retries?: number;
  /** How often the fake pings (the client drops a connection that goes 30 s without one). */
  readonly pingEveryMs?: number;
  /** Loses this many acks (recorded, not counted), as a dropped frame would: Slack then redelivers. */
  readonly loseAcks?: number;
}

const SLACK_ACK_DEADLINE_MS = 3000;

export async function startFakeSlackSocket(
  api: FakeSlackApi,
  options: FakeSlackSocketOptions = {},
): Promise<FakeSlackSocket> {
  const ackTimeoutMs = options.ackTimeoutMs ?? SLACK_ACK_DEADLINE_MS;
  const retries = options.retries ?? 3;
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/link/?ticket=${randomUUID()}`;
  const greeted: WebSocket[] = [];
  const waiting = new Map<string, { sentAt: number; attempt: number; done: (a: SocketAck) => void }>();
  const acks: SocketAck[] = [];
  const onGreet: (() => void)[] = [];
  let connections = 0;
  let toLose = options.loseAcks ?? 0;

  wss.on('connection', (socket) => {
    connections += 1;
    const ping = setInterval(() => socket.ping(), options.pingEveryMs ?? 5000);
    socket.on('close', () => clearInterval(ping));
    socket.on('message', (data) => {
      let ack: { envelope_id?: unknown; payload?: unknown };
      try {
        ack = JSON.parse(String(data)) as typeof ack;
      } catch {
        return;
      }
      const id = typeof ack.envelope_id === 'string' ? ack.envelope_id : '';
      const pending = waiting.get(id);
      const payload =
        typeof ack.payload === 'object' && ack.payload !== null
          ? (ack.payload as Record<string, unknown>)
          : {};
      const record: SocketAck = {
        envelopeId: id,
        payload,
        ms: pending ? Date.now() - pending.sentAt : -1,
        attempt: pending?.attempt ?? -1,
      };
      acks.push(record);
      if (pending && toLose > 0) {
        toLose -= 1;
        return;
      }
      if (pending) {
        waiting.delete(id);
        pending.done(record);
      }
    });
    socket.send(
      JSON.stringify({
        type: 'hello',
        num_connections: wss.clients.size,
        debug_info: { host: 'fake-slack-socket', approximate_connection_time: 18060 },
        connection_info: { app_id: 'A0FAKE' },
      }),
    );
    greeted.push(socket);
    for (const f of onGreet.splice(0)) f();
  });

  const newest = (): WebSocket | undefined => [...greeted].reverse().find((s) => s.readyState === s.OPEN);

  const socket: FakeSlackSocket = {
    url,
    get connections() {
      return connections;
    },
    acks,
    connected(count = 1, timeoutMs = 5000) {
      return new Promise<void>((resolve, reject) => {
        const check = () => {
          if (greeted.length >= count && newest()) {
            clearTimeout(timer);
            resolve();
          } else onGreet.push(check);
        };
        const timer = setTimeout(
          () => reject(new Error(`no Socket Mode connection #${count} within ${timeoutMs} ms`)),
          timeoutMs,
        );
        check();
      });
    },
    deliver(type, payload) {
      const envelopeId = randomUUID();
      return new Promise<SocketAck>((resolve, reject) => {
        let timer: NodeJS.Timeout | undefined;
        const send = (attempt: number) => {
          const to = newest();
          if (to === undefined) {
            reject(new Error('no open Socket Mode connection to deliver on'));
            return;
          }
          waiting.set(envelopeId, {
            sentAt: Date.now(),
            attempt,
            done: (a) => {
              clearTimeout(timer);
              resolve(a);
            },
          });
          to.send(
            JSON.stringify({
              envelope_id: envelopeId,
              type,
              accepts_response_payload: type !== 'events_api',
              payload,
              ...(attempt > 0 ? { retry_attempt: attempt, retry_reason: 'timeout' } : {}),
            }),
          );
          timer = setTimeout(() => {
            if (attempt < retries) send(attempt + 1);
            else {
              waiting.delete(envelopeId);
              reject(new Error(`envelope ${type} not acked after ${retries + 1} deliveries`));
            }
          }, ackTimeoutMs);
        };
        send(0);
      });
    },
    refresh() {
      newest()?.send(
        JSON.stringify({
          type: 'disconnect',
          reason: 'refresh_requested',
          debug_info: { host: 'fake-slack-socket' },
        }),
      );
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => resolve());
      }),
  };
  api.socketUrl = url;
  return socket;
}
