/**
 * Is the model server up? The router's health comes from this: each host the policy uses is asked
 * (Ollama: GET /api/version) when the router starts and then on a timer, and the last answer is
 * kept, so `/healthz` and `status` report a real probe without waiting on the network.
 */
import type { ModelClient } from './types.js';

export interface HostState {
  readonly ok: boolean;
  /** What the server said it is, or why it could not be reached. */
  readonly detail: string;
  readonly at: number;
}

const PROBE_TIMEOUT_MS = 5000;

export class ServerProbe {
  readonly #states = new Map<string, HostState>();
  readonly #pending = new Map<string, Promise<HostState>>();

  constructor(
    private readonly client: ModelClient,
    private readonly now: () => number,
    /** Told every answer about a host: each probe's, and each call the host answered. */
    private readonly onState?: (host: string, state: HostState) => void,
  ) {}

  /** Whether this client can be probed at all. */
  get available(): boolean {
    return typeof this.client.probe === 'function';
  }

  /** The last answer of `host`, or null before the first probe ended. */
  state(host: string): HostState | null {
    return this.#states.get(host) ?? null;
  }

  /** Probes each host (one probe per host at a time); resolves when all answered or timed out. */
  async probe(hosts: Iterable<string>): Promise<void> {
    await Promise.all([...new Set(hosts)].map((h) => this.#probeOne(h)));
  }

  /** A call to `host` just succeeded or failed: that is as good as a probe. */
  observed(host: string, ok: boolean, detail: string): void {
    this.#set(host, { ok, detail, at: this.now() });
  }

  #set(host: string, state: HostState): void {
    this.#states.set(host, state);
    this.onState?.(host, state);
  }

  #probeOne(host: string): Promise<HostState> {
    const running = this.#pending.get(host);
    if (running !== undefined) return running;
    const probe = this.client.probe;
    if (probe === undefined) return Promise.resolve({ ok: true, detail: 'not probed', at: this.now() });
    const work = probe
      .call(this.client, host, AbortSignal.timeout(PROBE_TIMEOUT_MS))
      .then(
        (what): HostState => ({ ok: true, detail: what, at: this.now() }),
        (err: unknown): HostState => ({
          ok: false,
          detail: (err instanceof Error ? err.message : String(err)).slice(0, 300),
          at: this.now(),
        }),
      )
      .then((state) => {
        this.#set(host, state);
        return state;
      })
      .finally(() => this.#pending.delete(host));
    this.#pending.set(host, work);
    return work;
  }
}
