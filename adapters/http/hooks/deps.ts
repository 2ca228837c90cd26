/**
 * What the hook routes need from the composition root (src/main.ts wires it; see mountHooks).
 */

import type { Context } from 'hono';
import type { Policy } from '../../../src/policy/types.js';
import type { Clock } from '../../../src/process/ids.js';
import type { Logger } from '../../../src/process/log.js';
import type { Inventory } from '../../../src/signals/advisories/inventory.js';
import type { LineMiner, RepeatCounter, RepeatSettings } from '../../../src/signals/normalise/logs.js';
import type { TemplateRecord } from '../../../src/signals/signatures/miner.js';
import type { SaveResult } from '../../../src/signals/signatures/template-store.js';
import type { IngestOutcome, SignalInput } from '../../../src/signals/types.js';
import { MiB } from './body.js';
import type { IngestCounters } from './counters.js';

/** The sink with group commit (SignalStore): resolves after the COMMIT that holds the signals. */
export interface HookSink {
  ingestBatched(inputs: readonly SignalInput[]): Promise<IngestOutcome[]>;
}

/** SignatureMiner: mines lines, and gives its templates for persistence. */
export interface LogMiner extends LineMiner {
  snapshot(): TemplateRecord[];
  /** Stored templates its restore checked against newer rules: to save under them. */
  readonly checkedOnRestore?: number;
}

/** TemplateStore: persists miner snapshots (only what changed). */
export interface TemplateSaver {
  save(records: readonly TemplateRecord[]): SaveResult;
}

export type HookName = 'alertmanager' | 'github' | 'logs' | 'events' | 'osv';

/** A hook's handler, after its auth and size limit: answers the request. */
export type HookHandler = (c: Context) => Response | Promise<Response>;

export const DEFAULT_LIMITS: Readonly<Record<HookName, number>> = {
  alertmanager: 5 * MiB,
  // GitHub caps webhook payloads at 25 MB.
  github: 25 * MiB,
  logs: 5 * MiB,
  events: 1 * MiB,
  osv: 5 * MiB,
};

export interface HookDeps {
  readonly sink: HookSink;
  /** Guards every hook but /hooks/github. */
  readonly ingestToken: string;
  /** GITHUB_WEBHOOK_SECRET; null turns /hooks/github off (503, never unsigned). */
  readonly githubSecret: string | null;
  /** The policy in force (error-signature threshold, window, cooldown; the inventory's files). */
  readonly policy: () => Policy;
  /**
   * What GitHub and OSV advisories are matched against (cached by file mtime). Default:
   * the files the policy in force names, read by a loader of the hooks' own.
   */
  readonly inventory?: () => Inventory;
  readonly miner: LogMiner;
  /**
   * Counts repeats of error signatures: an instance (fixed settings), or a factory called with the
   * policy's settings, again whenever they change (`(s) => new RepeatTracker(s)`).
   */
  readonly repeats: RepeatCounter | ((settings: RepeatSettings) => RepeatCounter);
  /** Where the miner's templates are kept; without it they live in memory only. */
  readonly templates?: TemplateSaver;
  readonly counters: IngestCounters;
  readonly now: Clock;
  readonly log: Logger;
  /** Body limits in bytes (defaults: DEFAULT_LIMITS). */
  readonly limits?: Partial<Record<HookName, number>>;
  /** Save the miner's templates at most this often while lines arrive (default 1000 ms). */
  readonly templateSaveIntervalMs?: number;
}

export function limitOf(deps: HookDeps, hook: HookName): number {
  return deps.limits?.[hook] ?? DEFAULT_LIMITS[hook];
}
