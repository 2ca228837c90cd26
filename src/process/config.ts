import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { AGENTS, type AgentName } from '../policy/vocabulary.js';
import { AutonomyError, type AutonomyErrorOptions } from './errors.js';
import { packageRoot } from './package-root.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const killList = z
  .string()
  .trim()
  .transform((text, ctx): 'all' | AgentName[] | null => {
    if (text === '') return null;
    const parts = text.split(',').map((p) => p.trim().toLowerCase());
    if (parts.includes('all')) return 'all';
    const agents: AgentName[] = [];
    for (const p of parts) {
      if ((AGENTS as readonly string[]).includes(p)) agents.push(p as AgentName);
      else {
        ctx.addIssue({
          code: 'custom',
          message: `unknown agent "${p}": use all or a comma-separated list of ${AGENTS.join(', ')}`,
        });
        return z.NEVER;
      }
    }
    return agents;
  });

const envSchema = z.object({
  AUTONOMY_POLICY: z.string().min(1).optional(),
  AUTONOMY_DB: z.string().min(1).default('./data/autonomy.db'),
  AUTONOMY_HOST: z.string().min(1).default('127.0.0.1'),
  AUTONOMY_PORT: z.coerce
    .number({ message: 'a port number from 0 to 65535' })
    .int()
    .min(0)
    .max(65535)
    .default(8787),
  AUTONOMY_KILL: killList.optional(),
  AUTONOMY_INGEST_TOKEN: z
    .string()
    .min(16, 'at least 16 characters (or leave it unset to have one generated)')
    .optional(),
  AUTONOMY_CONSOLE_TOKEN: z
    .string()
    .min(16, 'at least 16 characters (or leave it unset to have one generated)')
    .optional(),
  AUTONOMY_CONSOLE: z.enum(['on', 'off']).default('on'),
  AUTONOMY_PUBLIC_URL: z
    .url({ protocol: /^https?$/, message: 'an http(s) URL, e.g. https://autonomy.example.com' })
    .optional(),
  AUTONOMY_DRY_RUN: z.enum(['0', '1', 'true', 'false']).default('0'),
  AUTONOMY_HEARTBEAT_URL: z.url({ protocol: /^https?$/, message: 'an http(s) URL' }).optional(),
  GITHUB_WEBHOOK_SECRET: z.string().min(1).optional(),
  SLACK_BOT_TOKEN: z
    .string()
    .regex(/^xoxb-/, 'a bot token starting xoxb-')
    .optional(),
  SLACK_SIGNING_SECRET: z.string().min(8).optional(),
  SLACK_APP_TOKEN: z
    .string()
    .regex(/^xapp-/, 'an app-level token starting xapp- (Socket Mode)')
    .optional(),
  SLACK_API_URL: z.url({ protocol: /^https?$/ }).optional(),
  DISCORD_TOKEN: z.string().min(20).optional(),
  DISCORD_GUILD_ID: z
    .string()
    .regex(/^[0-9]{5,25}$/, 'a guild (server) id: digits')
    .optional(),
  DISCORD_API_URL: z.url({ protocol: /^https?$/ }).optional(),
  OLLAMA_HOST: z
    .url({ protocol: /^https?$/, message: 'the Ollama server URL, e.g. http://127.0.0.1:11434' })
    .default('http://127.0.0.1:11434'),
  AUTONOMY_SEARCH_URL: z
    .url({
      protocol: /^https?$/,
      message: 'a search endpoint URL (SearXNG JSON API), e.g. http://127.0.0.1:8888/search',
    })
    .optional(),
  AUTONOMY_CHROMIUM: z.string().min(1).optional(),
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
});

