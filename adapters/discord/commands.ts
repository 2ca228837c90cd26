/**
 * The `/autonomy` slash command: one subcommand per verb of the shared grammar, with typed options
 * (agent names as choices), and how a slash command interaction's options turn back into the
 * command text the core parses (`kill guardian flapping`). `registerCommands()` installs it in a
 * guild (instant) or globally (Discord may take up to an hour to show it).
 */
import { REST, Routes, SlashCommandBuilder, type SlashCommandSubcommandBuilder } from 'discord.js';
import { VERBS, type Verb } from '../../src/chat/commands/grammar.js';
import { AGENTS } from '../../src/policy/vocabulary.js';

type OptionKind = 'string' | 'integer' | 'agent' | 'agent-or-all' | 'mute-kind';

export interface OptionSpec {
  readonly name: string;
  readonly description: string;
  readonly kind: OptionKind;
  readonly required?: boolean;
  readonly min?: number;
  readonly max?: number;
}

/** Options of each verb, in the order the grammar reads them (free text last). */
export const VERB_OPTIONS: Readonly<Record<Verb, readonly OptionSpec[]>> = {
  help: [{ name: 'topic', description: 'a verb to explain', kind: 'string' }],
  status: [],
  kill: [
    { name: 'agent', description: 'the agent to stop, or all', kind: 'agent-or-all', required: true },
    { name: 'reason', description: 'why (shown in the audit log)', kind: 'string' },
  ],
  resume: [
    { name: 'agent', description: 'the agent to resume, or all', kind: 'agent-or-all', required: true },
    { name: 'reason', description: 'why', kind: 'string' },
  ],
  budget: [
    { name: 'agent', description: 'one agent', kind: 'agent' },
    { name: 'tokens', description: 'new daily token budget', kind: 'integer', min: 0, max: 1_000_000_000 },
  ],
  approvals: [],
  approve: [{ name: 'id', description: 'approval id, like a12', kind: 'string', required: true }],
  deny: [
    { name: 'id', description: 'approval id, like a12', kind: 'string', required: true },
    { name: 'reason', description: 'why not', kind: 'string' },
  ],
  incidents: [
    { name: 'of', description: 'service or team', kind: 'string' },
    { name: 'name', description: 'the service (or glob) or team', kind: 'string' },
  ],
  ack: [{ name: 'id', description: 'incident id, like i7', kind: 'string', required: true }],
  resolve: [
    { name: 'id', description: 'incident id, like i7', kind: 'string', required: true },
    { name: 'note', description: 'what fixed it', kind: 'string' },
  ],
  mute: [
    { name: 'kind', description: 'what to mute', kind: 'mute-kind', required: true },
    { name: 'name', description: 'agent, signature or service name', kind: 'string', required: true },
    { name: 'duration', description: 'how long, like 2h', kind: 'string', required: true },
    { name: 'reason', description: 'why', kind: 'string' },
  ],
  unmute: [
    { name: 'kind', description: 'what to unmute', kind: 'mute-kind', required: true },
    { name: 'name', description: 'agent, signature or service name', kind: 'string', required: true },
  ],
  phase: [
    { name: 'phase', description: 'the phase to move to', kind: 'integer', min: 1, max: 4 },
    { name: 'agent', description: 'one agent (default: all)', kind: 'agent' },
    { name: 'reason', description: 'why (required to change the phase)', kind: 'string' },
  ],
  digest: [],
  subscribe: [
    { name: 'to', description: 'digest (default), service or team', kind: 'string' },
    { name: 'name', description: 'the service (or glob) or team', kind: 'string' },
  ],
  unsubscribe: [
    { name: 'from', description: 'digest (default), service or team', kind: 'string' },
    { name: 'name', description: 'the service (or glob) or team', kind: 'string' },
  ],
  subscriptions: [],
  audit: [{ name: 'run', description: 'run id', kind: 'string', required: true }],
  skills: [],
};

export const COMMAND_NAME = 'autonomy';

/** The slash command definition (JSON for the Discord API). */
export function commandDefinition(): ReturnType<SlashCommandBuilder['toJSON']> {
  const builder = new SlashCommandBuilder()
    .setName(COMMAND_NAME)
    .setDescription('Talk to the autonomy bot: status, kill switches, approvals, incidents')
    .setDMPermission(false);
  for (const spec of VERBS) {
    builder.addSubcommand((sub) =>
      addOptions(sub.setName(spec.verb).setDescription(cap(spec.summary)), spec.verb),
    );
  }
  return builder.toJSON();
}

function addOptions(sub: SlashCommandSubcommandBuilder, verb: Verb): SlashCommandSubcommandBuilder {
  for (const o of VERB_OPTIONS[verb]) {
    const required = o.required ?? false;
    if (o.kind === 'integer') {
      sub.addIntegerOption((opt) => {
        opt.setName(o.name).setDescription(o.description).setRequired(required);
        if (o.min !== undefined) opt.setMinValue(o.min);
        if (o.max !== undefined) opt.setMaxValue(o.max);
        return opt;
      });
      continue;
    }
    sub.addStringOption((opt) => {
      opt.setName(o.name).setDescription(o.description).setRequired(required);
      const choices =
        o.kind === 'agent'
          ? [...AGENTS]
          : o.kind === 'agent-or-all'
            ? ['all', ...AGENTS]
            : o.kind === 'mute-kind'
              ? ['agent', 'signature', 'service']
              : [];
      if (choices.length > 0) opt.addChoices(...choices.map((c) => ({ name: c, value: c })));
      else opt.setMaxLength(500);
      return opt;
    });
  }
  return sub;
}

function cap(text: string): string {
  return text.length <= 100 ? text : `${text.slice(0, 99)}…`;
}

/** A value of an option as the interaction delivered it. */
export type OptionValue = string | number | boolean;

/**
 * The command text for a subcommand and its option values: `kill guardian flapping deploys`.
 * Values that hold spaces (except the last free-text option) are quoted for the tokenizer.
 */
export function commandText(verb: string, values: ReadonlyMap<string, OptionValue>): string {
  const specs = (VERB_OPTIONS as Record<string, readonly OptionSpec[] | undefined>)[verb];
  if (specs === undefined) return verb;
  const words: string[] = [verb];
  specs.forEach((o, i) => {
    const v = values.get(o.name);
    if (v === undefined) return;
    const text = String(v).replace(/["']/g, '').trim();
    if (text === '') return;
    words.push(i < specs.length - 1 && /\s/.test(text) ? `"${text}"` : text);
  });
  return words.join(' ');
}

export interface RegisterOptions {
  readonly token: string;
  /** The application id; looked up from the token (GET /applications/@me) when left out. */
  readonly applicationId?: string;
  /** Register in this guild (shows at once); without it, globally. */
  readonly guildId?: string;
  /** REST base URL override (`DISCORD_API_URL`, e.g. `http://127.0.0.1:8080/api`). */
  readonly apiUrl?: string;
}

/** Installs (overwrites) the `/autonomy` command; returns where it went. */
export async function registerCommands(options: RegisterOptions): Promise<{ scope: 'guild' | 'global' }> {
  const rest = new REST(options.apiUrl ? { api: options.apiUrl } : {}).setToken(options.token);
  const applicationId =
    options.applicationId ?? ((await rest.get(Routes.currentApplication())) as { id: string }).id;
  const route = options.guildId
    ? Routes.applicationGuildCommands(applicationId, options.guildId)
    : Routes.applicationCommands(applicationId);
  await rest.put(route, { body: [commandDefinition()] });
  return { scope: options.guildId ? 'guild' : 'global' };
}
