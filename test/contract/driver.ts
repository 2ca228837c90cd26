/**
 * What the chat contract suite (chat.contract.test.ts) needs from a platform: type a command, click
 * a button, and read what the platform received, each as a person on that platform meets it. One
 * driver per adapter (drivers/console.ts, drivers/slack.ts, drivers/discord.ts), each in front of the
 * real running bot (startBot), so every case goes adapter -> core -> outbox -> adapter.
 */
import type { ButtonAction } from '../../src/chat/message.js';
import type { ContractBot } from './contract-bot.js';

/** A reply to a command or click, as the person who typed or clicked sees it. */
export interface Seen {
  /** Everything shown, as plain text: title, body, fields, with the platform's escaping read back. */
  readonly text: string;
  /** Shown to that person only: Slack ephemeral, Discord flag 64, the console's reply pane (not the feed). */
  readonly private: boolean;
}

/** A button as the platform shows it, with what a click on it sends back. */
export interface SeenButton {
  readonly action: ButtonAction;
  readonly label: string;
  readonly target: string;
  readonly nonce: string;
}

/** A message delivered to a channel, as it stands after its latest edit. */
export interface Posted {
  /** The platform's message id (Slack ts, Discord message id, console message id). */
  readonly ref: string;
  /** The channel (`slack:C0CONTRACT`, ...), or the thread it was posted in on Discord. */
  readonly channel: string;
  readonly text: string;
  readonly buttons: readonly SeenButton[];
  /** Link targets shown with the message. */
  readonly links: readonly string[];
  /** Whom the platform will notify: identities (`slack:user:U1`), or `@everyone` for a mass mention. */
  readonly pings: readonly string[];
}

export interface ClickOptions {
  /** Deny: the reason typed in the platform's reason form. */
  readonly reason?: string;
  /** Send this nonce instead of the button's (a forged or replayed button). */
  readonly nonce?: string;
  /** Send this target instead of the button's (a tampered id). */
  readonly target?: string;
}

/**
 * What differs between platforms, said once here instead of as skipped cases: each driver does a
 * case the way its platform allows, so every case runs on every platform.
 */
export interface Capabilities {
  /**
   * `per-request`: each request says who sent it (Slack user_id, Discord member). `policy`: the
   * console acts as one identity, the policy's `control.consoleUser`, for whoever holds its
   * token; acting as someone else means an admin edits that line (the driver does, and waits for
   * the reload).
   */
  readonly identity: 'per-request' | 'policy';
  /**
   * `free-text`: the person types the whole command. `slash-options`: Discord shows one
   * subcommand per registered verb with typed options; an unknown verb reaches the bot only from a
   * client holding an older registration of the command, which the driver sends as such.
   */
  readonly commands: 'free-text' | 'slash-options';
}

export interface ChatDriver {
  readonly platform: 'console' | 'slack' | 'discord';
  readonly can: Capabilities;
  /** The running bot behind the platform, and the test's hands on it (approvals, incidents). */
  readonly world: ContractBot;
  /** The channel the policy routes everything to on this platform. */
  readonly channel: string;
  /** Identities the policy knows: `lead` holds every role; `operator` only the operator role. */
  readonly people: { readonly lead: string; readonly operator: string };
  /** Types `/autonomy <text>` as `actor` in the channel; resolves with the reply shown. */
  command(actor: string, text: string): Promise<Seen>;
  /** Clicks `action` on `message` as `actor` (for deny, fills in the reason form). */
  click(actor: string, message: Posted, action: ButtonAction, options?: ClickOptions): Promise<Seen>;
  /** Every message delivered to the platform so far, in the order posted. */
  posted(): Promise<Posted[]>;
  stop(): Promise<void>;
}
