/**
 * CVSS scores (src/signals/advisories/cvss.ts, on ae-cvss-calculator) and the severity an
 * advisory gets from them. The v4.0 expectations are scores FIRST publishes for these vectors
 * (the CVSS v4.0 examples and calculator).
 */
import { describe, expect, it } from 'vitest';
import { advisorySeverity, cvssScore } from '../../../src/signals/advisories/cvss.js';

describe('CVSS v3.0 and v3.1 base scores', () => {
  it('computes the scores the NVD publishes', () => {
    expect(cvssScore('CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H')).toBe(9.8);
    expect(cvssScore('CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H')).toBe(8.1);
    expect(cvssScore('CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H')).toBe(10);
    expect(cvssScore('CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N')).toBe(6.1);
    expect(cvssScore('CVSS:3.0/AV:L/AC:L/PR:L/UI:N/S:U/C:N/I:N/A:N')).toBe(0);
    expect(cvssScore('CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H')).toBe(7.2);
  });

  it('refuses what is not a complete v3 vector', () => {
    expect(cvssScore('AV:N/AC:L/Au:N/C:P/I:P/A:P')).toBeNull(); // v2
    expect(cvssScore('CVSS:3.1/AV:N/AV:L/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H')).toBeNull(); // AV twice
    expect(cvssScore('CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H')).toBeNull();
    expect(cvssScore('CVSS:3.1/AV:N/AC:L/PR:N/UI:N/C:H/I:H/A:H')).toBeNull(); // no scope
  });

  it('maps scores and database ratings to the bot severities', () => {
    const v3 = (score: string) => [{ type: 'CVSS_V3', score }];
    expect(advisorySeverity(v3('CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H'), 'LOW').severity).toBe(
      'critical',
    );
    expect(advisorySeverity(v3('CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H'), undefined)).toEqual({
      severity: 'warning',
      score: 8.1,
      basis: 'CVSS 8.1',
    });
    expect(advisorySeverity([], 'CRITICAL').severity).toBe('critical');
    expect(advisorySeverity([], 'HIGH').severity).toBe('warning');
    expect(advisorySeverity([], 'MODERATE').severity).toBe('warning');
    expect(advisorySeverity([], 'LOW').severity).toBe('info');
    expect(advisorySeverity([{ type: 'CVSS_V4', score: 'CVSS:4.0/AV:N' }], 'LOW').basis).toBe('rating LOW');
    // A v4 vector is scored now: the highest score of the entries wins.
    const both = [
      { type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H' },
      { type: 'CVSS_V4', score: 'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N' },
    ];
    expect(advisorySeverity(both, 'LOW')).toEqual({ severity: 'critical', score: 9.3, basis: 'CVSS 9.3' });
    expect(advisorySeverity([{ type: 'Ubuntu', score: 'high' }], undefined).severity).toBe('warning');
    expect(advisorySeverity([], undefined)).toEqual({ severity: 'warning', score: null, basis: 'unrated' });
  });
});

describe('CVSS v4.0 scores', () => {
  it("gives FIRST's published scores", () => {
    const published: [string, number][] = [
      ['CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N', 9.3],
      ['CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H', 10],
      ['CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:L/VI:L/VA:L/SC:N/SI:N/SA:N', 6.9],
      ['CVSS:4.0/AV:L/AC:L/AT:P/PR:L/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N', 7.3],
      ['CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:P/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N', 7.7],
      ['CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:N/VC:H/VI:L/VA:L/SC:N/SI:N/SA:N', 8.3],
      ['CVSS:4.0/AV:L/AC:L/AT:N/PR:N/UI:A/VC:L/VI:N/VA:N/SC:N/SI:N/SA:N', 4.6],
      // Threat metrics count: unreported exploitation lowers the score.
      ['CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:P/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:U', 5.2],
    ];
    for (const [vector, score] of published) expect(cvssScore(vector), vector).toBe(score);
  });

  it('refuses an incomplete or unknown v4 vector', () => {
    expect(cvssScore('CVSS:4.0/AV:N/AC:L')).toBeNull();
    expect(cvssScore('CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/FOO:N')).toBeNull();
    expect(cvssScore('CVSS:5.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N')).toBeNull();
  });
});
