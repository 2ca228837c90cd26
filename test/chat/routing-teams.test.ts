/**
 * Routing by service and team (routing.ts postChannels): the first route that sets the severity
 * wins (the service's, its team's, the agent's, the default), and subscriptions add channels.
 */
import { describe, expect, it } from 'vitest';
import { type IncidentSubscription, postChannels } from '../../src/chat/routing.js';
import { makePolicy } from '../fixtures/policy.js';

const policy = makePolicy({
  edit: (doc) => {
    Object.assign(doc, {
      teams: [
        { name: 'checkout', services: ['checkout-*'], channels: { critical: ['slack:C0SHOP'] } },
        { name: 'edge', services: ['cdn'], channels: { critical: [], warning: ['slack:C0EDGE'] } },
      ],
    });
    doc.routing = {
      ...doc.routing,
      agents: { guardian: { warning: ['slack:C0SECURITY'] } },
      services: { 'checkout-pay': { critical: ['slack:C0PAY'] } },
    };
  },
});

const route = (
  service: string | null,
  severity: 'info' | 'warning' | 'critical',
  subs: IncidentSubscription[] = [],
) => postChannels(policy, { agent: 'guardian', severity, service }, subs);

describe('routing by service and team', () => {
  it('takes the first route that sets the severity: service, team, agent, default', () => {
    expect(route('checkout-pay', 'critical')).toEqual(['slack:C0PAY']);
    expect(route('checkout-api', 'critical')).toEqual(['slack:C0SHOP']);
    // The team sets no warning route: the agent's applies, then the default for info.
    expect(route('checkout-api', 'warning')).toEqual(['slack:C0SECURITY']);
    expect(route('checkout-api', 'info')).toEqual(['console:feed']);
    // An empty list is "nowhere", not "fall through".
    expect(route('cdn', 'critical')).toEqual([]);
    expect(route(null, 'critical')).toEqual(['slack:C0ALERTS']);
    expect(route('billing', 'critical')).toEqual(['slack:C0ALERTS']);
  });

  it('adds the channels subscribed to the service (by name or glob) or its team, once each', () => {
    const subs: IncidentSubscription[] = [
      { channel: 'console:watch', scope: 'service', name: 'checkout-*' },
      { channel: 'slack:C0SHOP', scope: 'team', name: 'checkout' },
      { channel: 'console:edge', scope: 'team', name: 'edge' },
      { channel: 'console:cdn', scope: 'service', name: 'cdn' },
    ];
    expect(route('checkout-api', 'critical', subs)).toEqual(['slack:C0SHOP', 'console:watch']);
    expect(route('checkout-pay', 'critical', subs)).toEqual(['slack:C0PAY', 'console:watch', 'slack:C0SHOP']);
    expect(route('cdn', 'critical', subs)).toEqual(['console:edge', 'console:cdn']);
    expect(route('billing', 'critical', subs)).toEqual(['slack:C0ALERTS']);
    expect(route(null, 'critical', subs)).toEqual(['slack:C0ALERTS']);
  });
});
