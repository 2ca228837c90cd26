/**
 * The lifecycle contract every long-lived part of the bot implements (DESIGN.md, "Services: one
 * lifecycle"), and the list that drives them. The composition root (main.ts) builds the parts and
 * adds each to one `ServiceList`; starting, the SIGTERM drain, a kill switch, a policy reload and
 * the health report are each one loop over that list, so a new part is one folder and one line.
 *
 * - `start()` runs in list order; `stop(deadline)` in reverse, so what was started first (the
 *   database) is stopped last and what takes work in (the HTTP server) is the first to stop.
 * - `onKill(target)` is the one kill path: chat, console, CLI and `AUTONOMY_KILL` all write the
 *   kill switch, and the control watch hands it to this loop once (see control/watch.ts). A part
 *   stops what it does for the target at once and may say how much it stopped.
 * - `onPolicyChange(policy)` runs after a valid policy file became the policy in force.
 * - `health()` is what `/healthz` and `/autonomy status` show for the part: the same report.
 */
import type { Policy } from './policy/types.js';
import type { AgentName } from './policy/vocabulary.js';

export type HealthStatus = 'ok' | 'degraded' | 'down';

export interface ServiceHealth {
  readonly status: HealthStatus;
  readonly detail?: string;
}

/** A kill switch that was just turned on, and who turned it on. */
export interface KillOrder {
  readonly target: AgentName | 'all';
  readonly actor: string;
  readonly reason: string | null;
}

/** What a part stopped for a kill (summed over the list for the person who typed it). */
export interface KillTeeth {
  /** Runs (actions, agent runs, model calls) aborted. */
  readonly aborted?: number;
  /** Pending approvals voided. */
  readonly voided?: number;
}

export interface Service {
  /** Names the part in logs and in the health report (`/healthz` checks, `status`). */
  readonly name: string;
  /** Begins the part's work; a returned promise is awaited (what it resolves to is not used). */
  start?(): unknown;
  /** Finish or hand back in-flight work by `deadline` (epoch ms), then release what it holds. */
  stop?(deadline: number): void | Promise<void>;
  onKill?(order: KillOrder): KillTeeth | undefined;
  onPolicyChange?(policy: Policy): void;
  /** Null: the part has nothing to report (it is not listed). */
  health?(): ServiceHealth | null;
  /**
   * When this part is down the bot cannot do its job (`/healthz` answers 503): the database and
   * the policy. Any other part that is not ok makes the bot `degraded`.
   */
  readonly essential?: boolean;
}

export interface HealthCheck extends ServiceHealth {
  readonly name: string;
}

export interface ListHealth {
  readonly status: HealthStatus;
  readonly checks: readonly HealthCheck[];
}

export interface ServiceListOptions {
  /** Where a part's failure in a loop is reported; the loop goes on with the next part. */
  readonly onError: (service: string, step: string, err: unknown) => void;
}

export class ServiceList {
  private readonly services: Service[] = [];
  private started = 0;

  constructor(private readonly options: ServiceListOptions) {}

  /** Adds a part; one that is added after start() is started by the next start() call. */
  add<S extends Service>(service: S): S {
    this.services.push(service);
    return service;
  }

  names(): string[] {
    return this.services.map((s) => s.name);
  }

  /**
   * Starts the parts not started yet, in order. A part that fails to start fails the start: the
   * caller stops what did start (stop() does exactly that).
   */
  async start(): Promise<void> {
    while (this.started < this.services.length) {
      const service = this.services[this.started] as Service;
      await service.start?.();
      this.started += 1;
    }
  }

  /** Stops the started parts in reverse order; each gets the same deadline, failures are reported. */
  async stop(deadline: number): Promise<void> {
    const started = this.services.slice(0, this.started).reverse();
    this.started = 0;
    for (const service of started) {
      try {
        await service.stop?.(deadline);
      } catch (err) {
        this.options.onError(service.name, 'stop', err);
      }
    }
  }

  /** The kill loop: every part stops what it does for the target. */
  kill(order: KillOrder): Required<KillTeeth> {
    let aborted = 0;
    let voided = 0;
    for (const service of this.services) {
      try {
        const teeth = service.onKill?.(order);
        aborted += teeth?.aborted ?? 0;
        voided += teeth?.voided ?? 0;
      } catch (err) {
        this.options.onError(service.name, 'kill', err);
      }
    }
    return { aborted, voided };
  }

  /** The reload loop: every part takes the policy now in force. */
  policyChanged(policy: Policy): void {
    for (const service of this.services) {
      try {
        service.onPolicyChange?.(policy);
      } catch (err) {
        this.options.onError(service.name, 'policy change', err);
      }
    }
  }

  /**
   * The health loop: one check per part that reports. Down when an essential part is down (or
   * cannot say), degraded when any other part is not ok.
   */
  health(): ListHealth {
    const checks: HealthCheck[] = [];
    let status: HealthStatus = 'ok';
    for (const service of this.services) {
      let health: ServiceHealth | null;
      try {
        health = service.health?.() ?? null;
      } catch (err) {
        health = { status: 'down', detail: `cannot report: ${(err as Error).message}` };
      }
      if (health === null) continue;
      checks.push({ name: service.name, ...health });
      if (health.status === 'ok') continue;
      if (health.status === 'down' && service.essential) status = 'down';
      else if (status === 'ok') status = 'degraded';
    }
    return { status, checks };
  }
}
