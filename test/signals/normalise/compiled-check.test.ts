/**
 * The compiled check (src/signals/normalise/compiled-check.ts) must say yes exactly when zod does,
 * and a body it lets through must be normalised as zod's copy of it would be: otherwise the
 * Alertmanager hook would store what it should refuse, or refuse what it should store.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  alertmanagerSchema,
  isAlertmanagerPayload,
  normaliseAlertmanager,
} from '../../../src/signals/normalise/alertmanager.js';
import { compiledCheck } from '../../../src/signals/normalise/compiled-check.js';

const NOW = Date.UTC(2025, 0, 2);

describe('compiledCheck', () => {
  it('refuses schemas it cannot check exactly, saying why', () => {
    const yes = () => true;
    const cases: [z.ZodType, RegExp][] = [
      [z.object({ a: z.string().transform((s) => s.trim()) }), /transforms its input/],
      [z.object({ a: z.string().default('x') }), /fills in defaults/],
      [z.object({ a: z.string().refine((s) => s !== 'x') }), /refinement at \/properties\/a has no format/],
      [
        z.object({
          a: z
            .string()
            .refine((s) => s !== 'x')
            .optional(),
        }),
        /refinement at \/properties\/a/,
      ],
      [
        z.object({
          a: z
            .string()
            .refine((s) => s !== 'x')
            .meta({ format: 'other' }),
        }),
        /has no format/,
      ],
      [
        z.object({
          a: z
            .number()
            .refine((n) => n > 1)
            .meta({ format: 'f' }),
        }),
        /something other than a string/,
      ],
    ];
    for (const [schema, why] of cases) {
      expect(() => compiledCheck(schema, { f: yes })({ a: 'y' })).toThrow(why);
    }
  });

  it('runs a refinement through the function of its format', () => {
    const check = compiledCheck(
      z.object({
        a: z
          .string()
          .refine((s) => s.startsWith('ok'), 'must start with ok')
          .meta({ format: 'ok' }),
      }),
      { ok: (s) => s.startsWith('ok') },
    );
    expect(check({ a: 'ok then' })).toBe(true);
    expect(check({ a: 'not ok' })).toBe(false);
    expect(check({})).toBe(false);
  });

  it('counts lengths and matches patterns as zod does (code points; patterns without the u flag)', () => {
    const schema = z.object({
      a: z.string().max(4),
      b: z
        .string()
        .regex(/^.{2}$/)
        .optional(),
    });
    const check = compiledCheck(schema, {});
    // An emoji is one code point, two UTF-16 code units (which is what `.` matches without the u flag).
    const values = [
      { a: '😀😀😀😀' },
      { a: '😀😀😀😀😀' },
      { a: 'x', b: '😀' },
      { a: 'x', b: 'ab' },
      { a: 'x', b: 'abc' },
    ];
    for (const value of values) expect(check(value)).toBe(schema.safeParse(value).success);
    expect(values.map(check)).toEqual([true, false, true, true, false]);
  });
});

// Near-valid Alertmanager bodies: each field is usually right, sometimes wrong in one of the ways
// senders get it wrong (types, enums, times, lengths, patterns, astral characters near a limit).
const word = fc.string({ maxLength: 6 });
const edgeText = fc.constantFrom(
  '',
  'x'.repeat(64),
  'x'.repeat(65),
  '😀'.repeat(64),
  '😀'.repeat(65),
  '2025-01-01T00:00:00Z',
  '2025-01-01T00:00:00.123456789+02:00',
  '0001-01-01T00:00:00Z',
  '2025-13-01T00:00:00Z',
  '2025-01-01',
  'yesterday',
  '5f2b8e1c9a7d3e40',
  'has space',
  'é'.repeat(10),
);
const wrong = fc.oneof(fc.integer(), fc.constant(null), fc.boolean(), fc.constant([]), fc.constant({}), word);
const sometimes = <T>(right: fc.Arbitrary<T>) =>
  fc.oneof({ weight: 15, arbitrary: right }, { weight: 1, arbitrary: wrong });
const text = fc.oneof({ weight: 4, arbitrary: word }, { weight: 1, arbitrary: edgeText });
const labelKey = fc.constantFrom(
  'alertname',
  'severity',
  'job',
  'service',
  'instance',
  'constructor',
  'toString',
  'a b',
  'é',
);
const labels = fc.dictionary(labelKey, sometimes(text), { maxKeys: 5 });
const time = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .date({ min: new Date(0), max: new Date(Date.UTC(2100, 0, 1)), noInvalidDate: true })
      .map((d) => d.toISOString()),
  },
  { weight: 1, arbitrary: edgeText },
);
const alert = fc.record(
  {
    status: sometimes(fc.constantFrom('firing', 'resolved')),
    labels: sometimes(labels),
    annotations: sometimes(labels),
    startsAt: sometimes(time),
    endsAt: sometimes(time),
    generatorURL: sometimes(text),
    fingerprint: sometimes(fc.oneof(fc.stringMatching(/^[A-Za-z0-9_.:-]{1,20}$/), edgeText)),
    extra: wrong,
  },
  { requiredKeys: ['status', 'labels', 'startsAt'] },
);
const notification = fc.oneof(
  {
    weight: 9,
    arbitrary: fc.record(
      {
        version: sometimes(fc.constantFrom('4', '3')),
        status: sometimes(fc.constantFrom('firing', 'resolved')),
        receiver: sometimes(text),
        groupKey: sometimes(text),
        externalURL: sometimes(text),
        truncatedAlerts: fc.integer(),
        alerts: sometimes(fc.array(alert, { maxLength: 3 })),
      },
      { requiredKeys: ['alerts'] },
    ),
  },
  { weight: 1, arbitrary: wrong },
);

describe('the Alertmanager check', () => {
  it('accepts exactly what zod accepts, and normalises what it accepts as zod would', () => {
    let accepted = 0;
    let refused = 0;
    fc.assert(
      fc.property(notification, (generated) => {
        // The hook sees what JSON.parse makes of the body.
        const body: unknown = JSON.parse(JSON.stringify(generated));
        const parsed = alertmanagerSchema.safeParse(body);
        expect(isAlertmanagerPayload(body)).toBe(parsed.success);
        if (!parsed.success) {
          refused++;
          return;
        }
        accepted++;
        // What would be stored, byte for byte: from the body as it came, and from zod's copy.
        const fromBody = normaliseAlertmanager(body, NOW);
        const fromCopy = normaliseAlertmanager(parsed.data, NOW);
        expect(JSON.stringify(fromBody)).toBe(JSON.stringify(fromCopy));
      }),
      { numRuns: 3000 },
    );
    // Both sides of the check were exercised (a generator gone wrong would make this test empty).
    expect(accepted).toBeGreaterThan(300);
    expect(refused).toBeGreaterThan(300);
  });

  it('refuses a bad body with the problems zod finds', () => {
    const body = { version: '3', alerts: [{ status: 'firing', labels: { a: 1 }, startsAt: 'soon' }] };
    expect(isAlertmanagerPayload(body)).toBe(false);
    const result = normaliseAlertmanager(body, NOW);
    expect(result.ok).toBe(false);
    expect(result.ok ? [] : result.problems).toEqual([
      { path: '$.version', message: 'this endpoint takes Alertmanager webhook version "4"' },
      { path: '$.alerts[0].labels.a', message: 'Invalid input: expected string, received number' },
      { path: '$.alerts[0].startsAt', message: 'expected an RFC 3339 time like 2025-01-01T00:00:00Z' },
    ]);
  });

  it('keeps a label named __proto__ as sent (as data), without touching any prototype', () => {
    const body: unknown = JSON.parse(
      '{"alerts":[{"status":"firing","labels":{"__proto__":"x","alertname":"A"},"startsAt":"2025-01-01T00:00:00Z"}]}',
    );
    const result = normaliseAlertmanager(body, NOW);
    expect(result.ok).toBe(true);
    const payload = result.ok ? (result.value[0]?.payload as { labels: object }) : null;
    expect(JSON.stringify(payload?.labels)).toBe('{"__proto__":"x","alertname":"A"}');
    expect(Object.getPrototypeOf(payload?.labels)).toBe(Object.prototype);
    expect(({} as { alertname?: string }).alertname).toBeUndefined();
  });
});
