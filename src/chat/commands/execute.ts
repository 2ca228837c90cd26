/**
 * Runs one `/autonomy` command for one person: parse, authorise against the policy's roles,
 * act through the injected services, and answer with a reply message. Every refusal says which
 * role is needed and is audited; every change is audited by the service that makes it.
 */

import { describeRoles, permits, type Role, rolesOf } from '../../control/roles.js';
import type { ControlSnapshot } from '../../control/state.js';
import { effectivePhase } from '../../policy/decide.js';
import type { Policy } from '../../policy/types.js';
import { AGENTS, type AgentName, type Phase } from '../../policy/vocabulary.js';
import type { InboundCommand } from '../adapter.js';
import { type ChatMessage, message } from '../message.js';
import { announceControl } from './announce.js';
import { ADMIN_ONLY, type Command, parseCommand, spec, VERBS } from './grammar.js';
import { CommandRefusal, type CommandServices } from './services.js';
import { incidentLines, renderBudgets, renderStatus } from './status.js';
import { changeSubscription, filterIncidents, listSubscriptions } from './subscribe.js';

const PHASE_NAMES: Record<Phase, string> = {
  1: 'observe-only',
  2: 'suggest-only',
  3: 'auto low-risk',
  4: 'expand',
};

function reply(
  actor: string,
  title: string,
  body = '',
  extra: Partial<Parameters<typeof message>[0]> = {},
): ChatMessage {
  return message({ kind: 'reply', title, body, audience: actor, ...extra });
}

/** The roles a command needs: viewing budgets and the phase is for any role, changing them is for admins. */
function rolesNeeded(command: Command): readonly Role[] | 'any' | 'everyone' {
  if (command.verb === 'budget' && command.tokens !== null) return ADMIN_ONLY;
  if (command.verb === 'phase' && command.phase !== null) return ADMIN_ONLY;
  return spec(command.verb).roles;
}

function phaseState(snapshot: ControlSnapshot) {
  return {
    killedAll: snapshot.killedAll,
    killedAgents: snapshot.killedAgents,
    phaseOverride: snapshot.phaseOverride,
    agentPhaseOverrides: snapshot.agentPhaseOverrides,
  };
}

function describePhases(policy: Policy, snapshot: ControlSnapshot): string {
  const global = snapshot.phaseOverride ?? policy.phase;
  const lines = [
    `global: ${global} ${PHASE_NAMES[global]}${snapshot.phaseOverride !== null ? ' (runtime override)' : ''}`,
  ];
  for (const a of AGENTS) {
    const p = effectivePhase(policy, phaseState(snapshot), a);
    if (p !== global) lines.push(`${a}: ${p} ${PHASE_NAMES[p]}`);
  }
  return lines.join('\n');
}

export async function runCommand(services: CommandServices, cmd: InboundCommand): Promise<ChatMessage> {
  const actor = cmd.actor;
  const parsed = parseCommand(cmd.text);
  if (!parsed.ok) {
    return reply(
      actor,
      parsed.error,
      parsed.usage ? `usage: /autonomy ${parsed.usage}` : 'try `/autonomy help` for the list of commands',
    );
  }
  const command = parsed.command;
  const policy = services.policy();
  // The shell is trusted: whoever can write the bot's database can change anything in it already,
  // so role checks there would be theatre. Its changes are audited as cli:user:NAME all the same.
  const held: ReadonlySet<Role> =
    cmd.platform === 'cli'
      ? new Set<Role>(['operator', 'approver', 'admin'])
      : rolesOf(policy, { id: actor, groups: cmd.actorGroups ?? [] });
  const needed = rolesNeeded(command);
  if (!permits(held, needed)) {
    services.audit.append({
      kind: 'command.refused',
      actor,
      trigger: cmd.platform,
      outcome: `${command.verb} refused: needs ${describeRoles(needed)}`,
      data: { verb: command.verb, channel: cmd.channel, roles: [...held] },
    });
    const have = held.size === 0 ? 'no role in the policy' : `the role(s) ${[...held].join(', ')}`;
    return reply(
      actor,
      `Refused: \`${command.verb}\` needs ${describeRoles(needed)}`,
      `You (${actor}) have ${have}. Roles come from control.roles in the policy.`,
    );
  }
  try {
    return await execute(services, command, cmd, held);
  } catch (err) {
    if (err instanceof CommandRefusal) return reply(actor, err.message);
    throw err;
  }
}

