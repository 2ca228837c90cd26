/**
 * `autonomy simulate`'s routing part: the period's incidents, where their cards went, and where a
 * candidate policy with teams and service routes (and the stored subscriptions) would send them.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/connection.js';
import { incidentSubscriptions, incidents, signals } from '../../src/db/schema.js';
import { formatRoutingSimulation, simulateRouting } from '../../src/eval/simulate-routing.js';
import type { SignalKind } from '../../src/policy/vocabulary.js';
import { makePolicy } from '../fixtures/policy.js';
import { type TempDatabase, tempDatabase } from '../helpers/db.js';

const HOUR = 3600_000;
const NOW = Date.UTC(2026, 10, 27);
const SINCE = NOW - 7 * 24 * HOUR;

let temp: TempDatabase;
let database: Database;
let n = 0;

beforeEach(() => {
  temp = tempDatabase('autonomy-simulate-routing-');
  database = temp.database;
  n = 0;
});
afterEach(() => temp.cleanup());

/** An incident of `service` whose card went to `posted`, with one signal of `kind`. */
function incident(service: string | null, posted: string[], at: number, kind: SignalKind = 'alert') {
  n += 1;
  const id = `inc${n}`;
  database.db
    .insert(incidents)
    .values({
      id,
      number: n,
      fingerprint: `f${n}`,
      title: `Incident ${n}`,
      severity: 'critical',
      service,
      startedAt: at,
      detectedAt: at,
      messageRefs: posted.map((channel) => ({ channel, ref: `outbox:${n}` })),
    })
    .run();
  database.db
    .insert(signals)
    .values({
      id: `s${n}`,
      kind,
      source: 'test',
      dedupeKey: `d${n}`,
      fingerprint: `f${n}`,
      service,
      severity: 'critical',
      payload: {},
      receivedAt: at,
      incidentId: id,
    })
    .run();
}

const candidate = makePolicy({
  edit: (doc) => {
    Object.assign(doc, {
      teams: [{ name: 'checkout', services: ['checkout-*'], channels: { critical: ['slack:C0SHOP'] } }],
    });
    doc.routing = { ...doc.routing, services: { payments: { critical: ['slack:C0PAY'] } } };
  },
});

describe('simulate routing', () => {
  it("says which incidents' cards would move, per channel, with examples", () => {
    incident('checkout-api', ['slack:C0ALERTS'], SINCE + HOUR);
    incident('payments', ['slack:C0ALERTS'], SINCE + 2 * HOUR);
    incident('billing', ['slack:C0ALERTS'], SINCE + 3 * HOUR);
    incident('checkout-web', ['slack:C0ALERTS'], SINCE - HOUR); // before the period
    database.db
      .insert(incidentSubscriptions)
      .values({ channel: 'console:watch', scope: 'team', name: 'checkout', subscribedBy: 'x', at: SINCE })
      .run();
    const report = simulateRouting(database, candidate, { since: SINCE, now: NOW });
    expect(report.total).toBe(3);
    expect(report.changed).toBe(2);
    expect(Object.fromEntries(report.perChannel)).toEqual({
      'slack:C0ALERTS': { before: 3, after: 1 },
      'slack:C0SHOP': { before: 0, after: 1 },
      'slack:C0PAY': { before: 0, after: 1 },
      'console:watch': { before: 0, after: 1 },
    });
    const text = formatRoutingSimulation(report);
    expect(text).toContain('2 of 3 incident(s) would go to other channels');
    expect(text).toContain('i1 critical checkout-api: slack:C0ALERTS -> console:watch, slack:C0SHOP');
    expect(text).toContain('i2 critical payments: slack:C0ALERTS -> slack:C0PAY');
    expect(text).not.toContain('billing');
  });

  it('says so when the period has no incidents', () => {
    expect(
      formatRoutingSimulation(simulateRouting(database, candidate, { since: SINCE, now: NOW })),
    ).toContain('no incidents in this period');
  });
});
