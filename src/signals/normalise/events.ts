/**
 * The generic event schema of POST /hooks/events, for anything without a webhook of its own (a cron
 * job that failed, a deploy script, a backup check). One event object, or an array of them:
 *
 *   {"id": "backup-2025-01-01", "kind": "failed_job", "source": "cron:backup",
 *    "title": "nightly backup failed (exit 2)", "service": "db", "severity": "critical",
 *    "fingerprint": "backup-nightly", "occurredAt": "2025-01-01T03:00:05Z",
 *    "details": {"exitCode": 2, "log": "https://ci.example.com/backup/123"}}
 *
 * - `id` (required): the sender's delivery id; the same source+id is stored once (retries are safe).
 * - `kind`: failed_job | health | event | advisory. `severity`: info | warning | critical.
 * - `fingerprint` (optional): what groups events into one incident; default source+kind+service.
 * - `occurredAt` (optional): ISO 8601, or epoch seconds / milliseconds; default: when received.
 * - `resolves: true`: the condition is over (resolves the fingerprint's incident).
 * - `details` (optional): any JSON, kept as data (never read as instructions).
 * Unknown fields are refused (a typo like `occured_at` would otherwise be lost silently).
 */
import { z } from 'zod';
import { SEVERITIES } from '../../policy/vocabulary.js';
import type { SignalInput } from '../types.js';
import { boundedKey, type Normalised, parseAnyTime, zodProblems } from './common.js';

export const EVENT_KINDS = ['failed_job', 'health', 'event', 'advisory'] as const;
export const MAX_EVENTS = 500;

const text = (max: number) => z.string().trim().min(1).max(max);

export const eventSchema = z.strictObject({
  id: text(200),
  kind: z.enum(EVENT_KINDS),
  source: z
    .string()
    .regex(
      /^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,99}$/,
      'a short name like cron:backup or deploy-script (letters, digits, ._:/@-; up to 100)',
    ),
  title: text(500),
  service: text(200).optional(),
  severity: z.enum(SEVERITIES),
  fingerprint: text(300).optional(),
  occurredAt: z
    .union([z.string(), z.number()])
    .refine((v) => parseAnyTime(v) !== null, 'an ISO 8601 time, or epoch seconds or milliseconds')
    .optional(),
  resolves: z.boolean().optional(),
  details: z.unknown().optional(),
});

const eventListSchema = z
  .array(eventSchema)
  .min(1)
  .max(MAX_EVENTS, `at most ${MAX_EVENTS} events per request`);

/** The whole body: one event, or an array of 1 to MAX_EVENTS of them. */
export const eventsBodySchema = z.union([eventSchema, eventListSchema]);

export type GenericEvent = z.output<typeof eventSchema>;

export function eventToSignal(event: GenericEvent, now: number): SignalInput {
  const occurred = event.occurredAt === undefined ? null : parseAnyTime(event.occurredAt);
  const fingerprint = event.fingerprint ?? `${event.source}:${event.kind}:${event.service ?? '-'}`;
  return {
    kind: event.kind,
    source: 'events',
    dedupeKey: boundedKey(`events:${event.source}:${event.id}`),
    fingerprint: boundedKey(`events:${fingerprint}`),
    title: event.title,
    service: event.service ?? null,
    severity: event.severity,
    payload: {
      id: event.id,
      source: event.source,
      kind: event.kind,
      details: event.details ?? null,
      occurredAt: event.occurredAt ?? null,
    },
    occurredAt: occurred !== null && occurred <= now ? occurred : null,
    resolves: event.resolves ?? false,
  };
}

/** One event or an array of them; problems carry JSON paths (`$[1].severity`). */
export function normaliseEvents(body: unknown, now: number): Normalised<SignalInput[]> {
  // Parse as the shape the sender chose, so the problems point into it.
  const parsed = Array.isArray(body) ? eventListSchema.safeParse(body) : eventSchema.safeParse(body);
  if (!parsed.success) return { ok: false, problems: zodProblems(parsed.error) };
  const events: GenericEvent[] = Array.isArray(parsed.data) ? parsed.data : [parsed.data];
  return { ok: true, value: events.map((e) => eventToSignal(e, now)) };
}
