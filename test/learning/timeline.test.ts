/**
 * An incident's timeline as the mentor reads it from the database: signals, the acknowledgement,
 * action runs and approvals in time order with the resolution last (with the notes people gave),
 * what fixed it, and a long
 * incident cut to its first events with the resolution still told.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { approvals, proposals } from '../../src/db/schema.js';
import { histories } from '../../src/learning/history.js';
import { incidentFacts } from '../../src/learning/patterns.js';
import { eventText, fixText, TIMELINE_EVENTS, timelines } from '../../src/learning/timeline.js';
import { type TempDatabase, tempDatabase } from '../helpers/db.js';
import { IncidentFactory } from '../helpers/learning.js';

const T = Date.parse('2026-12-01T10:00:00Z');
const MIN = 60_000;
const plain = (s: string) => `'${s}'`;

let t: TempDatabase;
let f: IncidentFactory;

beforeEach(() => {
  t = tempDatabase('autonomy-timeline-');
  f = new IncidentFactory(t.database);
});
afterEach(() => t.cleanup());

function timelineOf(id: string) {
  const facts = incidentFacts(t.database, id);
  if (facts === null) throw new Error('no incident');
  return timelines(t.database, histories(t.database, [facts]))[0] as NonNullable<
    ReturnType<typeof timelines>[number]
  >;
}

/** An approval asked on the incident for `restart-service`, decided by `by` at `at`. */
function approval(incidentId: string, at: number, by: string): void {
  t.database.db
    .insert(proposals)
    .values({
      id: 'prop_ask',
      agent: 'sentinel',
      actionId: 'restart-service',
      params: { service: 'api' },
      verdict: 'ask',
      code: 'needs-approval',
      reason: 'tier 3',
      decidedAt: at - MIN,
      incidentId,
    })
    .run();
  t.database.db
    .insert(approvals)
    .values({
      id: 'apr_7',
      number: 7,
      proposalId: 'prop_ask',
      agent: 'sentinel',
      actionId: 'restart-service',
      params: { service: 'api' },
      bindingHash: 'h',
      state: 'succeeded',
      requestedAt: at - MIN,
      expiresAt: at + 60 * MIN,
      decidedBy: by,
      decidedAt: at,
      updatedAt: at,
    })
    .run();
}

describe('incident timelines', () => {
  it('puts signals, the acknowledgement, approvals and runs in time order, the resolution last', () => {
    const inc = f.occur({ kind: 'alert', fingerprint: 'am:pool', title: 'pool exhausted' }, T, null);
    f.clock = T + 3 * MIN;
    f.incidents.acknowledge(inc.shortId, 'slack:user:U0ONCALL', 'looking at the pool');
    approval(inc.id, T + 8 * MIN, 'slack:user:U0APPROVER');
    f.ran(inc.id, {
      agent: 'sentinel',
      actionId: 'restart-service',
      actionClass: 'service-affecting',
      params: { service: 'api' },
      status: 'succeeded',
      at: T + 9 * MIN,
    });
    f.clock = T + 12 * MIN;
    f.incidents.resolve(inc.shortId, 'slack:user:U0ONCALL', 'pool back to normal after the restart');
    const tl = timelineOf(inc.id);
    expect(tl.events.map((e) => eventText(e, T, plain))).toEqual([
      "+0s: signal 'pool exhausted' received",
      "+3m: 'slack:user:U0ONCALL' acknowledged it, noting 'looking at the pool'",
      "+8m: approval a7 for 'restart-service': succeeded by 'slack:user:U0APPROVER'",
      "+9m: sentinel ran 'restart-service' 'service=api': succeeded ('exit 0')",
      "+12m: resolved by 'slack:user:U0ONCALL' (time to resolve 12m), noting 'pool back to normal after the restart'",
    ]);
    expect(fixText(tl, plain)).toBe(
      "sentinel ran 'restart-service' 'service=api' at +9m and it succeeded; 'slack:user:U0ONCALL' resolved it after 12m, noting 'pool back to normal after the restart'",
    );
  });

  it('an evidence run alone is not what fixed it', () => {
    const inc = f.occur({ kind: 'alert', fingerprint: 'am:x' }, T, null);
    f.ran(inc.id, {
      agent: 'sentinel',
      actionId: 'collect-logs',
      actionClass: 'evidence',
      params: { service: 'api' },
      status: 'succeeded',
      at: T + MIN,
    });
    f.clock = T + 5 * MIN;
    f.incidents.resolve(inc.shortId, 'slack:user:U0SRE');
    expect(timelineOf(inc.id).fix).toEqual({ kind: 'person', by: 'slack:user:U0SRE', note: null });
  });

  it('a long incident keeps its first events and still tells how it ended', () => {
    const inc = f.occur({ kind: 'alert', fingerprint: 'am:long' }, T, null);
    for (let n = 1; n <= TIMELINE_EVENTS + 5; n++) {
      f.ran(inc.id, {
        agent: 'sentinel',
        actionId: 'collect-logs',
        actionClass: 'evidence',
        params: { n },
        status: 'succeeded',
        at: T + n * MIN,
      });
    }
    f.clock = T + 60 * MIN;
    f.incidents.resolve(inc.shortId, 'slack:user:U0SRE');
    const tl = timelineOf(inc.id);
    expect(tl.events).toHaveLength(TIMELINE_EVENTS + 1);
    expect(tl.events.at(-1)).toMatchObject({ kind: 'resolved', by: 'slack:user:U0SRE' });
    // 1 signal + 25 runs + the resolution = 27 events; 21 told.
    expect(tl.more).toBe(6);
  });
});
