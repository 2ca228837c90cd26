/**
 * The `/autonomy` command set: every verb, its usage, who may run it, and how its arguments are
 * read. One grammar serves every adapter (console, Slack, Discord) and the CLI. Parsing is pure:
 * it turns text into a typed command or a usage error with a suggestion; nothing runs here.
 */
import { closest, distance } from 'fastest-levenshtein';
import type { Role } from '../../control/roles.js';
import { durationMs } from '../../policy/compile.js';
import { AGENTS, type AgentName, type Phase } from '../../policy/vocabulary.js';

export type AgentOrAll = AgentName | 'all';
export type MuteKind = 'agent' | 'signature' | 'service';
/** What a channel subscribes to: the weekly digest, or a service's (name or glob) or team's incidents. */
export type SubscriptionTarget =
  | { readonly scope: 'digest' }
  | { readonly scope: 'service' | 'team'; readonly name: string };
/** Which incidents to list: all open ones, or a service's (name or glob) or team's. */
export type IncidentFilter = { readonly scope: 'service' | 'team'; readonly name: string } | null;

export type Command =
  | { readonly verb: 'help'; readonly topic: string | null }
  | { readonly verb: 'status' }
  | { readonly verb: 'kill'; readonly target: AgentOrAll; readonly reason: string | null }
  | { readonly verb: 'resume'; readonly target: AgentOrAll; readonly reason: string | null }
  | { readonly verb: 'budget'; readonly agent: AgentName | null; readonly tokens: number | null }
  | { readonly verb: 'approvals' }
  | { readonly verb: 'approve'; readonly id: string }
  | { readonly verb: 'deny'; readonly id: string; readonly reason: string | null }
  | { readonly verb: 'incidents'; readonly filter: IncidentFilter }
  | { readonly verb: 'ack'; readonly id: string }
  | { readonly verb: 'resolve'; readonly id: string; readonly note: string | null }
  | {
      readonly verb: 'mute';
      readonly kind: MuteKind;
      readonly target: string;
      readonly durationMs: number;
      readonly duration: string;
      readonly reason: string | null;
    }
  | { readonly verb: 'unmute'; readonly kind: MuteKind; readonly target: string }
  | {
      readonly verb: 'phase';
      readonly phase: Phase | null;
      readonly agent: AgentName | null;
      readonly reason: string | null;
    }
  | { readonly verb: 'digest' }
  | { readonly verb: 'subscribe'; readonly target: SubscriptionTarget }
  | { readonly verb: 'unsubscribe'; readonly target: SubscriptionTarget }
  | { readonly verb: 'subscriptions' }
  | { readonly verb: 'audit'; readonly runId: string }
  | { readonly verb: 'skills' };

export type Verb = Command['verb'];

export interface VerbSpec {
  readonly verb: Verb;
  readonly usage: string;
  readonly summary: string;
  /** Who may run it: listed roles, `any` role, or `everyone` (help). */
  readonly roles: readonly Role[] | 'any' | 'everyone';
  readonly example: string;
}

