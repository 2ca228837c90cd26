/**
 * fitMessage(): a message too long for a platform is cut to fit, says so with a link to the full
 * text, and never splits a character.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { message } from '../../src/chat/message.js';
import { cutAt, fitMessage, type MessageLimits } from '../../src/chat/truncate.js';

const URL = 'http://127.0.0.1:8787/m/42';
const LIMITS: MessageLimits = { title: 50, body: 200, field: 40, fields: 3 };

const size = (m: { title: string; body: string; fields: { label: string; value: string }[] }) =>
  m.title.length + m.body.length + m.fields.reduce((n, f) => n + f.label.length + f.value.length, 0);

const hasLoneSurrogate = (text: string) =>
  /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text);

describe('fitMessage', () => {
  it('leaves a message that fits as it is', () => {
    const m = message({
      kind: 'alert',
      title: 'disk full',
      body: 'web-1 at 97%',
      fields: [{ label: 'host', value: 'web-1' }],
    });
    expect(fitMessage(m, LIMITS, URL)).toEqual(m);
  });

  it('cuts a long body and says where the full text is, within the limit', () => {
    const m = message({ kind: 'alert', title: 'logs', body: 'x'.repeat(1000) });
    const fit = fitMessage(m, LIMITS, URL);
    expect(fit.body.length).toBeLessThanOrEqual(200);
    expect(fit.body.endsWith(`… (truncated: full text at ${URL})`)).toBe(true);
    expect(fit.body.startsWith('xxxx')).toBe(true);
    expect(fitMessage(m, LIMITS, null).body.endsWith('… (truncated)')).toBe(true);
  });

  it('cuts titles and field values with an ellipsis, drops extra fields, and notes it in the body', () => {
    const m = message({
      kind: 'digest',
      title: 'T'.repeat(80),
      body: 'weekly numbers',
      fields: Array.from({ length: 5 }, (_, i) => ({ label: `f${i}`, value: 'v'.repeat(i === 0 ? 100 : 5) })),
    });
    const fit = fitMessage(m, LIMITS, URL);
    expect(fit.title).toHaveLength(50);
    expect(fit.title.endsWith('…')).toBe(true);
    expect(fit.fields.map((f) => f.label)).toEqual(['f0', 'f1', 'f2']);
    expect(fit.fields[0]?.value).toHaveLength(40);
    expect(fit.body).toBe(`weekly numbers\n… (truncated: full text at ${URL})`);
  });

  it('keeps title, body and fields together under a total (Discord embeds)', () => {
    const m = message({
      kind: 'alert',
      title: 'a'.repeat(40),
      body: 'b'.repeat(3000),
      fields: [
        { label: 'one', value: 'c'.repeat(900) },
        { label: 'two', value: 'd'.repeat(900) },
      ],
    });
    const limits = { title: 256, body: 4096, field: 1024, fields: 25, total: 2000 };
    const fit = fitMessage(m, limits, URL);
    const total = size(fit);
    expect(total).toBeLessThanOrEqual(2000);
    expect(fit.body).toContain(`(truncated: full text at ${URL})`);

    // Fields alone nearly fill the total: they give up room so the body can still say where to look.
    const crowded = fitMessage(m, { ...limits, total: 1880 }, URL);
    const sum = size(crowded);
    expect(sum).toBeLessThanOrEqual(1880);
    expect(crowded.body).toContain(`(truncated: full text at ${URL})`);
    expect(crowded.fields.some((f) => f.value.length < 900)).toBe(true);
  });

  it('never splits an emoji, a flag or an accented letter', () => {
    const family = '👨‍👩‍👧‍👦';
    const body = `${'a'.repeat(150)}${family.repeat(20)}`;
    const fit = fitMessage(message({ kind: 'alert', title: '🔥'.repeat(40), body }), LIMITS, URL);
    expect(hasLoneSurrogate(fit.title)).toBe(false);
    expect(hasLoneSurrogate(fit.body)).toBe(false);
    const kept = fit.body.slice(150, fit.body.indexOf(' …'));
    expect(kept.length % family.length).toBe(0);
    expect(cutAt('e\u0301e\u0301e\u0301', 4)).toBe('e\u0301e\u0301');
    expect(cutAt('🇩🇪🇫🇷', 6)).toBe('🇩🇪');
  });

  it('always fits and never leaves half a character (property)', () => {
    const text = fc.string({
      unit: fc.constantFrom('a', ' ', 'é', 'e\u0301', '🔥', '🇩🇪', '👨‍👩‍👧', '\n'),
      maxLength: 400,
    });
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom('T', '🔥'), minLength: 1, maxLength: 150 }),
        text,
        fc.array(fc.record({ label: fc.constantFrom('k', 'key'), value: text }), { maxLength: 6 }),
        fc.record({
          title: fc.integer({ min: 5, max: 100 }),
          body: fc.integer({ min: 60, max: 300 }),
          field: fc.integer({ min: 10, max: 200 }),
          fields: fc.integer({ min: 0, max: 6 }),
          total: fc.option(fc.integer({ min: 250, max: 1500 }), { nil: undefined }),
        }),
        (title, body, fields, limits) => {
          const m = message({
            kind: 'notice',
            title,
            body,
            fields: fields.map((f) => ({ ...f, value: f.value.slice(0, 2000) })),
          });
          const fit = fitMessage(m, limits, URL);
          expect(fit.title.length).toBeLessThanOrEqual(limits.title);
          expect(fit.body.length).toBeLessThanOrEqual(limits.body);
          expect(fit.fields.length).toBeLessThanOrEqual(limits.fields);
          if (limits.total !== undefined) expect(size(fit)).toBeLessThanOrEqual(limits.total);
          for (const f of fit.fields) expect(f.value.length).toBeLessThanOrEqual(limits.field);
          for (const s of [fit.title, fit.body, ...fit.fields.map((f) => f.value)]) {
            expect(hasLoneSurrogate(s)).toBe(false);
          }
          const changed =
            fit.body !== m.body || fit.title !== m.title || fit.fields.length !== m.fields.length;
          if (changed) expect(fit.body).toContain('(truncated: full text at');
        },
      ),
      { numRuns: 300 },
    );
  });
});
