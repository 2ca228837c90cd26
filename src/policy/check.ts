/**
 * Semantic checks of a policy document: the rules the schema cannot express because they need the
 * whole document (agents' classes, allowlists, approvers, cron, time zones, durations; the action
 * catalog's own checks are in check-actions.ts).
 * Each problem carries a path into the document; the loader turns paths into line:col.
 *
 * The checks also run on a document whose other sections failed the schema: pass the sections (and
 * single agents and actions) that did parse, and every check whose inputs are all there runs.
 */
import { validateDetailed } from 'node-cron';
import { checkActions, classesOf, tierOf } from './check-actions.js';
import { classListOf, durationMs, scopeMatcher } from './compile.js';
import type { PathSegment, Report } from './errors.js';
import { type ActionDoc, type AgentDoc, type PartialPolicyDoc, policySchema } from './schema.js';
import { AGENTS, type AgentName } from './vocabulary.js';

/** What the research tools can never do: every value research.prohibited may list. */
const PROHIBITED = policySchema.shape.research.shape.prohibited.element.options;

export interface CheckIssue {
  readonly path: readonly PathSegment[];
  readonly message: string;
  /** 'warning': valid, but it does not do what it seems to; absent: an error. */
  readonly severity?: 'warning';
}

/** Runs every check; returns the problems in document order of the checks (the loader sorts by line). */
export function checkPolicy(doc: PartialPolicyDoc): CheckIssue[] {
  const issues: CheckIssue[] = [];
  const report: Report = (path, message) => issues.push({ path, message });
  const warn: Report = (path, message) => issues.push({ path, message, severity: 'warning' });
  checkAgents(doc, report);
  checkUnlistedClasses(doc, warn);
  checkProhibited(doc, warn);
  checkActions(doc, report);
  checkAllowlists(doc, report);
  checkApprovers(doc, report);
  checkSchedules(doc, report);
  checkDurations(doc, report);
  checkLimits(doc, report);
  checkMaintenanceWindows(doc, report);
  checkHealth(doc, report);
  checkSweepChecks(doc, report);
  checkTeams(doc, report, warn);
  return issues;
}

function checkAgents(doc: PartialPolicyDoc, report: Report): void {
  for (const name of AGENTS) {
    const agent = doc.agents?.[name];
    if (agent === undefined) continue;
    const own = classesOf(name);
    const lists = { autonomous: agent.autonomous, requiresApproval: agent.requiresApproval } as const;
    for (const [list, classes] of Object.entries(lists)) {
      classes.forEach((cls, i) => {
        const path = ['agents', name, list, i];
        if (!own.includes(cls)) report(path, `${cls} is not a ${name} class; use one of ${own.join(', ')}`);
        else if (classes.indexOf(cls) !== i) report(path, `${cls} is listed twice; remove one`);
        else if (list === 'requiresApproval' && agent.autonomous.includes(cls)) {
          report(path, `${cls} is also under autonomous; a class is either autonomous or requires approval`);
        }
      });
    }
  }
}

/**
 * A catalog action whose class its agent lists neither under `autonomous` nor under
 * `requiresApproval` is denied by decide() every time. A warning, not an error: taking a class out
 * of both lists is how a policy owner stops an agent acting in it, and a reload that does so must
 * take effect, not be rejected with the class still allowed.
 */
function checkUnlistedClasses(doc: PartialPolicyDoc, warn: Report): void {
  doc.actions?.forEach((a, i) => {
    const agent = a && doc.agents?.[a.agent];
    if (a === undefined || agent === undefined || !classesOf(a.agent).includes(a.class)) return;
    if (classListOf(agent, a.class) !== null) return;
    warn(
      ['actions', i, 'class'],
      `${a.id} can never run: ${a.agent} lists class ${a.class} neither under autonomous nor under ` +
        `requiresApproval, so every proposal of it is denied; add ${a.class} to one of ` +
        `agents.${a.agent}.autonomous or agents.${a.agent}.requiresApproval, or remove the action`,
    );
  });
}