export const VERBS: readonly VerbSpec[] = [
  {
    verb: 'status',
    usage: 'status',
    summary: 'phase, kill switches, mutes, budgets, approvals, incidents, health',
    roles: 'any',
    example: 'status',
  },
  {
    verb: 'kill',
    usage: 'kill <agent|all> [reason]',
    summary: 'stop an agent at once (its runs are aborted, its approvals voided)',
    roles: ['operator', 'approver', 'admin'],
    example: 'kill guardian flapping deploys',
  },
  {
    verb: 'resume',
    usage: 'resume <agent|all> [reason]',
    summary: 'lift a kill switch',
    roles: ['admin'],
    example: 'resume guardian fixed in #123',
  },
  {
    verb: 'budget',
    usage: 'budget [agent] | budget <agent> <tokens>',
    summary: "show token budgets, or set an agent's daily tokens",
    roles: 'any',
    example: 'budget mentor 50000',
  },
  {
    verb: 'approvals',
    usage: 'approvals',
    summary: 'list pending approval requests',
    roles: 'any',
    example: 'approvals',
  },
  {
    verb: 'approve',
    usage: 'approve <a12>',
    summary: 'approve a tier 3 request (typed fallback for the button)',
    roles: ['approver'],
    example: 'approve a12',
  },
  {
    verb: 'deny',
    usage: 'deny <a12> [reason]',
    summary: 'deny a tier 3 request',
    roles: ['approver'],
    example: 'deny a12 not during the sale',
  },
  {
    verb: 'incidents',
    usage: 'incidents [service <name>|team <name>]',
    summary: "list open incidents, or one service's or team's",
    roles: 'any',
    example: 'incidents team checkout',
  },
  {
    verb: 'ack',
    usage: 'ack <i7>',
    summary: 'acknowledge an incident (stops its escalation)',
    roles: ['operator', 'approver', 'admin'],
    example: 'ack i7',
  },
  {
    verb: 'resolve',
    usage: 'resolve <i7> [note]',
    summary: 'resolve an incident',
    roles: ['operator', 'approver', 'admin'],
    example: 'resolve i7 rolled back',
  },
  {
    verb: 'mute',
    usage: 'mute <agent|signature|service> <name> <duration> [reason]',
    summary: 'hold back posts (not storage) for a while',
    roles: ['operator', 'approver', 'admin'],
    example: 'mute service web 2h deploy window',
  },
  {
    verb: 'unmute',
    usage: 'unmute <agent|signature|service> <name>',
    summary: 'lift a mute',
    roles: ['operator', 'approver', 'admin'],
    example: 'unmute service web',
  },
  {
    verb: 'phase',
    usage: 'phase | phase <1-4> [agent] <reason>',
    summary: 'show the rollout phase, or move it one step (with a reason)',
    roles: 'any',
    example: 'phase 2 builder weekly review 2026-11-23',
  },
  {
    verb: 'digest',
    usage: 'digest',
    summary: 'post the weekly metrics digest now',
    roles: ['operator', 'approver', 'admin'],
    example: 'digest',
  },
  {
    verb: 'subscribe',
    usage: 'subscribe [digest|service <name>|team <name>]',
    summary: "send the weekly digest (the default), or a service's or team's incidents, to this channel too",
    roles: ['operator', 'approver', 'admin'],
    example: 'subscribe team checkout',
  },
  {
    verb: 'unsubscribe',
    usage: 'unsubscribe [digest|service <name>|team <name>]',
    summary: 'stop a subscription of this channel',
    roles: ['operator', 'approver', 'admin'],
    example: 'unsubscribe service checkout-*',
  },
  {
    verb: 'subscriptions',
    usage: 'subscriptions',
    summary: "list this channel's subscriptions",
    roles: 'any',
    example: 'subscriptions',
  },
  {
    verb: 'audit',
    usage: 'audit <run-id>',
    summary: "show a run's audit trail",
    roles: 'any',
    example: 'audit run_1f2e',
  },
  {
    verb: 'skills',
    usage: 'skills',
    summary: 'list learned skills with state and impact',
    roles: 'any',
    example: 'skills',
  },
  {
    verb: 'help',
    usage: 'help [verb]',
    summary: 'this list, or one verb in detail',
    roles: 'everyone',
    example: 'help mute',
  },
];

/** Roles needed to change (not view) budgets and the phase. */
export const ADMIN_ONLY: readonly Role[] = ['admin'];

export function spec(verb: Verb): VerbSpec {
  return VERBS.find((v) => v.verb === verb) as VerbSpec;
}

export type ParseResult =
  | { readonly ok: true; readonly command: Command }
  | { readonly ok: false; readonly error: string; readonly usage: string | null };

class UsageError extends Error {}

/** Splits on spaces, keeping "quoted words" together; strips a leading `/autonomy`. */
export function tokenize(text: string): string[] {
  const tokens: string[] = [];
  const re = /"([^"]*)"|'([^']*)'|(\S+)/g;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) tokens.push(m[1] ?? m[2] ?? m[3] ?? '');
  if (tokens[0] === '/autonomy' || tokens[0] === 'autonomy') tokens.shift();
  return tokens;
}

function suggest(word: string, options: readonly string[]): string | null {
  if (options.length === 0) return null;
  const best = closest(word.toLowerCase(), options as string[]);
  return distance(word.toLowerCase(), best) <= Math.max(2, Math.floor(best.length / 3)) ? best : null;
}

