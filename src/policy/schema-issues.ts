/**
 * Turns zod's issues about the policy file into messages a policy owner can act on: what is wrong
 * and what to write instead (unknown keys name the key and the closest allowed one, unions report
 * the branch the author most likely meant, missing keys say what to add).
 */
import { distance } from 'fastest-levenshtein';
import type { z } from 'zod';
import type { PathSegment } from './errors.js';
import { policySchema } from './schema.js';

export interface DescribedIssue {
  readonly path: PathSegment[];
  readonly message: string;
  /** Where the loader points: at the value (or nearest existing parent), or at the key itself. */
  readonly pointAt: 'value' | 'key';
}

type Issue = z.core.$ZodIssue;

export function describeZodIssue(
  issue: Issue,
  raw: unknown,
  base: readonly PathSegment[] = [],
): DescribedIssue[] {
  const path = [...base, ...(issue.path as PathSegment[])];
  const input = 'input' in issue ? issue.input : valueAt(raw, path);
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((key) => ({
        path: [...path, key],
        message: unknownKey(key, allowedKeys(path)),
        pointAt: 'key' as const,
      }));
    case 'invalid_key': {
      const key = String(path[path.length - 1]);
      const message =
        path[path.length - 2] === 'params'
          ? `param name ${key} is not allowed; start with a lower-case letter, then letters, digits or _ (e.g. service)`
          : `key ${key} is not allowed here (${issue.issues[0]?.message ?? issue.message})`;
      return [{ path, message, pointAt: 'key' }];
    }
    case 'invalid_union':
      return describeUnion(issue, raw, path);
    case 'invalid_type': {
      if (input === undefined && !hasKey(raw, path)) return [missing(path)];
      return [
        { path, message: `expected ${typeName(issue.expected)}, got ${show(input)}`, pointAt: 'value' },
      ];
    }
    case 'invalid_value': {
      const values = issue.values.map((v) => JSON.stringify(v));
      if (input === undefined && !hasKey(raw, path)) return [missing(path)];
      const want = values.length === 1 ? values[0] : `one of ${values.join(', ')}`;
      return [{ path, message: `expected ${want}, got ${show(input)}`, pointAt: 'value' }];
    }
    case 'invalid_format': {
      const want = issue.message.startsWith('Invalid') ? describe(path) : issue.message;
      let message = `${show(input)} is not ${want ?? `a valid ${issue.format}`}`;
      if (want === undefined && issue.format === 'regex' && 'pattern' in issue) {
        message = `${show(input)} does not match ${String(issue.pattern)}`;
      }
      return [{ path, message, pointAt: 'value' }];
    }
    case 'too_small':
    case 'too_big': {
      const more = issue.code === 'too_small';
      const bound = String(more ? issue.minimum : issue.maximum);
      let message: string;
      if (issue.origin === 'array') message = `needs at ${more ? 'least' : 'most'} ${bound} item(s)`;
      else if (issue.origin === 'string' && more && bound === '1') message = 'must not be empty';
      else if (issue.origin === 'string') {
        const hint = describe(path);
        message = hint
          ? `${show(input)} is not ${hint}`
          : `${show(input)} is too ${more ? 'short' : 'long'} (${more ? 'at least' : 'at most'} ${bound} characters)`;
      } else message = `must be ${more ? 'at least' : 'at most'} ${bound}, got ${show(input)}`;
      return [{ path, message, pointAt: 'value' }];
    }
    default:
      return [{ path, message: issue.message, pointAt: 'value' }];
  }
}

function missing(path: PathSegment[]): DescribedIssue {
  const key = path[path.length - 1];
  const hint = schemasAt(path).descriptions[0];
  if (path.length === 1 && key === 'version') {
    return { path, message: 'missing version; add `version: 1` at the top', pointAt: 'value' };
  }
  const what = path.length === 1 ? `section ${String(key)}` : `key ${String(key)}`;
  const example = path.length === 1 ? ' (see policies/default.policy.yaml)' : hint ? ` (${hint})` : '';
  return { path, message: `missing ${what}; add it${example}`, pointAt: 'value' };
}

/**
 * A union failed: if every branch only wanted a different literal, list them; otherwise report
 * the branch with the fewest problems (the one the author most likely meant).
 */
