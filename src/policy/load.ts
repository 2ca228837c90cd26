/**
 * Reads a policy file: YAML (with positions), then the schema, then the semantic checks, and
 * reports every problem at once as `FILE:LINE:COL  path  message`, sorted by line. Never throws
 * for bad content; an unreadable file is one issue at 1:1.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import {
  type Document,
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseDocument,
  visit,
} from 'yaml';
import type { z } from 'zod';
import { checkPolicy } from './check.js';
import { compilePolicy } from './compile.js';
import { formatPath, type PathSegment, type PolicyIssue, sortIssues } from './errors.js';
import { type PartialPolicyDoc, type PolicyDoc, policySchema } from './schema.js';
import { describeZodIssue } from './schema-issues.js';
import type { Policy } from './types.js';
import { AGENTS } from './vocabulary.js';

export type LoadResult =
  | {
      readonly ok: true;
      readonly policy: Policy;
      readonly doc: PolicyDoc;
      /** The text that was parsed (what a stored policy version keeps). */
      readonly content: string;
      /** What loads but does not do what it seems to (severity 'warning'), sorted by line. */
      readonly warnings: readonly PolicyIssue[];
    }
  | {
      readonly ok: false;
      /** The errors, sorted by line. */
      readonly issues: readonly PolicyIssue[];
      readonly warnings: readonly PolicyIssue[];
    };

/** Parses, validates and compiles policy text. `file` names it in messages and becomes `policy.source`. */
export function parsePolicy(text: string, file: string): LoadResult {
  return parseWithHash(text, file, sha256Hex(Buffer.from(text, 'utf8')));
}

/** Reads and parses a policy file; the policy's hash is the SHA-256 of the file's bytes. */
export async function loadPolicyFile(path: string): Promise<LoadResult> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    const message = `cannot read the policy file: ${(err as Error).message}`;
    return { ok: false, issues: [{ file: path, line: 1, col: 1, path: '', message }], warnings: [] };
  }
  return parseWithHash(bytes.toString('utf8'), path, sha256Hex(bytes));
}

