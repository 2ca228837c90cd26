/**
 * The Slack adapter: a real Bolt app. Socket Mode when an app token is given (no public URL
 * needed), else HTTP mode: Slack's requests arrive at `POST /slack/events` on the bot's one HTTP
 * server through `slackRequestListener()` (request-guard.ts). Posts and updates go through the
 * Web API without the client's own retries, so rate limits and outages reach the outbox as
 * DeliveryErrors (with Retry-After) and nothing is lost. Commands and clicks: see handlers.ts.
 */
import { readFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { basename, resolve, sep } from 'node:path';
import {
  App,
  type Logger as BoltLogger,
  HTTPModuleFunctions,
  HTTPReceiver,
  LogLevel,
  SocketModeReceiver,
} from '@slack/bolt';
import type { ChatAdapter, ChatInbound, DeliveredRef, PostOptions } from '../../src/chat/adapter.js';
import { DeliveryError } from '../../src/chat/adapter.js';
import type { ChatMessage } from '../../src/chat/message.js';
import { ConfigError } from '../../src/process/config.js';
import type { Clock } from '../../src/process/ids.js';
import type { Logger } from '../../src/process/log.js';
import { registerHandlers } from './handlers.js';
import { renderSlackMessage } from './render.js';
import { AUTH_ERRORS, toDeliveryError } from './slack-errors.js';
import { slackFetch } from './slack-fetch.js';

export interface SlackAdapterOptions {
  /** SLACK_BOT_TOKEN (xoxb-…). */
  readonly botToken: string;
  /** SLACK_SIGNING_SECRET: required in HTTP mode (no app token). */
  readonly signingSecret?: string;
  /** SLACK_APP_TOKEN (xapp-…): Socket Mode when set. */
  readonly appToken?: string;
  /** SLACK_API_URL: Slack's Web API base (a proxy, or a test server). Default https://slack.com/api/. */
  readonly apiUrl?: string;
  /** The bot's ids, when known (skips the auth.test call). */
  readonly botId?: string;
  readonly botUserId?: string;
  /** The core; may also be given later with `attach()` (the bot builds the core after the adapters). */
  readonly inbound?: ChatInbound;
  readonly now: Clock;
  /** AUTONOMY_PUBLIC_URL: where people read the full text of a cut message. */
  readonly publicUrl: string | null;
  readonly log: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** Slack user group ids (S…) named in the policy; membership is looked up per actor. */
  readonly groups?: () => readonly string[];
  /** How long group membership is cached. Default 60 s. */
  readonly groupCacheMs?: number;
  /** The data folder (folder of AUTONOMY_DB): digest charts (`message.image.path`) are read only from here. */
  readonly dataDir?: string;
  /** Requests whose timestamp is further than this from now (past or future) are refused. Default 5 min. */
  readonly maxClockSkewMs?: number;
}

export type SlackMode = 'socket' | 'http';

const DEFAULT_SKEW_MS = 5 * 60_000;

export class SlackAdapter implements ChatAdapter {
  readonly platform = 'slack' as const;
  readonly mode: SlackMode;
  readonly app: App;
  readonly maxClockSkewMs: number;
  readonly #options: SlackAdapterOptions;
  readonly #http: HTTPReceiver | null;
  readonly #groupCache = new Map<string, { at: number; users: Promise<ReadonlySet<string>> }>();
  #inbound: ChatInbound | undefined;
  #problem: { status: 'degraded' | 'down'; detail: string } | null = null;
  #started = false;

  constructor(options: SlackAdapterOptions) {
    this.#inbound = options.inbound;
    this.#options = options;
    this.maxClockSkewMs = options.maxClockSkewMs ?? DEFAULT_SKEW_MS;
    if (options.botToken.trim() === '')
      throw new ConfigError('SLACK_BOT_TOKEN is empty', { fix: 'set it to the xoxb-… bot token' });
    const logger = boltLogger(options.log);
    const clientOptions = {
      ...(options.apiUrl ? { slackApiUrl: withSlash(options.apiUrl) } : {}),
      // The outbox retries (honouring Retry-After); the client must not hide a 429 by sleeping on it.
      retryConfig: { retries: 0 },
      rejectRateLimitedCalls: true,
      timeout: 10_000,
      fetch: slackFetch,
    };
    const ids = {
      ...(options.botId ? { botId: options.botId } : {}),
      ...(options.botUserId ? { botUserId: options.botUserId } : {}),
    };
    if (options.appToken) {
      this.mode = 'socket';
      this.#http = null;
      const receiver = new SocketModeReceiver({
        appToken: options.appToken,
        logger,
        installerOptions: { clientOptions },
      });
      this.app = new App({ token: options.botToken, receiver, logger, clientOptions, ...ids });
    } else {
      if (!options.signingSecret) {
        throw new ConfigError(
          'Slack needs SLACK_SIGNING_SECRET (HTTP mode) or SLACK_APP_TOKEN (Socket Mode)',
          {
            fix: 'set one of them (the app settings: Basic Information for both)',
          },
        );
      }
      this.mode = 'http';
      this.#http = new HTTPReceiver({
        signingSecret: options.signingSecret,
        endpoints: '/slack/events',
        processBeforeResponse: false,
        logger,
        unhandledRequestTimeoutMillis: 2500,
      });
      this.app = new App({ token: options.botToken, receiver: this.#http, logger, clientOptions, ...ids });
    }
    registerHandlers(this.app, {
      // Commands and clicks go to the core attached now, not the one at construction.
      inbound: {
        command: (cmd) => this.#attached().command(cmd),
        click: (click) => this.#attached().click(click),
      },
      groupsOf: (userId) => this.groupsOf(userId),
      render: (m) => this.render(m),
      log: options.log,
    });
  }

  /** Hands the adapter the core's inbound side (commands and clicks before this are refused). */
  attach(inbound: ChatInbound): void {
    this.#inbound = inbound;
  }

  #attached(): ChatInbound {
    if (this.#inbound === undefined)
      throw new Error('slack: no core attached yet (the bot is still starting)');
    return this.#inbound;
  }

  /** The HTTP mode receiver's node request listener (null in Socket Mode). See request-guard.ts. */
  get receiverListener(): HTTPReceiver['requestListener'] | null {
    return this.#http?.requestListener ?? null;
  }

  /**
   * HTTP mode, before Bolt sees the request: reads the body (Bolt reuses it), checks the signature
   * as Bolt does, and refuses a signed body that is no Slack event, command or interaction (Bolt
   * would wait 2.5 s for an ack nobody gives, or throw on `payload=null`). Null: hand it to Bolt.
   */
  async refusal(req: IncomingMessage): Promise<{ readonly status: number; readonly reason: string } | null> {
    const secret = this.#options.signingSecret;
    if (this.#http === null || secret === undefined) return { status: 404, reason: 'Socket Mode' };
    let body: unknown;
    try {
      const buffered = await HTTPModuleFunctions.parseAndVerifyHTTPRequest({ signingSecret: secret }, req);
      try {
        body = HTTPModuleFunctions.parseHTTPRequestBody(buffered);
      } catch {
        return { status: 400, reason: 'the body is not form data or JSON Slack sends' };
      }
    } catch (err) {
      if (HTTPModuleFunctions.isRawBodyError(err) && err.statusCode === 413) {
        return { status: 413, reason: 'the body is too large' };
      }
      return { status: 401, reason: 'the request is not signed with the signing secret' };
    }
    const problem = slackBodyProblem(body);
    if (problem !== null) {
      this.#options.log.warn({ problem }, 'slack: refused a signed request that means nothing (400)');
      return { status: 400, reason: problem };
    }
    return null;
  }

  render(message: ChatMessage) {
    return renderSlackMessage(message, { fullTextUrl: this.#options.publicUrl });
  }

  async post(channel: string, message: ChatMessage, options?: PostOptions): Promise<DeliveredRef> {
    const id = channelId(channel);
    const rendered = this.render(message);
    try {
      const result = await this.app.client.chat.postMessage({
        channel: id,
        ...(options?.thread === undefined ? {} : { thread_ts: options.thread }),
        text: rendered.text,
        blocks: rendered.blocks as never,
        unfurl_links: false,
        unfurl_media: false,
      });
      if (typeof result.ts !== 'string') {
        throw new DeliveryError(`Slack accepted a message to ${channel} but gave no ts`, {
          platform: 'slack',
          platformCode: 'no_ts',
        });
      }
      this.#ok();
      if (message.image) await this.#uploadChart(id, result.ts, message.image);
      return { ref: result.ts };
    } catch (err) {
      throw this.#failed(err, `chat.postMessage to ${channel}`);
    }
  }

  async update(channel: string, ref: string, message: ChatMessage): Promise<void> {
    const id = channelId(channel);
    const rendered = this.render(message);
    try {
      await this.app.client.chat.update({
        channel: id,
        ts: ref,
        text: rendered.text,
        blocks: rendered.blocks as never,
      });
      this.#ok();
    } catch (err) {
      throw this.#failed(err, `chat.update of ${ref} in ${channel}`);
    }
  }

  /**
   * Uploads a digest chart into the message's thread (files upload v2). The message itself is
   * already delivered, so a failed upload is logged and never throws (a retry would post twice).
   */
  async #uploadChart(channelId: string, ts: string, image: { path: string; alt: string }): Promise<void> {
    const dir = this.#options.dataDir;
    if (dir === undefined) return;
    const root = resolve(dir);
    const file = resolve(root, image.path);
    if (!file.startsWith(`${root}${sep}`)) {
      this.#options.log.warn({ path: image.path }, 'slack: chart outside the data folder not uploaded');
      return;
    }
    try {
      await this.app.client.filesUploadV2({
        channel_id: channelId,
        thread_ts: ts,
        file: await readFile(file),
        filename: basename(file),
        alt_text: image.alt,
      });
    } catch (err) {
      this.#options.log.warn(
        { err: toDeliveryError(err, `files upload of ${basename(file)}`).message },
        'slack: the digest was posted but its chart could not be uploaded (scope files:write?)',
      );
    }
  }

  /**
   * `slack:group:S…` for each policy group the user is in. Memberships are cached (in-flight
   * lookups shared); a failed lookup counts as no members until the cache expires.
   */
  async groupsOf(userId: string): Promise<string[]> {
    const groups = this.#options.groups?.() ?? [];
    const ttl = this.#options.groupCacheMs ?? 60_000;
    const now = this.#options.now();
    const out: string[] = [];
    for (const identity of groups) {
      const groupId = identity.startsWith('slack:group:') ? identity.slice('slack:group:'.length) : identity;
      let cached = this.#groupCache.get(groupId);
      if (!cached || now - cached.at > ttl) {
        cached = { at: now, users: this.#members(groupId) };
        this.#groupCache.set(groupId, cached);
      }
      if ((await cached.users).has(userId)) out.push(`slack:group:${groupId}`);
    }
    return out;
  }

  async #members(groupId: string): Promise<ReadonlySet<string>> {
    try {
      const res = await this.app.client.usergroups.users.list({ usergroup: groupId });
      return new Set(res.users ?? []);
    } catch (err) {
      this.#options.log.warn(
        { err: toDeliveryError(err, `usergroups.users.list ${groupId}`).message },
        'slack: could not read a user group; its members get no group roles for now (scope usergroups:read?)',
      );
      return new Set();
    }
  }

  health(): { readonly status: 'ok' | 'degraded' | 'down'; readonly detail?: string } {
    if (this.#problem) return this.#problem;
    return { status: 'ok', detail: `${this.mode === 'socket' ? 'Socket Mode' : 'HTTP mode'}` };
  }

  /** Socket Mode connects here; HTTP mode only needs the route mounted (nothing to open). */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    if (this.mode === 'socket') await this.app.start();
  }

  async stop(): Promise<void> {
    if (!this.#started) return;
    this.#started = false;
    if (this.mode === 'socket') await this.app.stop();
  }

  /** A request Bolt failed on (answered 500 by request-guard.ts): logged, the process goes on. */
  requestFailed(err: unknown): void {
    this.#options.log.error(
      { err: err instanceof Error ? err.message : String(err) },
      'slack: handling a request failed (answered 500)',
    );
  }

  #ok(): void {
    this.#problem = null;
  }

  #failed(err: unknown, what: string): DeliveryError {
    const e = toDeliveryError(err, what);
    const code = e.options.platformCode ?? '';
    if (AUTH_ERRORS.has(code)) this.#problem = { status: 'down', detail: e.message };
    else if (!e.options.permanent) this.#problem = { status: 'degraded', detail: e.message };
    return e;
  }
}

