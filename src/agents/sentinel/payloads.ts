/**
 * Reading the payloads of the signal kinds sentinel handles, as the normalisers store them:
 * Alertmanager alerts (src/signals/normalise/alertmanager.ts), error signatures (logs.ts), health
 * probes (src/signals/health/probes.ts), generic events (events.ts) and sweep failures (sweeps.ts).
 * Payloads are untrusted data of any shape: each reader is lenient (a field of the wrong type is
 * dropped, not fatal) and returns null when the payload is not of that kind at all.
 */
import { z } from 'zod';

const str = z.string().optional().catch(undefined);
const num = z.number().finite().nullable().optional().catch(undefined);
const strings = z
  .record(z.string(), z.unknown())
  .catch({})
  .transform((r) => {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(r)) if (typeof v === 'string') out[k] = v;
    return out;
  });

const alertPayload = z.looseObject({
  labels: strings,
  annotations: strings.optional().transform((a) => a ?? {}),
  startsAt: str,
  status: str,
});
export type AlertPayload = z.output<typeof alertPayload>;

const errorPayload = z.looseObject({
  template: z.string(),
  count: num,
  threshold: num,
  windowMs: num,
  firstAt: num,
  lastAt: num,
  example: str,
  level: z.string().nullable().optional().catch(undefined),
});
export type ErrorPayload = z.output<typeof errorPayload>;

const healthPayload = z.looseObject({
  probe: z.string(),
  state: str,
  url: str,
  method: str,
  expectStatus: num,
  status: num,
  latencyMs: num,
  baselineMs: num,
  objectiveMs: num,
  streak: num,
  detail: z.string().nullable().optional().catch(undefined),
});
export type HealthPayload = z.output<typeof healthPayload>;

const eventPayload = z.looseObject({
  id: str,
  source: str,
  kind: str,
  details: z.unknown().optional(),
});
export type EventPayload = z.output<typeof eventPayload>;

const sweepPayload = z.looseObject({
  agent: z.string(),
  kind: str,
  failures: num,
  lastError: z.string().nullable().optional().catch(undefined),
  runId: str,
});
export type SweepPayload = z.output<typeof sweepPayload>;

function read<T>(schema: z.ZodType<T>, payload: unknown): T | null {
  const parsed = schema.safeParse(payload);
  return parsed.success ? parsed.data : null;
}

export const readAlert = (p: unknown): AlertPayload | null => read(alertPayload, p);
export const readErrorSignature = (p: unknown): ErrorPayload | null => read(errorPayload, p);
export const readHealth = (p: unknown): HealthPayload | null => read(healthPayload, p);
export const readEvent = (p: unknown): EventPayload | null => read(eventPayload, p);
export const readSweepFailure = (p: unknown): SweepPayload | null => read(sweepPayload, p);
