/**
 * The core's one entrance for people: typed commands and button clicks from every adapter.
 * Commands go to the command set; approve/deny/grant clicks to the approvals (which check the
 * nonce and the approver role); Acknowledge clicks to the incidents after a nonce and role check.
 * Platforms redeliver (Slack retries, a gateway resume): a delivery id seen before gets the same
 * answer again and nothing runs twice.
 */

import type { AuditLog } from '../audit/log.js';
import { describeRoles, permits, rolesOf } from '../control/roles.js';
import type { Policy } from '../policy/types.js';
import type { ChatInbound, InboundClick, InboundCommand } from './adapter.js';
import type { ButtonKey } from './button-key.js';
import { runCommand } from './commands/execute.js';
import type { CommandServices } from './commands/services.js';
import { type ChatMessage, message } from './message.js';

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
}

const REMEMBERED = 2000;

export function createInbound(deps: InboundDeps): ChatInbound {
  const seen = new Map<string, Promise<ChatMessage>>();
  const once = (key: string | undefined, fn: () => Promise<ChatMessage>): Promise<ChatMessage> => {
    if (key === undefined) return fn();
    const earlier = seen.get(key);
    if (earlier) return earlier;
    const answer = fn();
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
        if (click.action !== 'ack') return deps.approvalClick(click);
        const id = deps.incidentId(click.target);
        if (id === null || !deps.key.verify('incident', id, click.nonce)) {
          deps.audit.append({
            kind: 'click.refused',
            actor: click.actor,
            trigger: click.platform,
            outcome: `acknowledge ${click.target} refused: stale or forged button`,
          });
          return reply(
            click.actor,
            `This button is not valid (any more) for ${click.target}`,
            'Use `/autonomy ack <id>`.',
          );
        }
        const held = rolesOf(deps.policy(), { id: click.actor, groups: click.actorGroups ?? [] });
        const needed = ['operator', 'approver', 'admin'] as const;
        if (!permits(held, needed)) {
          deps.audit.append({
            kind: 'click.refused',
            actor: click.actor,
            trigger: click.platform,
            outcome: `acknowledge ${click.target} refused: needs ${describeRoles(needed)}`,
          });
          return reply(click.actor, `Refused: acknowledging needs ${describeRoles(needed)}`);
        }
        return reply(click.actor, deps.acknowledge(click.target, click.actor));
      });
    },
  };
}
