/**
 * The shape shared by the JSON hooks (Alertmanager, generic events): read the body within its
 * limit, normalise it in the core, answer 400 with the problems or store and answer 202.
 */
import type { Normalised } from '../../../src/signals/normalise/common.js';
import type { SignalInput } from '../../../src/signals/types.js';
import { readJsonBody } from './body.js';
import type { HookDeps, HookHandler, HookName } from './deps.js';
import { accept, reject, summarise } from './reply.js';

export function jsonHookHandler(
  deps: HookDeps,
  hook: HookName,
  normalise: (body: unknown, now: number) => Normalised<SignalInput[]>,
  /** What the body should have been, for the 400's message. */
  expected: string,
): HookHandler {
  const o = { counters: deps.counters, hook };
  return async (c) => {
    const body = await readJsonBody(c, o);
    if (!body.ok) return body.response;
    const normalised = normalise(body.value.json, deps.now());
    if (!normalised.ok) {
      return reject(c, deps.counters, hook, 'bad_schema', 400, expected, { problems: normalised.problems });
    }
    const outcomes = normalised.value.length === 0 ? [] : await deps.sink.ingestBatched(normalised.value);
    return accept(c, deps.counters, hook, summarise(outcomes));
  };
}