function agentOrAll(word: string | undefined, usage: string): AgentOrAll {
  if (word === undefined) throw new UsageError(`which agent? usage: ${usage}`);
  const w = word.toLowerCase();
  if (w === 'all' || (AGENTS as readonly string[]).includes(w)) return w as AgentOrAll;
  const s = suggest(w, ['all', ...AGENTS]);
  throw new UsageError(
    `unknown agent "${word}"${s ? `: did you mean ${s}?` : ''} (agents: all, ${AGENTS.join(', ')})`,
  );
}

function agent(word: string, usage: string): AgentName {
  const a = agentOrAll(word, usage);
  if (a === 'all') throw new UsageError(`name one agent here, not all (usage: ${usage})`);
  return a;
}

function shortId(word: string | undefined, prefix: 'a' | 'i', what: string, usage: string): string {
  if (word === undefined) throw new UsageError(`which ${what}? usage: ${usage}`);
  const w = word.toLowerCase().replace(/^#/, '');
  if (new RegExp(`^${prefix}[1-9][0-9]{0,8}$`).test(w)) return w;
  if (/^[1-9][0-9]{0,8}$/.test(w)) return `${prefix}${w}`;
  throw new UsageError(
    `"${word}" is not ${what === 'approval' ? 'an approval' : 'an incident'} id like ${prefix}12 (usage: ${usage})`,
  );
}

/** `digest`, or `service <name>` / `team <name>` (a service may be a glob like checkout-*). */
function scoped<S extends 'digest' | 'service' | 'team'>(
  args: readonly string[],
  scopes: readonly S[],
  usage: string,
): Extract<SubscriptionTarget, { scope: S }> {
  const word = (args[0] as string).toLowerCase();
  if (!(scopes as readonly string[]).includes(word)) {
    const s = suggest(word, scopes);
    throw new UsageError(
      `say ${scopes.join(', ').replace(/, ([^,]*)$/, ' or $1')}${s ? ` (did you mean ${s}?)` : ''} (usage: ${usage})`,
    );
  }
  if (word === 'digest') {
    if (args.length > 1) throw new UsageError(`digest takes no name (usage: ${usage})`);
    return { scope: 'digest' } as Extract<SubscriptionTarget, { scope: S }>;
  }
  const name = args[1];
  const pattern = word === 'team' ? /^[a-z0-9][a-z0-9._-]{0,63}$/ : /^[A-Za-z0-9*][A-Za-z0-9._*:-]{0,127}$/;
  if (name === undefined || args.length > 2 || !pattern.test(name)) {
    const like =
      word === 'team' ? 'a team name like checkout' : 'a service name or glob like checkout or checkout-*';
    throw new UsageError(`name one ${word}: ${like} (usage: ${usage})`);
  }
  return { scope: word, name } as Extract<SubscriptionTarget, { scope: S }>;
}

function rest(words: readonly string[]): string | null {
  const text = words.join(' ').trim();
  return text === '' ? null : text.slice(0, 500);
}

function parseVerb(verb: Verb, args: readonly string[]): Command {
  const usage = spec(verb).usage;
  switch (verb) {
    case 'help':
      return { verb, topic: args[0]?.toLowerCase() ?? null };
    case 'incidents':
      return { verb, filter: args.length === 0 ? null : scoped(args, ['service', 'team'], usage) };
    case 'subscribe':
    case 'unsubscribe':
      return {
        verb,
        target: args.length === 0 ? { scope: 'digest' } : scoped(args, ['digest', 'service', 'team'], usage),
      };
    case 'status':
    case 'approvals':
    case 'digest':
    case 'subscriptions':
    case 'skills':
      if (args.length > 0) throw new UsageError(`${verb} takes no arguments (usage: ${usage})`);
      return { verb };
    case 'kill':
    case 'resume':
      return { verb, target: agentOrAll(args[0], usage), reason: rest(args.slice(1)) };
    case 'budget': {
      if (args.length === 0) return { verb, agent: null, tokens: null };
      const a = agent(args[0] as string, usage);
      if (args.length === 1) return { verb, agent: a, tokens: null };
      const t = (args[1] as string).replace(/_/g, '');
      if (args.length > 2 || !/^[0-9]{1,12}$/.test(t)) {
        throw new UsageError(`tokens must be a whole number, e.g. 50000 (usage: ${usage})`);
      }
      return { verb, agent: a, tokens: Number(t) };
    }
    case 'approve':
      if (args.length > 1) throw new UsageError(`approve takes one id (usage: ${usage})`);
      return { verb, id: shortId(args[0], 'a', 'approval', usage) };
    case 'deny':
      return { verb, id: shortId(args[0], 'a', 'approval', usage), reason: rest(args.slice(1)) };
    case 'ack':
      if (args.length > 1) throw new UsageError(`ack takes one id (usage: ${usage})`);
      return { verb, id: shortId(args[0], 'i', 'incident', usage) };
    case 'resolve':
      return { verb, id: shortId(args[0], 'i', 'incident', usage), note: rest(args.slice(1)) };
    case 'mute':
    case 'unmute': {
      const kind = args[0]?.toLowerCase();
      if (kind !== 'agent' && kind !== 'signature' && kind !== 'service') {
        const s = kind ? suggest(kind, ['agent', 'signature', 'service']) : null;
        throw new UsageError(
          `mute what? say agent, signature or service${s ? ` (did you mean ${s}?)` : ''} (usage: ${usage})`,
        );
      }
      const target = args[1];
      if (target === undefined || !/^[A-Za-z0-9._:*-]{1,128}$/.test(target)) {
        throw new UsageError(`name the ${kind} to ${verb} (usage: ${usage})`);
      }
      const name = kind === 'agent' ? agent(target, usage) : target;
      if (verb === 'unmute') return { verb, kind, target: name };
      const duration = args[2];
      let ms: number;
      try {
        if (duration === undefined || !/^[0-9]{1,6}(m|h|d|w)$/.test(duration)) throw new Error('bad');
        ms = durationMs(duration);
      } catch {
        throw new UsageError(`for how long? a duration like 30m, 2h or 1d (usage: ${usage})`);
      }
      if (ms > 30 * 24 * 3600 * 1000)
        throw new UsageError('a mute lasts at most 30d; use the policy for longer');
      return { verb, kind, target: name, durationMs: ms, duration, reason: rest(args.slice(3)) };
    }
    case 'phase': {
      if (args.length === 0) return { verb, phase: null, agent: null, reason: null };
      const p = args[0] as string;
      if (!/^[1-4]$/.test(p)) throw new UsageError(`the phase is 1, 2, 3 or 4 (usage: ${usage})`);
      let i = 1;
      let a: AgentName | null = null;
      const maybeAgent = args[1]?.toLowerCase();
      if (maybeAgent !== undefined && (AGENTS as readonly string[]).includes(maybeAgent)) {
        a = maybeAgent as AgentName;
        i = 2;
      }
      const reason = rest(args.slice(i));
      if (reason === null) {
        throw new UsageError(
          'a phase change needs a reason (the rollout plan asks for a weekly review), e.g. phase 2 weekly review ok',
        );
      }
      return { verb, phase: Number(p) as Phase, agent: a, reason };
    }
    case 'audit': {
      const id = args[0];
      if (id === undefined || !/^[A-Za-z0-9_-]{1,80}$/.test(id) || args.length > 1) {
        throw new UsageError(`which run? (usage: ${usage})`);
      }
      return { verb, runId: id };
    }
  }
}

/** Parses `/autonomy <verb> ...`. Unknown verbs and bad arguments get usage and a suggestion. */
export function parseCommand(text: string): ParseResult {
  const tokens = tokenize(text.slice(0, 2000));
  const word = tokens[0]?.toLowerCase();
  if (word === undefined) return { ok: true, command: { verb: 'help', topic: null } };
  const verbSpec = VERBS.find((v) => v.verb === word);
  if (verbSpec === undefined) {
    const s = suggest(
      word,
      VERBS.map((v) => v.verb),
    );
    const again = s ? [s, ...tokens.slice(1)].join(' ') : null;
    return {
      ok: false,
      error: `unknown command "${word}"${again ? `: did you mean \`${again}\`?` : ''}`,
      usage: null,
    };
  }
  try {
    return { ok: true, command: parseVerb(verbSpec.verb, tokens.slice(1)) };
  } catch (err) {
    if (err instanceof UsageError) return { ok: false, error: err.message, usage: verbSpec.usage };
    throw err;
  }
}
