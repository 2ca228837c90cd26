/**
 * The zod schema of the policy file: the template's twelve sections as a file the bot enforces.
 * Shape only (types, enums, patterns, unknown keys rejected). Rules that need the whole
 * document (unique ids, owners, allowlists, cron syntax, approvers) live in `check.ts`.
 * `autonomy policy schema` prints this as JSON Schema for editors.
 */
import { z } from 'zod';
import { ENV_NAME } from './placeholders.js';
import {
  ACTION_CLASSES,
  AGENTS,
  type AgentName,
  BUILTIN_NAMES,
  CHANNEL_PATTERN,
  DURATION_PATTERN,
  IDENTITY_PATTERN,
  SIGNAL_KINDS,
} from './vocabulary.js';

const duration = z.string().regex(new RegExp(DURATION_PATTERN), 'a duration like 30s, 15m, 6h or 14d');
const identity = z
  .string()
  .regex(
    new RegExp(IDENTITY_PATTERN),
    'an identity like slack:user:U123, slack:group:S123, discord:user:123, discord:role:456, console:user:NAME or cli:user:NAME',
  );
const channel = z
  .string()
  .regex(new RegExp(CHANNEL_PATTERN), 'a channel like slack:C123, discord:123 or console:NAME');
const cron = z.string().min(1).describe('a cron expression, e.g. "*/5 * * * *"');
const timezone = z.string().min(1).describe('an IANA time zone, e.g. UTC or Europe/Berlin');
const agentName = z.enum(AGENTS);
const actionClass = z.enum(ACTION_CLASSES);
const phase = z.union([z.literal(1), z.literal(2), z.literal(3), z.literal(4)]);
const tier = z.union([z.literal(0), z.literal(1), z.literal(2), z.literal(3)]);
/** A system name or a glob with `*` (e.g. `staging-*`): what actions may target. */
const systemName = z
  .string()
  .regex(/^[A-Za-z0-9*][A-Za-z0-9._*:-]{0,127}$/, 'a system name like web, payments-db or staging-*');
const hostUrl = z.url({ protocol: /^https?$/ }).describe('an http(s) URL');

/** Section 1: purpose. */
const purpose = z.strictObject({
  outcomes: z.array(z.string().min(1)).min(1),
  inScope: z.array(systemName).min(1).describe('systems actions may target'),
  outOfScope: z.array(systemName).default([]).describe('systems no action may target, even if in scope'),
});

/** Section 2: one agent's scope, from the template's table. */
const agent = z.strictObject({
  enabled: z.boolean().default(true),
  scope: z.string().min(1),
  autonomous: z.array(actionClass).describe('classes this agent may act in without approval'),
  requiresApproval: z.array(actionClass).describe('classes lifted to tier 3: always need a human'),
  allowlist: z
    .array(z.string())
    .default([])
    .describe('tier 2 action ids that run by themselves from phase 3 on'),
});

/** Section 3: the four tiers (fixed meaning; names and descriptions are for readers). */
const tierDoc = z.strictObject({ name: z.string().min(1), description: z.string().min(1) });
const tiers = z.strictObject({ '0': tierDoc, '1': tierDoc, '2': tierDoc, '3': tierDoc });

/** Section 4: triggers. */
const triggers = z.strictObject({
  timezone: timezone.default('UTC'),
  events: z.array(z.enum(SIGNAL_KINDS)).min(1).describe('signal kinds that wake agents'),
  errorSignatures: z
    .strictObject({
      threshold: z.int().min(1).default(5),
      window: duration.default('10m'),
      cooldown: duration.default('30m'),
    })
    .prefault({}),
  sweeps: z.strictObject({
    light: cron.describe('light checks, every N minutes'),
    deep: cron.describe('deep checks, every N hours'),
    failureThreshold: z.int().min(1).default(3).describe('failed sweeps in a row before an alert'),
  }),
});

/** Section 5: model policy. */
const contextTokens = z
  .int()
  .min(512)
  .max(1_048_576)
  .describe("the model's context size in tokens: sent as num_ctx, and the prompt is sized to fit it");