/**
 * Why a verified, parsed body is none of what Slack sends to the events URL (an event or
 * url_verification with `type`, an interaction payload with `type`, a slash command with
 * `command`, Slack's `ssl_check`), or null when it is one of them.
 */
export function slackBodyProblem(body: unknown): string | null {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return 'the body is not an object (a Slack event, command or interaction)';
  }
  const b = body as Record<string, unknown>;
  if (b.ssl_check === '1') return null;
  if (typeof b.type === 'string' && b.type !== '') return null;
  if (typeof b.command === 'string' && b.command !== '') return null;
  return 'the body has no type or command: not a Slack event, command or interaction';
}

/** `slack:C123` -> `C123`; anything else is a permanent delivery error. */
export function channelId(channel: string): string {
  const m = /^slack:([A-Z0-9]{2,30})$/.exec(channel);
  if (!m?.[1]) {
    throw new DeliveryError(`the Slack adapter delivers to slack:C… channels, not ${channel}`, {
      platform: 'slack',
      platformCode: 'channel_not_found',
      permanent: true,
    });
  }
  return m[1];
}

function withSlash(url: string): string {
  return url.endsWith('/') ? url : `${url}/`;
}

/** Bolt's logs into ours: warnings and errors only (Bolt's debug output is noisy). */
function boltLogger(log: Pick<Logger, 'info' | 'warn' | 'error'>): BoltLogger {
  let level = LogLevel.WARN;
  const line = (msg: unknown[]) => msg.map((m) => (m instanceof Error ? m.message : String(m))).join(' ');
  return {
    debug: () => {},
    info: () => {},
    warn: (...msg: unknown[]) => log.warn({ source: 'bolt' }, line(msg)),
    error: (...msg: unknown[]) => log.error({ source: 'bolt' }, line(msg)),
    setLevel: (l: LogLevel) => {
      level = l;
    },
    getLevel: () => level,
    setName: () => {},
  };
}
