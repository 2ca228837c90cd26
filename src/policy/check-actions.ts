/**
 * Semantic checks of the action catalog: unique ids, classes that belong to the owning agent,
 * `{param}` placeholders that name declared params, `${ENV}` only in http headers, fixed hosts and
 * programs, targets in scope, params that cannot carry unchecked text, and builtins that declare
 * exactly the params their function reads.
 */
import { scopeMatcher } from './compile.js';
import type { PathSegment, Report } from './errors.js';
import { ENV_NAME, placeholderName, placeholders, replacePlaceholders } from './placeholders.js';
import type { ActionDoc, AgentDoc, ParamDoc, PartialPolicyDoc } from './schema.js';
import { AGENT_CLASSES, type AgentName, BUILTIN_PARAMS, type Tier } from './vocabulary.js';

const SHELLS = new Set('sh bash zsh dash ksh fish csh tcsh cmd powershell pwsh'.split(' '));
/** Values a checked param should never accept: command substitution and newlines. */
const UNSAFE_PROBES = ['$(id)', '`id`', 'a\nb'];
/** Values that a program would read as an option. */
const OPTION_PROBES = ['-x', '--help', '-1', '-rf', '--all'];

/** The tier an action really has. Same rule as `effectiveTier()` in compile.ts, on a partial document. */
export function tierOf(agent: AgentDoc, a: ActionDoc): { tier: Tier; lifted: boolean } {
  if (!agent.requiresApproval.includes(a.class)) return { tier: a.tier, lifted: false };
  return { tier: 3, lifted: a.tier < 3 };
}

export function classesOf(agent: AgentName): readonly string[] {
  return AGENT_CLASSES[agent];
}

export function checkActions(doc: PartialPolicyDoc, report: Report): void {
  const firstIndex = new Map<string, number>();
  const scope = doc.purpose ? scopeMatcher(doc.purpose.inScope, doc.purpose.outOfScope) : null;
  doc.actions?.forEach((a, i) => {
    if (a === undefined) return;
    const at = (...rest: PathSegment[]): PathSegment[] => ['actions', i, ...rest];
    const first = firstIndex.get(a.id);
    if (first !== undefined)
      report(at('id'), `action id ${a.id} is already used by actions[${first}]; rename one`);
    else firstIndex.set(a.id, i);
    const own = classesOf(a.agent);
    if (!own.includes(a.class)) {
      report(at('class'), `${a.class} is not a ${a.agent} class; use one of ${own.join(', ')}`);
    }
    const used = checkExecutor(a, at, report);
    checkTarget(a, scope, at, report, used);
    for (const [name, p] of Object.entries(a.params)) {
      checkParam(a, name, p, at('params', name), report);
      if (!used.has(name)) {
        report(
          at('params', name),
          `param ${name} is never used; write {${name}} in the executor or target, or remove it`,
        );
      }
    }
    const agent = doc.agents?.[a.agent];
    if (
      agent &&
      tierOf(agent, a).tier === 0 &&
      'http' in a.executor &&
      !/^(GET|HEAD)$/.test(a.executor.http.method)
    ) {
      report(
        at('executor', 'http', 'method'),
        `tier 0 actions run even in phase 1 (observe-only), so they may only read; use GET or HEAD, or raise the tier`,
      );
    }
    if (agent && tierOf(agent, a).tier === 0 && 'builtin' in a.executor) {
      report(
        at('tier'),
        `builtin ${a.executor.builtin} changes the bot's state, and tier 0 actions run even in phase 1 (observe-only); give it tier 3`,
      );
    }
  });
}

