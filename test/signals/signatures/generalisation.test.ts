/**
 * Generalisation does not depend on the order lines come in (issue 21): a message whose values sit
 * in many places, each seen with a few words, is one signature however its lines are ordered, and
 * the ids handed out on the way keep resolving to it.
 */
import { describe, expect, it } from 'vitest';
import { SignatureMiner } from '../../../src/signals/signatures/miner.js';

const PLANS = [
  'Plan: Package: KB1, Update: Defender-Core, current: Installed, pending: Absent, start: Absent, targeted: Installed, limit: Staged',
  'Plan: Package: KB2, Update: Defender-Core, current: Absent, pending: Staged, start: Installed, targeted: Absent, limit: Absent',
  'Plan: Package: KB3, Update: Client-Features, current: Installed, pending: Staged, start: Staged, targeted: Staged, limit: Installed',
  'Plan: Package: KB4, Update: Client-Features, current: Staged, pending: Absent, start: Installed, targeted: Installed, limit: Staged',
  'Plan: Package: KB5, Update: Defender-Core, current: Absent, pending: Installed, start: Staged, targeted: Absent, limit: Installed',
  'Plan: Package: KB6, Update: Defender-Core, current: Staged, pending: Staged, start: Absent, targeted: Staged, limit: Absent',
];

describe('generalisation in any order', () => {
  it('a message with values in many places is one signature, in any order of its lines', () => {
    for (const order of [PLANS, [...PLANS].reverse(), [2, 5, 0, 3, 1, 4].map((i) => PLANS[i] as string)]) {
      const miner = new SignatureMiner({ now: () => 0 });
      const ids = order.map((line) => miner.add(line).signature);
      expect(new Set(ids.map((id) => miner.resolve(id))).size).toBe(1);
      expect(miner.size).toBe(1);
      expect(miner.templateOf(ids[0] as string)).toBe(
        'Plan: Package: <*>, Update: <*> current: <*> pending: <*> start: <*> targeted: <*> limit: <*>',
      );
    }
  });
});