/**
 * `research.prohibited` changes nothing: posting, account actions and submissions are impossible
 * by construction (the research tools only read), whatever it lists. A list that leaves one out
 * reads as if that one were allowed; say it is not.
 */
function checkProhibited(doc: PartialPolicyDoc, warn: Report): void {
  const listed = doc.research?.prohibited;
  if (listed === undefined) return;
  const left = PROHIBITED.filter((p) => !listed.includes(p));
  if (left.length === 0) return;
  warn(
    ['research', 'prohibited'],
    `${left.join(', ')} ${left.length === 1 ? 'is' : 'are'} not listed, but still impossible: the research tools ` +
      `only read, so no agent can post, act on an account or submit anything, whatever this list says; ` +
      `list all of ${PROHIBITED.join(', ')}`,
  );
}

function checkAllowlists(doc: PartialPolicyDoc, report: Report): void {
  if (doc.actions === undefined) return;
  // When some actions failed the schema their ids are unknown: do not call an allowlisted id missing.
  const complete = doc.actions.every((a) => a !== undefined);
  const byId = new Map<string, ActionDoc>();
  for (const a of doc.actions) if (a && !byId.has(a.id)) byId.set(a.id, a);
  for (const name of AGENTS) {
    const agent = doc.agents?.[name];
    if (agent === undefined) continue;
    for (const [i, id] of agent.allowlist.entries()) {
      const problem = allowlistProblem(doc, name, agent, id, i, byId.get(id), complete);
      if (problem !== null) report(['agents', name, 'allowlist', i], problem);
    }
  }
}

function allowlistProblem(
  doc: PartialPolicyDoc,
  name: AgentName,
  agent: AgentDoc,
  id: string,
  index: number,
  a: ActionDoc | undefined,
  complete: boolean,
): string | null {
  if (agent.allowlist.indexOf(id) !== index) return `${id} is listed twice; remove one`;
  if (a === undefined) return complete ? `no action has id ${id}; add it to actions or remove it here` : null;
  if (a.agent !== name) return `${id} belongs to ${a.agent}; an agent can only allowlist its own actions`;
  const owner = doc.agents?.[a.agent];
  if (owner === undefined) return null;
  const { tier, lifted } = tierOf(owner, a);
  if (tier <= 2) return null;
  if (!lifted) return `${id} is tier 3 and always needs an approval; only tier 2 actions can be allowlisted`;
  return (
    `${id} is tier ${a.tier}, but class ${a.class} requires approval for ${name}, which lifts it to tier 3; ` +
    `remove it here, or move ${a.class} from requiresApproval to autonomous`
  );
}

function checkApprovers(doc: PartialPolicyDoc, report: Report): void {
  if (doc.control === undefined || doc.actions === undefined || doc.control.roles.approvers.length > 0)
    return;
  const guarded = doc.actions.filter((a): a is ActionDoc => {
    const agent = a && doc.agents?.[a.agent];
    return a !== undefined && agent !== undefined && tierOf(agent, a).tier === 3;
  });
  if (guarded.length === 0) return;
  const names = guarded.slice(0, 3).map((a) => a.id);
  report(
    ['control', 'roles', 'approvers'],
    `no approvers, but ${guarded.length} action(s) need approval (${names.join(', ')}${guarded.length > 3 ? ', ...' : ''}); ` +
      'add an identity like slack:user:U123 or console:user:local',
  );
}

