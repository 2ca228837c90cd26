/**
 * The one placeholder rule of the action catalog: the policy's own grammar, read by the policy
 * check (check-actions.ts) and the compiler (compile.ts), and filled in by the executors and the
 * approval message (src/actions/executors/template.ts, src/actions/render.ts):
 * - `{name}` with an identifier-shaped name is a param, filled only with a value that passed
 *   checkParams();
 * - `${NAME}` is an env var, filled only in http headers (a secret such as a token);
 * - any other braces are literal text (JSON bodies: `{"a":1}`, `{}`, `{ x }`);
 * - an action's target is either one fixed system name or exactly `{param}` (placeholderName()).
 */

/** A `{name}` placeholder names a param when `name` has this shape. */
export const PARAM_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** A `${NAME}` placeholder must name an env var of this shape (also the shape of `executor.env`). */
export const ENV_NAME = /^[A-Z_][A-Z0-9_]*$/;

/** `{x}` or `${x}`: braces around text without braces or whitespace. */
const TOKEN_SOURCE = '(\\$?)\\{([^{}\\s]*)\\}';

export interface Placeholder {
  /** The placeholder as written, e.g. `{service}` or `${CI_TOKEN}`. */
  readonly token: string;
  readonly kind: 'param' | 'env';
  /** The name inside the braces (an env name may be malformed: check it with ENV_NAME). */
  readonly name: string;
  readonly index: number;
}

/** Every placeholder in `text`, in order. Braces that are neither a param nor `${...}` are skipped. */
export function placeholders(text: string): Placeholder[] {
  const out: Placeholder[] = [];
  for (const m of text.matchAll(new RegExp(TOKEN_SOURCE, 'g'))) {
    const [token, dollar, name = ''] = m;
    if (dollar === '$') out.push({ token, kind: 'env', name, index: m.index });
    else if (PARAM_NAME.test(name)) out.push({ token, kind: 'param', name, index: m.index });
  }
  return out;
}

/** Replaces each placeholder with what `fill` returns for it; everything else is kept as written. */
export function replacePlaceholders(text: string, fill: (p: Placeholder) => string): string {
  let out = '';
  let at = 0;
  for (const p of placeholders(text)) {
    out += text.slice(at, p.index) + fill(p);
    at = p.index + p.token.length;
  }
  return out + text.slice(at);
}

/** `{name}` when the whole string is one placeholder (a target taken from a param), else null. */
export function placeholderName(text: string): string | null {
  const m = /^\{([a-z][a-zA-Z0-9_]{0,31})\}$/.exec(text);
  return m ? (m[1] as string) : null;
}
