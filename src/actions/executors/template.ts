/**
 * Fills in the action catalog's templates by the one placeholder rule (src/policy/placeholders.ts:
 * `{name}` a checked param, `${NAME}` an env var in http headers only, other braces literal text),
 * the rule the policy check holds the catalog to. The executors and the approval message
 * (src/actions/render.ts) fill them here.
 * How a value is written depends on where it lands: argv elements get it as is (each element on its
 * own, never joined, never a shell), URLs percent-encoded, JSON bodies JSON-escaped.
 */
import { ENV_NAME, type Placeholder, placeholders, replacePlaceholders } from '../../policy/placeholders.js';
import type { Params } from '../../policy/types.js';
import { AutonomyError } from '../../process/errors.js';

/** A template that cannot be filled: names an unknown param, or an env var where none is allowed. */
export class TemplateError extends AutonomyError {
  constructor(message: string) {
    super('TEMPLATE_ERROR', message);
  }
}

/** An http header names an env var that is not set. Carries the name, never a value. */
export class MissingEnvError extends AutonomyError {
  constructor(
    readonly variable: string,
    where: string,
  ) {
    super(
      'MISSING_ENV',
      `${where} needs the env var ${variable}, which is not set; set it where the bot runs and restart`,
    );
  }
}

function paramValue(params: Params, name: string, where: string): string | number {
  const value = Object.hasOwn(params, name) ? params[name] : undefined;
  if (value === undefined) {
    throw new TemplateError(`${where}: {${name}} names no param of this action; fix the catalog entry`);
  }
  return value;
}

function noEnv(p: Placeholder, where: string): never {
  throw new TemplateError(`${where}: ${p.token}: env vars are only filled in in http headers`);
}

/** One argv element (or the working directory): param values as they are. */
export function fillText(text: string, params: Params, where: string): string {
  return replacePlaceholders(text, (p) =>
    p.kind === 'env' ? noEnv(p, where) : String(paramValue(params, p.name, where)),
  );
}

/** The argv, element by element: a value with spaces or quotes stays one element. */
export function fillArgv(argv: readonly string[], params: Params): string[] {
  return argv.map((arg, i) => fillText(arg, params, `command[${i}]`));
}

/** A URL: param values percent-encoded (encodeURIComponent), so they cannot add a path, query or host. */
export function fillUrl(url: string, params: Params): string {
  return replacePlaceholders(url, (p) =>
    p.kind === 'env' ? noEnv(p, 'url') : encodeURIComponent(String(paramValue(params, p.name, 'url'))),
  );
}

/** A JSON body: param values JSON-escaped (the template puts the quotes around string values). */
export function fillBody(body: string, params: Params): string {
  return replacePlaceholders(body, (p) => {
    if (p.kind === 'env') return noEnv(p, 'body');
    const value = paramValue(params, p.name, 'body');
    return typeof value === 'number' ? String(value) : JSON.stringify(value).slice(1, -1);
  });
}

/**
 * An http header value: params as they are, `${NAME}` from `env`. A missing env var throws
 * MissingEnvError (no request is sent); a value that cannot go in a header throws without showing it.
 */
export function fillHeader(
  header: string,
  value: string,
  params: Params,
  env: Readonly<Record<string, string | undefined>>,
): string {
  const where = `header ${header}`;
  return replacePlaceholders(value, (p) => {
    if (p.kind === 'param') return String(paramValue(params, p.name, where));
    if (!ENV_NAME.test(p.name)) throw new TemplateError(`${where}: ${p.token} is not an env var name`);
    const secret = env[p.name];
    if (secret === undefined || secret === '') throw new MissingEnvError(p.name, where);
    // Header values are Latin-1 without CR, LF or NUL; undici's own error would echo the value.
    if (!/^[\t\x20-\x7e\x80-\xff]*$/.test(secret)) {
      throw new TemplateError(
        `${where}: the env var ${p.name} holds characters a header cannot carry (a newline?); fix its value`,
      );
    }
    return secret;
  });
}

/** Env var names used in `${NAME}` placeholders of `text`. */
export function envNames(text: string): string[] {
  return placeholders(text)
    .filter((p) => p.kind === 'env')
    .map((p) => p.name);
}
