/**
 * Incidents for the learning-loop tests, made the way the bot makes them: signals through the real
 * SignalStore (which opens and resolves incidents), people's resolutions through the real
 * IncidentStore, and runs of catalog actions on an incident as the pipeline records them (a
 * proposal with its params and the run it led to).
 */
import { AuditLog } from '../../src/audit/log.js';
import type { Database } from '../../src/db/connection.js';
import { proposals, runs } from '../../src/db/schema.js';
import { IncidentStore } from '../../src/signals/incidents/incidents.js';
import { SignalStore } from '../../src/signals/incidents/store.js';
import type { IncidentChange, SignalInput } from '../../src/signals/types.js';

export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;

export type Occurrence = Partial<SignalInput> & Pick<SignalInput, 'kind' | 'fingerprint'>;

export class IncidentFactory {
  clock = 0;
  readonly audit: AuditLog;
  readonly signals: SignalStore;
  readonly incidents: IncidentStore;
  #n = 0;

  constructor(readonly database: Database) {
    const now = () => this.clock;
    this.audit = new AuditLog(database, { now });
    let id = 0;
    this.signals = new SignalStore(database, { now, newId: (p) => `${p}_${++id}`, audit: this.audit });
    this.incidents = new IncidentStore(database, this.audit, { now });
  }

  /**
   * One incident: a signal at `at` opens it; with `resolveAfterMs` it is resolved that much later,
   * by the source (a resolving signal) or, with `by`, by a person.
   */
  occur(o: Occurrence, at: number, resolveAfterMs: number | null = HOUR, by?: string): IncidentChange {
    this.clock = at;
    const n = ++this.#n;
    const input: SignalInput = {
      source: 'test',
      dedupeKey: `test:${n}`,
      title: `${o.kind} ${o.fingerprint}`,
      severity: 'warning',
      payload: {},
      service: 'api',
      ...o,
    };
    const [opened] = this.signals.ingest([input]);
    if (opened?.status !== 'stored' || opened.incident === null)
      throw new Error('the signal opened no incident');
    const incident = opened.incident;
    if (resolveAfterMs !== null) {
      this.clock = at + resolveAfterMs;
      if (by === undefined) {
        this.signals.ingest([
          { ...input, dedupeKey: `test:${n}:resolved`, resolves: true, occurredAt: this.clock },
        ]);
      } else {
        this.incidents.resolve(incident.shortId, by);
      }
    }
    return incident;
  }

  /** A catalog action that ran on an incident, as the pipeline records it. */
  ran(
    incidentId: string,
    run: {
      agent: 'sentinel' | 'validator';
      actionId: string;
      actionClass: 'evidence' | 'test-run' | 'service-affecting';
      params: Record<string, string | number>;
      status: 'succeeded' | 'failed';
      at: number;
    },
  ): string {
    const n = ++this.#n;
    const runId = `run_t${n}`;
    this.database.db
      .insert(runs)
      .values({
        id: runId,
        agent: run.agent,
        triggerSource: 'webhook',
        actionId: run.actionId,
        actionClass: run.actionClass,
        tier: 0,
        verdict: 'execute',
        outcome: run.status === 'succeeded' ? 'exit 0' : 'exit 1',
        startedAt: run.at,
        finishedAt: run.at + 1000,
        status: run.status,
        incidentId,
      })
      .run();
    this.database.db
      .insert(proposals)
      .values({
        id: `prop_t${n}`,
        agent: run.agent,
        actionId: run.actionId,
        params: run.params,
        verdict: 'execute',
        code: 'tier0',
        reason: 'tier 0 runs in every phase',
        tier: 0,
        phase: 1,
        decidedAt: run.at,
        runId,
        incidentId,
      })
      .run();
    return runId;
  }
}
