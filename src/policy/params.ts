/**
 * Checking a proposal's params against its catalog entry, finding the system it targets, and the
 * hash an approval is bound to. Params are untrusted (a model may have written them): nothing here
 * throws on odd input, and a message never echoes more than 40 characters of a bad value.
 *
 * Strict typing, on purpose: a `string` param takes only a JS string and an `integer` param only a
 * JS number that is a safe integer. `"42"` is not an integer and `42` is not a string; whoever
 * builds a proposal (rules or parsed model output) converts first, so the value checked is the
 * value executed and the value hashed.
 */
import { hash } from 'node:crypto';
import { types } from 'node:util';
import type { CompiledAction, CompiledParam, Params } from './types.js';

const SHOWN_CHARS = 40;

/** A bad value, safe to put in a message: quoted, escaped, at most 40 characters of it. */
export function showValue(value: unknown): string {
  if (typeof value === 'string') {
    return JSON.stringify(value.length > SHOWN_CHARS ? `${value.slice(0, SHOWN_CHARS)}…` : value);
  }
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') {
    return String(value).slice(0, SHOWN_CHARS);
  }
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return 'an array';
  return `a value of type ${typeof value}`;
}

/**
 * Index of the first character a param must not carry, or -1: C0 and C1 controls, DEL, the line
 * and paragraph separators, bidi embedding/override/isolate controls (Trojan Source), and lone
 * UTF-16 surrogates (which do not survive a round trip through UTF-8).
 */
function badCharAt(s: string): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) return i;
    if (c < 0x2028) continue;
    if (c <= 0x202e || (c >= 0x2066 && c <= 0x2069)) return i;
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
      if (next < 0xdc00 || next > 0xdfff) return i;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      return i;
    }
  }
  return -1;
}

/** null when `value` satisfies `rule`, else what is wrong (without the param's name). */
function checkValue(rule: CompiledParam, value: unknown): string | null {
  if (rule.type === 'integer') {
    if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
      return `must be an integer, got ${showValue(value)}`;
    }
    if (rule.min !== null && value < rule.min) return `must be >= ${rule.min}, got ${value}`;
    if (rule.max !== null && value > rule.max) return `must be <= ${rule.max}, got ${value}`;
    return null;
  }
  if (typeof value !== 'string') return `must be a string, got ${showValue(value)}`;
  // Length first: it bounds the work any pattern can do.
  if (value.length > rule.maxLength) {
    return `is ${value.length} characters long, at most ${rule.maxLength} allowed`;
  }
  const bad = badCharAt(value);
  if (bad !== -1) {
    const code = value.charCodeAt(bad).toString(16).padStart(4, '0');
    return `contains a control or invalid character (U+${code}) at ${bad}`;
  }
  // When a param has both, the value must satisfy both: every rule written in the policy holds.
  if (rule.enum !== null && !rule.enum.has(value)) {
    return `must be one of ${[...rule.enum].slice(0, 6).join(', ')}${rule.enum.size > 6 ? ', ...' : ''}; got ${showValue(value)}`;
  }
  if (rule.pattern !== null && !rule.pattern.test(value)) {
    return `does not match its pattern, got ${showValue(value)}`;
  }
  return null;
}

/**
 * null when `params` fits the action's declared params, else a short reason naming the param.
 * `params` must be a plain object (prototype Object.prototype or null, not a Proxy) holding exactly
 * the declared params as enumerable data properties (no getters): none missing, none extra
 * (`__proto__` and `constructor` included). Symbol keys and non-enumerable extras are invisible to
 * JSON and to everything downstream (executors read the declared params only), so they are not
 * looked for: `Reflect.ownKeys` would cost ten times `Object.keys` on every decision.
 */
export function checkParams(action: CompiledAction, params: unknown): string | null {
  if (typeof params !== 'object' || params === null)
    return `params must be an object, got ${showValue(params)}`;
  if (Array.isArray(params)) return 'params must be an object, got an array';
  if (types.isProxy(params)) return 'params must be a plain object, got a proxy';
  const proto: unknown = Object.getPrototypeOf(params);
  if (proto !== Object.prototype && proto !== null) return 'params must be a plain object';
  const declared = action.params;
  const keys = Object.keys(params);
  if (keys.length !== declared.size) {
    for (const key of keys) {
      if (!declared.has(key)) return `unknown param ${showValue(key)} (not declared for ${action.id})`;
    }
  }
  for (const [name, rule] of declared) {
    const d = Object.getOwnPropertyDescriptor(params, name);
    if (d === undefined) return `missing param ${name}`;
    if (!('value' in d) || d.enumerable !== true) return `param ${name} must be a plain value, not a getter`;
    const why = checkValue(rule, d.value);
    if (why !== null) return `param ${name} ${why}`;
  }
  return null;
}

/** The system an action targets: its fixed name, or the value of its target param. Call after `checkParams`. */
export function targetSystem(action: CompiledAction, params: Params): string {
  if (action.target.kind === 'fixed') return action.target.system;
  const value = params[action.target.param];
  return typeof value === 'string' ? value : String(value);
}

/**
 * What an approval is bound to: SHA-256 over canonical JSON (RFC 8785) of the action's entry hash
 * (id, the catalog entry as written, effective tier) and the params. Editing another action or a
 * comment in the file voids nothing; changing this entry (even its description) or the params
 * does. Call after `checkParams`.
 */
export function bindingHash(action: CompiledAction, params: Params): string {
  // crypto.hash (Node >= 20.12): one-shot, about twice as fast as createHash for short input;
  // the same SHA-256 hex digest as `sha256()` in compile.ts.
  return hash(
    'sha256',
    `{"entryHash":${JSON.stringify(action.entryHash)},"params":${canonicalParams(action, params)}}`,
    'hex',
  );
}

/**
 * RFC 8785 canonical JSON of checked params, written out directly: keys sorted by UTF-16 code
 * units, strings and safe integers as JSON.stringify writes them (which is what RFC 8785 specifies).
 * Equal to `canonicalize(params)` for every valid params object, and immune to a param named
 * `toJSON`, which would make a generic serialiser skip the key sort.
 */
function canonicalParams(action: CompiledAction, params: Params): string {
  // Insertion sort straight off the map: actions have a handful of params, and this is 5x
  // cheaper than spreading the keys and calling sort(). `>` compares UTF-16 code units, as RFC 8785 sorts.
  const names: string[] = [];
  for (const key of action.params.keys()) {
    let j = names.length;
    while (j > 0 && (names[j - 1] as string) > key) {
      names[j] = names[j - 1] as string;
      j--;
    }
    names[j] = key;
  }
  let out = '{';
  for (let i = 0; i < names.length; i++) {
    const name = names[i] as string;
    if (i > 0) out += ',';
    out += `${JSON.stringify(name)}:${JSON.stringify(params[name])}`;
  }
  return `${out}}`;
}
