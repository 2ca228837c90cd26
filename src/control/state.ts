/**
 * Runtime control state: kill switches, rollout phase overrides and token budget overrides, kept in
 * the `control` table so the bot, the chat commands and the CLI (another process) share one truth.
 * Every change and its audit record commit in one transaction; every change names who made it.
 */
import type { AuditEntry, AuditLog, AuditRecord } from '../audit/log.js';
import { type Database, writeTransaction } from '../db/connection.js';
import { preparedFor } from '../db/prepared.js';
import { CONTROL_SCOPES, type ControlKind, type ControlScope, control } from '../db/schema.js';
import { AGENTS, type AgentName, PHASES, type Phase } from '../policy/vocabulary.js';

export type KillTarget = AgentName | 'all';
export type ControlKey = `${ControlKind}:${ControlScope}`;

/** A setting in force, with who set it, why and when (epoch ms). */
export interface ControlEntry {
  readonly kind: ControlKind;
  readonly scope: ControlScope;
  readonly value: number;
  readonly actor: string;
  readonly reason: string | null;
  readonly at: number;
}

export interface ControlSnapshot {
  /** The global kill switch. */
  readonly killedAll: boolean;
  /** Agents killed one by one (the global switch is separate: see isKilled()). */
  readonly killedAgents: ReadonlySet<AgentName>;
  /** Runtime phase override for every agent (wins over the policy file), or null. */
  readonly phaseOverride: Phase | null;
  readonly agentPhaseOverrides: ReadonlyMap<AgentName, Phase>;
  /** Global daily token budget override, or null (the policy decides). */
  readonly budgetOverride: number | null;
  /** Per-agent daily token budget overrides. */
  readonly budgetOverrides: ReadonlyMap<AgentName, number>;
  /** Every setting in force, keyed `kill:all`, `kill:guardian`, `phase:all`, `budget:mentor`, ... */
  readonly entries: ReadonlyMap<ControlKey, ControlEntry>;
}

/** What a command did, for the reply to whoever typed it. */
export interface ControlChange {
  /** false when the state already was what was asked (the request is still audited). */
  readonly changed: boolean;
  /** A sentence for a person: what is now in force. */
  readonly message: string;
  readonly audit: AuditRecord;
  readonly snapshot: ControlSnapshot;
}

export interface ControlStoreOptions {
  /** Epoch milliseconds. */
  readonly now: () => number;
}

const PHASE_NAMES: Record<Phase, string> = {
  1: 'observe-only',
  2: 'suggest-only',
  3: 'auto low-risk',
  4: 'expand',
};

/** Is this agent stopped, by its own switch or the global one? */
export function isKilled(snapshot: ControlSnapshot, agent: AgentName): boolean {
  return snapshot.killedAll || snapshot.killedAgents.has(agent);
}

/** True when two snapshots hold the same settings, set by the same people at the same times. */
export function sameControl(a: ControlSnapshot, b: ControlSnapshot): boolean {
  if (a.entries.size !== b.entries.size) return false;
  for (const [key, x] of a.entries) {
    const y = b.entries.get(key);
    if (
      y === undefined ||
      y.value !== x.value ||
      y.at !== x.at ||
      y.actor !== x.actor ||
      y.reason !== x.reason
    ) {
      return false;
    }
  }
  return true;
}

/** Reads the control state as it is in the database now. */
/** Read on every change to the file (control/watch.ts): prepared once. */
function allControl(database: Database) {
  return database.db.select().from(control).prepare();
}

export function readControl(database: Database): ControlSnapshot {
  const killedAgents = new Set<AgentName>();
  const agentPhaseOverrides = new Map<AgentName, Phase>();
  const budgetOverrides = new Map<AgentName, number>();
  const entries = new Map<ControlKey, ControlEntry>();
  let killedAll = false;
  let phaseOverride: Phase | null = null;
  let budgetOverride: number | null = null;
  for (const row of preparedFor(database, allControl).all()) {
    const value = row.value;
    if (value === null) continue;
    const scope = row.scope;
    if (row.kind === 'kill') {
      if (value !== 1) continue;
      if (scope === 'all') killedAll = true;
      else killedAgents.add(scope);
    } else if (row.kind === 'phase') {
      if (!isPhase(value)) continue;
      if (scope === 'all') phaseOverride = value;
      else agentPhaseOverrides.set(scope, value);
    } else {
      if (scope === 'all') budgetOverride = value;
      else budgetOverrides.set(scope, value);
    }
    entries.set(`${row.kind}:${scope}`, {
      kind: row.kind,
      scope,
      value,
      actor: row.actor,
      reason: row.reason,
      at: row.updatedAt,
    });
  }
  return {
    killedAll,
    killedAgents,
    phaseOverride,
    agentPhaseOverrides,
    budgetOverride,
    budgetOverrides,
    entries,
  };
}

/** Kill switches, phase and budget overrides: read, change (audited), all in the database. */
export class ControlStore {
  private readonly now: () => number;

  constructor(
    private readonly database: Database,
    private readonly audit: AuditLog,
    options: ControlStoreOptions,
  ) {
    this.now = options.now;
  }

  snapshot(): ControlSnapshot {
    return readControl(this.database);
  }

  /** Stops an agent (or all of them) at once: no sweeps, model calls, proposals or posts. */
  kill(target: KillTarget, actor: string, reason?: string): ControlChange {
    const scope = checkTarget(target);
    const who = scope === 'all' ? 'all agents' : scope;
    return this.change('kill', scope, 1, actor, reason, (previous) => ({
      unchanged: `${who} ${scope === 'all' ? 'were' : 'was'} already killed${by(previous)}; nothing changed`,
      changed: `${who} killed${reason ? ` (${reason})` : ''}: nothing runs until \`resume ${scope}\``,
    }));
  }

