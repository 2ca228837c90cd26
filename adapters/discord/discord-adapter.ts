/**
 * The Discord adapter: a discord.js client (Guilds intent only, no privileged intents) that posts
 * and edits messages through the REST API and turns slash commands, button clicks and the deny
 * reason modal into the core's InboundCommand / InboundClick. The core authorises and decides;
 * this file only translates. discord.js reconnects and resumes the gateway by itself.
 */
import { readFile } from 'node:fs/promises';
import { basename, isAbsolute, resolve, sep } from 'node:path';
import {
  ActionRowBuilder,
  type ButtonInteraction,
  type ChatInputCommandInteraction,
  Client,
  DiscordAPIError,
  Events,
  GatewayIntentBits,
  HTTPError,
  type Interaction,
  MessageFlags,
  ModalBuilder,
  type ModalSubmitInteraction,
  RateLimitError,
  type RESTPostAPIChannelMessageResult,
  Routes,
  Status,
  TextInputBuilder,
  TextInputStyle,
} from 'discord.js';
import {
  type ChatAdapter,
  type ChatInbound,
  type DeliveredRef,
  DeliveryError,
  type PostOptions,
} from '../../src/chat/adapter.js';
import { message as buildMessage, type ChatMessage } from '../../src/chat/message.js';
import { ConfigError } from '../../src/process/config.js';
import { AutonomyError } from '../../src/process/errors.js';
import { COMMAND_NAME, commandText, type OptionValue } from './commands.js';
import { type DiscordMessageBody, parseCustomId, renderMessage } from './render.js';

export interface DiscordLogger {
  warn(detail: object, message: string): void;
}

export interface DiscordAdapterOptions {
  /** DISCORD_TOKEN. Never logged. */
  readonly token: string;
  /** DISCORD_API_URL: REST base URL override (`http://127.0.0.1:8080/api`). */
  readonly apiUrl?: string;
  /** The core; may also be given later with `attach()` (the core is built after the adapters). */
  readonly inbound?: ChatInbound;
  /** Link to the console, for messages cut to Discord's limits. */
  readonly fullTextUrl?: string | null;
  /** The data folder: digest charts (`message.image.path`, relative to it) are read only from inside it. */
  readonly dataDir?: string;
  /** Answer within this long or defer the reply (Discord allows 3 s). Default 2000 ms. */
  readonly deferAfterMs?: number;
  /** How long start() waits for the gateway's READY. Default 30 s. */
  readonly readyTimeoutMs?: number;
  readonly logger?: DiscordLogger;
}

const DENY_MODAL = 'autonomy-deny';
const REASON_INPUT = 'reason';
/** Interaction ids remembered for dedupe (a redelivered interaction is answered once). */
const SEEN_CAPACITY = 2000;
const PERMANENT_CODES = new Set([10003, 10008, 50001, 50013, 50035]);
/** "A thread has already been created for this message." */
const THREAD_EXISTS = 160004;

export class DiscordAdapter implements ChatAdapter {
  readonly platform = 'discord' as const;
  readonly client: Client;
  readonly #options: DiscordAdapterOptions;
  #inbound: ChatInbound | null;
  readonly #seen = new Set<string>();
  /** Card messages known to have a thread (bounded; a forgotten one is found again by THREAD_EXISTS). */
  readonly #threads = new Set<string>();
  #state: 'stopped' | 'starting' | 'running' = 'stopped';

  constructor(options: DiscordAdapterOptions) {
    if (options.token.trim() === '')
      throw new ConfigError('DISCORD_TOKEN is empty', {
        fix: 'set it to the bot token (Developer Portal, Bot tab)',
      });
    this.#options = options;
    this.#inbound = options.inbound ?? null;
    this.client = new Client({
      intents: [GatewayIntentBits.Guilds],
      rest: {
        ...(options.apiUrl ? { api: options.apiUrl } : {}),
        // The outbox retries, honouring Retry-After: discord.js must not wait or retry on its own.
        rejectOnRateLimit: () => true,
        retries: 0,
      },
    });
    this.client.on(Events.InteractionCreate, (interaction) => {
      void this.#onInteraction(interaction);
    });
  }

  /** Hands the adapter the core's inbound side (clicks and commands before this are refused). */
  attach(inbound: ChatInbound): void {
    this.#inbound = inbound;
  }

