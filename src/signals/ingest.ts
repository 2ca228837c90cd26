/**
 * What the webhook ingest needs beside the signal store, built once per bot: the inventory
 * advisories are matched against (the lockfiles and lists the policy names; one loader for OSV and
 * GitHub advisories, cached by file mtime), and the error-signature miner with its stored
 * templates and repeat counter.
 */
import type { Database } from '../db/connection.js';
import type { Policy } from '../policy/types.js';
import type { Logger } from '../process/log.js';
import { type Inventory, InventoryLoader, inventorySpec } from './advisories/inventory.js';
import type { RepeatSettings } from './normalise/logs.js';
import { SignatureMiner } from './signatures/miner.js';
import { RepeatTracker } from './signatures/repeats.js';
import { TemplateStore } from './signatures/template-store.js';

export interface IngestParts {
  readonly inventory: () => Inventory;
  readonly miner: SignatureMiner;
  readonly templates: TemplateStore;
  readonly repeats: (settings: RepeatSettings) => RepeatTracker;
}

export function ingestParts(database: Database, policy: () => Policy, log: Logger): IngestParts {
  const loader = new InventoryLoader();
  const templates = new TemplateStore(database);
  const restoring = performance.now();
  const miner = SignatureMiner.restore(templates.load());
  if (miner.checkedOnRestore > 0) {
    log.info(
      {
        templates: miner.size,
        checked: miner.checkedOnRestore,
        ms: Math.round(performance.now() - restoring),
      },
      "signature templates stored under older rules: the most recently seen were checked once against today's rules (merged ones keep the older id)",
    );
  }
  return {
    inventory: () => loader.load(inventorySpec(policy())),
    miner,
    templates,
    repeats: (settings) => new RepeatTracker(settings),
  };
}
