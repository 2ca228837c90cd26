/**
 * Injected id generation (DESIGN: no module-level singletons). Production uses random UUIDs with a
 * readable prefix; tests pass a counter so ids are predictable.
 */
import { randomUUID } from 'node:crypto';

export type NewId = (prefix: string) => string;
export type Clock = () => number;

export const randomId: NewId = (prefix) => `${prefix}_${randomUUID().replaceAll('-', '')}`;

/** Predictable ids for tests: `run_1`, `run_2`, ... */
export function sequentialIds(): NewId {
  let n = 0;
  return (prefix) => `${prefix}_${++n}`;
}
