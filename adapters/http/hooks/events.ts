/**
 * POST /hooks/events: the generic schema (src/signals/normalise/events.ts) for anything without a
 * webhook of its own, bearer-token guarded. One event object or an array of them.
 */
import type { Handler } from 'hono';
import { normaliseEvents } from '../../../src/signals/normalise/events.js';
import { readJsonBody } from './body.js';
import { type HookDeps, limitOf } from './deps.js';
import { accept, reject, summarise } from './reply.js';

const HOOK = 'events';

export function eventsHandler(deps: HookDeps): Handler {
  const o = { counters: deps.counters, hook: HOOK, limit: limitOf(deps, HOOK) };
  return async (c) => {
    const body = await readJsonBody(c, o);
    if (!body.ok) return body.response;
    const normalised = normaliseEvents(body.value.json, deps.now());
    if (!normalised.ok) {
      return reject(
        c,
        deps.counters,
        HOOK,
        'bad_schema',
        400,
        'not an event: need id, kind (failed_job|health|event|advisory), source, title, severity (info|warning|critical)',
        { problems: normalised.problems },
      );
    }
    const outcomes = await deps.sink.ingestBatched(normalised.value);
    return accept(c, deps.counters, HOOK, summarise(outcomes));
  };
}
