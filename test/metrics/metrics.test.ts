import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { METRICS_CONTENT_TYPE, mountMetrics } from '../../adapters/http/metrics-route.js';
import { Metrics } from '../../src/metrics/prometheus.js';

/** Parses the exposition text: every sample line is `name{labels} value`. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m =
      /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (-?[0-9.e+-]+|NaN|Nan|[+-]Inf)$/.exec(
        line,
      );
    if (!m) throw new Error(`not a Prometheus sample line: ${line}`);
    out.set(`${m[1]}${m[2] ?? ''}`, Number(m[3]));
  }
  return out;
}

function setup() {
  const killed = new Set<string>(['guardian']);
  const metrics = new Metrics({
    sources: {
      approvalsByState: () => ({ pending: 2, succeeded: 5 }),
      outbox: () => ({ depth: 3, oldestAgeMs: 42_000 }),
      killSwitches: () => ({ killedAll: false, killedAgents: killed }),
    },
  });
  const app = new Hono();
  mountMetrics(app, metrics);
  return { metrics, app, killed };
}

describe('/metrics', () => {
  it('serves Prometheus text whose every line parses, every name prefixed autonomy_', async () => {
    const { metrics, app } = setup();
    metrics.decision('guardian', 'deny');
    metrics.decision('guardian', 'deny');
    metrics.decision('sentinel', 'execute');
    metrics.deliveryFailure('slack', false);
    metrics.modelCall('mentor', 'llama3.1:8b', { ok: true, promptTokens: 1200, completionTokens: 300 });
    metrics.modelCall('mentor', 'llama3.1:8b', { ok: false });
    metrics.ingestRejected('bad-signature');
    metrics.ingestAccepted('alertmanager', { stored: 3, duplicates: 1, ignored: 0 });
    metrics.ingestAccepted('alertmanager', { stored: 2, duplicates: 0, ignored: 0 });
    metrics.ingestAccepted('github', { stored: 0, duplicates: 0, ignored: 1 });

    const res = await app.request('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(METRICS_CONTENT_TYPE);
    const text = await res.text();
    const s = samples(text);
    for (const name of s.keys()) expect(name).toMatch(/^autonomy_/);
    for (const line of text.split('\n').filter((l) => l.startsWith('# TYPE'))) {
      expect(line).toMatch(/^# TYPE autonomy_/);
    }
    expect(s.get('autonomy_decisions_total{agent="guardian",verdict="deny"}')).toBe(2);
    expect(s.get('autonomy_decisions_total{agent="sentinel",verdict="execute"}')).toBe(1);
    // Every agent and verdict is there from the start, so rate() works before the first event.
    expect(s.get('autonomy_decisions_total{agent="builder",verdict="ask"}')).toBe(0);
    expect(s.get('autonomy_outbox_delivery_failures_total{platform="slack",permanent="false"}')).toBe(1);
    expect(s.get('autonomy_model_calls_total{agent="mentor",model="llama3.1:8b",outcome="ok"}')).toBe(1);
    expect(s.get('autonomy_model_calls_total{agent="mentor",model="llama3.1:8b",outcome="error"}')).toBe(1);
    expect(s.get('autonomy_model_tokens_total{agent="mentor",model="llama3.1:8b",kind="prompt"}')).toBe(1200);
    expect(s.get('autonomy_model_tokens_total{agent="mentor",model="llama3.1:8b",kind="completion"}')).toBe(
      300,
    );
    expect(s.get('autonomy_ingest_rejections_total{reason="bad-signature"}')).toBe(1);
    expect(s.get('autonomy_ingest_items_total{hook="alertmanager",outcome="stored"}')).toBe(5);
    expect(s.get('autonomy_ingest_items_total{hook="alertmanager",outcome="duplicate"}')).toBe(1);
    expect(s.get('autonomy_ingest_items_total{hook="github",outcome="ignored"}')).toBe(1);
    // Every hook and outcome from the start, as for decisions.
    expect(s.get('autonomy_ingest_items_total{hook="osv",outcome="stored"}')).toBe(0);
    expect(s.get('autonomy_approvals{state="pending"}')).toBe(2);
    expect(s.get('autonomy_approvals{state="succeeded"}')).toBe(5);
    expect(s.get('autonomy_approvals{state="void"}')).toBe(0);
    expect(s.get('autonomy_outbox_depth')).toBe(3);
    expect(s.get('autonomy_outbox_oldest_undelivered_seconds')).toBe(42);
    expect(s.get('autonomy_kill_switch{agent="guardian"}')).toBe(1);
    expect(s.get('autonomy_kill_switch{agent="sentinel"}')).toBe(0);
    expect(s.get('autonomy_kill_switch{agent="all"}')).toBe(0);
  });

  it('counts webhook items between scrapes without counting any twice', async () => {
    const metrics = new Metrics();
    const stored = async () =>
      samples(await metrics.render()).get('autonomy_ingest_items_total{hook="logs",outcome="stored"}');
    expect(await stored()).toBe(0);
    metrics.ingestAccepted('logs', { stored: 40, duplicates: 0, ignored: 0 });
    expect(await stored()).toBe(40);
    expect(await stored()).toBe(40);
    metrics.ingestAccepted('logs', { stored: 2, duplicates: 0, ignored: 0 });
    expect(await stored()).toBe(42);
  });

  it('reads gauges at scrape time', async () => {
    const { metrics, killed } = setup();
    killed.clear();
    metrics.provide({ killSwitches: () => ({ killedAll: true, killedAgents: [] }) });
    const s = samples(await metrics.render());
    expect(s.get('autonomy_kill_switch{agent="all"}')).toBe(1);
    expect(s.get('autonomy_kill_switch{agent="mentor"}')).toBe(1);
  });

  it('shows a gauge whose source fails as NaN, counts the failure, and still answers', async () => {
    const { metrics, app } = setup();
    metrics.provide({
      outbox: () => {
        throw new Error('database is locked');
      },
    });
    const res = await app.request('/metrics');
    expect(res.status).toBe(200);
    const s = samples(await res.text());
    // Unknown, not a reassuring 0; the failure is counted (once per gauge that reads the source).
    expect(s.get('autonomy_outbox_depth')).toBeNaN();
    expect(s.get('autonomy_outbox_oldest_undelivered_seconds')).toBeNaN();
    expect(s.get('autonomy_metrics_source_errors_total{source="outbox"}')).toBe(2);
    expect(s.get('autonomy_approvals{state="pending"}')).toBe(2);
  });

  it('keeps label values from outside short and printable, and never shares the global registry', async () => {
    const a = new Metrics();
    const b = new Metrics();
    a.ingestRejected('bad "json"\n{"x": 1}');
    const sa = samples(await a.render());
    expect(sa.get('autonomy_ingest_rejections_total{reason="bad__json____x_:_1_"}')).toBe(1);
    expect(
      samples(await b.render()).has('autonomy_ingest_rejections_total{reason="bad__json____x_:_1_"}'),
    ).toBe(false);
    // Without sources (not wired yet), the gauges say unknown.
    expect(sa.get('autonomy_outbox_depth')).toBeNaN();
    expect(sa.get('autonomy_kill_switch{agent="guardian"}')).toBeNaN();
  });

  it('can add process metrics under the same prefix', async () => {
    const m = new Metrics({ processMetrics: true });
    const s = samples(await m.render());
    expect([...s.keys()].some((k) => k.startsWith('autonomy_process_resident_memory_bytes'))).toBe(true);
    for (const name of s.keys()) expect(name).toMatch(/^autonomy_/);
  });
});
