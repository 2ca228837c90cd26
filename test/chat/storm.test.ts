/**
 * The storm watch (src/chat/storm.ts): which new incident folds, into which storm, and when a storm
 * is over. Pure: times are given.
 */
import { describe, expect, it } from 'vitest';
import { StormWatch, stormCard } from '../../src/chat/storm.js';

const S = { cardsPerMinute: 3, endsAfterMs: 5 * 60_000 };
const T0 = Date.UTC(2026, 0, 5, 9, 0, 0);

describe('the storm watch', () => {
  it('gives the first cardsPerMinute new incidents of a minute their own cards and folds the rest', () => {
    const w = new StormWatch();
    expect([0, 1, 2].map((i) => w.arrive('slack:C1', T0 + i * 1000, S))).toEqual([null, null, null]);
    const storm = w.arrive('slack:C1', T0 + 3000, S);
    expect(storm).not.toBeNull();
    // Another channel has its own rate.
    expect(w.arrive('slack:C2', T0 + 3000, S)).toBeNull();
    expect(w.arrive('slack:C1', T0 + 4000, S)).toBe(storm);
  });

  it('does not start a storm when the same number of incidents is spread over more than a minute', () => {
    const w = new StormWatch();
    for (let i = 0; i < 10; i++) expect(w.arrive('slack:C1', T0 + i * 21_000, S)).toBeNull();
  });

  it('ends a storm after endsAfter under the rate, and the next incident gets its own card', () => {
    const w = new StormWatch();
    for (let i = 0; i < 5; i++) {
      const storm = w.arrive('slack:C1', T0 + i, S);
      if (storm) w.fold(storm, { service: 'api', severity: i === 4 ? 'critical' : 'warning' });
    }
    const storm = w.storm('slack:C1');
    expect(storm?.folded).toBe(2);
    expect(storm?.worst).toBe('critical');
    expect(w.ended(T0 + 4 + S.endsAfterMs - 1, S)).toEqual([]);
    expect(w.ended(T0 + 4 + S.endsAfterMs, S)).toEqual([storm]);
    expect(storm?.endedAt).toBe(T0 + 4 + S.endsAfterMs);
    expect(w.storm('slack:C1')).toBeNull();
    expect(w.arrive('slack:C1', T0 + 4 + S.endsAfterMs + 1, S)).toBeNull();
  });

  it('keeps a storm going while incidents still come in over the rate', () => {
    const w = new StormWatch();
    // 4 a minute, every 15 s, for 10 minutes: over the rate of 3 all along.
    for (let i = 0; i < 40; i++) w.arrive('slack:C1', T0 + i * 15_000, S);
    expect(w.ended(T0 + 39 * 15_000 + 60_000, S)).toEqual([]);
    expect(w.storm('slack:C1')).not.toBeNull();
  });

  it('shows the count, the top services, the worst severity and the console link on the card', () => {
    const w = new StormWatch();
    for (let i = 0; i < 3; i++) w.arrive('console:main', T0, S);
    const storm = w.arrive('console:main', T0, S);
    if (storm === null) throw new Error('no storm');
    const services = ['a', 'b', 'b', 'c', 'd', 'e', 'f', 'b'];
    for (const service of services) w.fold(storm, { service, severity: 'warning' });
    const card = stormCard(storm, S, {
      now: T0,
      consoleUrl: 'https://autonomy.example.org',
      screen: (t) => t,
    });
    expect(card.title).toBe('Alert storm: 8 new incidents folded into this card');
    expect(card.severity).toBe('warning');
    expect(card.fields.find((f) => f.label === 'Top services')?.value).toBe(
      'b (3), a (1), c (1), d (1), e (1), and 1 more',
    );
    expect(card.links[0]?.url).toBe('https://autonomy.example.org/');
    w.ended(T0 + S.endsAfterMs, S);
    const over = stormCard(storm, S, { now: T0, consoleUrl: null, screen: (t) => t });
    expect(over.title).toBe('Alert storm over: 8 new incidents were folded into this card');
    expect(over.body).toMatch(/lasted 5(\.0)? min; new incidents get their own cards again/);
  });
});
