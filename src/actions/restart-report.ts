/**
 * Restart recovery, at start: what was running when the process died is reported, never re-run.
 * Agent runs (no action id) a crash cut short are only marked; interrupted actions and approved
 * actions are posted to the approval channels so a person checks their targets.
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
        const lines = interrupted.map((r) => `${r.runId}: ${r.agent}/${r.actionId}`);
        const approved = interruptedApprovals
          ? `\n${interruptedApprovals} approved action(s) marked interrupted.`
          : '';
        for (const channel of approvalChannels(d.policy())) {
          d.outbox.enqueue(
            channel,
            message({
              kind: 'notice',
              title: `${interrupted.length} action(s) were interrupted by a restart and were NOT re-run`,
              severity: 'warning',
              body: `${lines.join('\n')}${approved}\nCheck the targets by hand; re-propose if still needed.`,
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
