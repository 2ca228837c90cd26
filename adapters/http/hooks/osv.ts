/**
 * `POST /hooks/osv`: OSV advisories (one record, `{"vulns": [...]}` or an array), matched against
 * the inventory the policy names. Transport only: auth and body reading are the shared hook helpers
 * (`requireBearer`, `bodyReader`, passed in), parsing is src/signals/advisories/osv.ts, matching
 * src/signals/advisories/match.ts, storage the sink. Every match is stored in one transaction before the
 * 202; a bad record rejects the whole request (400 with JSON paths) and writes nothing. Re-sending
 * the same records stores nothing new (the dedupe key is id + modified + package@version).
 */
import type { Hono, MiddlewareHandler } from 'hono';
import type { Inventory } from '../../../src/signals/advisories/inventory.js';
import { advisorySignals } from '../../../src/signals/advisories/match.js';
import { parseOsvBody } from '../../../src/signals/advisories/osv.js';
import type { SignalSink } from '../../../src/signals/types.js';
import type { BodyResult } from './body.js';
import type { IngestCounters } from './counters.js';
import { exchangeOf, type HookExchange } from './exchange.js';
import { accept, reject, summarise } from './reply.js';

export interface OsvHookDeps {
  readonly sink: SignalSink;
  /** The inventory in force now (cached by file mtime, so cheap to call per request). */
  readonly inventory: () => Inventory;
  /** The ingest-token check, `requireBearer({token, counters, hook: 'osv'})`: answers 401 itself. */
  readonly checkAuth: MiddlewareHandler;
  /** `bodyReader({counters, hook: 'osv', limit})`: the JSON body, or the refusal (already counted). */
  readonly readBody: (x: HookExchange) => Promise<BodyResult>;
  readonly counters: IngestCounters;
}

export const OSV_PATH = '/hooks/osv';
const HOOK = 'osv';

export function registerOsvHook(app: Hono, deps: OsvHookDeps): void {
  app.post(OSV_PATH, deps.checkAuth, async (c) => {
    const x = exchangeOf(c);
    const body = await deps.readBody(x);
    if (!body.ok) return x.json({ error: body.error }, body.status, { 'cache-control': 'no-store' });
    const parsed = parseOsvBody(body.value);
    if (!parsed.ok) {
      const first = parsed.issues[0];
      const where = first ? `${first.path}: ${first.message}` : 'unknown shape';
      return reject(
        x,
        deps.counters,
        HOOK,
        'bad_schema',
        400,
        `not an OSV record (${where}); send one OSV record, {"vulns": [...]} or an array of records (https://ossf.github.io/osv-schema/)`,
        { problems: parsed.issues },
      );
    }
    const inventory = deps.inventory();
    const { signals, result } = advisorySignals(parsed.records, inventory);
    const outcomes = signals.length > 0 ? deps.sink.ingest(signals) : [];
    const unmatched = parsed.records.filter((r) => !result.matches.some((m) => m.record === r)).length;
    return accept(
      x,
      deps.counters,
      HOOK,
      summarise(outcomes),
      {
        received: parsed.records.length,
        matched: result.matches.length,
        signals: outcomes.map((o, i) => ({
          dedupeKey: signals[i]?.dedupeKey,
          status: o.status,
          incident: o.status === 'stored' && o.incident ? o.incident.shortId : null,
        })),
        ignored: result.ignored.slice(0, 100),
        // Only the file names the policy gives: the messages hold server paths (they go to the log).
        inventory: {
          packages: inventory.entries.length,
          unreadable: [...new Set(inventory.problems.map((p) => p.file))],
        },
      },
      unmatched,
    );
  });
  app.all(OSV_PATH, (c) =>
    c.json({ error: `method not allowed: ${OSV_PATH} takes POST` }, 405, { allow: 'POST' }),
  );
}
