/**
 * A dead-man switch for the bot itself: when AUTONOMY_HEARTBEAT_URL is set, the bot pings it every
 * minute (a GET, like healthchecks.io or Uptime Kuma push monitors expect). If pings stop, the
 * monitor alerts a person: the bot cannot report its own death.
 */
import type { Service } from '../service.js';

export interface HeartbeatDeps {
  readonly url: string;
  readonly intervalMs?: number;
  readonly fetch?: typeof fetch;
  readonly log: { warn(obj: object, msg: string): void };
}

export function startHeartbeat(deps: HeartbeatDeps): () => void {
  const doFetch = deps.fetch ?? fetch;
  let failures = 0;
  const ping = async () => {
    try {
      const res = await doFetch(deps.url, { method: 'GET', signal: AbortSignal.timeout(10_000) });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      await res.body?.cancel();
      failures = 0;
    } catch (err) {
      failures += 1;
      // The URL may carry a secret (push monitors put it in the path): log the host only.
      if (failures === 1 || failures % 10 === 0) {
        deps.log.warn(
          { host: new URL(deps.url).host, failures, err: (err as Error).message },
          'heartbeat ping failed',
        );
      }
    }
  };
  void ping();
  const timer = setInterval(() => void ping(), deps.intervalMs ?? 60_000);
  timer.unref();
  return () => clearInterval(timer);
}

/** The heartbeat as a service of the bot: pings while started. */
export function heartbeatService(deps: HeartbeatDeps): Service {
  let stop: (() => void) | null = null;
  return {
    name: 'heartbeat',
    start() {
      stop ??= startHeartbeat(deps);
    },
    stop() {
      stop?.();
      stop = null;
    },
  };
}
