/**
 * Restart recovery, at start: what was running when the process died is reported, never re-run.
 * Agent runs (no action id) a crash cut short are only marked. Actions are posted to the approval
 * channels with what is known of each: its real outcome when its command ended while the bot was
 * down, "still running, followed" when its process outlived the bot, "interrupted" (check the
 * target by hand) when nothing is known; approved actions cut short likewise.
 */
import { message } from '../chat/message.js';
import type { Outbox } from '../chat/outbox.js';
import { approvalChannels } from '../chat/routing.js';
import type { Policy } from '../policy/types.js';
import type { Logger } from '../process/log.js';
import type { Service } from '../service.js';
import type { Approvals } from './approvals/approvals.js';
import type { Runner } from './runner.js';

export interface RestartReportDeps {
  readonly runner: Pick<Runner, 'recoverAfterRestart'>;
  readonly approvals: Pick<Approvals, 'recoverAfterRestart' | 'expireDue'>;
  readonly outbox: Pick<Outbox, 'enqueue'>;
  readonly policy: () => Policy;
  readonly now: () => number;
  readonly log: Pick<Logger, 'warn'>;
}

export function restartReport(d: RestartReportDeps): Service {
  return {
    name: 'restart recovery',
    start() {
      const interrupted = d.runner.recoverAfterRestart().filter((r) => r.actionId !== null);
      const interruptedApprovals = d.approvals.recoverAfterRestart();
      if (interrupted.length > 0 || interruptedApprovals > 0) {
        const lines = interrupted.map(
          (r) => `${r.runId}: ${r.agent}/${r.actionId}: ${r.status}, ${r.outcome}`,
        );
        const unknown = interrupted.filter((r) => r.kind === 'interrupted').length;
        const approved = interruptedApprovals
          ? `\n${interruptedApprovals} approved action(s) marked interrupted.`
          : '';
        for (const channel of approvalChannels(d.policy())) {
          d.outbox.enqueue(
            channel,
            message({
              kind: 'notice',
              title: `${interrupted.length} action(s) were running when the bot stopped; none was re-run`,
              severity: unknown > 0 || interruptedApprovals > 0 ? 'warning' : 'info',
              body: `${lines.join('\n')}${approved}${unknown > 0 || interruptedApprovals > 0 ? '\nCheck the targets of the interrupted ones by hand; re-propose if still needed.' : ''}`,
            }),
            { dedupeKey: `restart:${d.now()}:${channel}` },
          );
        }
        d.log.warn(
          { runs: lines, approvals: interruptedApprovals },
          'interrupted work reported (not re-run)',
        );
      }
      d.approvals.expireDue();
    },
  };
}
