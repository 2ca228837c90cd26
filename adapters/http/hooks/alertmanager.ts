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
import { normaliseAlertmanager } from '../../../src/signals/normalise/alertmanager.js';
import type { HookDeps, HookHandler } from './deps.js';
import { jsonHookHandler } from './json-hook.js';

export function alertmanagerHandler(deps: HookDeps): HookHandler {
  return jsonHookHandler(
    deps,
    'alertmanager',
    normaliseAlertmanager,
    'not an Alertmanager webhook (version 4) body',
  );
}
