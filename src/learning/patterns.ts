/**
 * Repeated patterns: which incidents are "the same problem again", for the learning loop.
 *
 * An incident's pattern comes from its first signal (earliest receipt), by kind:
 * - `error_signature`: the same error signature. Key `signature:<fingerprint>` (the signature id
 *   the log miner assigned).
 * - `advisory`: the same advisory kind, i.e. advisories about the same package. Key
 *   `advisory:<ecosystem>/<name>` (lower case) from the payload's package (OSV `package`, GitHub
 *   the first entry of `packages` that names one); an advisory without a package is its own
 *   pattern, `advisory:<fingerprint>`.
 * - `alert`: the same alert class, i.e. the same Alertmanager `alertname` on the same service,
 *   whichever instance fired it. Key `alert:<alertname>@<service or ->`; an alert without an
 *   alertname label is keyed by its fingerprint, `alert:<fingerprint>`.
 * - any other kind (`health`, `failed_job`, `event`, `sweep_failure`): the same incident class,
 *   which for these is the fingerprint (probe name; repo, workflow and branch; event source, kind
 *   and service; sweep agent and kind). Key `<kind>:<fingerprint>`. Titles are not used: they
 *   carry run-specific text (counts, versions, times).
 * One incident is one occurrence: a signal that keeps repeating while its incident is open, or
 * that reopens it shortly after it was resolved, is the same occurrence. Windows are by
 * `detected_at` (when the bot first knew), as the weekly metrics count incidents.
 */
import { and, eq, gte, lt, or, type SQL, sql } from 'drizzle-orm';
import type { Database } from '../db/connection.js';
import { preparedFor } from '../db/prepared.js';
import { type IncidentStatus, incidents } from '../db/schema.js';
import type { Severity, SignalKind } from '../policy/vocabulary.js';
import { FIRST_SIGNAL, firstSignal } from '../signals/incidents/members.js';
import { oneLine } from './markdown.js';

/** What an incident looks like to the learning loop. Title, service and label are untrusted text. */
export interface IncidentFacts {
  readonly id: string;
  readonly shortId: string;
  readonly fingerprint: string;
  readonly title: string;
  readonly service: string | null;
  readonly severity: Severity;
  readonly status: IncidentStatus;
  readonly startedAt: number;
  readonly detectedAt: number;
  readonly resolvedAt: number | null;
  readonly resolvedBy: string | null;
  readonly signalCount: number;
  /** The kind of its first signal. */
  readonly kind: SignalKind;
  readonly patternKey: string;
  /** A short description of the pattern for people (untrusted parts included). */
  readonly patternLabel: string;
}

/** A pattern with its incidents in a window, newest first. */
export interface Pattern {
  readonly key: string;
  readonly kind: SignalKind;
  readonly label: string;
  readonly service: string | null;
  readonly incidents: readonly IncidentFacts[];
}

/** What a pattern key is computed from: a signal's kind, fingerprint, service and payload. */
export interface PatternSource {
  readonly kind: SignalKind;
  readonly fingerprint: string;
  readonly service: string | null;
  readonly payload: unknown;
}

const MAX_PART = 200;

function field(value: unknown, name: string): unknown {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)[name]
    : undefined;
}

function text(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  const t = oneLine(value, MAX_PART);
  return t === '' ? null : t;
}

function advisoryPackage(payload: unknown): string | null {
  const one = field(payload, 'package');
  const list = field(payload, 'packages');
  const candidates = [one, ...(Array.isArray(list) ? list : [])];
  for (const p of candidates) {
    const name = text(field(p, 'name'));
    if (name === null) continue;
    const ecosystem = text(field(p, 'ecosystem')) ?? 'unknown';
    return `${ecosystem}/${name}`.toLowerCase();
  }
  return null;
}