async function execute(
  s: CommandServices,
  command: Command,
  cmd: InboundCommand,
  held: ReadonlySet<Role>,
): Promise<ChatMessage> {
  const actor = cmd.actor;
  const policy = s.policy();
  switch (command.verb) {
    case 'help':
      return help(actor, command.topic, held);
    case 'status':
      return renderStatus(actor, policy, s.control.snapshot(), s.status(), s.now());
    case 'kill': {
      const change = s.control.kill(command.target, actor, command.reason ?? undefined);
      const teeth = s.onKill(command.target, actor, command.reason);
      if (change.changed || teeth.aborted + teeth.voided > 0)
        announceControl(s, cmd.channel, {
          actor,
          what: `killed ${command.target} (${teeth.aborted} run(s) aborted, ${teeth.voided} approval(s) voided)`,
          why: command.reason,
          undo: `/autonomy resume ${command.target} (admins)`,
          key: `kill:${command.target}`,
        });
      return reply(
        actor,
        change.message,
        `${teeth.aborted} run(s) aborted, ${teeth.voided} pending approval(s) voided. Resume with \`/autonomy resume ${command.target}\` (admins).`,
        { severity: 'warning' },
      );
    }
    case 'resume': {
      const change = s.control.resume(command.target, actor, command.reason ?? undefined);
      const text = change.message;
      if (change.changed)
        announceControl(s, cmd.channel, {
          actor,
          what: `resumed ${command.target}`,
          why: command.reason,
          undo: `/autonomy kill ${command.target} <reason>`,
          key: `resume:${command.target}`,
        });
      return reply(actor, text);
    }
    case 'budget': {
      if (command.agent !== null && command.tokens !== null) {
        const was = s.status().budgets.find((b) => b.agent === command.agent)?.dailyTokens ?? null;
        const change = s.control.setBudget(command.agent, command.tokens, actor);
        const text = change.message;
        if (change.changed)
          announceControl(s, cmd.channel, {
            actor,
            what: `set ${command.agent}'s daily budget to ${command.tokens} tokens`,
            why: null,
            undo: was === null ? null : `/autonomy budget ${command.agent} ${was}`,
            key: `budget:${command.agent}:${command.tokens}`,
          });
        return reply(actor, text);
      }
      return renderBudgets(actor, s.status().budgets, command.agent);
    }
    case 'approvals': {
      const list = s.approvals.list();
      if (list.length === 0) return reply(actor, 'No pending approvals');
      return reply(
        actor,
        `${list.length} pending approval(s)`,
        list
          .map(
            (a) =>
              `${a.shortId}  ${a.agent}/${a.actionId}  ${a.display}  (expires ${new Date(a.expiresAt).toISOString()})`,
          )
          .join('\n'),
      );
    }
    case 'approve':
    case 'deny':
      return s.approvals.decide(command.id, {
        actor,
        actorGroups: cmd.actorGroups ?? [],
        verdict: command.verb,
        reason: command.verb === 'deny' ? command.reason : null,
      });
    case 'incidents': {
      const list = filterIncidents(policy, s.incidents.list(), command.filter);
      const of = command.filter === null ? '' : ` of ${command.filter.scope} ${command.filter.name}`;
      if (list.length === 0) return reply(actor, `No open incidents${of}`);
      return reply(
        actor,
        `${list.length} open incident(s)${of}`,
        incidentLines(
          list,
          (i) =>
            `${i.shortId}  [${i.severity}] ${i.title}${i.service ? ` (${i.service})` : ''}  ${i.status}, ${i.signalCount} signal(s)`,
          command.filter === null
            ? 'narrow them: /autonomy incidents service <name> or team <name>'
            : 'the newest are first',
        ),
      );
    }
    case 'ack':
      return reply(actor, s.incidents.acknowledge(command.id, actor));
    case 'resolve':
      return reply(actor, s.incidents.resolve(command.id, actor, command.note));
    case 'mute': {
      const text = s.mutes.mute(command.kind, command.target, command.durationMs, actor, command.reason);
      const until = new Date(s.now() + command.durationMs).toISOString();
      announceControl(s, cmd.channel, {
        actor,
        what: `muted ${command.kind} ${command.target} until ${until}`,
        why: command.reason,
        undo: `/autonomy unmute ${command.kind} ${command.target}`,
        key: `mute:${command.kind}:${command.target}`,
      });
      return reply(actor, text);
    }
    case 'unmute': {
      const text = s.mutes.unmute(command.kind, command.target, actor);
      announceControl(s, cmd.channel, {
        actor,
        what: `unmuted ${command.kind} ${command.target}`,
        why: null,
        undo: `/autonomy mute ${command.kind} ${command.target} <duration>`,
        key: `unmute:${command.kind}:${command.target}`,
      });
      return reply(actor, text);
    }
    case 'phase':
      return phase(s, command, actor, policy, cmd.channel);
    case 'digest':
      return s.digest(cmd.channel, actor);
    case 'subscribe':
    case 'unsubscribe':
      return reply(actor, changeSubscription(s, command.verb, command.target, cmd.channel, actor));
    case 'subscriptions': {
      const { title, body } = listSubscriptions(s, cmd.channel);
      return reply(actor, title, body);
    }
    case 'audit': {
      const trail = s.runTrail(command.runId);
      if (trail === null)
        return reply(actor, `No run ${command.runId}`, 'Run ids appear in alerts and in `status`.');
      return reply(actor, `Audit trail of ${command.runId}`, trail.join('\n'));
    }
    case 'skills': {
      const list = s.skills();
      if (list.length === 0)
        return reply(actor, 'No skills yet', 'Repeated patterns become skill drafts (the learning loop).');
      return reply(
        actor,
        `${list.length} skill(s)`,
        list.map((k) => `${k.id}  ${k.state}  ${k.title}${k.impact ? `  (${k.impact})` : ''}`).join('\n'),
      );
    }
  }
}

