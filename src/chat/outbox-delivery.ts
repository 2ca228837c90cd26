/**
 * Small helpers of the outbox worker: reading a delivery error, and the bounded waits (an adapter
 * call that never answers, a drain that must end by its deadline).
 */
import { DeliveryError, type Platform } from './adapter.js';

/** The platform a channel belongs to (`slack:C1` -> slack). */
export function platformOfChannel(channel: string): Platform {
  const p = channel.slice(0, channel.indexOf(':'));
  if (p === 'slack' || p === 'discord' || p === 'console') return p;
  throw new RangeError(`not a channel: ${channel}`);
}

export function isPermanent(error: unknown): boolean {
  return error instanceof DeliveryError && error.options.permanent === true;
}

/** The error as one line for the row and the audit: platform, its code, the message. */
export function describeError(error: unknown): string {
  if (error instanceof DeliveryError) {
    const o = error.options;
    const code = o.platformCode === undefined ? '' : ` ${o.platformCode}`;
    return `${o.platform}${code}: ${error.message}`;
  }
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

export function formatMs(ms: number): string {
  if (ms >= 3600_000) return `${Math.round(ms / 360_000) / 10} h`;
  if (ms >= 60_000) return `${Math.round(ms / 6_000) / 10} min`;
  return `${Math.round(ms / 100) / 10} s`;
}

export async function withTimeout<T>(promise: Promise<T>, ms: number, platform: Platform): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(new DeliveryError(`no answer within ${formatMs(ms)}`, { platform, platformCode: 'timeout' })),
      ms,
    );
    timer.unref();
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * true when `promise` settled within `ms`, false when the time ran out first. The timer keeps the
 * process alive (a drain at SIGTERM must get its time); it is bounded and always cleared.
 */
export async function raceWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const out = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), Math.max(0, ms));
  });
  try {
    return await Promise.race([promise.then(() => true as const), out]);
  } finally {
    clearTimeout(timer);
  }
}

/** A bounded wait inside drain() (kept alive on purpose, like race()). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