  async start(): Promise<void> {
    if (this.#state !== 'stopped') return;
    this.#state = 'starting';
    const timeoutMs = this.#options.readyTimeoutMs ?? 30_000;
    let timer: NodeJS.Timeout | undefined;
    const ready = new Promise<void>((resolveReady, reject) => {
      this.client.once(Events.ClientReady, () => resolveReady());
      timer = setTimeout(
        () => reject(new Error(`Discord gateway did not send READY within ${timeoutMs} ms`)),
        timeoutMs,
      );
      timer.unref();
    });
    try {
      await this.client.login(this.#options.token);
      await ready;
      this.#state = 'running';
    } catch (error) {
      this.#state = 'stopped';
      await this.client.destroy();
      throw new AutonomyError('CHAT_LOGIN_FAILED', `Discord login failed: ${errorText(error)}`, {
        fix: 'check DISCORD_TOKEN (the bot token from the Developer Portal, Bot tab) and DISCORD_API_URL if set',
        cause: error,
      });
    } finally {
      clearTimeout(timer);
    }
  }

  async stop(): Promise<void> {
    this.#state = 'stopped';
    await this.client.destroy();
  }

  health(): { readonly status: 'ok' | 'degraded' | 'down'; readonly detail?: string } {
    if (this.#state === 'stopped') return { status: 'down', detail: 'not connected' };
    const down = [...this.client.ws.shards.values()].filter((s) => s.status !== Status.Ready).length;
    if (this.client.isReady() && down === 0) {
      return { status: 'ok', detail: `connected as ${this.client.user.tag}` };
    }
    // Posts still work (REST); commands and clicks wait for the gateway to come back.
    return { status: 'degraded', detail: 'reconnecting to the Discord gateway' };
  }

  async post(channel: string, message: ChatMessage, options?: PostOptions): Promise<DeliveredRef> {
    const parent = channelId(channel);
    const id = options?.thread === undefined ? parent : await this.#thread(parent, options.thread, message);
    const { body, files } = await this.#body(message);
    try {
      const sent = (await this.client.rest.post(Routes.channelMessages(id), {
        body,
        ...(files ? { files } : {}),
      })) as RESTPostAPIChannelMessageResult;
      return { ref: sent.id };
    } catch (error) {
      throw deliveryError(error, `post to ${channel}`);
    }
  }

  /**
   * The thread on message `ref` of channel `parent` (a thread started from a message has the
   * message's id), started now unless it exists. When the bot may not start threads (no Create
   * Public Threads permission), the reply goes to the channel instead: said once in the log.
   */
  async #thread(parent: string, ref: string, message: ChatMessage): Promise<string> {
    if (!/^\d{1,25}$/.test(ref) || this.#threads.has(ref)) return /^\d{1,25}$/.test(ref) ? ref : parent;
    const incident = message.refs.incident;
    const name = (incident !== undefined && /^i\d+$/.test(incident) ? `Incident ${incident}` : message.title)
      .replace(/\s+/g, ' ')
      .slice(0, 100);
    try {
      await this.client.rest.post(Routes.threads(parent, ref), {
        body: { name, auto_archive_duration: 1440 },
      });
    } catch (error) {
      const code = error instanceof DiscordAPIError ? Number(error.code) : null;
      if (code !== THREAD_EXISTS) {
        const failed = deliveryError(error, `thread on message ${ref} in ${parent}`);
        if (!failed.options.permanent) throw failed;
        this.#options.logger?.warn(
          { error: failed.message },
          'discord: could not start a thread on the incident card; posting at the channel top level',
        );
        return parent;
      }
    }
    this.#threads.add(ref);
    if (this.#threads.size > SEEN_CAPACITY) {
      const oldest = this.#threads.values().next().value;
      if (oldest !== undefined) this.#threads.delete(oldest);
    }
    return ref;
  }

  async update(channel: string, ref: string, message: ChatMessage): Promise<void> {
    const id = channelId(channel);
    if (!/^\d{1,25}$/.test(ref)) {
      throw new DeliveryError(`"${ref}" is not a Discord message id`, {
        platform: 'discord',
        platformCode: 'bad_ref',
        permanent: true,
      });
    }
    const body = renderMessage(message, { fullTextUrl: this.#options.fullTextUrl ?? null });
    try {
      await this.client.rest.patch(Routes.channelMessage(id, ref), { body });
    } catch (error) {
      throw deliveryError(error, `update of message ${ref} in ${channel}`);
    }
  }

  async #body(
    message: ChatMessage,
  ): Promise<{ body: DiscordMessageBody; files?: { name: string; data: Buffer }[] }> {
    const fullTextUrl = this.#options.fullTextUrl ?? null;
    if (!message.image) return { body: renderMessage(message, { fullTextUrl }) };
    const dir = this.#options.dataDir;
    const path = isAbsolute(message.image.path)
      ? message.image.path
      : resolve(dir ?? '.', message.image.path);
    // With a data folder (the bot always gives one), charts are read from inside it and nowhere else.
    if (dir !== undefined && !path.startsWith(`${resolve(dir)}${sep}`)) {
      this.#options.logger?.warn(
        { path: message.image.path },
        'discord: image outside the data folder not attached',
      );
      return { body: renderMessage(message, { fullTextUrl }) };
    }
    try {
      const data = await readFile(path);
      const name = basename(path).replace(/[^A-Za-z0-9._-]/g, '_') || 'image.png';
      return { body: renderMessage(message, { fullTextUrl, imageName: name }), files: [{ name, data }] };
    } catch (error) {
      this.#options.logger?.warn({ path, error: errorText(error) }, 'discord: image not attached');
      return { body: renderMessage(message, { fullTextUrl }) };
    }
  }

  async #onInteraction(interaction: Interaction): Promise<void> {
    if (this.#seen.has(interaction.id)) return;
    this.#seen.add(interaction.id);
    if (this.#seen.size > SEEN_CAPACITY) {
      const oldest = this.#seen.values().next().value;
      if (oldest !== undefined) this.#seen.delete(oldest);
    }
    try {
      if (interaction.isChatInputCommand() && interaction.commandName === COMMAND_NAME) {
        await this.#onCommand(interaction);
      } else if (interaction.isButton()) {
        await this.#onButton(interaction);
      } else if (interaction.isModalSubmit() && interaction.customId.startsWith(`${DENY_MODAL}:`)) {
        await this.#onDenyReason(interaction);
      }
    } catch (error) {
      this.#options.logger?.warn(
        { interaction: interaction.id, error: errorText(error) },
        'discord: interaction failed',
      );
    }
  }

  async #onCommand(interaction: ChatInputCommandInteraction): Promise<void> {
    const values = new Map<string, OptionValue>();
    for (const o of interaction.options.data[0]?.options ?? []) {
      if (o.value !== undefined) values.set(o.name, o.value);
    }
    const text = commandText(interaction.options.getSubcommand(), values);
    await this.#answer(interaction, (inbound) =>
      inbound.command({
        platform: 'discord',
        ...who(interaction),
        text,
        deliveryId: interaction.id,
      }),
    );
  }

  async #onButton(interaction: ButtonInteraction): Promise<void> {
    const parsed = parseCustomId(interaction.customId);
    if (parsed === null) {
      await interaction.reply({
        ...replyOptions(notice('This button is not one the bot knows.')),
        flags: MessageFlags.Ephemeral,
      });
      return;
    }
    if (parsed.action === 'deny') {
      const reason = new TextInputBuilder()
        .setCustomId(REASON_INPUT)
        .setLabel('Why deny?')
        .setStyle(TextInputStyle.Paragraph)
        .setRequired(false)
        .setMaxLength(500);
      await interaction.showModal(
        new ModalBuilder()
          .setCustomId(`${DENY_MODAL}:${parsed.target}:${parsed.nonce}`)
          .setTitle(`Deny ${parsed.target}`)
          .addComponents(new ActionRowBuilder<TextInputBuilder>().addComponents(reason)),
      );
      return;
    }
    await this.#answer(interaction, (inbound) =>
      inbound.click({ platform: 'discord', ...who(interaction), ...parsed, deliveryId: interaction.id }),
    );
  }

  async #onDenyReason(interaction: ModalSubmitInteraction): Promise<void> {
    const parsed = parseCustomId(`autonomy:deny:${interaction.customId.slice(DENY_MODAL.length + 1)}`);
    if (parsed === null) {
      await interaction.reply({
        ...replyOptions(notice('This form is not one the bot knows.')),
        flags: MessageFlags.Ephemeral,
      });
      return;
    }
    const reason = interaction.fields.getTextInputValue(REASON_INPUT).trim().slice(0, 500);
    await this.#answer(interaction, (inbound) =>
      inbound.click({
        platform: 'discord',
        ...who(interaction),
        ...parsed,
        ...(reason === '' ? {} : { reason }),
        deliveryId: interaction.id,
      }),
    );
  }

  /** Runs the core and shows its reply to the caller only; defers first when it is slow. */
  async #answer(
    interaction: ChatInputCommandInteraction | ButtonInteraction | ModalSubmitInteraction,
    run: (inbound: ChatInbound) => Promise<ChatMessage>,
  ): Promise<void> {
    const inbound = this.#inbound;
    if (inbound === null) {
      await interaction.reply({
        ...replyOptions(notice('The bot is still starting; try again in a moment.')),
        flags: MessageFlags.Ephemeral,
      });
      return;
    }
    const work = run(inbound).then(
      (reply) => renderMessage(reply, { fullTextUrl: this.#options.fullTextUrl ?? null }),
      (error: unknown) => {
        this.#options.logger?.warn(
          { interaction: interaction.id, error: errorText(error) },
          'discord: core failed',
        );
        return notice('Something went wrong on the bot side; the error is in its log.');
      },
    );
    const deferAfterMs = this.#options.deferAfterMs ?? 2000;
    let timer: NodeJS.Timeout | undefined;
    const slow = new Promise<null>((r) => {
      timer = setTimeout(() => r(null), deferAfterMs);
      timer.unref();
    });
    const quick = await Promise.race([work, slow]);
    clearTimeout(timer);
    if (quick !== null) {
      await interaction.reply({ ...replyOptions(quick), flags: MessageFlags.Ephemeral });
      return;
    }
    await interaction.deferReply({ flags: MessageFlags.Ephemeral });
    await interaction.editReply(replyOptions(await work));
  }
}

