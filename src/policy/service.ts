/**
 * The policy in force as a service of the bot: while started it watches the policy file (an
 * editor's save-by-rename is seen) and reloads it; a valid file becomes the policy (the caller hands
 * it to every part: `ServiceList.policyChanged`), an invalid one is rejected and the last good policy
 * stays in force, shown here as `degraded` until a valid file is saved.
 */
import type { Service, ServiceHealth } from '../service.js';
import type { PolicyRuntime } from './runtime.js';
import { watchPolicyFile } from './watch.js';

export class PolicyService implements Service {
  readonly name = 'policy';
  readonly essential = true;
  #unwatch: (() => void) | null = null;

  constructor(
    private readonly runtime: PolicyRuntime,
    private readonly file: string,
    /** Who the reload is by, in the audit log. */
    private readonly actor: string,
  ) {}

  start(): void {
    this.#unwatch ??= watchPolicyFile(this.file, () => {
      void this.runtime.reload(this.actor, 'watch');
    });
  }

  health(): ServiceHealth {
    const error = this.runtime.lastError;
    return error
      ? { status: 'degraded', detail: `last reload rejected (${error.issues.length} error(s))` }
      : { status: 'ok', detail: `version ${this.runtime.version}` };
  }

  stop(): void {
    this.#unwatch?.();
    this.#unwatch = null;
  }
}
