/**
 * Grouping accuracy on fixtures written in the formats real programs print, each line labelled by
 * the format string that printed it (test/fixtures/logs/real). The checking half holds formats the
 * rules were never tuned on. Floors are the accuracies measured after issue 21's third round of
 * rules (message codes, quoted text of any length, server banners, booleans as call arguments:
 * tuning 0.808, checking 0.810; after the second round 0.801 and 0.751; after the first 0.721 and
 * 0.704; before issue 21: 0.649, 0.611): a change to the rules may not lose ground on either half.
 */
import { describe, expect, it } from 'vitest';
import { accuracyOf } from '../../fixtures/logs/real/accuracy.js';
import { SOURCES } from '../../fixtures/logs/real/sources.js';

describe('grouping accuracy on real-format fixtures', () => {
  it.each([
    ['tuning', 0.805],
    ['checking', 0.805],
  ] as const)('%s half: mean >= %s', (half, floor) => {
    expect(SOURCES.length).toBeGreaterThanOrEqual(12);
    const accuracies = SOURCES.map((s) => accuracyOf(s, half).accuracy);
    const mean = accuracies.reduce((a, b) => a + b, 0) / accuracies.length;
    expect(mean).toBeGreaterThanOrEqual(floor);
  });
});
