/**
 * `GET /metrics`: the Prometheus text exposition of the bot's own registry (src/metrics). No auth,
 * like /healthz: it holds counts, never message text or secrets; keep the port off the internet.
 */
import type { Hono } from 'hono';

export interface MetricsSource {
  render(): Promise<string>;
}

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export function mountMetrics(
  app: Hono,
  metrics: MetricsSource,
  onError: (err: Error) => void = () => {},
): void {
  app.get('/metrics', async (c) => {
    try {
      const text = await metrics.render();
      return c.body(text, 200, { 'content-type': METRICS_CONTENT_TYPE, 'cache-control': 'no-store' });
    } catch (err) {
      onError(err as Error);
      return c.body('# metrics are unavailable; see the bot log\n', 500, {
        'content-type': METRICS_CONTENT_TYPE,
      });
    }
  });
}