function describeUnion(issue: Extract<Issue, { code: 'invalid_union' }>, raw: unknown, path: PathSegment[]) {
  const branches = issue.errors;
  // Every branch wanted a different literal at the same place (a tier, a param `type`): list them.
  const only = branches.map((b) => (b.length === 1 ? b[0] : undefined));
  const first = only[0];
  const sameLiteral = (i: Issue | undefined): boolean =>
    i !== undefined && i.code === 'invalid_value' && i.path.join('.') === first?.path.join('.');
  if (first !== undefined && only.every(sameLiteral)) {
    const at = [...path, ...(first.path as PathSegment[])];
    const input = valueAt(raw, at);
    if (input === undefined && !hasKey(raw, at)) return [missing(at)];
    const values = only
      .flatMap((i) => (i?.code === 'invalid_value' ? i.values : []))
      .map((v) => JSON.stringify(v));
    return [
      {
        path: at,
        message: `expected one of ${values.join(', ')}, got ${show(input)}`,
        pointAt: 'value' as const,
      },
    ];
  }
  const best = branches.reduce<Issue[] | undefined>(
    (a, b) => (a === undefined || b.length < a.length ? b : a),
    undefined,
  );
  if (best === undefined || best.length === 0)
    return [{ path, message: issue.message, pointAt: 'value' as const }];
  return best.flatMap((i) => describeZodIssue(i, raw, path));
}

function unknownKey(key: string, allowed: string[]): string {
  const close = allowed
    .map((k) => ({ k, d: distance(key.toLowerCase(), k.toLowerCase()) }))
    .filter(({ d }) => d <= Math.max(1, Math.floor(key.length / 3)))
    .sort((a, b) => a.d - b.d)[0];
  if (close) return `unknown key ${key}; did you mean ${close.k}?`;
  return allowed.length > 0
    ? `unknown key ${key}; allowed here: ${allowed.join(', ')}`
    : `unknown key ${key}`;
}

function typeName(expected: string): string {
  const names: Record<string, string> = {
    object: 'a mapping (key: value lines)',
    array: 'a list',
    string: 'text',
    number: 'a number',
    int: 'a whole number',
    boolean: 'true or false',
  };
  return names[expected] ?? expected;
}

function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'an empty value';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}..."` : text;
}

function valueAt(raw: unknown, path: readonly PathSegment[]): unknown {
  let cur = raw;
  for (const seg of path) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<PathSegment, unknown>)[seg];
  }
  return cur;
}

function hasKey(raw: unknown, path: readonly PathSegment[]): boolean {
  if (path.length === 0) return raw !== undefined;
  const parent = valueAt(raw, path.slice(0, -1));
  return (
    typeof parent === 'object' &&
    parent !== null &&
    Object.hasOwn(parent, path[path.length - 1] as PathSegment)
  );
}

// --- Walking the schema by path: allowed keys and descriptions for messages ---

interface LooseDef {
  type: string;
  shape?: Record<string, Schema>;
  element?: Schema;
  keyType?: Schema;
  valueType?: Schema;
  innerType?: Schema;
  in?: Schema;
  options?: Schema[];
  entries?: Record<string, string | number>;
}
interface Schema {
  _zod: { def: LooseDef };
  description?: string;
}

const WRAPPERS = new Set(['default', 'prefault', 'optional', 'nullable', 'readonly', 'catch', 'nonoptional']);

/** The schemas a path can lead to (several where a union branches), with wrappers removed. */
function schemasAt(path: readonly PathSegment[]): { schemas: Schema[]; descriptions: string[] } {
  let current: Schema[] = [policySchema as unknown as Schema];
  let descriptions: string[] = [];
  const unwrap = (list: Schema[]): Schema[] =>
    list.flatMap((s) => {
      let cur = s;
      for (;;) {
        if (cur.description !== undefined) descriptions.push(cur.description);
        const def = cur._zod.def;
        if (WRAPPERS.has(def.type) && def.innerType) cur = def.innerType;
        else if (def.type === 'pipe' && def.in) cur = def.in;
        else if (def.type === 'union' && def.options) return unwrap(def.options);
        else return [cur];
      }
    });
  current = unwrap(current);
  for (const seg of path) {
    descriptions = [];
    current = unwrap(
      current.flatMap((s) => {
        const def = s._zod.def;
        if (def.type === 'object') {
          const next = def.shape?.[String(seg)];
          return next ? [next] : [];
        }
        if (def.type === 'array' && def.element) return [def.element];
        if (def.type === 'record' && def.valueType) return [def.valueType];
        return [];
      }),
    );
  }
  return { schemas: current, descriptions };
}

function allowedKeys(path: readonly PathSegment[]): string[] {
  const keys = new Set<string>();
  for (const s of schemasAt(path).schemas) {
    const def = s._zod.def;
    if (def.type === 'object') for (const k of Object.keys(def.shape ?? {})) keys.add(k);
    if (def.type === 'record' && def.keyType?._zod.def.entries) {
      for (const k of Object.keys(def.keyType._zod.def.entries)) keys.add(k);
    }
  }
  keys.delete('$schema');
  return [...keys];
}

/**
 * The schema's own description of what belongs at `path` that reads as a noun phrase
 * ('a cron expression, e.g. "*\/5 * * * *"'), for "X is not ..." and "add it (...)".
 */
function describe(path: readonly PathSegment[]): string | undefined {
  return schemasAt(path).descriptions.find((d) => /^an? /.test(d));
}
