/**
 * Sentinel's rules-only triage of one signal: what happened, to which service, since when, how
 * many signals the incident has, and the facts the source gave (Alertmanager summary, description,
 * labels and runbook; the error template and count; probe status and latency against its
 * objective; event details; the failing sweep and its error). It is a follow-up to the incident
 * alert the bot already posted (src/chat/incident-alerts.ts), so it names the incident's short id.
 * Pure. Everything the sender wrote is shown quoted and cut (data-text.ts), never as our words.
 */
import { AGENTS, type SignalKind } from '../../policy/vocabulary.js';
import { duration, httpUrl, isoSecond, isToken, oneLine, quoted, token } from '../runtime/data-text.js';
import type { AgentSignal } from '../runtime/types.js';
import { readAlert, readErrorSignature, readEvent, readHealth, readSweepFailure } from './payloads.js';

export interface Triage {
  readonly title: string;
  /** The body, one fact per line. */
  readonly lines: readonly string[];
  readonly fields: readonly { readonly label: string; readonly value: string }[];
  readonly links: readonly { readonly label: string; readonly url: string }[];
  /** An http(s) status page of a dependency the alert names (annotation `status_page`), to read. */
  readonly statusPage: string | null;
}

/** Labels the first line already shows. */
const SHOWN_LABELS = new Set(['alertname', 'severity', 'service']);
const MAX_LABELS = 8;
const STATUS_PAGE_KEYS = ['status_page', 'status_page_url', 'statuspage'];

interface Facts {
  /** One line: what it is (without the service and severity). */
  what: string;
  /** Short words for the title. */
  headline: string;
  since: number | null;
  /** Appended to the first line (`; seen 7× in 10 min`). */
  after?: string;
  lines: string[];
  links: { label: string; url: string }[];
  statusPage: string | null;
}

function sinceText(since: number | null, now: number): string {
  if (since === null) return '';
  const age = now - since;
  return age >= 0 ? `, since ${isoSecond(since)} (${duration(age)} ago)` : `, since ${isoSecond(since)}`;
}

function alertFacts(signal: AgentSignal): Facts | null {
  const p = readAlert(signal.payload);
  if (p === null) return null;
  const name = p.labels.alertname;
  const a = p.annotations;
  const lines: string[] = [];
  if (a.summary !== undefined) lines.push(`Summary: ${quoted(a.summary, 300)}`);
  const description = a.description ?? a.message;
  if (description !== undefined && description !== a.summary) {
    lines.push(`Description: ${quoted(description, 500)}`);
  }
  const labels = Object.keys(p.labels)
    .filter((k) => !SHOWN_LABELS.has(k) && isToken(k))
    .sort()
    .slice(0, MAX_LABELS)
    .map((k) => `${k}=${quoted(p.labels[k], 100)}`);
  if (labels.length > 0) lines.push(`Labels: ${labels.join(', ')}`);
  const links: { label: string; url: string }[] = [];
  const runbook = a.runbook_url ?? a.runbook;
  if (runbook !== undefined) {
    const url = httpUrl(runbook);
    if (url !== null) {
      lines.push(`Runbook: ${url}`);
      links.push({ label: 'Runbook', url });
    } else {
      lines.push(`Runbook (not an http(s) link, not linked): ${quoted(runbook, 200)}`);
    }
  }
  const pageKey = STATUS_PAGE_KEYS.find((k) => a[k] !== undefined);
  const statusPage = pageKey === undefined ? null : httpUrl(a[pageKey]);
  const startsAt = p.startsAt === undefined ? Number.NaN : Date.parse(p.startsAt);
  return {
    what: `Alert ${name === undefined ? '(no alertname)' : token(name)}`,
    headline: `alert ${name !== undefined && isToken(name) ? name : ''}`.trim(),
    since: signal.occurredAt ?? (Number.isFinite(startsAt) ? startsAt : null),
    lines,
    links,
    statusPage,
  };
}

function errorFacts(signal: AgentSignal): Facts | null {
  const p = readErrorSignature(signal.payload);
  if (p === null) return null;
  const parts: string[] = [];
  if (p.count != null) {
    const within = p.windowMs != null ? ` in ${duration(p.windowMs)}` : '';
    const threshold = p.threshold != null ? ` (threshold ${p.threshold})` : '';
    parts.push(`seen ${p.count}×${within}${threshold}`);
  }
  if (p.lastAt != null) parts.push(`last at ${isoSecond(p.lastAt)}`);
  const lines = [`Error template: ${quoted(p.template, 300)}`];
  if (p.example !== undefined) lines.push(`Example line: ${quoted(p.example, 300)}`);
  return {
    what: 'Repeated error',
    headline: 'repeated error',
    since: signal.occurredAt ?? p.firstAt ?? null,
    after: parts.length > 0 ? `; ${parts.join(', ')}` : '',
    lines,
    links: [],
    statusPage: null,
  };
}