export interface Config {
  /** Absolute path of the policy file. */
  readonly policyFile: string;
  /** Absolute path of the SQLite file; its folder is the data folder. */
  readonly dbFile: string;
  readonly dataDir: string;
  readonly host: string;
  readonly port: number;
  /** AUTONOMY_KILL at start: everything, some agents, or nothing. */
  readonly killAtStart: 'all' | readonly AgentName[] | null;
  readonly logLevel: (typeof LOG_LEVELS)[number];
  /** Given tokens (null: generated into the data folder at first start). Never logged. */
  readonly ingestToken: string | null;
  readonly consoleToken: string | null;
  readonly consoleEnabled: boolean;
  /** How people reach the console (links in chat); null: the local URL. */
  readonly publicUrl: string | null;
  /** Executors describe what they would run and run nothing. */
  readonly dryRun: boolean;
  readonly heartbeatUrl: string | null;
  readonly githubWebhookSecret: string | null;
  /** Slack is on when a bot token is set (Socket Mode with an app token, else HTTP mode). */
  readonly slack: {
    botToken: string;
    signingSecret: string | null;
    appToken: string | null;
    apiUrl: string | null;
  } | null;
  /** The default model host (each model in the policy may name its own). */
  readonly ollamaHost: string;
  /** The web_search endpoint (SearXNG JSON API); null: no web_search. */
  readonly searchUrl: string | null;
  /** Chromium for the read-only research browser (used only when the file exists). */
  readonly chromiumPath: string;
  /** Discord is on when a bot token is set. */
  readonly discord: { token: string; guildId: string | null; apiUrl: string | null } | null;
}

export class ConfigError extends AutonomyError {
  constructor(message: string, options?: AutonomyErrorOptions) {
    super('CONFIG_INVALID', message, options);
  }
}

/** Reads the configuration; throws ConfigError naming each bad variable and what it takes. */
export function loadConfig(env: Readonly<Record<string, string | undefined>>, cwd = process.cwd()): Config {
  // An empty variable means "not set", as in most shells' `VAR= cmd`.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid environment:\n  ${lines.join('\n  ')}`);
  }
  const e = parsed.data;
  if (e.SLACK_BOT_TOKEN && !e.SLACK_APP_TOKEN && !e.SLACK_SIGNING_SECRET) {
    throw new ConfigError(
      'invalid environment:\n  SLACK_SIGNING_SECRET: needed with SLACK_BOT_TOKEN in HTTP mode (or set SLACK_APP_TOKEN for Socket Mode)',
    );
  }
  const dbFile = resolve(cwd, e.AUTONOMY_DB);
  return {
    policyFile: e.AUTONOMY_POLICY
      ? resolve(cwd, e.AUTONOMY_POLICY)
      : join(packageRoot(), 'policies', 'default.policy.yaml'),
    dbFile,
    dataDir: dirname(dbFile),
    host: e.AUTONOMY_HOST,
    port: e.AUTONOMY_PORT,
    killAtStart: e.AUTONOMY_KILL ?? null,
    logLevel: e.LOG_LEVEL,
    ingestToken: e.AUTONOMY_INGEST_TOKEN ?? null,
    consoleToken: e.AUTONOMY_CONSOLE_TOKEN ?? null,
    consoleEnabled: e.AUTONOMY_CONSOLE === 'on',
    publicUrl: e.AUTONOMY_PUBLIC_URL?.replace(/\/+$/, '') ?? null,
    dryRun: e.AUTONOMY_DRY_RUN === '1' || e.AUTONOMY_DRY_RUN === 'true',
    heartbeatUrl: e.AUTONOMY_HEARTBEAT_URL ?? null,
    githubWebhookSecret: e.GITHUB_WEBHOOK_SECRET ?? null,
    ollamaHost: e.OLLAMA_HOST,
    searchUrl: e.AUTONOMY_SEARCH_URL ?? null,
    chromiumPath: e.AUTONOMY_CHROMIUM ?? '/usr/bin/chromium',
    slack: e.SLACK_BOT_TOKEN
      ? {
          botToken: e.SLACK_BOT_TOKEN,
          signingSecret: e.SLACK_SIGNING_SECRET ?? null,
          appToken: e.SLACK_APP_TOKEN ?? null,
          apiUrl: e.SLACK_API_URL ?? null,
        }
      : null,
    discord: e.DISCORD_TOKEN
      ? { token: e.DISCORD_TOKEN, guildId: e.DISCORD_GUILD_ID ?? null, apiUrl: e.DISCORD_API_URL ?? null }
      : null,
  };
}
