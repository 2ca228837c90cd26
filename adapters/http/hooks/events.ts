/**
 * POST /hooks/events: the generic schema (src/signals/normalise/events.ts) for anything without a
 * webhook of its own, bearer-token guarded. One event object or an array of them.
 */
import { normaliseEvents } from '../../../src/signals/normalise/events.js';
import type { HookDeps, HookHandler } from './deps.js';
import { jsonHookHandler } from './json-hook.js';

export function eventsHandler(deps: HookDeps): HookHandler {
  return jsonHookHandler(
    deps,
    'events',
    normaliseEvents,
    'not an event: need id, kind (failed_job|health|event|advisory), source, title, severity (info|warning|critical)',
  );
}
