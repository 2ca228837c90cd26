/**
 * The webhook ingest under /hooks/ (DESIGN: one HTTP server). `mountHooks(app, deps)` adds, each
 * through `mountHook` (route.ts: auth, size limit, handler; other methods 405):
 *   POST /hooks/alertmanager  bearer token   Prometheus Alertmanager webhook v4
 *   POST /hooks/github        HMAC (X-Hub-Signature-256 with GITHUB_WEBHOOK_SECRET)
 *   POST /hooks/logs          bearer token   text/plain or application/x-ndjson log lines
 *   POST /hooks/events        bearer token   the generic event schema
 *   POST /hooks/osv           bearer token   OSV advisories
 * Every reply: 202 {accepted, duplicates, incidents} after COMMIT; 400 bad JSON or schema (with
 * JSON paths), 401 bad auth, 413 too large, 415 wrong content type, 503 hook off. A rejected
 * request writes nothing and is counted by reason.
 */
import type { Hono } from 'hono';
import { type Inventory, InventoryLoader, inventorySpec } from '../../../src/signals/advisories/inventory.js';
import { alertmanagerHandler } from './alertmanager.js';
import { type HookDeps, type HookHandler, type HookName, limitOf } from './deps.js';
import { eventsHandler } from './events.js';
import { githubHandler } from './github.js';
import { LogIntake, logsHandler } from './logs.js';
import { osvHandler } from './osv.js';
import { mountHook } from './route.js';

export { type BearerOptions, githubSignatureMatches, ingestAuth } from './auth.js';
export {
  type Gate,
  isJsonType,
  type JsonBody,
  MiB,
  mediaType,
  parseJson,
  type RawBody,
  readBody,
  readJsonBody,
  sizeLimit,
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
  type HookHandler,
  type HookName,
  type HookSink,
  type LogMiner,
  type TemplateSaver,
} from './deps.js';
export { accept, reject, type Summary, summarise } from './reply.js';
export { type HookRoute, mountHook } from './route.js';

export const HOOK_PATHS = [
  '/hooks/alertmanager',
  '/hooks/github',
  '/hooks/logs',
  '/hooks/events',
  '/hooks/osv',
] as const;

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
  const route = (hook: HookName, signed: boolean, handler: HookHandler) =>
    mountHook(app, {
      path: `/hooks/${hook}`,
      hook,
      ingestToken: signed ? null : deps.ingestToken,
      limit: limitOf(deps, hook),
      counters: deps.counters,
      handler,
    });
  const intake = new LogIntake(deps);
  const inventory = deps.inventory ?? policyInventory(deps);
  route('alertmanager', false, alertmanagerHandler(deps));
  route('github', true, githubHandler(deps, inventory));
  route('logs', false, logsHandler(deps, intake));
  route('events', false, eventsHandler(deps));
  route('osv', false, osvHandler({ sink: deps.sink, inventory, counters: deps.counters }));
  return { flushTemplates: () => intake.saveTemplates(true) };
}
