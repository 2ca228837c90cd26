/**
 * The core's one entrance for people: typed commands and button clicks from every adapter.
 * Commands go to the command set; approve/deny/grant clicks to the approvals (which check the
 * nonce and the approver role); an incident card's buttons (Acknowledge, Resolve, Mute 1 h,
 * Snooze 1 h) to the incidents after a nonce check, for operators, approvers and admins only.
 * Platforms redeliver (Slack retries, a gateway resume): a delivery id seen before gets the same
 * answer again and nothing runs twice. An answer in the making is foreground work (agent jobs wait
 * for it), whether it came over HTTP, Slack's Socket Mode or Discord's gateway.
 */

import type { AuditLog } from '../audit/log.js';
import { describeRoles, permits, rolesOf } from '../control/roles.js';
import type { Policy } from '../policy/types.js';
import type { Foreground } from '../process/foreground.js';
import type { ChatInbound, InboundClick, InboundCommand } from './adapter.js';
import type { ButtonKey } from './button-key.js';
import { announceControl } from './commands/announce.js';
import { runCommand } from './commands/execute.js';
import type { CommandServices } from './commands/services.js';
import { CommandRefusal } from './commands/services.js';
import { CARD_HOLD_MS } from './incident-card.js';
import { snooze } from './incident-snooze.js';
import { type ButtonAction, type ChatMessage, message } from './message.js';

export interface InboundDeps {
  readonly services: CommandServices;
  readonly policy: () => Policy;
  readonly audit: AuditLog;
  readonly key: ButtonKey;
  /** Approvals' own click handling (nonce, role, exactly once). */
  readonly approvalClick: (click: InboundClick) => Promise<ChatMessage>;
  /** The incident's internal id for a short id (`i7`), or null. */
  readonly incidentId: (shortId: string) => string | null;
  readonly acknowledge: (shortId: string, actor: string) => string;
  /** A command or click being answered is foreground work: agent jobs wait for it (on every platform). */
  readonly foreground?: Foreground;
}

const REMEMBERED = 2000;

export function createInbound(deps: InboundDeps): ChatInbound {
  const seen = new Map<string, Promise<ChatMessage>>();
  const inForeground = (fn: () => Promise<ChatMessage>): Promise<ChatMessage> =>
    deps.foreground === undefined ? fn() : deps.foreground.during(fn);
  const once = (key: string | undefined, fn: () => Promise<ChatMessage>): Promise<ChatMessage> => {
    if (key === undefined) return inForeground(fn);
    const earlier = seen.get(key);
    if (earlier) return earlier;
    const answer = inForeground(fn);
    seen.set(key, answer);
    if (seen.size > REMEMBERED) seen.delete(seen.keys().next().value as string);
    return answer;
  };
  const reply = (actor: string, title: string, body = ''): ChatMessage =>
    message({ kind: 'reply', title, body, audience: actor });

  return {
    command(cmd: InboundCommand) {
      return once(cmd.deliveryId && `${cmd.platform}:${cmd.deliveryId}`, () =>
        runCommand(deps.services, cmd),
      );
    },
    click(click: InboundClick) {
      return once(click.deliveryId && `${click.platform}:${click.deliveryId}`, async () => {
        const action = click.action;
        if (!isIncidentAction(action)) return deps.approvalClick(click);
        const what = INCIDENT_VERBS[action];
        const id = deps.incidentId(click.target);
        if (id === null || !deps.key.verify('incident', id, click.nonce)) {
          deps.audit.append({
            kind: 'click.refused',
            actor: click.actor,
            trigger: click.platform,
            outcome: `${what} ${click.target} refused: stale or forged button`,
          });
          return reply(
            click.actor,
            `This button is not valid (any more) for ${click.target}`,
            `Use \`/autonomy ${action === 'snooze' ? 'ack' : action} ${click.target}\`.`,
          );
        }
        const held = rolesOf(deps.policy(), { id: click.actor, groups: click.actorGroups ?? [] });
        const needed = ['operator', 'approver', 'admin'] as const;
        if (!permits(held, needed)) {
          deps.audit.append({
            kind: 'click.refused',
            actor: click.actor,
            trigger: click.platform,
            outcome: `${what} ${click.target} refused: needs ${describeRoles(needed)}`,
          });
          const have = held.size === 0 ? 'no role in the policy' : `the role(s) ${[...held].join(', ')}`;
          return reply(
            click.actor,
            `Refused: ${what} needs ${describeRoles(needed)}`,
            `You (${click.actor}) have ${have}. Roles come from control.roles in the policy.`,
          );
        }
        try {
          return reply(click.actor, incidentAction(deps, click, action, id));
        } catch (error) {
          if (error instanceof CommandRefusal) return reply(click.actor, error.message);
          throw error;
        }
      });
    },
  };
}

const INCIDENT_VERBS = {
  ack: 'acknowledging',
  resolve: 'resolving',
  mute: "muting the incident's service",
  snooze: 'snoozing',
} as const;
type IncidentAction = keyof typeof INCIDENT_VERBS;

function isIncidentAction(action: ButtonAction): action is IncidentAction {
  return Object.hasOwn(INCIDENT_VERBS, action);
}

/** Runs an incident card's button for an authorised person; returns what to tell them. */
function incidentAction(deps: InboundDeps, click: InboundClick, action: IncidentAction, id: string): string {
  const s = deps.services;
  const shortId = click.target;
  switch (action) {
    case 'ack':
      return deps.acknowledge(shortId, click.actor);
    case 'resolve':
      return s.incidents.resolve(shortId, click.actor, 'resolved from its card');
    case 'mute': {
      const incident = s.incidents.get(shortId);
      const service = incident?.status === 'resolved' ? null : (incident?.service ?? null);
      if (service === null)
        throw new CommandRefusal(`${shortId} names no service to mute (or it is resolved)`);
      const text = s.mutes.mute('service', service, CARD_HOLD_MS, click.actor, `from ${shortId}'s card`);
      const until = new Date(s.now() + CARD_HOLD_MS).toISOString();
      announceControl(s, click.channel, {
        actor: click.actor,
        what: `muted service ${service} for 1 h (until ${until})`,
        why: `from ${shortId}'s card`,
        undo: `/autonomy unmute service ${service}`,
        key: `mute:service:${service}:${until}`,
      });
      return text;
    }
    case 'snooze': {
      const until = snooze(deps.audit, { id, shortId }, click.actor, click.platform, s.now());
      return `${shortId} snoozed until ${new Date(until).toISOString()}: no escalation before then`;
    }
  }
}
