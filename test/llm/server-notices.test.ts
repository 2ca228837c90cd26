/**
 * When the channel hears about a model server: once when it goes down (after two failed probes in
 * a row), once when it is back, and never more than once per gap however it flaps; the gap grows
 * while it keeps flapping and starts over after a quiet hour.
 */
import { describe, expect, it } from 'vitest';
import { type ServerChange, ServerNotices } from '../../src/llm/server-notices.js';

const MIN = 60_000;
const HOST = 'http://127.0.0.1:11434';
const INFO = { server: HOST, models: ['small'], local: true } as const;

function watch() {
  let clock = 0;
  const said: ServerChange[] = [];
  const notices = new ServerNotices({ now: () => clock, notify: (c) => said.push(c) });
  return {
    said,
    /** One probe answer at minute `m`. */
    probe(m: number, ok: boolean, detail = ok ? 'ollama 0.5' : 'connect ECONNREFUSED') {
      clock = m * MIN;
      notices.observe(HOST, ok, detail, () => INFO);
    },
    notices,
    states: () => said.map((c) => (c.up ? 'back' : 'down')),
  };
}

describe('model server notices', () => {
  it('says nothing while the server answers, nor for one lost probe', () => {
    const w = watch();
    w.probe(0, true);
    w.probe(0.5, false);
    w.probe(1, true);
    w.probe(1.5, false);
    w.probe(2, true);
    expect(w.said).toEqual([]);
  });

  it('says "unreachable" at the second failed probe in a row, and "back" at the first answer after it', () => {
    const w = watch();
    w.probe(0, true);
    w.probe(1, false);
    w.probe(1.5, false, 'connect ECONNREFUSED 127.0.0.1:11434');
    expect(w.said).toEqual([
      { ...INFO, up: false, detail: 'connect ECONNREFUSED 127.0.0.1:11434', at: 1.5 * MIN, downSince: null },
    ]);
    for (let m = 2; m < 30; m += 0.5) w.probe(m, false); // still down: nothing more
    expect(w.said).toHaveLength(1);
    w.probe(30, true);
    expect(w.said[1]).toEqual({
      ...INFO,
      up: true,
      detail: 'ollama 0.5',
      at: 30 * MIN,
      downSince: 1.5 * MIN,
    });
    expect(w.states()).toEqual(['down', 'back']);
  });

  it('a server down at start is reported once the second probe fails too', () => {
    const w = watch();
    w.probe(0, false);
    expect(w.said).toEqual([]);
    w.probe(0.5, false);
    expect(w.states()).toEqual(['down']);
  });

  it('flapping within the 10 minute gap says nothing more; the state at the gap end is said once', () => {
    const w = watch();
    w.probe(0, false);
    w.probe(0.5, false); // down, said at 0.5
    // Comes back and goes down again every minute until minute 10.
    for (let m = 1; m < 10.5; m += 0.5) w.probe(m, Math.floor(m) % 2 === 1);
    expect(w.states()).toEqual(['down']);
    w.probe(10.5, true); // the gap has passed and it answers: back, once
    w.probe(11, true);
    expect(w.states()).toEqual(['down', 'back']);
  });

  it('a server that came back and went down again within the gap is not reported back at all', () => {
    const w = watch();
    w.probe(0, false);
    w.probe(0.5, false);
    w.probe(3, true);
    w.probe(4, false);
    w.probe(4.5, false);
    w.probe(20, false);
    expect(w.states()).toEqual(['down']);
  });

  it('a crash loop says at most three things in its first hour, then one an hour', () => {
    const w = watch();
    // Up for a minute, down for a minute, for five hours, probed every 30 s.
    for (let m = 0; m < 300; m += 0.5) w.probe(m, Math.floor(m) % 2 === 0);
    const at = w.said.map((c) => c.at / MIN);
    expect(at.filter((m) => m < 60).length).toBeLessThanOrEqual(3);
    for (let i = 1; i < at.length; i++)
      expect((at[i] as number) - (at[i - 1] as number)).toBeGreaterThanOrEqual(10);
    for (let h = 1; h < 5; h++) {
      expect(at.filter((m) => m >= h * 60 && m < (h + 1) * 60)).toHaveLength(1);
    }
    // Notices alternate: never "down" twice in a row.
    const states = w.states();
    for (let i = 1; i < states.length; i++) expect(states[i]).not.toBe(states[i - 1]);
  });

  it('the gap starts over at 10 minutes after a quiet hour', () => {
    const w = watch();
    const outage = (from: number, to: number) => {
      w.probe(from, false);
      w.probe(from + 0.5, false);
      w.probe(to, true);
    };
    outage(0, 15); // down at 0.5, back at 15 (gap 10, then 20)
    outage(200, 211); // quiet for hours: down at 200.5, back at 211 (10 minutes later again)
    expect(w.said.map((c) => [c.up, c.at / MIN])).toEqual([
      [false, 0.5],
      [true, 15],
      [false, 200.5],
      [true, 211],
    ]);
  });

  it('says nothing about a server the policy no longer uses', () => {
    let clock = 0;
    const said: ServerChange[] = [];
    const notices = new ServerNotices({ now: () => clock, notify: (c) => said.push(c) });
    notices.observe(HOST, false, 'down', () => undefined);
    clock = MIN;
    notices.observe(HOST, false, 'down', () => undefined);
    expect(said).toEqual([]);
  });
});