/** The pattern key and label of a signal (see the file comment). Pure. */
export function patternOf(s: PatternSource): { key: string; label: string } {
  const fp = oneLine(s.fingerprint, 600); // fingerprints are at most 512 characters: never cut
  const service = s.service === null ? null : text(s.service);
  switch (s.kind) {
    case 'error_signature':
      return {
        key: `signature:${fp}`,
        label: `error signature ${fp}${service ? ` on ${service}` : ''}`,
      };
    case 'advisory': {
      const pkg = advisoryPackage(s.payload);
      return pkg === null
        ? { key: `advisory:${fp}`, label: `advisory ${fp}` }
        : { key: `advisory:${pkg}`, label: `advisories for ${pkg}` };
    }
    case 'alert': {
      const name = text(field(field(s.payload, 'labels'), 'alertname'));
      return name === null
        ? { key: `alert:${fp}`, label: `alert ${fp}` }
        : { key: `alert:${name}@${service ?? '-'}`, label: `alert ${name} on ${service ?? 'any service'}` };
    }
    default:
      return { key: `${s.kind}:${fp}`, label: `${s.kind.replace('_', ' ')} ${fp}` };
  }
}

type IncidentRow = typeof incidents.$inferSelect;

/** An incident with its first signal (null when it has none: a purge). */
interface WithFirst {
  readonly incident: IncidentRow;
  readonly first: PatternSource | null;
}

/** Incidents, each with its first signal in the same read (members.ts FIRST_SIGNAL). */
function withFirstSignal(database: Database) {
  return database.db
    .select({
      incident: incidents,
      first: {
        kind: firstSignal.kind,
        fingerprint: firstSignal.fingerprint,
        service: firstSignal.service,
        payload: firstSignal.payload,
      },
    })
    .from(incidents)
    .leftJoin(firstSignal, FIRST_SIGNAL);
}

/** Asked for every past incident an agent's history names, and on every resolution: prepared once. */
function factQueries(database: Database) {
  const p = sql.placeholder;
  const inWindow = (alike: SQL | undefined) =>
    withFirstSignal(database)
      .where(and(gte(incidents.detectedAt, p('from')), lt(incidents.detectedAt, p('to')), alike))
      .prepare();
  return {
    incident: withFirstSignal(database)
      .where(eq(incidents.id, p('id')))
      .prepare(),
    // Incidents of a window that share a fingerprint, or a fingerprint or a service (incidentsOfPattern).
    sameFingerprint: inWindow(eq(incidents.fingerprint, p('fingerprint'))),
    sameFingerprintOrService: inWindow(
      or(eq(incidents.fingerprint, p('fingerprint')), sql`${incidents.service} IS ${p('service')}`),
    ),
  };
}

function factsOf(rows: readonly WithFirst[]): IncidentFacts[] {
  const out: IncidentFacts[] = [];
  for (const { incident: r, first: src } of rows) {
    // An incident is opened by a signal, so it has one; a row without (a purge) has no pattern.
    if (src === null) continue;
    const { key, label } = patternOf({ ...src, service: src.service ?? r.service });
    out.push({
      id: r.id,
      shortId: `i${r.number}`,
      fingerprint: r.fingerprint,
      title: r.title,
      service: r.service,
      severity: r.severity,
      status: r.status,
      startedAt: r.startedAt,
      detectedAt: r.detectedAt,
      resolvedAt: r.resolvedAt,
      resolvedBy: r.resolvedBy,
      signalCount: r.signalCount,
      kind: src.kind,
      patternKey: key,
      patternLabel: label,
    });
  }
  return out;
}

/** Incidents detected in [from, to), newest first, with their pattern. */
export function incidentsBetween(database: Database, from: number, to: number): IncidentFacts[] {
  return withPatterns(
    withFirstSignal(database)
      .where(and(gte(incidents.detectedAt, from), lt(incidents.detectedAt, to)))
      .all(),
  );
}