function sha256Hex(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** YAML errors after which the tree is still sound enough to validate (the last duplicate wins). */
const RECOVERABLE = new Set(['DUPLICATE_KEY']);

function parseWithHash(text: string, file: string, hash: string): LoadResult {
  const lineCounter = new LineCounter();
  const yamlDoc = parseDocument(text, {
    lineCounter,
    prettyErrors: false,
    uniqueKeys: true,
    logLevel: 'error',
  });
  const locator = new Locator(yamlDoc, lineCounter, file);
  const issues: PolicyIssue[] = [];

  for (const e of yamlDoc.errors) {
    const at = e.pos[0];
    if (e.code === 'DUPLICATE_KEY') {
      issues.push(
        locator.atOffset(at, (path) => {
          const key = path.length > 0 ? String(path[path.length - 1]) : 'key';
          return `${key} is already set above in this mapping; keep one of the two`;
        }),
      );
    } else {
      issues.push(locator.atOffset(at, `not valid YAML: ${e.message}`));
    }
  }
  for (const w of yamlDoc.warnings) issues.push(locator.atOffset(w.pos[0], `YAML: ${w.message}`));
  if (yamlDoc.errors.some((e) => !RECOVERABLE.has(e.code))) return fail(issues);
  let unresolved = false;
  visit(yamlDoc, {
    Alias(_, alias) {
      if (alias.resolve(yamlDoc) !== undefined) return;
      unresolved = true;
      const name = alias.source;
      issues.push(
        locator.atOffset(alias.range?.[0] ?? 0, `*${name} has no anchor; define &${name} above it`),
      );
    },
  });
  if (unresolved) return fail(issues);

  let raw: unknown;
  try {
    raw = yamlDoc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    issues.push(locator.atOffset(0, `not valid YAML: ${(err as Error).message}`));
    return fail(issues);
  }
  if (raw === null || raw === undefined) {
    issues.push(locator.atOffset(0, 'the file is empty; start from policies/default.policy.yaml'));
    return fail(issues);
  }

  const parsed = policySchema.safeParse(raw, { reportInput: true });
  let partial: PartialPolicyDoc;
  if (parsed.success) {
    partial = parsed.data;
  } else {
    for (const zi of parsed.error.issues) {
      for (const d of describeZodIssue(zi, raw)) issues.push(locator.at(d.path, d.message, d.pointAt));
    }
    partial = partialDoc(raw);
  }
  const warnings: PolicyIssue[] = [];
  for (const c of checkPolicy(partial)) {
    const issue = locator.at(c.path, c.message, 'value');
    if (c.severity === 'warning') warnings.push({ ...issue, severity: 'warning' });
    else issues.push(issue);
  }

  if (issues.length > 0 || !parsed.success) return fail(issues, warnings);
  try {
    const policy = compilePolicy(parsed.data, { hash, source: file });
    return { ok: true, policy, doc: parsed.data, content: text, warnings: sortIssues(warnings) };
  } catch (err) {
    // The checks above should make this unreachable; if not, report it instead of crashing.
    return fail([locator.atOffset(0, `cannot compile the policy: ${(err as Error).message}`)], warnings);
  }
}

function fail(issues: PolicyIssue[], warnings: PolicyIssue[] = []): LoadResult {
  return { ok: false, issues: sortIssues(issues), warnings: sortIssues(warnings) };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The sections, agents and actions that pass the schema on their own, so the semantic checks can
 * still run on them when something else in the file is wrong.
 */
function partialDoc(raw: unknown): PartialPolicyDoc {
  if (!isRecord(raw)) return {};
  const out: Record<string, unknown> = {};
  for (const [key, schema] of Object.entries(policySchema.shape) as [string, z.ZodType][]) {
    if (key === 'agents' || key === 'actions') continue;
    const r = schema.safeParse(raw[key]);
    if (r.success) out[key] = r.data;
  }
  if (isRecord(raw.agents)) {
    const rawAgents = raw.agents;
    const agents: Record<string, unknown> = {};
    for (const name of AGENTS) {
      const r = policySchema.shape.agents.shape[name].safeParse(rawAgents[name]);
      if (r.success) agents[name] = r.data;
    }
    out.agents = agents;
  }
  if (Array.isArray(raw.actions)) {
    const element = policySchema.shape.actions.unwrap().element;
    out.actions = raw.actions.map((a) => {
      const r = element.safeParse(a);
      return r.success ? r.data : undefined;
    });
  }
  // Each section was parsed by its own schema above, so this has the shape PartialPolicyDoc says.
  return out as PartialPolicyDoc;
}

/** Maps paths and offsets in the document to `file:line:col`. */
export class Locator {
  constructor(
    private readonly doc: Document,
    private readonly lines: LineCounter,
    private readonly file: string,
  ) {}

  /**
   * `pointAt: 'value'` points at the value (or, when the key is missing, at the nearest parent
   * that exists); `'key'` points at the key itself (unknown keys, bad record keys).
   */
  at(path: readonly PathSegment[], message: string, pointAt: 'value' | 'key'): PolicyIssue {
    const { node, key, complete } = this.resolve(path);
    // A missing key points at its parent's key (or 1:1 for a missing section).
    const target = complete && pointAt === 'value' ? (node ?? key) : complete ? (key ?? node) : key;
    return this.issue(target?.range?.[0] ?? 0, formatPath(path), message);
  }

  atOffset(offset: number, message: string | ((path: PathSegment[]) => string)): PolicyIssue {
    const path = this.pathAt(offset);
    return this.issue(offset, formatPath(path), typeof message === 'string' ? message : message(path));
  }

  private issue(offset: number, path: string, message: string): PolicyIssue {
    const { line, col } = this.lines.linePos(offset);
    return { file: this.file, line, col, path, message };
  }

  /** Walks the YAML tree along `path` as far as it exists. */
  private resolve(path: readonly PathSegment[]): { node: Node | null; key: Node | null; complete: boolean } {
    let node = this.deref(this.doc.contents);
    let key: Node | null = null;
    for (const seg of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
        if (pair === undefined) return { node, key, complete: false };
        key = pair.key as Node;
        node = this.deref(pair.value as Node | null);
      } else if (isSeq(node) && typeof seg === 'number' && node.items[seg] !== undefined) {
        node = this.deref(node.items[seg] as Node | null);
        key = node;
      } else {
        return { node, key, complete: false };
      }
    }
    return { node, key, complete: true };
  }

  private deref(node: Node | null | undefined): Node | null {
    if (isAlias(node)) return (node.resolve(this.doc) as Node | undefined) ?? node;
    return node ?? null;
  }

  /** The path of the deepest key or item whose source contains `offset` (for YAML errors). */
  private pathAt(offset: number): PathSegment[] {
    const path: PathSegment[] = [];
    let node: unknown = this.doc.contents;
    const within = (n: unknown): boolean => {
      const range = (n as Node | null)?.range;
      return range != null && range[0] <= offset && offset <= range[2];
    };
    for (;;) {
      if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && (within(p.key) || within(p.value)));
        if (pair === undefined || !isScalar(pair.key)) return path;
        path.push(String(pair.key.value));
        if (within(pair.key) && !within(pair.value)) return path;
        node = pair.value;
      } else if (isSeq(node)) {
        const i = node.items.findIndex(within);
        if (i === -1) return path;
        path.push(i);
        node = node.items[i];
      } else {
        return path;
      }
    }
  }
}