function checkSchedules(doc: PartialPolicyDoc, report: Report): void {
  const crons: [PathSegment[], string | undefined][] = [
    [['triggers', 'sweeps', 'light'], doc.triggers?.sweeps.light],
    [['triggers', 'sweeps', 'deep'], doc.triggers?.sweeps.deep],
    [['evidence', 'review', 'cadence'], doc.evidence?.review.cadence],
    [['metrics', 'digest', 'schedule'], doc.metrics?.digest.schedule],
  ];
  for (const [path, expr] of crons) {
    if (expr === undefined) continue;
    const result = validateDetailed(expr);
    if (result.valid) continue;
    const why = (result.errors[0]?.message ?? 'invalid').replace(
      / is a invalid expression for (\w+)/,
      ' is not a valid $1',
    );
    report(path, `not a cron expression (${why}); write minute hour day month weekday, e.g. "*/5 * * * *"`);
  }
  const zones: [PathSegment[], string | undefined][] = [
    [['triggers', 'timezone'], doc.triggers?.timezone],
    [['metrics', 'digest', 'timezone'], doc.metrics?.digest.timezone],
  ];
  for (const [path, zone] of zones) {
    if (zone === undefined) continue;
    try {
      new Intl.DateTimeFormat(undefined, { timeZone: zone });
    } catch {
      report(path, `${zone} is not a time zone; write an IANA name like UTC or Europe/Berlin`);
    }
  }
}

function checkDurations(doc: PartialPolicyDoc, report: Report): void {
  /** [path, value, must be more than zero] */
  const list: [PathSegment[], string | undefined, boolean][] = [
    [['triggers', 'errorSignatures', 'window'], doc.triggers?.errorSignatures.window, true],
    [['triggers', 'errorSignatures', 'cooldown'], doc.triggers?.errorSignatures.cooldown, false],
    [['models', 'timeout'], doc.models?.timeout, true],
    [['budgets', 'backoff', 'initial'], doc.budgets?.backoff.initial, true],
    [['budgets', 'backoff', 'max'], doc.budgets?.backoff.max, true],
    [['research', 'timeout'], doc.research?.timeout, true],
    [['learning', 'promotion', 'window'], doc.learning?.promotion.window, true],
    [['learning', 'validationWindow'], doc.learning?.validationWindow, true],
    [['learning', 'staleAfter'], doc.learning?.staleAfter, true],
    [['evidence', 'retention'], doc.evidence?.retention, true],
    [['control', 'approvalTimeout'], doc.control?.approvalTimeout, true],
    [['routing', 'storm', 'endsAfter'], doc.routing?.storm.endsAfter, true],
  ];
  doc.control?.escalation.forEach((level, i) => {
    list.push([['control', 'escalation', i, 'after'], level.after, false]);
  });
  doc.actions?.forEach((a, i) => {
    if (a === undefined) return;
    list.push([['actions', i, 'timeout'], a.timeout, true], [['actions', i, 'cooldown'], a.cooldown, false]);
  });
  for (const [path, text, positive] of list) {
    if (text === undefined) continue;
    const value = parseDuration(text);
    if (value === null) report(path, `${text} is not a duration; write e.g. 30s, 15m, 6h or 14d`);
    else if (positive && value <= 0) report(path, 'must be more than 0; write e.g. 30s or 15m');
  }
  const backoff = doc.budgets?.backoff;
  const initial = backoff && parseDuration(backoff.initial);
  const max = backoff && parseDuration(backoff.max);
  if (backoff && initial != null && max != null && initial > max) {
    report(
      ['budgets', 'backoff', 'initial'],
      `initial ${backoff.initial} is longer than max ${backoff.max}; swap them`,
    );
  }
  let previous: { after: string; ms: number } | null = null;
  for (const [i, level] of (doc.control?.escalation ?? []).entries()) {
    const value = parseDuration(level.after);
    if (value === null) continue;
    if (previous !== null && value <= previous.ms) {
      report(
        ['control', 'escalation', i, 'after'],
        `${level.after} is not later than the level before (${previous.after}); each level must come later`,
      );
    }
    previous = { after: level.after, ms: value };
  }
}

function parseDuration(text: string): number | null {
  try {
    return durationMs(text);
  } catch {
    return null;
  }
}

