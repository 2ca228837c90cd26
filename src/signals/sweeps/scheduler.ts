/**
 * What fires sweeps: a scheduler calls `onTick(slot)` on every slot of a cron schedule in a time
 * zone. Production uses node-cron (timers unref'd, its warnings sent to our log); tests pass their
 * own scheduler and fire ticks directly.
 */
import cron from 'node-cron';

export interface SweepSchedule {
  readonly expression: string;
  readonly timezone: string;
}

/** Calls `onTick(scheduledAt)` on every slot of the schedule until stopped. */
export interface SweepScheduler {
  schedule(schedule: SweepSchedule, onTick: (scheduledAt: number) => void): { stop(): void };
}

/** node-cron, with timers that never keep the process alive. */
export function cronScheduler(log?: SweepLog): SweepScheduler {
  const logger = {
    info: () => undefined,
    debug: () => undefined,
    warn: (message: string) => log?.warn({}, `node-cron: ${message}`),
    error: (message: string | Error) => log?.error({ err: message }, 'node-cron error'),
  };
  return {
    schedule({ expression, timezone }, onTick) {
      const task = cron.schedule(expression, (ctx) => onTick(ctx.date.getTime()), {
        timezone,
        unref: true,
        suppressMissedWarning: true,
        logger,
      });
      return { stop: () => void task.destroy() };
    },
  };
}

export interface SweepLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}