  /**
   * Lifts a kill switch. `resume all` lifts the global switch only: agents killed by name stay
   * killed until resumed by name (the message lists them).
   */
  resume(target: KillTarget, actor: string, reason?: string): ControlChange {
    const scope = checkTarget(target);
    return this.change('kill', scope, 0, actor, reason, (_previous, before) => {
      if (scope === 'all') {
        const still = [...before.killedAgents];
        const rest =
          still.length > 0 ? `; still killed by name: ${still.join(', ')} (resume each by name)` : '';
        return {
          unchanged: `the global kill switch was not on; nothing changed${rest}`,
          changed: `the global kill switch is lifted${rest}`,
        };
      }
      const global = before.killedAll
        ? ', but the global kill switch is still on (`resume all` lifts it)'
        : '';
      return {
        unchanged: `${scope} was not killed; nothing changed${global}`,
        changed: `${scope} resumed${global}`,
      };
    });
  }

  /**
   * Sets (or with null clears) the runtime rollout phase override, for one agent or (agent null)
   * for all of them. An override wins over the policy file until cleared.
   */
  setPhase(phase: Phase | null, agent: AgentName | null, actor: string, reason?: string): ControlChange {
    if (phase !== null && !isPhase(phase)) {
      throw new RangeError(`unknown rollout phase ${String(phase)}: use 1, 2, 3 or 4`);
    }
    const scope = agent === null ? 'all' : checkAgent(agent);
    const whose = scope === 'all' ? 'the global' : `${scope}'s`;
    return this.change('phase', scope, phase, actor, reason, (previous) => ({
      unchanged:
        phase === null
          ? `${whose} phase had no override; nothing changed`
          : `${whose} phase was already ${phase}${by(previous)}; nothing changed`,
      changed:
        phase === null
          ? `${whose} phase override cleared: the policy file decides`
          : `${whose} phase set to ${phase} (${PHASE_NAMES[phase]}), overriding the policy file`,
    }));
  }

  /**
   * Sets (or with null clears) the daily token budget override of an agent, or of all model use
   * together (`all`).
   */
  setBudget(agent: AgentName | 'all', tokens: number | null, actor: string, reason?: string): ControlChange {
    if (tokens !== null && !(Number.isSafeInteger(tokens) && tokens >= 0)) {
      throw new RangeError(`a token budget is a whole number >= 0, got ${String(tokens)}`);
    }
    const scope = agent === 'all' ? 'all' : checkAgent(agent);
    const whose = scope === 'all' ? 'the global' : `${scope}'s`;
    return this.change('budget', scope, tokens, actor, reason, (previous) => ({
      unchanged:
        tokens === null
          ? `${whose} daily token budget had no override; nothing changed`
          : `${whose} daily token budget was already ${tokens}${by(previous)}; nothing changed`,
      changed:
        tokens === null
          ? `${whose} daily token budget override cleared: the policy file decides`
          : `${whose} daily token budget set to ${tokens} tokens`,
    }));
  }

  /** One change: read the row, write it if different, audit either way, in one write transaction. */
  private change(
    kind: ControlKind,
    scope: ControlScope,
    value: number | null,
    actor: string,
    reason: string | undefined,
    describe: (
      previous: ControlEntry | undefined,
      before: ControlSnapshot,
    ) => { unchanged: string; changed: string },
  ): ControlChange {
    if (typeof actor !== 'string' || actor.trim() === '') {
      throw new TypeError('a control change needs an actor (who asked for it, e.g. cli:user:NAME)');
    }
    const why = reason?.trim() ? reason.trim() : null;
    return writeTransaction(this.database, () => {
      const db = this.database.db;
      const before = readControl(this.database);
      const key: ControlKey = `${kind}:${scope}`;
      const previous = before.entries.get(key);
      const effective = (v: number | null | undefined): number | null => {
        if (v === undefined || v === null) return kind === 'kill' ? 0 : null;
        return v;
      };
      const changed = effective(previous?.value) !== effective(value);
      const at = this.now();
      if (changed) {
        db.insert(control)
          .values({ kind, scope, value, reason: why, actor, updatedAt: at })
          .onConflictDoUpdate({
            target: [control.kind, control.scope],
            set: { value, reason: why, actor, updatedAt: at },
          })
          .run();
      }
      const text = describe(previous, before);
      const message = changed ? text.changed : text.unchanged;
      const entry: AuditEntry = {
        kind: `control.${kind === 'kill' ? (value === 1 ? 'kill' : 'resume') : kind}`,
        agent: scope === 'all' ? null : scope,
        actor,
        trigger: actor.split(':')[0] ?? null,
        outcome: message,
        data: {
          target: scope,
          value,
          previous: effective(previous?.value),
          changed,
          reason: why,
        },
      };
      const audit = this.audit.appendInTx(entry);
      return { changed, message, audit, snapshot: readControl(this.database) };
    });
  }
}

function isPhase(value: unknown): value is Phase {
  return (PHASES as readonly unknown[]).includes(value);
}

function checkTarget(target: KillTarget): ControlScope {
  if ((CONTROL_SCOPES as readonly unknown[]).includes(target)) return target;
  throw new RangeError(`unknown agent "${String(target)}": use all, ${AGENTS.join(', ')}`);
}

function checkAgent(agent: AgentName): AgentName {
  if ((AGENTS as readonly unknown[]).includes(agent)) return agent;
  throw new RangeError(`unknown agent "${String(agent)}": use one of ${AGENTS.join(', ')}`);
}

function by(previous: ControlEntry | undefined): string {
  if (previous === undefined) return '';
  const why = previous.reason ? `: ${previous.reason}` : '';
  return ` (by ${previous.actor} at ${new Date(previous.at).toISOString()}${why})`;
}
