/**
 * What an agent's post must never carry: secrets. A finding's text may come from a signal, a log
 * line, a page or a model, any of which may hold (or be made to echo) a token. Before anything an
 * agent writes reaches the outbox, this redacts:
 * - the values of env vars the catalog names (command `env` allowlists, `${NAME}` in http headers);
 * - the values of the bot's own secrets in the env (SLACK_*, DISCORD_*, GITHUB_WEBHOOK_SECRET,
 *   AUTONOMY_INGEST_TOKEN, AUTONOMY_CONSOLE_TOKEN) and any extra ones the caller names (tokens
 *   generated into the data folder);
 * - common token shapes, whoever's they are: Slack (xox?-, xapp-), GitHub (ghp_..., github_pat_...),
 *   AWS access key ids, bearer credentials and PEM private keys.
 * The runner redacts an action's own secrets from its output the same way (run-outcome.ts).
 */
import { envNames } from '../../actions/executors/template.js';
import { redactor } from '../../actions/run-outcome.js';
import type { Policy } from '../../policy/types.js';

export type Env = Readonly<Record<string, string | undefined>>;
export type Redact = (text: string) => string;

const BOT_SECRET =
  /^(SLACK_|DISCORD_)|^(GITHUB_WEBHOOK_SECRET|AUTONOMY_INGEST_TOKEN|AUTONOMY_CONSOLE_TOKEN)$/;

/** Token shapes redacted wherever they appear, with what replaces them. */
const SHAPES: readonly (readonly [RegExp, string])[] = [
  [
    /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|$)/g,
    '[redacted private key]',
  ],
  [/\bxox[abposre]-[A-Za-z0-9-]{6,}/g, '[redacted slack token]'],
  [/\bxapp-[A-Za-z0-9-]{6,}/g, '[redacted slack token]'],
  [/\bgh[pousr]_[A-Za-z0-9]{20,}/g, '[redacted github token]'],
  [/\bgithub_pat_[A-Za-z0-9_]{20,}/g, '[redacted github token]'],
  [/\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/g, '[redacted aws key]'],
  [/\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]{12,}/gi, '$1 [redacted]'],
];

/** Env var names whose values are secret under this policy: the catalog's and the bot's own. */
export function secretEnvNames(policy: Policy, env: Env): Set<string> {
  const names = new Set<string>();
  for (const action of policy.actions.values()) {
    const ex = action.doc.executor;
    if ('command' in ex) {
      for (const name of ex.env) names.add(name);
    } else if ('http' in ex) {
      for (const value of Object.values(ex.http.headers)) for (const name of envNames(value)) names.add(name);
    }
  }
  for (const name of Object.keys(env)) if (BOT_SECRET.test(name)) names.add(name);
  return names;
}

/**
 * `postRedactor` for the policy in force, built once per policy (a reload makes a new one).
 * `secrets`: the bot's own (the ingest and console tokens), by name.
 */
export function redactorFor(
  env: Env,
  secrets?: () => ReadonlyMap<string, string>,
): (policy: Policy) => Redact {
  const cache = new WeakMap<Policy, Redact>();
  return (policy) => {
    let r = cache.get(policy);
    if (r === undefined) {
      r = postRedactor(policy, env, secrets?.() ?? new Map());
      cache.set(policy, r);
    }
    return r;
  };
}

/**
 * A function that takes every secret out of a text: known values first (longest first, as
 * `[redacted NAME]`), then token shapes. PATH and the like are never secret (not in the names).
 */
export function postRedactor(
  policy: Policy,
  env: Env,
  extra: ReadonlyMap<string, string> = new Map(),
): Redact {
  const values = new Map<string, string>();
  for (const name of secretEnvNames(policy, env)) {
    const value = env[name];
    if (value !== undefined) values.set(name, value);
  }
  for (const [name, value] of extra) values.set(name, value);
  const known = redactor(values);
  return (text) => {
    let out = known(text);
    for (const [shape, replacement] of SHAPES) out = out.replace(shape, replacement);
    return out;
  };
}
