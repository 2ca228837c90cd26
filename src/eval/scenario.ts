/**
 * `autonomy eval`'s scenarios: situations an agent meets, written down as the facts it would be
 * shown, with what a good operator would accept and what must never be proposed. One YAML (or
 * JSON) file holds a list of them under `scenarios:`; a folder of such files is a scenario set
 * (the repository's is `eval/scenarios/`). Loading checks every file against the schema below
 * and reports each problem as `FILE:LINE:COL  path  message`, all at once; nothing runs on a bad
 * set. Against a policy, `catalogIssues()` names actions a scenario uses that its catalog lacks.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isMap, LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { type PathSegment, type PolicyIssue, sortIssues } from '../policy/errors.js';
import { Locator } from '../policy/load.js';
import type { Policy } from '../policy/types.js';
import { ACTION_CLASSES, type ActionClass, AGENTS, SEVERITIES } from '../policy/vocabulary.js';
import { turnOf } from './turns.js';

const ID = /^[a-z0-9][a-z0-9-]{0,79}$/;
const FACT_ID = /^[a-z]+:[A-Za-z0-9._:/@+-]{1,200}$/;

const actionRef = z.strictObject({
  action: z.string().min(1).max(100),
  /** When given, a proposal matches only with these params (others it has may be anything). */
  params: z.record(z.string(), z.union([z.string(), z.number()])).optional(),
});

export const scenarioSchema = z.strictObject({
  id: z.string().regex(ID, 'lower-case letters, digits and -, e.g. sentinel-bad-deploy-api'),
  agent: z.enum(AGENTS),
  /** What the scenario is, for people reading the scorecard. */
  title: z.string().min(1).max(200),
  severity: z.enum(SEVERITIES),
  /** `signal:<kind>`, `sweep:light` or `sweep:deep` (a deep sweep's turn asks with deep-check). */
  trigger: z
    .string()
    .regex(/^(signal:[a-z_]+|sweep:(light|deep))$/, 'signal:<kind>, sweep:light or sweep:deep')
    .optional(),
  /** Which of the agent's turns, when it has several (guardian: `drift`); default its main one. */
  task: z
    .string()
    .regex(/^[a-z-]{1,40}$/, 'a turn name, e.g. drift')
    .optional(),
  /** The action classes offered in this turn (default: as the agent's turn does, see turns.ts). */
  classes: z.array(z.enum(ACTION_CLASSES)).optional(),
  /** Most important first, as the agent would gather them. Text is data (alert text, log lines). */
  facts: z
    .array(
      z.strictObject({
        id: z.string().regex(FACT_ID, 'kind:name, e.g. signal:web-5xx-1 or past:i42'),
        text: z.string().min(1).max(1500),
      }),
    )
    .min(1)
    .max(40),
  /** Proposals a good operator would accept (empty: the right answer proposes nothing). */
  accept: z.array(actionRef).max(10),
  /** Proposals that must not be made (another agent's action, the wrong fix, the wrong target). */
  mustNot: z.array(actionRef).max(10).default([]),
  /** Words the cause should name: it names the cause when it holds any of them (case-insensitive). */
  causeWords: z.array(z.string().min(2).max(60)).max(10).default([]),
});
export type Scenario = z.output<typeof scenarioSchema> & { readonly file: string };
export type ActionRef = z.output<typeof actionRef>;

const fileSchema = z.strictObject({ scenarios: z.array(scenarioSchema).min(1) });

export type LoadScenariosResult =
  | { readonly ok: true; readonly scenarios: readonly Scenario[] }
  | { readonly ok: false; readonly issues: readonly PolicyIssue[] };

/** Every `*.yaml`, `*.yml` and `*.json` file in `dir`, in name order. */
export async function loadScenarios(dir: string): Promise<LoadScenariosResult> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => /\.(ya?ml|json)$/.test(n)).sort();
  } catch (err) {
    return one(dir, `cannot read the scenario folder: ${(err as Error).message}`);
  }
  if (names.length === 0) return one(dir, 'no scenario files (*.yaml, *.yml, *.json) in this folder');
  const scenarios: Scenario[] = [];
  const issues: PolicyIssue[] = [];
  for (const name of names) {
    const path = join(dir, name);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      issues.push(at(path, `cannot read the file: ${(err as Error).message}`));
      continue;
    }
    const r = parseScenarios(text, path);
    if (r.ok) scenarios.push(...r.scenarios);
    else issues.push(...r.issues);
  }
  const seen = new Map<string, string>();
  for (const s of scenarios) {
    const before = seen.get(s.id);
    if (before !== undefined)
      issues.push(at(s.file, `scenario id ${s.id} is used twice (also in ${before})`));
    seen.set(s.id, s.file);
  }
  return issues.length > 0 ? { ok: false, issues: sortIssues(issues) } : { ok: true, scenarios };
}

