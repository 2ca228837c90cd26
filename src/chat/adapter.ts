/**
 * The contract every chat adapter (console, Slack, Discord) implements, and what they hand the
 * core. Adapters translate: they verify and parse platform input, then call the core's
 * `ChatInbound` with a normalised event; they render `ChatMessage`s and report delivery errors
 * as `DeliveryError` so the outbox can retry (honouring Retry-After) or give up.
 */

import { AutonomyError } from '../process/errors.js';
import type { Service } from '../service.js';
import type { ButtonAction, ChatMessage } from './message.js';

export type Platform = 'slack' | 'discord' | 'console';

/** Where a delivered message landed on its platform (for later updates). */
export interface DeliveredRef {
  /** Platform message id: Slack `ts`, Discord message id, console message id. */
  readonly ref: string;
}

export interface PostOptions {
  /** The ref of the message (in the same channel) whose thread this post goes into. */
  readonly thread?: string;
}

export class DeliveryError extends AutonomyError {
  constructor(
    message: string,
    readonly options: {
      readonly platform: Platform;
      /** The platform's own error code (`ratelimited`, `channel_not_found`, HTTP status...). */
      readonly platformCode?: string;
      /** Retry-After from the platform, in ms. */
      readonly retryAfterMs?: number;
      /** true when retrying cannot help (unknown channel, message too old to edit, ...). */
      readonly permanent?: boolean;
      readonly cause?: unknown;
    },
  ) {
    super('DELIVERY_FAILED', message, { cause: options.cause });
  }
}

export interface ChatAdapter {
  readonly platform: Platform;
  /**
   * Posts a message to a channel of this platform; throws DeliveryError. With `thread` (the
   * delivered ref of an earlier message in the same channel: an incident's card) it is posted as a
   * reply in that message's thread.
   */
  post(channel: string, message: ChatMessage, options?: PostOptions): Promise<DeliveredRef>;
  /** Replaces a message posted earlier (decided approvals, incident counts); throws DeliveryError. */
  update(channel: string, ref: string, message: ChatMessage): Promise<void>;
  /** ok, or what is wrong (for /healthz and `status`). */
  health(): { readonly status: 'ok' | 'degraded' | 'down'; readonly detail?: string };
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Hands the adapter the core's entrance for commands and clicks (the core is built after adapters). */
  attach?(inbound: ChatInbound): void;
}

/** A command typed by a person: `/autonomy kill guardian flapping`. */
export interface InboundCommand {
  /** `cli` for the shell (`autonomy status`), which is trusted: see runCommand. */
  readonly platform: Platform | 'cli';
  /** The identity of who typed it (`slack:user:U123`). */
  readonly actor: string;
  /** Platform groups/roles the actor belongs to, when the platform tells (`discord:role:456`). */
  readonly actorGroups?: readonly string[];
  /** The channel it was typed in (`slack:C123`). */
  readonly channel: string;
  /** Everything after `/autonomy`. */
  readonly text: string;
  /** The platform's delivery id, for dedupe of redeliveries. */
  readonly deliveryId?: string;
}

/** A button click. */
export interface InboundClick {
  readonly platform: Platform;
  readonly actor: string;
  readonly actorGroups?: readonly string[];
  readonly channel: string;
  readonly action: ButtonAction;
  readonly target: string;
  readonly nonce: string;
  /** Deny reason from a modal, grant hours, ... */
  readonly reason?: string;
  readonly hours?: number;
  readonly deliveryId?: string;
}

/** What the core answers: the reply to show the person (ephemeral where the platform can). */
export interface ChatInbound {
  command(cmd: InboundCommand): Promise<ChatMessage>;
  click(click: InboundClick): Promise<ChatMessage>;
}

/**
 * A chat adapter as a service of the bot (`chat:slack`, ...): started after it was handed the core's
 * entrance for commands and clicks, stopped after the outbox drained, its health as it reports it.
 */
export function chatService(adapter: ChatAdapter, inbound: ChatInbound): Service {
  return {
    name: `chat:${adapter.platform}`,
    async start() {
      adapter.attach?.(inbound);
      await adapter.start();
    },
    stop: () => adapter.stop(),
    health: () => adapter.health(),
  };
}