function checkLimits(doc: PartialPolicyDoc, report: Report): void {
  const models = doc.models;
  if (models && models.perAgentConcurrency > models.maxConcurrentLocal) {
    report(
      ['models', 'perAgentConcurrency'],
      `${models.perAgentConcurrency} is above maxConcurrentLocal (${models.maxConcurrentLocal}); lower it`,
    );
  }
  if (models) {
    const refs = [
      { at: ['models', 'local'] as PathSegment[], ref: models.local },
      ...models.escalation.map((ref, i) => ({ at: ['models', 'escalation', i] as PathSegment[], ref })),
    ];
    for (const { at, ref } of refs) {
      const context = ref.contextTokens ?? models.contextTokens;
      if (models.maxOutputTokens * 2 > context) {
        report(
          [...at, 'contextTokens'],
          `${ref.model} has ${context} context tokens, too few for replies of up to ${models.maxOutputTokens} (maxOutputTokens) and a prompt; raise contextTokens or lower maxOutputTokens`,
        );
      }
    }
  }
  const research = doc.research;
  if (research && research.tools.length === 0) {
    for (const [agent, domains] of Object.entries(research.domains)) {
      if (domains && domains.length > 0) {
        report(
          ['research', 'domains', agent],
          'research.tools is empty, so no agent can read these; add web_fetch to research.tools or remove them',
        );
      }
    }
  }
}

/** Health probes: unique names, http(s) URLs, one in-scope service each, sane durations. */
function checkHealth(doc: PartialPolicyDoc, report: Report): void {
  const probes = doc.health?.probes ?? [];
  const scope = doc.purpose && scopeMatcher(doc.purpose.inScope, doc.purpose.outOfScope);
  probes.forEach((probe, i) => {
    const at = (key: string): PathSegment[] => ['health', 'probes', i, key];
    if (probes.findIndex((p) => p.name === probe.name) !== i) {
      report(at('name'), `${probe.name} is already the name of another probe; probe names must be unique`);
    }
    let url: URL | null = null;
    try {
      url = new URL(probe.url);
    } catch {
      report(at('url'), `${probe.url} is not a URL; write e.g. https://api.example.com/healthz`);
    }
    if (url !== null && url.protocol !== 'http:' && url.protocol !== 'https:') {
      report(at('url'), `${url.protocol} URLs cannot be probed; use http:// or https://`);
    } else if (url !== null && (url.username !== '' || url.password !== '')) {
      report(at('url'), 'a probe URL must not carry credentials; use an unauthenticated health endpoint');
    }
    if (probe.service.includes('*')) {
      report(at('service'), `a probe checks one system; write its name instead of the glob ${probe.service}`);
    } else if (scope) {
      const why = scope.check(probe.service);
      if (why !== null) {
        report(at('service'), `${why}; probe an in-scope system or add it to purpose.inScope`);
      }
    }
    const timeout = parseDuration(probe.timeout);
    const objective = parseDuration(probe.latencyObjective);
    if (timeout === null) report(at('timeout'), `${probe.timeout} is not a duration; write e.g. 5s`);
    else if (timeout <= 0) report(at('timeout'), 'must be more than 0; write e.g. 5s');
    if (objective === null) {
      report(at('latencyObjective'), `${probe.latencyObjective} is not a duration; write e.g. 800ms`);
    } else if (objective <= 0) {
      report(at('latencyObjective'), 'must be more than 0; write e.g. 800ms');
    } else if (timeout !== null && timeout > 0 && objective >= timeout) {
      report(
        at('latencyObjective'),
        `${probe.latencyObjective} is not below the timeout (${probe.timeout}); lower it or raise the timeout`,
      );
    }
  });
}

/** The longest maintenance window: longer than this is an outage; mute or disable instead. */
const MAX_WINDOW_MS = 7 * 24 * 3600_000;

