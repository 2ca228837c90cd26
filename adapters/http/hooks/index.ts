/**
 * The webhook ingest under /hooks/ (DESIGN: one HTTP server). `mountHooks(app, deps)` adds:
 *   POST /hooks/alertmanager  bearer token   Prometheus Alertmanager webhook v4
 *   POST /hooks/github        HMAC (X-Hub-Signature-256 with GITHUB_WEBHOOK_SECRET)
 *   POST /hooks/logs          bearer token   text/plain or application/x-ndjson log lines
 *   POST /hooks/events        bearer token   the generic event schema
 * (/hooks/osv is mounted by its own module with the same helpers: requireBearer, readJsonBody,
 * reject, accept.) Every reply: 202 {accepted, duplicates, incidents} after COMMIT; 400 bad JSON or
 * schema (with JSON paths), 401 bad auth, 413 too large, 415 wrong content type, 503 hook off;
 * other methods 405. A rejected request writes nothing and is counted by reason.
 */
import type { Hono } from 'hono';
import { type Inventory, InventoryLoader, inventorySpec } from '../../../src/signals/advisories/inventory.js';
import { postDirect } from '../server.js';
import { alertmanagerHandler } from './alertmanager.js';
import { bearerCheck } from './auth.js';
import type { HookDeps } from './deps.js';
import { eventsHandler } from './events.js';
import { exchangeOf, type HookHandler, nodeExchange } from './exchange.js';
import { githubHandler } from './github.js';
import { LogIntake, logsHandler } from './logs.js';

export {
  type BearerOptions,
  bearerCheck,
  bearerMatches,
  githubSignatureMatches,
  requireBearer,
} from './auth.js';
export {
  type BodyError,
  type BodyResult,
  bodyReader,
  type Checked,
  checkJson,
  type Gate,
  isJsonType,
  type JsonBody,
  MiB,
  mediaType,
  parseJson,
  type RawBody,
  readBody,
  readBodyChecked,
  readJsonBody,
  readJsonChecked,
} from './body.js';
export {
  type AcceptedCounts,
  type IngestCounters,
  MemoryCounters,
  metricsCounters,
  REJECT_REASONS,
  type RejectReason,
} from './counters.js';
export {
  DEFAULT_LIMITS,
  type HookDeps,
  type HookName,
  type HookSink,
  type LogMiner,
  type TemplateSaver,
} from './deps.js';
export { accept, reject, type Summary, summarise } from './reply.js';

export const HOOK_PATHS = ['/hooks/alertmanager', '/hooks/github', '/hooks/logs', '/hooks/events'] as const;

export interface HooksHandle {
  /** Saves the miner's templates now if any line came since the last save (call at stop). */
  flushTemplates(): void;
}

/** The inventory the policy in force names, re-read only when a file changes. */
function policyInventory(deps: HookDeps): () => Inventory {
  const loader = new InventoryLoader();
  return () => loader.load(inventorySpec(deps.policy()));
}

export function mountHooks(app: Hono, deps: HookDeps): HooksHandle {
  if (deps.ingestToken.length === 0)
    throw new Error('mountHooks needs the ingest token (see src/process/tokens.ts)');
  // The token check runs inside each route's one handler (no middleware chain on the hot path).
  const guarded = (hook: string, handler: HookHandler): HookHandler => {
    const check = bearerCheck({ token: deps.ingestToken, counters: deps.counters, hook });
    return (x) => check(x) ?? handler(x);
  };
  // Served straight from node:http by the bot's server, and mounted on Hono for everything else.
  const route = (path: string, handler: HookHandler) => {
    app.post(path, (c) => handler(exchangeOf(c)));
    postDirect(app, path, (incoming, outgoing) => handler(nodeExchange(incoming, outgoing)));
  };
  const intake = new LogIntake(deps);
  const inventory = deps.inventory ?? policyInventory(deps);
  route('/hooks/alertmanager', guarded('alertmanager', alertmanagerHandler(deps)));
  route('/hooks/github', githubHandler(deps, inventory));
  route('/hooks/logs', guarded('logs', logsHandler(deps, intake)));
  route('/hooks/events', guarded('events', eventsHandler(deps)));
  for (const path of HOOK_PATHS) {
    app.all(path, (c) => c.json({ error: `method not allowed: ${path} takes POST` }, 405, { allow: 'POST' }));
  }
  return { flushTemplates: () => intake.saveTemplates(true) };
}
