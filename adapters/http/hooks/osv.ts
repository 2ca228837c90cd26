/**
 * `POST /hooks/osv`: OSV advisories (one record, `{"vulns": [...]}` or an array), matched against
 * the inventory the policy names. Mounted by mountHooks like every hook (ingest token, size limit,
 * the one body reader); parsing is src/signals/advisories/osv.ts, matching
 * src/signals/advisories/match.ts, storage the sink (group commit). Every match is committed before the
 * 202; a bad record rejects the whole request (400 with JSON paths) and writes nothing. Re-sending
 * the same records stores nothing new (the dedupe key is id + modified + package@version).
 */
import type { Inventory } from '../../../src/signals/advisories/inventory.js';
import { advisorySignals } from '../../../src/signals/advisories/match.js';
import { parseOsvBody } from '../../../src/signals/advisories/osv.js';
import { readJsonBody } from './body.js';
import type { IngestCounters } from './counters.js';
import type { HookHandler, HookSink } from './deps.js';
import { accept, reject, summarise } from './reply.js';

export interface OsvHookDeps {
  readonly sink: HookSink;
  /** The inventory in force now (cached by file mtime, so cheap to call per request). */
  readonly inventory: () => Inventory;
  readonly counters: IngestCounters;
}

const HOOK = 'osv';

export function osvHandler(deps: OsvHookDeps): HookHandler {
  const o = { counters: deps.counters, hook: HOOK };
  return async (c) => {
    const body = await readJsonBody(c, o);
    if (!body.ok) return body.response;
    const parsed = parseOsvBody(body.value.json);
    if (!parsed.ok) {
      const first = parsed.issues[0];
      const where = first ? `${first.path}: ${first.message}` : 'unknown shape';
      return reject(
        c,
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
    const outcomes = signals.length > 0 ? await deps.sink.ingestBatched(signals) : [];
    const unmatched = parsed.records.filter((r) => !result.matches.some((m) => m.record === r)).length;
    return accept(
      c,
      deps.counters,
      HOOK,
      summarise(outcomes),
      {
        received: parsed.records.length,
        matched: result.matches.length,
        signals: outcomes.map((outcome, i) => ({
          dedupeKey: signals[i]?.dedupeKey,
          status: outcome.status,
          incident: outcome.status === 'stored' && outcome.incident ? outcome.incident.shortId : null,
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
  };
}