/** Checks every template in the executor; returns the param names it uses. */
function checkExecutor(
  a: ActionDoc,
  at: (...rest: PathSegment[]) => PathSegment[],
  report: Report,
): Set<string> {
  const used = new Set<string>();
  const scan = (text: string, path: PathSegment[], envAllowed: boolean, instead: string): void => {
    // The one placeholder rule (placeholders.ts), as the executors fill them in.
    for (const { token, kind, name } of placeholders(text)) {
      if (kind === 'env') {
        if (!envAllowed) report(path, `${token}: env vars are only filled in in http headers; ${instead}`);
        else if (!ENV_NAME.test(name))
          report(path, `${token}: env var names are upper case, e.g. \${CI_TOKEN}`);
      } else {
        used.add(name);
        if (!Object.hasOwn(a.params, name))
          report(path, `{${name}} names no param; declare params.${name} or fix the name`);
      }
    }
  };
  const ex = a.executor;
  if ('builtin' in ex) {
    // No templates: the function gets the declared params, which must be exactly the ones it reads.
    const wanted = BUILTIN_PARAMS[ex.builtin];
    for (const name of wanted) {
      used.add(name);
      if (!Object.hasOwn(a.params, name)) {
        report(
          at('params'),
          `builtin ${ex.builtin} reads param ${name}; declare params.${name} with a pattern or an enum`,
        );
      }
    }
    for (const name of Object.keys(a.params)) {
      if (!wanted.includes(name)) {
        report(
          at('params', name),
          `builtin ${ex.builtin} does not read param ${name}; its params are ${wanted.join(', ')}`,
        );
        used.add(name);
      }
    }
    return used;
  }
  if ('command' in ex) {
    const instead = 'list the variable under executor.env to pass it through';
    for (const [j, arg] of ex.command.entries()) scan(arg, at('executor', 'command', j), false, instead);
    const program = ex.command[0] ?? '';
    if (program.includes('{')) {
      report(at('executor', 'command', 0), 'the program must be fixed; take only its arguments from params');
    }
    const base = program.split('/').pop() ?? '';
    if (SHELLS.has(base) && ex.command.slice(1).some((arg) => /\{[A-Za-z_]/.test(arg))) {
      report(
        at('executor', 'command', 0),
        `params would be pasted into a ${base} script; call the program directly (argv runs without a shell)`,
      );
    }
    if (ex.cwd !== undefined) scan(ex.cwd, at('executor', 'cwd'), false, instead);
  } else if ('http' in ex) {
    const instead = `put secrets in a header, e.g. Authorization: Bearer \${TOKEN}`;
    const { url, headers, body } = ex.http;
    scan(url, at('executor', 'http', 'url'), false, instead);
    checkUrl(url, at('executor', 'http', 'url'), report);
    for (const [name, value] of Object.entries(headers)) {
      scan(value, at('executor', 'http', 'headers', name), true, instead);
    }
    if (body !== undefined) scan(body, at('executor', 'http', 'body'), false, instead);
  }
  return used;
}

function checkUrl(url: string, path: PathSegment[], report: Report): void {
  const authority = url.replace(/^https?:\/\//, '').split(/[/?#]/)[0] ?? '';
  if (authority.includes('{') || authority.includes('$')) {
    report(path, 'the host must be fixed; take only the path or query from params');
    return;
  }
  try {
    const parsed = new URL(replacePlaceholders(url, () => 'x'));
    if (
      !/^([a-z0-9]([a-z0-9-]*[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$|^\[[0-9a-f:.]+\]$/.test(
        parsed.hostname,
      )
    ) {
      report(path, `${parsed.hostname} is not a valid host name; write e.g. https://ci.example.com/api`);
    }
  } catch {
    report(path, 'not a valid URL; write e.g. https://ci.example.com/api/jobs/{job}/retry');
  }
}

function checkTarget(
  a: ActionDoc,
  scope: ReturnType<typeof scopeMatcher> | null,
  at: (...rest: PathSegment[]) => PathSegment[],
  report: Report,
  used: Set<string>,
): void {
  const name = placeholderName(a.target);
  if (name !== null) {
    used.add(name);
    const p = a.params[name];
    if (p === undefined)
      report(at('target'), `{${name}} names no param; declare params.${name} or name a system`);
    else if (p.type !== 'string')
      report(at('target'), `target param ${name} must be a string param, not ${p.type}`);
    else if (scope && p.enum) {
      p.enum.forEach((value, j) => {
        const why = scope.check(value);
        if (why !== null) report(at('params', name, 'enum', j), `${why}; remove it or change purpose`);
      });
    }
    return;
  }
  if (a.target.includes('{') || a.target.includes('}')) {
    report(at('target'), 'write one fixed system name, or exactly "{param}" to take the system from a param');
  } else if (a.target.includes('*')) {
    report(at('target'), `${a.target} is a pattern; name one system, or take it from a param with "{param}"`);
  } else if (scope) {
    const why = scope.check(a.target);
    if (why !== null) report(at('target'), `${why}; pick an in-scope system or change purpose`);
  }
}

function checkParam(a: ActionDoc, name: string, p: ParamDoc, path: PathSegment[], report: Report): void {
  if (p.type === 'integer') {
    if (p.min !== undefined && p.max !== undefined && p.min > p.max) {
      report([...path, 'min'], `min ${p.min} is above max ${p.max}; swap them`);
    }
    if (startsArg(a, name) && (p.min === undefined || p.min < 0)) {
      report(path, `a negative value would be read as an option by ${argv0(a)}; set min: 0 (or higher)`);
    }
    return;
  }
  if (p.pattern === undefined && p.enum === undefined) {
    report(
      path,
      `string param ${name} accepts any text; add a pattern (e.g. "[a-z0-9][a-z0-9-]*") or an enum`,
    );
  }
  let re: RegExp | null = null;
  if (p.pattern !== undefined) {
    try {
      re = new RegExp(`^(?:${p.pattern})$`, 'u');
    } catch (err) {
      report([...path, 'pattern'], `pattern does not compile: ${(err as Error).message}`);
    }
  }
  if (re !== null && p.enum === undefined) {
    const bad = UNSAFE_PROBES.find((probe) => re.test(probe));
    if (bad !== undefined) {
      report(
        [...path, 'pattern'],
        `pattern accepts ${JSON.stringify(bad)}; narrow it to the characters the value needs, e.g. [a-z0-9][a-z0-9-]*`,
      );
    }
  }
  p.enum?.forEach((value, j) => {
    if (re !== null && !re.test(value)) report([...path, 'enum', j], `${value} does not match the pattern`);
    if (value.length > p.maxLength)
      report([...path, 'enum', j], `${value} is longer than maxLength ${p.maxLength}`);
  });
  const startsWithDash = p.enum
    ? p.enum.some((v) => v.startsWith('-'))
    : re !== null && OPTION_PROBES.some((probe) => re.test(probe));
  if (startsWithDash && startsArg(a, name)) {
    report(
      [...path, p.enum ? 'enum' : 'pattern'],
      `a value starting with "-" would be read as an option by ${argv0(a)}; start the pattern with [a-z0-9], or put {${name}} after --`,
    );
  }
}

/** True when a command argument (before any `--`) starts with `{name}`, where a program looks for options. */
function startsArg(a: ActionDoc, name: string): boolean {
  if (!('command' in a.executor)) return false;
  const argv = a.executor.command;
  const end = argv.indexOf('--');
  return argv.slice(1, end === -1 ? undefined : end).some((arg) => arg.startsWith(`{${name}}`));
}

function argv0(a: ActionDoc): string {
  return 'command' in a.executor ? (a.executor.command[0] ?? 'the program') : 'the program';
}