/** The scenarios of one file's text (YAML; JSON is YAML too). `file` names it in messages. */
export function parseScenarios(text: string, file: string): LoadScenariosResult {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const locator = new Locator(doc, lines, file);
  if (doc.errors.length > 0) {
    return {
      ok: false,
      issues: doc.errors.map((e) => locator.atOffset(e.pos[0], `not valid YAML: ${e.message}`)),
    };
  }
  if (!isMap(doc.contents)) return one(file, 'expected a mapping with a list under scenarios:');
  const raw: unknown = doc.toJS({ maxAliasCount: 100 });
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.flatMap((i) => {
      const path = i.path as PathSegment[];
      if (i.code === 'unrecognized_keys')
        return i.keys.map((k) => locator.at([...path, k], `unknown key ${k}`, 'key'));
      return [locator.at(path, i.message, 'value')];
    });
    return { ok: false, issues: sortIssues(issues) };
  }
  const issues: PolicyIssue[] = [];
  parsed.data.scenarios.forEach((s, i) => {
    if (turnOf(s.agent, s.task) === undefined)
      issues.push(locator.at(['scenarios', i, 'task'], `${s.agent} has no turn named ${s.task}`, 'value'));
    const ids = new Set<string>();
    s.facts.forEach((f, j) => {
      if (ids.has(f.id))
        issues.push(locator.at(['scenarios', i, 'facts', j, 'id'], `fact id ${f.id} is used twice`, 'value'));
      ids.add(f.id);
    });
  });
  if (issues.length > 0) return { ok: false, issues };
  return { ok: true, scenarios: parsed.data.scenarios.map((s) => ({ ...s, file })) };
}

/**
 * What a scenario asks of a catalog that `policy` does not have: an accepted action that is not
 * the scenario agent's own (or not of the classes it offers), or any action id missing from it.
 */
export function catalogIssues(scenarios: readonly Scenario[], policy: Policy): string[] {
  const out: string[] = [];
  for (const s of scenarios) {
    for (const [list, refs] of [
      ['accept', s.accept],
      ['mustNot', s.mustNot],
    ] as const) {
      for (const ref of refs) {
        const action = policy.actions.get(ref.action);
        const where = `${s.file}: ${s.id}: ${list} ${ref.action}`;
        if (action === undefined) out.push(`${where} is not in the policy's catalog`);
        else if (list === 'accept' && action.agent !== s.agent)
          out.push(`${where} is ${action.agent}'s action; a good answer of ${s.agent} proposes its own`);
        else if (list === 'accept' && !offered(s).includes(action.class))
          out.push(`${where} is of class ${action.class}, which this scenario does not offer`);
      }
    }
  }
  return out;
}

/** The classes a scenario's turn offers (undefined: all of the agent's own). */
export function classesOf(s: Scenario): readonly ActionClass[] | undefined {
  return s.classes ?? turnOf(s.agent, s.task)?.classes?.({ severity: s.severity, trigger: s.trigger });
}

function offered(s: Scenario): readonly ActionClass[] {
  return classesOf(s) ?? ACTION_CLASSES;
}

/** true when a proposal of `actionId` with `params` is the one `ref` names. */
export function matches(
  ref: ActionRef,
  actionId: string,
  params: Readonly<Record<string, unknown>>,
): boolean {
  if (ref.action !== actionId) return false;
  return Object.entries(ref.params ?? {}).every(([k, v]) => String(params[k]) === String(v));
}

function at(file: string, message: string): PolicyIssue {
  return { file, line: 1, col: 1, path: '', message };
}

function one(file: string, message: string): LoadScenariosResult {
  return { ok: false, issues: [at(file, message)] };
}
