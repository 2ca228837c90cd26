import { describe, expect, it } from 'vitest';
import { cardButtons, plainLink, sourceLinks } from '../../src/chat/incident-card.js';

describe("an incident card's links and buttons", () => {
  it('shows each source link as what it is and its real host, http(s) only', () => {
    expect(
      sourceLinks('alertmanager', {
        generatorURL: 'http://prometheus:9090/graph?g0.expr=up',
        annotations: {
          runbook_url: 'https://wiki.example.org/rb',
          dashboard: 'https://grafana.example.org/d/1',
        },
      }),
    ).toEqual([
      { label: 'Alert source (prometheus:9090)', url: 'http://prometheus:9090/graph?g0.expr=up' },
      { label: 'Runbook (wiki.example.org)', url: 'https://wiki.example.org/rb' },
      { label: 'Dashboard (grafana.example.org)', url: 'https://grafana.example.org/d/1' },
    ]);
    expect(sourceLinks('github', { url: 'https://github.com/o/r/actions/runs/1' })[0]?.label).toBe(
      'GitHub run (github.com)',
    );
    expect(sourceLinks('osv', { references: ['https://osv.dev/vulnerability/GHSA-x'] })[0]?.label).toBe(
      'Advisory (osv.dev)',
    );
  });

  it('refuses other schemes, credentials that hide the host, and junk', () => {
    for (const bad of [
      'javascript:alert(1)',
      'data:text/html,hi',
      'https://good.example.com@evil.example.net/',
      'not a url',
      42,
    ]) {
      expect(plainLink('Runbook', bad)).toBeNull();
    }
    expect(sourceLinks('alertmanager', { generatorURL: 'ftp://x/y', annotations: 'nope' })).toEqual([]);
  });

  it('offers Acknowledge only while open, Mute only with a service, nothing once resolved', () => {
    const actions = (status: string, service: string | null) =>
      cardButtons('i7', 'nonce-123456', { status, service }).map((b) => b.action);
    expect(actions('open', 'checkout')).toEqual(['ack', 'resolve', 'mute', 'snooze']);
    expect(actions('acknowledged', null)).toEqual(['resolve', 'snooze']);
    expect(actions('resolved', 'checkout')).toEqual([]);
  });
});
