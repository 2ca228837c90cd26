/**
 * A SweepScheduler for tests: it records what was scheduled, and the test fires the ticks (the
 * sweeps and the digest/review/retention calendar both run on one).
 */
import type { SweepSchedule, SweepScheduler } from '../../src/signals/sweeps/scheduler.js';

/** Records what was scheduled; the test fires the ticks. */
export class FakeScheduler implements SweepScheduler {
  readonly jobs: { schedule: SweepSchedule; onTick: (at: number) => void; stopped: boolean }[] = [];
  schedule(schedule: SweepSchedule, onTick: (at: number) => void) {
    const job = { schedule, onTick, stopped: false };
    this.jobs.push(job);
    return {
      stop: () => {
        job.stopped = true;
      },
    };
  }
  active(): string[] {
    return this.jobs.filter((j) => !j.stopped).map((j) => `${j.schedule.expression} ${j.schedule.timezone}`);
  }
  /** Fires the live job with this expression, as node-cron would at `at`. */
  tick(expression: string, at: number): void {
    const job = this.jobs.find((j) => !j.stopped && j.schedule.expression === expression);
    if (job === undefined) throw new Error(`no live job ${expression}; live: ${this.active().join(', ')}`);
    job.onTick(at);
  }
}
