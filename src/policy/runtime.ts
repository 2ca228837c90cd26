/**
 * The policy in force in a running bot, and how it changes: a valid file becomes a new version
 * (stored with its hash, audited); an invalid one is rejected with every error reported and the
 * last good policy stays in force. Triggers: the file changing, SIGHUP, `autonomy policy reload`.
 */
import type { PolicyIssue } from './errors.js';
import { formatIssue } from './errors.js';
import type { LoadResult } from './load.js';
import type { Policy } from './types.js';

export type ReloadTrigger = 'start' | 'watch' | 'signal' | 'cli';

export type ReloadOutcome =
  | {
      readonly kind: 'loaded';
      readonly policy: Policy;
      readonly version: number;
      readonly previousHash: string;
    }
  | { readonly kind: 'unchanged'; readonly policy: Policy }
  | { readonly kind: 'rejected'; readonly issues: readonly PolicyIssue[] };

/** Where versions are kept; `activate` stores (or re-activates) a version and audits it, in one transaction. */
export interface PolicyVersionStore {
  activate(
    policy: Policy,
    content: string,
    event: { actor: string; trigger: ReloadTrigger; previousHash: string | null },
  ): number;
  reject(event: {
    actor: string;
    trigger: ReloadTrigger;
    file: string;
    issues: readonly PolicyIssue[];
  }): void;
  unchanged(event: { actor: string; trigger: ReloadTrigger; hash: string }): void;
}

export interface PolicyRuntimeDeps {
  readonly file: string;
  readonly load: (file: string) => Promise<LoadResult>;
  readonly store: PolicyVersionStore;
  readonly now: () => number;
  readonly log: {
    info(obj: object, msg: string): void;
    warn(obj: object, msg: string): void;
    error(obj: object, msg: string): void;
  };
}

export interface ReloadError {
  readonly at: number;
  readonly trigger: ReloadTrigger;
  readonly issues: readonly PolicyIssue[];
}

export class PolicyRuntime {
  #current: Policy;
  #version: number;
  #lastError: ReloadError | null = null;
  #listeners = new Set<(policy: Policy, previous: Policy) => void>();
  #chain: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly deps: PolicyRuntimeDeps,
    initial: Policy,
    version: number,
  ) {
    this.#current = initial;
    this.#version = version;
  }

  /** Loads the file at start; an invalid file is fatal here (nothing starts on it). */
  static async start(
    deps: PolicyRuntimeDeps,
    actor: string,
  ): Promise<PolicyRuntime | readonly PolicyIssue[]> {
    const result = await deps.load(deps.file);
    if (!result.ok) return result.issues;
    logWarnings(deps, result.warnings, 'start');
    const version = deps.store.activate(result.policy, result.content, {
      actor,
      trigger: 'start',
      previousHash: null,
    });
    return new PolicyRuntime(deps, result.policy, version);
  }

  get current(): Policy {
    return this.#current;
  }

  get version(): number {
    return this.#version;
  }

  /** The last rejected reload, until a later reload succeeds. */
  get lastError(): ReloadError | null {
    return this.#lastError;
  }

  onChange(listener: (policy: Policy, previous: Policy) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Reloads the file. Reloads run one at a time, in the order asked. */
  reload(actor: string, trigger: ReloadTrigger): Promise<ReloadOutcome> {
    const next = this.#chain.then(() => this.#reloadNow(actor, trigger));
    this.#chain = next.catch(() => undefined);
    return next;
  }

  async #reloadNow(actor: string, trigger: ReloadTrigger): Promise<ReloadOutcome> {
    const { file, load, store, log, now } = this.deps;
    const result = await load(file);
    if (!result.ok) {
      this.#lastError = { at: now(), trigger, issues: result.issues };
      store.reject({ actor, trigger, file, issues: result.issues });
      log.error(
        { file, trigger, errors: result.issues.map(formatIssue) },
        `policy rejected (${result.issues.length} error(s)); the last good policy stays in force`,
      );
      return { kind: 'rejected', issues: result.issues };
    }
    const previous = this.#current;
    if (result.policy.hash !== previous.hash) logWarnings(this.deps, result.warnings, trigger);
    if (result.policy.hash === previous.hash) {
      this.#lastError = null;
      // A file event with the same bytes (touch, editor backup) is not worth an audit record.
      if (trigger !== 'watch') store.unchanged({ actor, trigger, hash: previous.hash });
      return { kind: 'unchanged', policy: previous };
    }
    const version = store.activate(result.policy, result.content, {
      actor,
      trigger,
      previousHash: previous.hash,
    });
    this.#current = result.policy;
    this.#version = version;
    this.#lastError = null;
    log.info(
      { file, trigger, version, hash: result.policy.hash.slice(0, 12), phase: result.policy.phase },
      'policy reloaded',
    );
    for (const listener of this.#listeners) listener(result.policy, previous);
    return { kind: 'loaded', policy: result.policy, version, previousHash: previous.hash };
  }
}

/** A valid file that does not do all it seems to: said once per new version, never fatal. */
function logWarnings(
  deps: PolicyRuntimeDeps,
  warnings: readonly PolicyIssue[],
  trigger: ReloadTrigger,
): void {
  if (warnings.length === 0) return;
  deps.log.warn(
    { file: deps.file, trigger, warnings: warnings.map(formatIssue) },
    `policy loaded with ${warnings.length} warning(s); run \`autonomy policy check\` to see them`,
  );
}