const modelRef = z.strictObject({
  provider: z.literal('ollama').default('ollama'),
  model: z.string().min(1),
  host: hostUrl.optional().describe('defaults to OLLAMA_HOST'),
  contextTokens: contextTokens.optional().describe("this model's context size; default models.contextTokens"),
});
const escalationCondition = z.enum([
  'critical-severity',
  'local-failure',
  'invalid-output',
  'deep-check',
  'low-confidence',
]);
const models = z.strictObject({
  local: modelRef,
  escalation: z.array(modelRef.extend({ when: z.array(escalationCondition).min(1) })).default([]),
  maxConcurrentLocal: z.int().min(1).max(64),
  perAgentConcurrency: z.int().min(1).max(64),
  timeout: duration.default('120s'),
  contextTokens: contextTokens.default(8192).describe('the context size of a model that names none'),
  maxOutputTokens: z
    .int()
    .min(16)
    .max(32_768)
    .default(1024)
    .describe('the most tokens a reply may have (sent as num_predict); budgets reserve it before each call'),
  lowConfidence: z
    .number()
    .min(0)
    .max(1)
    .default(0.5)
    .describe('an assessment below this confidence escalates when a model lists low-confidence'),
});

/** Section 6: budgets and rate limits. */
const agentBudget = z.strictObject({
  dailyTokens: z.int().min(0),
  callsPerHour: z.int().min(0),
});
const budgets = z.strictObject({
  global: z.strictObject({ dailyTokens: z.int().min(0), callsPerHour: z.int().min(0) }),
  perAgent: agentBudget.describe('the default for every agent'),
  agents: z.partialRecord(agentName, agentBudget).default({}).describe('per-agent overrides'),
  backoff: z
    .strictObject({
      initial: duration.default('30s'),
      max: duration.default('15m'),
      factor: z.number().min(1).max(10).default(2),
    })
    .prefault({}),
});

/** Section 7: read-only research. */
const hostname = z
  .string()
  .regex(
    /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/,
    'a lower-case hostname like osv.dev or *.github.com',
  );
const research = z.strictObject({
  tools: z.array(z.enum(['web_search', 'web_fetch', 'browser'])).default([]),
  prohibited: z
    .array(z.enum(['posting', 'account-actions', 'submissions']))
    .describe('documentation: these are impossible by construction, whatever is listed'),
  domains: z.partialRecord(agentName, z.array(hostname)).default({}).describe('allowlist by role'),
  allowPrivateAddresses: z.boolean().default(false),
  citations: z.boolean().describe('true: a model claim without a cited page is not posted'),
  maxBytes: z.int().min(1024).default(2_000_000),
  timeout: duration.default('15s'),
});

/** Section 8: learning loop. */
const learning = z.strictObject({
  promotion: z.strictObject({ occurrences: z.int().min(2), window: duration }),
  validationWindow: duration,
  staleAfter: duration.default('60d'),
});

/** Section 9: evidence. */
const evidence = z.strictObject({
  required: z
    .array(z.enum(['trigger', 'model', 'actionClass', 'tier', 'outcome', 'evidence']))
    .min(1)
    .describe('run metadata every run record must carry'),
  retention: duration,
  review: z.strictObject({ cadence: cron, channels: z.array(channel).default([]) }),
});

/** Section 10: human control. */
const escalationLevel = z.strictObject({
  after: duration,
  mention: z.array(identity).min(1),
  channels: z.array(channel).default([]),
  mentionIn: z
    .enum(['thread', 'channel'])
    .default('thread')
    .describe(
      "thread: the incident's escalation is a reply in its card's thread; channel: a message at the channel's top level, seen by people who do not follow the thread",
    ),
});
/**
 * A recurring maintenance window: posts about the covered services are held back from when `cron`
 * fires (wall clock in `timezone`) for `duration` (elapsed time). Storage and critical escalation go on.
 */
const maintenanceWindow = z.strictObject({
  name: z.string().min(1).max(80),
  cron: cron.describe('when the window starts, e.g. "0 2 * * 0" (Sundays 02:00)'),
  duration: duration.describe('how long it lasts, in elapsed time (at most 7d)'),
  timezone: timezone.optional().describe('the cron time zone; defaults to triggers.timezone'),
  services: z.array(systemName).default([]).describe('systems it covers (globs allowed); empty = all'),
  holdCritical: z
    .boolean()
    .default(false)
    .describe('true: hold back critical posts and escalations too; false: critical still goes out'),
});
const control = z.strictObject({
  killSwitch: z.strictObject({ global: z.literal(true), perAgent: z.literal(true) }).prefault({
    global: true,
    perAgent: true,
  }),
  roles: z.strictObject({
    operators: z.array(identity).default([]).describe('may kill'),
    approvers: z.array(identity).default([]).describe('may approve and deny tier 3 requests'),
    admins: z.array(identity).default([]).describe('may resume, set budgets and change the phase'),
  }),
  consoleUser: identity.default('console:user:local').describe('who the console page acts as'),
  approvalChannels: z.array(channel).min(1),
  approvalTimeout: duration.default('30m'),
  escalation: z.array(escalationLevel).default([]).describe('incident escalation path, in order'),
  maintenanceWindows: z
    .array(maintenanceWindow)
    .default([])
    .describe('recurring windows that hold back posts (not storage) for some or all services'),
});

