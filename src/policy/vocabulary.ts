/**
 * The shared vocabulary of DESIGN.md: closed enums used by the policy, the database and the
 * audit log. Change them here (and in DESIGN.md / the db schema), nowhere else.
 */

export const AGENTS = ['sentinel', 'guardian', 'builder', 'validator', 'mentor'] as const;
export type AgentName = (typeof AGENTS)[number];

export const SEVERITIES = ['info', 'warning', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

export const SIGNAL_KINDS = [
  'alert',
  'failed_job',
  'error_signature',
  'advisory',
  'health',
  'event',
  'sweep_failure',
] as const;
export type SignalKind = (typeof SIGNAL_KINDS)[number];

export const TIERS = [0, 1, 2, 3] as const;
export type Tier = (typeof TIERS)[number];

export const PHASES = [1, 2, 3, 4] as const;
export type Phase = (typeof PHASES)[number];

export const VERDICTS = ['observe', 'suggest', 'execute', 'ask', 'deny'] as const;
export type Verdict = (typeof VERDICTS)[number];

/**
 * Action classes, mapped one to one from the template's table (section 2): for each agent,
 * the classes it may act in. Which of them run autonomously and which require approval is
 * the policy's choice (`agents.<name>.autonomous` / `requiresApproval`); the default policy
 * copies the template exactly.
 */
export const AGENT_CLASSES = {
  sentinel: ['evidence', 'alerting', 'service-affecting'],
  guardian: ['config-check', 'advisory', 'policy-change', 'privileged-remediation'],
  builder: ['maintenance', 'architecture-change', 'security-significant'],
  validator: ['test-run', 'evidence', 'release-override'],
  mentor: ['runbook', 'skill-draft', 'policy-publication'],
} as const satisfies Record<AgentName, readonly string[]>;

export const ACTION_CLASSES = [
  'evidence',
  'alerting',
  'service-affecting',
  'config-check',
  'advisory',
  'policy-change',
  'privileged-remediation',
  'maintenance',
  'architecture-change',
  'security-significant',
  'test-run',
  'release-override',
  'runbook',
  'skill-draft',
  'policy-publication',
] as const;
export type ActionClass = (typeof ACTION_CLASSES)[number];

/**
 * The bot's own functions a catalog action may name (`executor: { builtin: skill-publish }`): the
 * schema's enum is built from this list. The learning loop registers them with the runner
 * (src/actions/executors/builtin.ts runs them).
 */
export const BUILTIN_NAMES = ['skill-publish', 'skill-rollback'] as const;
export type BuiltinName = (typeof BUILTIN_NAMES)[number];

/** The params each builtin reads: a catalog entry must declare exactly these (check-actions.ts). */
export const BUILTIN_PARAMS: Readonly<Record<BuiltinName, readonly string[]>> = {
  'skill-publish': ['skill'],
  'skill-rollback': ['skill'],
};

export function isBuiltinName(name: string): name is BuiltinName {
  return (BUILTIN_NAMES as readonly string[]).includes(name);
}

/** Who someone is, in the policy and in the audit: `slack:user:U123`, `discord:role:456`, ... */
export const IDENTITY_PATTERN =
  '^(slack:(user|group):[A-Z0-9]{2,32}|discord:(user|role):[0-9]{5,25}|console:user:[A-Za-z0-9._-]{1,64}|cli:user:[A-Za-z0-9._-]{1,64})$';
/** Where messages go: `slack:C123`, `discord:123`, `console:NAME`. */
export const CHANNEL_PATTERN =
  '^(slack:[CGD][A-Z0-9]{2,32}|discord:[0-9]{5,25}|console:[A-Za-z0-9._-]{1,64})$';
/** Durations in the policy: a whole number and a unit, e.g. `30s`, `15m`, `6h`, `14d`, `1w`. */
export const DURATION_PATTERN = '^[0-9]{1,9}(ms|s|m|h|d|w)$';