function phase(
  s: CommandServices,
  command: Extract<Command, { verb: 'phase' }>,
  actor: string,
  policy: Policy,
  channel: string,
): ChatMessage {
  const snapshot = s.control.snapshot();
  if (command.phase === null) return reply(actor, 'Rollout phase', describePhases(policy, snapshot));
  const current: Phase =
    command.agent === null
      ? (snapshot.phaseOverride ?? policy.phase)
      : effectivePhase(policy, phaseState(snapshot), command.agent as AgentName);
  const scope = command.agent ?? 'all agents';
  if (command.phase === current)
    return reply(actor, `${scope} is already in phase ${current} (${PHASE_NAMES[current]})`);
  // Raising expands what agents may do: one step at a time, after a review. Lowering is always safe.
  if (command.phase > current + 1) {
    throw new CommandRefusal(
      `Phases go up one step at a time: ${scope} is in phase ${current}; raise it to ${current + 1} first, review a week, then ${current + 2}.`,
    );
  }
  const change = s.control.setPhase(command.phase, command.agent, actor, command.reason ?? undefined);
  if (change.changed)
    announceControl(s, channel, {
      actor,
      what: `set ${scope} to phase ${command.phase} (${PHASE_NAMES[command.phase]}), was ${current}`,
      why: command.reason,
      undo: `/autonomy phase ${current}${command.agent === null ? '' : ` ${command.agent}`}`,
      key: `phase:${scope}:${command.phase}`,
    });
  return reply(
    actor,
    change.message,
    `was ${current} (${PHASE_NAMES[current]}), now ${command.phase} (${PHASE_NAMES[command.phase]})`,
  );
}

function help(actor: string, topic: string | null, held: ReadonlySet<Role>): ChatMessage {
  if (topic !== null) {
    const v = VERBS.find((x) => x.verb === topic);
    if (v === undefined) return reply(actor, `No command "${topic}"`, 'try `help` for the list');
    return reply(
      actor,
      `/autonomy ${v.usage}`,
      `${v.summary}\nwho: ${v.roles === 'everyone' ? 'everyone' : describeRoles(v.roles)}\nexample: /autonomy ${v.example}`,
    );
  }
  const mine =
    held.size === 0
      ? 'You have no role in the policy: you can only read `help`.'
      : `Your roles: ${[...held].join(', ')}.`;
  return reply(
    actor,
    '/autonomy commands',
    `${VERBS.map((v) => `${v.usage.padEnd(58)} ${v.summary}`).join('\n')}\n\n${mine}`,
  );
}