/** Section 11: weekly metrics digest. */
const metrics = z.strictObject({
  digest: z.strictObject({
    schedule: cron,
    timezone: timezone.default('UTC'),
    channels: z.array(channel).default([]),
  }),
});

/** Section 12: rollout. */
const rollout = z.strictObject({
  phase,
  agents: z.partialRecord(agentName, phase).default({}).describe('per-agent phase overrides'),
});

/** Which channels get alerts and suggestions, per agent and severity. */
const severityRoutes = z.strictObject({
  info: z.array(channel).optional(),
  warning: z.array(channel).optional(),
  critical: z.array(channel).optional(),
});
const routing = z.strictObject({
  default: z.strictObject({
    info: z.array(channel),
    warning: z.array(channel),
    critical: z.array(channel),
  }),
  agents: z.partialRecord(agentName, severityRoutes).default({}),
  services: z
    .record(systemName, severityRoutes)
    .default({})
    .describe(
      "a service's (or glob's) channels per severity; before its team's, the agent's and the default route (an exact name before globs, globs in file order)",
    ),
  storm: z
    .strictObject({
      cardsPerMinute: z
        .int()
        .min(1)
        .max(1000)
        .default(10)
        .describe(
          'new incident cards a channel takes in any minute; past that, new incidents fold into one storm card updated in place',
        ),
      endsAfter: duration
        .default('5m')
        .describe('the storm ends (new incidents get their own cards again) after this long under that rate'),
    })
    .prefault({})
    .describe('alert storms: how many new incident cards a channel takes before they fold into one'),
});

/**
 * A team: the services it owns (names or globs) and where their incidents and posts go. A team's
 * channels come after `routing.services` and before the agent's and the default route.
 */
const team = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'a team name like checkout or platform-sre'),
  services: z
    .array(systemName)
    .min(1)
    .describe(
      'services it owns (globs allowed); an exact name wins over a glob, then the first team in the file',
    ),
  channels: severityRoutes.prefault({}).describe("its services' channels per severity"),
  mention: z
    .array(identity)
    .default([])
    .describe("who every level of control.escalation mentions too for its services' incidents"),
});

/** What the bot runs, for matching advisories (OSV): npm lockfiles and `name@version` lists. */
const inventory = z.strictObject({
  npmLockfiles: z
    .array(z.string().min(1))
    .default([])
    .describe('package-lock.json files (v1, v2 or v3), relative to the policy file'),
  lists: z
    .array(z.string().min(1))
    .default([])
    .describe('plain files of name@version lines (# comments), relative to the policy file'),
});

/** Health probes, run in the light sweep: failures or latency far above its own baseline alert. */
const probe = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'a probe name like api-health'),
  url: z.string().min(1).describe('an http(s) URL to request'),
  method: z.enum(['GET', 'HEAD']).default('GET'),
  expectStatus: z.int().min(100).max(599).default(200),
  timeout: duration.default('5s'),
  latencyObjective: duration.describe('slower than this and far above its own baseline is degraded'),
  service: systemName.describe('the in-scope system this probe checks'),
});
const health = z.strictObject({
  probes: z.array(probe).default([]),
  failuresToAlert: z.int().min(1).default(2).describe('bad results in a row before a health signal'),
  recoveriesToResolve: z.int().min(1).default(2).describe('good results in a row before it resolves'),
});

/**
 * Checks the sweeps run: catalog actions (regression tests, evidence collection) proposed by the
 * action's own agent in its light or deep sweep, and decided by decide() like any other proposal.
 */
