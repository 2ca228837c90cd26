/**
 * Grouping accuracy on fixtures written in the formats real programs print, each line labelled by
 * the format string that printed it (test/fixtures/logs/real). The checking half holds formats the
 * rules were never tuned on. Floors are the accuracies measured after issue 21's second round of
 * rules (order-independent generalisation, values over several tokens, keys never values, settings
 * that vary independently: tuning 0.801, checking 0.751; before that round 0.721 and 0.704; before
 * issue 21: 0.649, 0.611): a change to the rules may not lose ground on either half.
 */
import { describe, expect, it } from 'vitest';
import { accuracyOf } from '../../fixtures/logs/real/accuracy.js';
import { SOURCES } from '../../fixtures/logs/real/sources.js';

describe('grouping accuracy on real-format fixtures', () => {
  it.each([
    ['tuning', 0.8],
    ['checking', 0.75],
  ] as const)('%s half: mean >= %s', (half, floor) => {
    expect(SOURCES.length).toBeGreaterThanOrEqual(12);
    const accuracies = SOURCES.map((s) => accuracyOf(s, half).accuracy);
    const mean = accuracies.reduce((a, b) => a + b, 0) / accuracies.length;
    expect(mean).toBeGreaterThanOrEqual(floor);
  });
});