function checkMaintenanceWindows(doc: PartialPolicyDoc, report: Report): void {
  const windows = doc.control?.maintenanceWindows ?? [];
  const scope = doc.purpose && scopeMatcher(doc.purpose.inScope, doc.purpose.outOfScope);
  const names = new Map<string, number>();
  windows.forEach((w, i) => {
    const at = (...rest: PathSegment[]): PathSegment[] => ['control', 'maintenanceWindows', i, ...rest];
    const first = names.get(w.name);
    if (first === undefined) names.set(w.name, i);
    else report(at('name'), `${w.name} is also the name of window ${first}; give each window its own name`);
    const cron = validateDetailed(w.cron);
    if (!cron.valid) {
      const why = (cron.errors[0]?.message ?? 'invalid').replace(
        / is a invalid expression for (\w+)/,
        ' is not a valid $1',
      );
      report(
        at('cron'),
        `not a cron expression (${why}); write minute hour day month weekday, e.g. "0 2 * * 0"`,
      );
    }
    const length = parseDuration(w.duration);
    if (length === null) report(at('duration'), `${w.duration} is not a duration; write e.g. 30m, 2h or 1d`);
    else if (length <= 0) report(at('duration'), 'must be more than 0; write e.g. 30m or 2h');
    else if (length > MAX_WINDOW_MS) {
      report(
        at('duration'),
        `${w.duration} is longer than 7d; a window that long is an outage: mute the service instead`,
      );
    }
    if (w.timezone !== undefined) {
      try {
        new Intl.DateTimeFormat(undefined, { timeZone: w.timezone });
      } catch {
        report(
          at('timezone'),
          `${w.timezone} is not a time zone; write an IANA name like UTC or Europe/Berlin`,
        );
      }
    }
    w.services.forEach((service, j) => {
      const problem = scope?.check(service) ?? null;
      if (problem !== null) report(at('services', j), `${problem}; a window can only cover in-scope systems`);
    });
  });
}

/** `checks`: each names a catalog action and gives exactly the params it declares. */
function checkSweepChecks(doc: PartialPolicyDoc, report: Report): void {
  if (doc.checks === undefined || doc.actions === undefined) return;
  const complete = doc.actions.every((a) => a !== undefined);
  const byId = new Map<string, ActionDoc>();
  for (const a of doc.actions) if (a && !byId.has(a.id)) byId.set(a.id, a);
  doc.checks.forEach((c, i) => {
    const a = byId.get(c.action);
    if (a === undefined) {
      if (complete)
        report(['checks', i, 'action'], `${c.action} is not in the action catalog; add it or fix the id`);
      return;
    }
    for (const name of Object.keys(c.params)) {
      if (!(name in a.params)) {
        const declared = Object.keys(a.params);
        report(
          ['checks', i, 'params', name],
          `${c.action} has no param ${name}; ${declared.length === 0 ? 'it takes none' : `its params are ${declared.join(', ')}`}`,
        );
      }
    }
    for (const name of Object.keys(a.params)) {
      if (!(name in c.params))
        report(['checks', i, 'params'], `${c.action} needs param ${name}; give it here`);
    }
  });
}

/**
 * Teams: unique names, and each service name or glob owned by one team (errors: which team gets
 * the incident would otherwise depend on the order of the file, silently). A glob that also matches
 * another team's exact name is fine: the exact name wins, by the documented rule. A team without
 * channels is a warning: valid (its services fall back to the agent's routes), but likely unfinished.
 */
function checkTeams(doc: PartialPolicyDoc, report: Report, warn: Report): void {
  const teams = doc.teams ?? [];
  const names = new Map<string, number>();
  const owners = new Map<string, string>();
  teams.forEach((team, i) => {
    const first = names.get(team.name);
    if (first === undefined) names.set(team.name, i);
    else
      report(
        ['teams', i, 'name'],
        `${team.name} is also the name of team ${first}; give each team its own name`,
      );
    team.services.forEach((service, j) => {
      const at: PathSegment[] = ['teams', i, 'services', j];
      const owner = owners.get(service);
      if (team.services.indexOf(service) !== j) report(at, `${service} is listed twice; remove one`);
      else if (owner === undefined) owners.set(service, team.name);
      else if (owner !== team.name)
        report(
          at,
          `${service} is already owned by team ${owner}; a service has one team: remove it from one of them`,
        );
    });
    const c = team.channels;
    if (c.info === undefined && c.warning === undefined && c.critical === undefined) {
      warn(
        ['teams', i, 'channels'],
        `team ${team.name} has no channels, so its services' posts go where the agents' routes send them; add e.g. critical: [slack:C123]`,
      );
    }
  });
}