/** `rows` newest first, each with its pattern (from its first signal). */
function withPatterns(rows: WithFirst[]): IncidentFacts[] {
  rows.sort((a, b) => b.incident.detectedAt - a.incident.detectedAt || b.incident.number - a.incident.number);
  return factsOf(rows);
}

/** One incident with its pattern, or null when there is no such incident (or it has no signal). */
export function incidentFacts(database: Database, incidentId: string): IncidentFacts | null {
  const row = preparedFor(database, factQueries).incident.get({ id: incidentId });
  return row === undefined ? null : (factsOf([row])[0] ?? null);
}

/** One incident of a pattern, to find the others by (incidentsOfPattern). */
export type PatternMember = Pick<IncidentFacts, 'kind' | 'fingerprint' | 'service'>;

/**
 * A still stored incident of pattern `key` among `evidence` (`incident:<id>` entries, as a skill
 * keeps them), or undefined when none is left (retention purged them).
 */
export function patternMemberOf(
  database: Database,
  key: string,
  evidence: readonly string[],
): PatternMember | undefined {
  for (const entry of evidence) {
    if (!entry.startsWith('incident:')) continue;
    const facts = incidentFacts(database, entry.slice('incident:'.length));
    if (facts?.patternKey === key) return facts;
  }
  return undefined;
}

/**
 * The incidents of one pattern detected in [from, to), newest first. Given one of its incidents
 * (`member`), only the window's incidents that may share its key are read: a pattern's key is its
 * first signals' fingerprint (those of the member's fingerprint), or an alert's name and service
 * (those of its fingerprint or its service; patternOf). Without a member, or for advisories
 * (those of one package may share neither), every incident of the window is read: on a
 * resolution that grew with the history (a second of CPU at 20,000 incidents in 60 days).
 */
export function incidentsOfPattern(
  database: Database,
  key: string,
  from: number,
  to: number,
  member?: PatternMember,
): IncidentFacts[] {
  const candidates =
    member === undefined || member.kind === 'advisory'
      ? incidentsBetween(database, from, to)
      : withPatterns(
          key.startsWith('alert:')
            ? preparedFor(database, factQueries).sameFingerprintOrService.all({
                from,
                to,
                fingerprint: member.fingerprint,
                service: member.service,
              })
            : preparedFor(database, factQueries).sameFingerprint.all({
                from,
                to,
                fingerprint: member.fingerprint,
              }),
        );
  return candidates.filter((i) => i.patternKey === key);
}

export interface FindOptions {
  readonly now: number;
  /** The policy's learning.promotion.window, in ms. */
  readonly windowMs: number;
  /** The policy's learning.promotion.occurrences. */
  readonly occurrences: number;
}

/** Patterns with at least `occurrences` incidents detected in (now - window, now], most first. */
export function findPatterns(database: Database, o: FindOptions): Pattern[] {
  const groups = new Map<string, IncidentFacts[]>();
  for (const i of incidentsBetween(database, o.now - o.windowMs + 1, o.now + 1)) {
    const list = groups.get(i.patternKey);
    if (list === undefined) groups.set(i.patternKey, [i]);
    else list.push(i);
  }
  const out: Pattern[] = [];
  for (const [key, list] of groups) {
    if (list.length < o.occurrences) continue;
    const first = list[0] as IncidentFacts;
    const services = new Set(list.map((i) => i.service));
    out.push({
      key,
      kind: first.kind,
      label: first.patternLabel,
      service: services.size === 1 ? first.service : null,
      incidents: list,
    });
  }
  return out.sort((a, b) => b.incidents.length - a.incidents.length || a.key.localeCompare(b.key));
}

/** For each pattern key, when its latest incident was detected (within [from, now]). */
export function lastSeen(database: Database, from: number, now: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const i of incidentsBetween(database, from, now + 1)) {
    const seen = out.get(i.patternKey);
    if (seen === undefined || i.detectedAt > seen) out.set(i.patternKey, i.detectedAt);
  }
  return out;
}
