/**
 * What a person sees before approving: exactly what will run, with the params filled in by the same
 * rule the executors use (src/policy/placeholders.ts, filled by executors/template.ts), the system it
 * targets, and the tier and why.
 * Secrets stay placeholders: a header shows `${CI_TOKEN}`, never its value.
 */
import { targetSystem } from '../policy/params.js';
import { replacePlaceholders } from '../policy/placeholders.js';
import type { CompiledAction, Params } from '../policy/types.js';
import type { Tier } from '../policy/vocabulary.js';
import type { Env } from './executors/command.js';
import { envNames, fillArgv, fillBody, fillText, fillUrl } from './executors/template.js';

export interface ExecutionDescription {
  readonly kind: 'command' | 'http' | 'builtin';
  /**
   * One line: the shell-quoted argv (for reading only: it never runs through a shell), `METHOD URL`,
   * or `builtin NAME param=value ...` for the bot's own functions.
   */
  readonly display: string;
  /** The builtin function called (builtin actions). */
  readonly builtin?: string;
  /** The argv exactly as it will run (command actions). */
  readonly argv?: readonly string[];
  readonly cwd?: string;
  /** Env var names passed to the command (values are never shown). */
  readonly envNames?: readonly string[];
  readonly method?: string;
  readonly url?: string;
  /** Header values with params filled and `${SECRET}` left as written. */
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
  readonly target: string;
  readonly tier: Tier;
  readonly tierReason: string;
  /** Env vars it needs that are not set where the bot runs (when `env` was given): it would fail. */
  readonly missingEnv: readonly string[];
}

export interface DescribeOptions {
  /** The bot's env, to warn about missing vars; values are only tested for presence. */
  readonly env?: Env;
}

/** POSIX shell quoting, for display: plain words as they are, anything else in single quotes. */
export function shellQuote(arg: string): string {
  if (arg !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg)) return arg;
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

/** Describes what `action` with `params` will do. Call after checkParams() (throws TemplateError otherwise). */
export function describeExecution(
  action: CompiledAction,
  params: Params,
  options: DescribeOptions = {},
): ExecutionDescription {
  const base = {
    target: targetSystem(action, params),
    tier: action.effectiveTier,
    tierReason: action.tierReason,
  };
  const ex = action.doc.executor;
  if ('builtin' in ex) {
    // Params in declaration order, values quoted like argv when they are not plain words.
    const shown = [...action.params.keys()].map(
      (name) => `${name}=${shellQuote(String(params[name] ?? ''))}`,
    );
    return {
      kind: 'builtin',
      display: ['builtin', ex.builtin, ...shown].join(' '),
      builtin: ex.builtin,
      ...base,
      missingEnv: [],
    };
  }
  const isSet = (name: string): boolean => {
    const value = options.env?.[name];
    return value !== undefined && value !== '';
  };
  if ('command' in ex) {
    const argv = fillArgv(ex.command, params);
    const cwd = ex.cwd === undefined ? undefined : fillText(ex.cwd, params, 'cwd');
    const missingEnv = options.env === undefined ? [] : ex.env.filter((name) => !isSet(name));
    return {
      kind: 'command',
      display: `${cwd === undefined ? '' : `(in ${shellQuote(cwd)}) `}${argv.map(shellQuote).join(' ')}`,
      argv,
      ...(cwd === undefined ? {} : { cwd }),
      envNames: ex.env,
      ...base,
      missingEnv,
    };
  }
  const { method, url: urlTemplate, headers: headerTemplates, body: bodyTemplate } = ex.http;
  const url = fillUrl(urlTemplate, params);
  const headers: Record<string, string> = {};
  const needed: string[] = [];
  for (const [name, value] of Object.entries(headerTemplates)) {
    // Params as the executor fills them; `${NAME}` kept as written.
    headers[name] = replacePlaceholders(value, (p) =>
      p.kind === 'env' ? p.token : fillText(p.token, params, `header ${name}`),
    );
    needed.push(...envNames(value));
  }
  const body =
    bodyTemplate !== undefined && method !== 'GET' && method !== 'HEAD'
      ? fillBody(bodyTemplate, params)
      : undefined;
  return {
    kind: 'http',
    display: `${method} ${url}`,
    method,
    url,
    headers,
    ...(body === undefined ? {} : { body }),
    ...base,
    missingEnv: options.env === undefined ? [] : [...new Set(needed)].filter((name) => !isSet(name)),
  };
}