const check = z.strictObject({
  action: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'the id of a catalog action'),
  params: z.record(z.string(), z.union([z.string(), z.int()])).default({}),
  sweep: z.enum(['light', 'deep']).default('deep'),
});

/** Files guardian's deep sweep hashes and compares with their recorded baseline (drift). */
const drift = z.strictObject({
  watch: z
    .array(z.string().min(1))
    .default([])
    .describe('files to watch for drift, relative to the policy file'),
});

/** One action parameter: a string that fully matches `pattern` or is one of `enum`, or an integer. */
const param = z.union([
  z.strictObject({
    type: z.literal('string').default('string'),
    pattern: z.string().min(1).optional().describe('must match the whole value'),
    enum: z.array(z.string().min(1)).min(1).optional(),
    maxLength: z.int().min(1).max(4096).default(128),
    description: z.string().optional(),
  }),
  z.strictObject({
    type: z.literal('integer'),
    min: z.int().optional(),
    max: z.int().optional(),
    description: z.string().optional(),
  }),
]);

/** `{name}` fills in a validated param; `${NAME}` (http headers only) an env var, e.g. a token. */
const commandExecutor = z.strictObject({
  command: z.array(z.string().min(1)).min(1).describe('argv; run with execFile, never a shell'),
  cwd: z.string().optional(),
  env: z.array(z.string().regex(ENV_NAME)).default([]).describe('env vars passed through'),
});
const httpExecutor = z.strictObject({
  http: z.strictObject({
    method: z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']),
    url: z.string().regex(/^https?:\/\//, 'an http(s) URL template'),
    headers: z.record(z.string(), z.string()).default({}),
    body: z.string().optional().describe('a template; {param} values are JSON-escaped'),
  }),
});
/** A function of the bot itself (the learning loop's skill publication), registered with the runner. */
const builtinExecutor = z.strictObject({
  builtin: z
    .enum(BUILTIN_NAMES)
    .describe('skill-publish promotes a skill draft, skill-rollback rolls a promoted skill back'),
});
const executor = z.union([commandExecutor, httpExecutor, builtinExecutor]);

const action = z.strictObject({
  id: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'an id like restart-service'),
  agent: agentName,
  description: z.string().min(1),
  tier,
  class: actionClass,
  target: z
    .string()
    .min(1)
    .describe('the target system: a fixed system name, or "{param}" to take it from a param'),
  params: z.record(z.string().regex(/^[a-z][a-zA-Z0-9_]{0,31}$/), param).default({}),
  executor,
  timeout: duration.default('60s'),
  cooldown: duration.default('0s'),
  dailyCap: z.int().min(1).optional(),
});

export const policySchema = z.strictObject({
  $schema: z.string().optional(),
  version: z.literal(1),
  purpose,
  agents: z.strictObject({
    sentinel: agent,
    guardian: agent,
    builder: agent,
    validator: agent,
    mentor: agent,
  }),
  tiers,
  triggers,
  models,
  budgets,
  research,
  learning,
  evidence,
  control,
  metrics,
  rollout,
  routing,
  teams: z.array(team).default([]).describe('who owns which services, and where their incidents go'),
  inventory: inventory.prefault({}),
  health: health.prefault({}),
  checks: z.array(check).default([]).describe('catalog actions the sweeps run through decide()'),
  drift: drift.prefault({}),
  actions: z.array(action).default([]),
});

/** The policy file as parsed and defaulted (durations still as strings). */
export type PolicyDoc = z.output<typeof policySchema>;
export type ActionDoc = PolicyDoc['actions'][number];
export type ParamDoc = ActionDoc['params'][string];
export type AgentDoc = PolicyDoc['agents']['sentinel'];
export type TeamDoc = PolicyDoc['teams'][number];

/**
 * The sections of a document that passed the schema; a full `PolicyDoc` is one. The checks
 * (check.ts) run on it when other sections failed.
 */
export type PartialPolicyDoc = Partial<Omit<PolicyDoc, 'agents' | 'actions'>> & {
  readonly agents?: Partial<Record<AgentName, AgentDoc>>;
  /** Same indices as in the file; undefined where that action failed the schema. */
  readonly actions?: readonly (ActionDoc | undefined)[];
};

/** JSON Schema of the policy file, for editors (`autonomy policy schema`). */
export function policyJsonSchema(): unknown {
  return z.toJSONSchema(policySchema, { io: 'input', target: 'draft-2020-12' });
}
