/**
 * Prometheus Alertmanager webhook (version 4) -> one `alert` signal per alert in the group.
 *
 * - fingerprint: `alertmanager:<the alert's fingerprint>`, or a hash of its sorted labels when the
 *   sender gave none (so one alert is one incident however it is grouped);
 * - dedupe key: fingerprint + status + startsAt (+ endsAt when resolved): Alertmanager re-sends
 *   firing alerts every repeat_interval, and those repeats are stored once;
 * - service: label `service`, else `job`, else `instance`; severity: label `severity`
 *   (critical/page/high/error -> critical, warning/medium -> warning, info/low/none -> info,
 *   absent or unknown -> warning);
 * - firing opens or updates the incident, resolved resolves it (at endsAt).
 * Fields this does not use are ignored (Alertmanager adds some between releases).
 */
import { z } from 'zod';
import type { SignalInput } from '../types.js';
import { cut, type Normalised, parseIsoTime, severityOfWord, shortHash, zodProblems } from './common.js';

export const MAX_ALERTS = 5000;

const time = z
  .string()
  .refine((s) => parseIsoTime(s) !== null, 'expected an RFC 3339 time like 2025-01-01T00:00:00Z');
// Sizes are bounded by the body limit; stored text is cut to length by the normaliser and the store.
// (An object with a catch-all, not z.record: the same result and paths, a third less time per body.)
const strings = z.object({}).catchall(z.string());

export const alertSchema = z.object({
  status: z.enum(['firing', 'resolved']),
  labels: strings,
  annotations: strings.optional(),
  startsAt: time,
  endsAt: z.string().max(64).optional(),
  generatorURL: z.string().max(4096).optional(),
  fingerprint: z
    .string()
    .regex(/^[A-Za-z0-9_.:-]{1,128}$/, 'expected the alert fingerprint (up to 128 letters, digits, _.:-)')
    .optional(),
});

export const alertmanagerSchema = z.object({
  version: z.literal('4', { error: 'this endpoint takes Alertmanager webhook version "4"' }).optional(),
  status: z.enum(['firing', 'resolved']).optional(),
  receiver: z.string().max(1024).optional(),
  groupKey: z.string().max(65_536).optional(),
  externalURL: z.string().max(4096).optional(),
  alerts: z.array(alertSchema).max(MAX_ALERTS, `at most ${MAX_ALERTS} alerts per notification`),
});

export type AlertmanagerPayload = z.output<typeof alertmanagerSchema>;
type Alert = AlertmanagerPayload['alerts'][number];

function labelsFingerprint(labels: Record<string, string>): string {
  const sorted = Object.keys(labels)
    .sort()
    .map((k) => [k, labels[k]]);
  return shortHash(JSON.stringify(sorted));
}

function titleOf(alert: Alert): string {
  const name = alert.labels.alertname?.trim();
  const a = alert.annotations ?? {};
  const text = a.summary ?? a.message ?? a.description ?? '';
  const newline = text.indexOf('\n');
  const summary = (newline < 0 ? text : text.slice(0, newline)).trim();
  if (name && summary) return cut(`${name}: ${summary}`, 300);
  return cut(name || summary || 'alert', 300);
}

function one(alert: Alert, doc: AlertmanagerPayload, now: number): SignalInput {
  const fp = alert.fingerprint ?? labelsFingerprint(alert.labels);
  const startsAt = parseIsoTime(alert.startsAt) as number;
  const resolved = alert.status === 'resolved';
  // A firing alert's endsAt is a guess (or Go's zero time) and says nothing: only a resolution's is read.
  const endsAt = resolved ? parseIsoTime(alert.endsAt) : null;
  const service = alert.labels.service ?? alert.labels.job ?? alert.labels.instance ?? null;
  return {
    kind: 'alert',
    source: 'alertmanager',
    dedupeKey: `alertmanager:${fp}:${alert.status}:${startsAt}${resolved ? `:${endsAt ?? ''}` : ''}`,
    fingerprint: `alertmanager:${fp}`,
    title: titleOf(alert),
    service: service === null || service === '' ? null : cut(service, 200),
    severity: severityOfWord(alert.labels.severity),
    payload: {
      status: alert.status,
      labels: alert.labels,
      annotations: alert.annotations ?? {},
      startsAt: alert.startsAt,
      endsAt: alert.endsAt ?? null,
      generatorURL: alert.generatorURL ?? null,
      fingerprint: fp,
      receiver: doc.receiver ?? null,
      groupKey: doc.groupKey ?? null,
      externalURL: doc.externalURL ?? null,
    },
    occurredAt: resolved ? (endsAt !== null && endsAt <= now ? endsAt : now) : startsAt,
    resolves: resolved,
  };
}

/** Parses and normalises a notification; problems carry JSON paths (`$.alerts[0].startsAt`). */
export function normaliseAlertmanager(body: unknown, now: number): Normalised<SignalInput[]> {
  const parsed = alertmanagerSchema.safeParse(body);
  if (!parsed.success) return { ok: false, problems: zodProblems(parsed.error) };
  return { ok: true, value: parsed.data.alerts.map((a) => one(a, parsed.data, now)) };
}