function healthFacts(signal: AgentSignal): Facts | null {
  const p = readHealth(signal.payload);
  if (p === null) return null;
  const state = p.state !== undefined && isToken(p.state) ? p.state : 'degraded';
  const lines: string[] = [];
  if (p.status != null) {
    lines.push(`Status: HTTP ${p.status}${p.expectStatus != null ? ` (expected ${p.expectStatus})` : ''}`);
  } else if (p.expectStatus != null) {
    lines.push(`Status: no answer (expected HTTP ${p.expectStatus})`);
  }
  if (p.latencyMs != null) {
    const vs = p.objectiveMs != null ? ` vs objective ${p.objectiveMs} ms` : '';
    const base = p.baselineMs != null ? ` (baseline ${p.baselineMs} ms)` : '';
    lines.push(`Latency: ${p.latencyMs} ms${vs}${base}`);
  }
  if (p.detail != null) lines.push(`Detail: ${quoted(p.detail, 300)}`);
  if (p.url !== undefined) lines.push(`Probe: ${p.method ?? 'GET'} ${oneLine(p.url, 300)}`);
  return {
    what: `Health probe ${token(p.probe)} is ${state}`,
    headline: `${isToken(p.probe) ? p.probe : 'probe'} is ${state}`,
    since: signal.occurredAt,
    after: p.streak != null ? `; ${p.streak} checks in a row` : '',
    lines,
    links: [],
    statusPage: null,
  };
}

function eventFacts(signal: AgentSignal): Facts | null {
  const p = readEvent(signal.payload);
  if (p === null) return null;
  const lines = [`Title: ${quoted(signal.title, 300)}`];
  if (p.details !== undefined && p.details !== null) {
    let json: string;
    try {
      json = JSON.stringify(p.details) ?? '';
    } catch {
      json = '(unreadable)';
    }
    lines.push(`Details: ${quoted(json, 400)}`);
  }
  const source = p.source ?? signal.source;
  return {
    what: `Event from ${token(source)}`,
    headline: `event from ${isToken(source) ? source : 'a sender'}`,
    since: signal.occurredAt,
    lines,
    links: [],
    statusPage: null,
  };
}

function sweepFacts(signal: AgentSignal): Facts | null {
  const p = readSweepFailure(signal.payload);
  if (p === null) return null;
  const agent = (AGENTS as readonly string[]).includes(p.agent) ? p.agent : token(p.agent);
  const kind = p.kind === 'light' || p.kind === 'deep' ? p.kind : 'scheduled';
  const times = p.failures != null ? `; ${p.failures} failures in a row` : '';
  const lines: string[] = [];
  if (p.lastError != null) lines.push(`Last error: ${quoted(p.lastError, 400)}`);
  if (p.runId !== undefined) lines.push(`Last run: ${token(p.runId)}`);
  return {
    what: `The ${kind} sweep of ${agent} is failing`,
    headline: `${agent}'s ${kind} sweep is failing`,
    since: signal.occurredAt,
    after: times,
    lines,
    links: [],
    statusPage: null,
  };
}

function genericFacts(signal: AgentSignal): Facts {
  return {
    what: `A ${signal.kind} signal from ${token(signal.source)}`,
    headline: signal.kind,
    since: signal.occurredAt,
    lines: [`Title: ${quoted(signal.title, 300)}`],
    links: [],
    statusPage: null,
  };
}

const READERS: Partial<Record<SignalKind, (signal: AgentSignal) => Facts | null>> = {
  alert: alertFacts,
  error_signature: errorFacts,
  health: healthFacts,
  event: eventFacts,
  sweep_failure: sweepFacts,
};

function factsOf(signal: AgentSignal): Facts {
  return READERS[signal.kind]?.(signal) ?? genericFacts(signal);
}

/** The triage of `signal` at `now`. */
export function triage(signal: AgentSignal, now: number): Triage {
  const f = factsOf(signal);
  const inc = signal.incident;
  const count = inc?.signalCount ?? 1;
  const service = signal.service === null || signal.service === '' ? null : signal.service;
  const head =
    inc === null
      ? `Triage of signal ${token(signal.id)} (no incident).`
      : `Follow-up to incident ${inc.shortId} (${inc.change}, ${count} signal${count === 1 ? '' : 's'} so far).`;
  const first = `${f.what} on ${service === null ? 'no named service' : `service ${token(service)}`}, severity ${signal.severity}${sinceText(f.since, now)}${f.after ?? ''}.`;
  const fields = [
    ...(inc === null ? [] : [{ label: 'Incident', value: inc.shortId }]),
    { label: 'Service', value: service === null ? '(none)' : token(service) },
    { label: 'Severity', value: signal.severity },
    { label: 'Signals', value: String(count) },
    ...(f.since === null ? [] : [{ label: 'Since', value: isoSecond(f.since) }]),
  ];
  const where = service !== null && isToken(service) ? ` on ${service}` : '';
  const title = `Triage ${inc?.shortId ?? 'of a signal'}: ${f.headline}${where}`;
  return { title, lines: [head, first, ...f.lines], fields, links: f.links, statusPage: f.statusPage };
}
