/**
 * How every hook is mounted on the bot's one Hono app: POST through the ingest token (Hono's
 * bearerAuth; none for /hooks/github, which is signed) and the size limit (Hono's bodyLimit), then
 * the hook's handler; any other method gets 405.
 */
import type { Hono, MiddlewareHandler } from 'hono';
import { errorBody } from '../error-body.js';
import { ingestAuth } from './auth.js';
import { sizeLimit } from './body.js';
import type { IngestCounters } from './counters.js';
import type { HookHandler } from './deps.js';

export interface HookRoute {
  readonly path: string;
  /** The hook's name, for the counters. */
  readonly hook: string;
  /** The ingest token the hook demands; null for a hook that checks its sender itself. */
  readonly ingestToken: string | null;
  /** Largest body accepted, in bytes. */
  readonly limit: number;
  readonly counters: IngestCounters;
  readonly handler: HookHandler;
}

export function mountHook(app: Hono, route: HookRoute): void {
  const { path, hook, counters } = route;
  // Middleware added for POST on the path runs in the order added, before the handler.
  const guards: MiddlewareHandler[] = [];
  if (route.ingestToken !== null) guards.push(ingestAuth({ token: route.ingestToken, counters, hook }));
  guards.push(sizeLimit({ counters, hook, limit: route.limit }));
  for (const guard of guards) app.post(path, guard);
  app.post(path, route.handler);
  app.all(path, (c) =>
    c.json(errorBody(405, `method not allowed: ${path} takes POST`), 405, { allow: 'POST' }),
  );
}
