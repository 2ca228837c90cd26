/**
 * POST /hooks/alertmanager: Prometheus Alertmanager's webhook (version 4), bearer-token guarded.
 * Alertmanager config:
 *   receivers:
 *     - name: autonomy
 *       webhook_configs:
 *         - url: http://127.0.0.1:8787/hooks/alertmanager
 *           send_resolved: true
 *           http_config: { authorization: { credentials_file: /path/to/data/ingest-token } }
 */
import type { Handler } from 'hono';
import { normaliseAlertmanager } from '../../../src/signals/normalise/alertmanager.js';
import { readJsonBody } from './body.js';
import { type HookDeps, limitOf } from './deps.js';
import { accept, reject, summarise } from './reply.js';

const HOOK = 'alertmanager';

export function alertmanagerHandler(deps: HookDeps): Handler {
  const o = { counters: deps.counters, hook: HOOK, limit: limitOf(deps, HOOK) };
  return async (c) => {
    const body = await readJsonBody(c, o);
    if (!body.ok) return body.response;
    const normalised = normaliseAlertmanager(body.value.json, deps.now());
    if (!normalised.ok) {
      return reject(
        c,
        deps.counters,
        HOOK,
        'bad_schema',
        400,
        'not an Alertmanager webhook (version 4) body',
        {
          problems: normalised.problems,
        },
      );
    }
    const outcomes = normalised.value.length === 0 ? [] : await deps.sink.ingestBatched(normalised.value);
    return accept(c, deps.counters, HOOK, summarise(outcomes));
  };
}
