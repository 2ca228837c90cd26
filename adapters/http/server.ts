/**
 * The bot's one HTTP server. Transport only: routes call into functions the composition root
 * (src/main.ts) hands in. Adapters (console, ingest, Slack) mount their routes on the Hono app,
 * and every request, webhooks included, goes through it (@hono/node-server).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { AutonomyError } from '../../src/process/errors.js';
import type { Foreground } from '../../src/process/foreground.js';
import { errorBody } from './error-body.js';

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
  /** Every request is foreground work until its answer is ready: agent jobs wait for it. */
  readonly foreground?: Foreground;
}

/** The sender closed the connection mid-request: nobody to answer, and not the server's fault. */
function clientWentAway(err: unknown, request: Request): boolean {
  return (err as { code?: unknown } | null)?.code === 'ECONNRESET' || request.signal.aborted;
}

export function createHttpApp(deps: HttpDeps): Hono {
  const app = new Hono();
  const foreground = deps.foreground;
  if (foreground !== undefined) {
    app.use('*', (_c, next) => foreground.during(next));
  }
  app.get('/healthz', (c) => {
    const report = deps.health();
    // 503 only when the bot cannot do its job; degraded parts still answer 200 with detail.
    return c.json(report, report.status === 'down' ? 503 : 200, { 'cache-control': 'no-store' });
  });
  app.notFound((c) => c.json(errorBody(404, 'not found', { path: c.req.path }), 404));
  app.onError((err, c) => {
    // A middleware's refusal (bearerAuth, bodyLimit) is an answer, not a failure.
    if (err instanceof HTTPException) return err.getResponse();
    // Never leak a stack or internals to a client; the caller's logger has the details.
    if (!clientWentAway(err, c.req.raw)) deps.onError(err);
    return c.json(errorBody(500, 'internal error'), 500);
  });
  return app;
}

export interface RunningServer {
  readonly url: string;
  readonly server: Server;
  close(): Promise<void>;
}

/** Listens on host:port (port 0 picks a free one); rejects with a clear error when the port is taken. */
export function listen(app: Hono, host: string, port: number): Promise<RunningServer> {
  return new Promise((resolvePromise, reject) => {
    const server = createServer(getRequestListener(app.fetch, { hostname: host }));
    const onError = (err: NodeJS.ErrnoException) => {
      const hint =
        err.code === 'EADDRINUSE'
          ? `port ${port} on ${host} is in use (is another autonomy running?); set AUTONOMY_PORT to another port`
          : err.code === 'EACCES'
            ? `not allowed to listen on ${host}:${port}; use a port above 1023 (AUTONOMY_PORT)`
            : `cannot listen on ${host}:${port}: ${err.message}`;
      reject(
        new AutonomyError(err.code === 'EADDRINUSE' ? 'PORT_IN_USE' : 'LISTEN_FAILED', hint, { cause: err }),
      );
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