function who(interaction: Interaction): { actor: string; actorGroups: string[]; channel: string } {
  const roles = interaction.member?.roles;
  const ids = roles === undefined ? [] : Array.isArray(roles) ? roles : [...roles.cache.keys()];
  return {
    actor: `discord:user:${interaction.user.id}`,
    actorGroups: ids.map((id) => `discord:role:${id}`),
    channel: `discord:${interaction.channelId ?? 'unknown'}`,
  };
}

/** A rendered body as discord.js reply options (its camelCase allowedMentions). */
function replyOptions(body: DiscordMessageBody) {
  const { allowed_mentions, ...rest } = body;
  return { ...rest, allowedMentions: allowed_mentions };
}

function notice(text: string): DiscordMessageBody {
  return renderMessage(buildMessage({ kind: 'reply', title: text }), { fullTextUrl: null });
}

function channelId(channel: string): string {
  const m = /^discord:(\d{1,25})$/.exec(channel);
  if (!m?.[1]) {
    throw new DeliveryError(`"${channel}" is not a Discord channel; write it as discord:<channel id>`, {
      platform: 'discord',
      platformCode: 'channel_not_found',
      permanent: true,
    });
  }
  return m[1];
}

/** A discord.js error as a DeliveryError the outbox understands. */
export function deliveryError(error: unknown, what: string): DeliveryError {
  if (error instanceof RateLimitError) {
    return new DeliveryError(`Discord rate limit on ${what}: retry in ${error.retryAfter} ms`, {
      platform: 'discord',
      platformCode: 'ratelimited',
      retryAfterMs: error.retryAfter,
      cause: error,
    });
  }
  if (error instanceof DiscordAPIError) {
    const permanent = PERMANENT_CODES.has(Number(error.code)) || (error.status < 500 && error.status !== 429);
    const fix =
      error.code === 10003 || error.code === 50001
        ? ': check the channel id in the policy and that the bot was invited to that channel'
        : '';
    return new DeliveryError(
      `Discord refused the ${what}: ${error.message} (code ${error.code}, HTTP ${error.status})${fix}`,
      { platform: 'discord', platformCode: String(error.code), permanent, cause: error },
    );
  }
  if (error instanceof HTTPError) {
    return new DeliveryError(`Discord failed the ${what}: HTTP ${error.status}`, {
      platform: 'discord',
      platformCode: String(error.status),
      permanent: error.status < 500 && error.status !== 429 && error.status !== 408,
      cause: error,
    });
  }
  return new DeliveryError(`Discord ${what} failed: ${errorText(error)}`, {
    platform: 'discord',
    cause: error,
  });
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
