/**
 * The bot's one HTTP server. Transport only: routes call into functions the composition root
 * (src/main.ts) hands in. Adapters (console, ingest, Slack) mount their routes on the Hono app.
 *
 * One exception, for the webhook hot path: a route added with `postDirect` is served straight from
 * node:http, ahead of Hono (@hono/node-server builds a Request, a Context and reads back a Response
 * for every request: a tenth of a webhook's CPU time, bench/ingest.bench.ts). It matches POST on
 * exactly its path (any query string); anything else (other methods, other spellings of the path)
 * goes to Hono, where the same route is mounted too (and serves `app.request()` in tests). A direct
 * route's unexpected error goes to the app's `onError` and answers 500, as Hono's would.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { Hono } from 'hono';

export type CheckStatus = 'ok' | 'degraded' | 'down';

export interface HealthReport {
  readonly status: CheckStatus;
  /** One check per part of the bot; the rest of the report (policy, kill switches, ...) is served as given. */
  readonly checks: Readonly<Record<string, { readonly status: CheckStatus; readonly detail?: string }>>;
}

export interface HttpDeps {
  health(): HealthReport;
  /** Where unexpected errors are reported (the client only ever sees "internal error"). */
  onError(err: Error): void;
}

/** A route served straight from node:http: answers on `outgoing` itself (sync or async). */
export type NodeRoute = (incoming: IncomingMessage, outgoing: ServerResponse) => unknown;

interface DirectRoutes {
  readonly routes: Map<string, NodeRoute>;
  readonly onError: (err: Error) => void;
}

const direct = new WeakMap<Hono, DirectRoutes>();

const INTERNAL_ERROR = JSON.stringify({ error: 'internal error' });

/** The sender closed the connection mid-request: nobody to answer, and not the server's fault. */
function clientWentAway(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === 'ECONNRESET';
}

export function createHttpApp(deps: HttpDeps): Hono {
  const app = new Hono();
  direct.set(app, { routes: new Map(), onError: deps.onError });
  app.get('/healthz', (c) => {
    const report = deps.health();
    // 503 only when the bot cannot do its job; degraded parts still answer 200 with detail.
    return c.json(report, report.status === 'down' ? 503 : 200, { 'cache-control': 'no-store' });
  });
  app.notFound((c) => c.json({ error: 'not found', path: c.req.path }, 404));
  app.onError((err, c) => {
    // Never leak a stack or internals to a client; the caller's logger has the details.
    if (!clientWentAway(err)) deps.onError(err);
    return c.json({ error: 'internal error' }, 500);
  });
  return app;
}

/**
 * Serves POST `path` with `route` straight from node:http when `app` is served by `listen()` (see
 * above). Mount the same route on `app` as well. Only for apps made by `createHttpApp`.
 */
export function postDirect(app: Hono, path: string, route: NodeRoute): void {
  const table = direct.get(app);
  if (table === undefined) throw new Error('postDirect needs an app made by createHttpApp');
  table.routes.set(path, route);
}

function failed(err: unknown, outgoing: ServerResponse, onError: (err: Error) => void): void {
  if (clientWentAway(err)) {
    outgoing.destroy();
    return;
  }
  onError(err instanceof Error ? err : new Error(String(err)));
  if (outgoing.headersSent) {
    outgoing.destroy();
    return;
  }
  outgoing.writeHead(500, { 'content-type': 'application/json', 'content-length': INTERNAL_ERROR.length });
  outgoing.end(INTERNAL_ERROR);
}

/** Node's request listener for `app`: direct routes first, then Hono. */
function requestListener(
  app: Hono,
  host: string,
): (incoming: IncomingMessage, outgoing: ServerResponse) => void {
  const hono = getRequestListener(app.fetch, { hostname: host });
  const table = direct.get(app);
  if (table === undefined) return (incoming, outgoing) => void hono(incoming, outgoing);
  const { routes, onError } = table;
  return (incoming, outgoing) => {
    const url = incoming.url ?? '';
    const query = url.indexOf('?');
    const route = incoming.method === 'POST' ? routes.get(query < 0 ? url : url.slice(0, query)) : undefined;
    if (route === undefined) {
      void hono(incoming, outgoing);
      return;
    }
    try {
      const done = route(incoming, outgoing);
      if (done instanceof Promise) done.catch((err: unknown) => failed(err, outgoing, onError));
    } catch (err) {
      failed(err, outgoing, onError);
    }
  };
}

export interface RunningServer {
  readonly url: string;
  readonly server: Server;
  close(): Promise<void>;
}

/** Listens on host:port (port 0 picks a free one); rejects with a clear error when the port is taken. */
export function listen(app: Hono, host: string, port: number): Promise<RunningServer> {
  return new Promise((resolvePromise, reject) => {
    const server = createServer(requestListener(app, host));
    const onError = (err: NodeJS.ErrnoException) => {
      const hint =
        err.code === 'EADDRINUSE'
          ? `port ${port} on ${host} is in use (is another autonomy running?); set AUTONOMY_PORT to another port`
          : err.code === 'EACCES'
            ? `not allowed to listen on ${host}:${port}; use a port above 1023 (AUTONOMY_PORT)`
            : `cannot listen on ${host}:${port}: ${err.message}`;
      reject(new Error(hint, { cause: err }));
    };
    server.once('error', onError);
    server.listen(port, host);
    server.once('listening', () => {
      server.off('error', onError);
      const addr = server.address() as AddressInfo;
      const shownHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
      resolvePromise({
        url: `http://${shownHost}:${addr.port}`,
        server,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections?.();
          }),
      });
    });
  });
}
