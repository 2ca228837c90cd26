/**
 * The bot's one HTTP server as a service: /healthz, /metrics, the webhook ingest under /hooks/,
 * Slack's HTTP events when Slack runs in HTTP mode, and the console. Routes are mounted when it is
 * built; `start()` listens (the URL is known from then on), `stop()` closes the server first of all
 * (no new work comes in) and saves the log miner's templates.
 */
import type { Hono } from 'hono';
import type { ChatInbound } from '../../src/chat/adapter.js';
import type { Metrics } from '../../src/metrics/prometheus.js';
import type { Foreground } from '../../src/process/foreground.js';
import type { Logger } from '../../src/process/log.js';
import type { Service } from '../../src/service.js';
import type { Inventory } from '../../src/signals/advisories/inventory.js';
import { defaultAllowedHosts } from '../console/auth.js';
import type { ConsoleAdapter } from '../console/console-adapter.js';
import { mountConsole } from '../console/routes.js';
import { mountSlack } from '../slack/request-guard.js';
import type { SlackAdapter } from '../slack/slack-adapter.js';
import type { HookDeps } from './hooks/deps.js';
import { metricsCounters, mountHooks } from './hooks/index.js';
import { mountMetrics } from './metrics-route.js';
import { createHttpApp, type HealthReport, listen, type RunningServer } from './server.js';

export interface HttpServiceDeps {
  readonly host: string;
  readonly port: number;
  readonly publicUrl: string | null;
  readonly dataDir: string;
  readonly health: () => HealthReport;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly now: () => number;
  /** Requests in flight go before agent jobs (core's). */
  readonly foreground?: Foreground;
  /** The webhook ingest (the counters are made here, from `metrics`); OSV and GitHub share one inventory. */
  readonly hooks: Omit<HookDeps, 'counters' | 'log' | 'now' | 'inventory'> & {
    readonly inventory: () => Inventory;
  };
  /** Slack in HTTP mode answers on /slack/events; null otherwise. */
  readonly slack: SlackAdapter | null;
  /** The console page and its API; null when the console is off. */
  readonly console: {
    readonly adapter: ConsoleAdapter;
    readonly inbound: ChatInbound;
    readonly token: string;
    readonly consoleUser: () => string;
  } | null;
}

export class HttpService implements Service {
  readonly name = 'http';
  readonly app: Hono;
  readonly #deps: HttpServiceDeps;
  readonly #flushTemplates: () => void;
  #server: RunningServer | null = null;
  #port: number;

  constructor(deps: HttpServiceDeps) {
    this.#deps = deps;
    this.#port = deps.port;
    const { log, metrics, now } = deps;
    const app = createHttpApp({
      health: deps.health,
      onError: (err) => log.error({ err }, 'http request failed'),
      foreground: deps.foreground,
    });
    mountMetrics(app, metrics, (err) => log.error({ err }, 'metrics scrape failed'));
    const counters = metricsCounters(metrics);
    const hooks = mountHooks(app, { ...deps.hooks, counters, now, log });
    if (deps.slack?.mode === 'http') mountSlack(app, deps.slack, now);
    if (deps.console !== null) {
      mountConsole(app, {
        ...deps.console,
        allowedHosts: () => defaultAllowedHosts(this.#port, deps.publicUrl),
        publicUrl: deps.publicUrl,
        dataDir: deps.dataDir,
        now,
        log,
      });
    }
    this.app = app;
    this.#flushTemplates = hooks.flushTemplates;
  }

  /** Where the server listens (after start()). */
  get url(): string {
    if (this.#server === null) throw new Error('the HTTP server is not listening yet');
    return this.#server.url;
  }

  async start(): Promise<void> {
    if (this.#server !== null) return;
    this.#server = await listen(this.app, this.#deps.host, this.#deps.port);
    this.#port = Number(new URL(this.#server.url).port);
  }

  async stop(): Promise<void> {
    await this.#server?.close();
    this.#server = null;
    this.#flushTemplates();
  }
}
