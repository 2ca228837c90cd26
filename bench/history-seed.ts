/**
 * A database with two months of history, for the benches that ask whether the bot slows down as
 * its history grows: resolved incidents of the services the bench alerts on (each with its
 * signals, its triage run, the model calls of that run and a proposal), written straight into
 * the tables in one transaction before the bot starts on the file. Everything is within the
 * default retention (90 days), so the bot keeps all of it.
 */
import { migrate, openDatabase } from '../src/db/connection.js';

export interface HistorySize {
  /** Resolved incidents per service. */
  readonly incidentsPerService: number;
  /** Signals linked to each incident. */
  readonly signalsPerIncident: number;
  /** Model calls charged to each incident's run. */
  readonly modelCallsPerRun: number;
}

export interface SeededHistory {
  readonly incidents: number;
  readonly signals: number;
  readonly runs: number;
  readonly modelCalls: number;
  readonly proposals: number;
}

const DAY = 24 * 3600_000;

/** Writes the history into a new database at `file`, for `services`; returns what it wrote. */
export function seedHistory(file: string, services: readonly string[], size: HistorySize): SeededHistory {
  const database = openDatabase(file);
  try {
    migrate(database);
    const db = database.sqlite;
    const start = Date.now() - 60 * DAY;
    const total = services.length * size.incidentsPerService;
    const step = (59 * DAY) / total;
    const incident = db.prepare(
      `INSERT INTO incidents (id, number, fingerprint, title, severity, service, status, started_at,
         detected_at, resolved_at, resolved_by, signal_count, last_signal_at, escalation_level, message_refs)
       VALUES (?, ?, ?, ?, 'warning', ?, 'resolved', ?, ?, ?, 'source', ?, ?, 0, '[]')`,
    );
    const signal = db.prepare(
      `INSERT INTO signals (id, kind, source, dedupe_key, fingerprint, title, service, severity, payload,
         occurred_at, received_at, incident_id)
       VALUES (?, 'alert', 'alertmanager', ?, ?, ?, ?, 'warning', '{}', ?, ?, ?)`,
    );
    const run = db.prepare(
      `INSERT INTO runs (id, agent, trigger_source, trigger_ref, model, provider, outcome, evidence, tokens,
         started_at, finished_at, status, incident_id)
       VALUES (?, 'sentinel', 'signal', ?, 'llama3.2:3b', 'ollama', 'triaged', '[]', ?, ?, ?, 'succeeded', ?)`,
    );
    const usage = db.prepare(
      `INSERT INTO model_usage (agent, run_id, model, provider, prompt_tokens, completion_tokens, duration_ms, at)
       VALUES ('sentinel', ?, 'llama3.2:3b', 'ollama', 900, 120, 800, ?)`,
    );
    const proposal = db.prepare(
      `INSERT INTO proposals (id, agent, action_id, params, evidence, verdict, code, reason, tier, phase,
         decided_at, run_id, incident_id)
       VALUES (?, 'sentinel', 'restart-service', '{}', '[]', 'suggest', 'phase', 'suggested only in phase 1', 2, 1, ?, ?, ?)`,
    );
    let n = 0;
    let signals = 0;
    db.transaction(() => {
      for (let k = 0; k < size.incidentsPerService; k++) {
        for (const service of services) {
          n++;
          const at = Math.round(start + n * step);
          const id = `inc_hist${String(n).padStart(8, '0')}`;
          const fingerprint = `Hist${k % 50}:${service}`;
          incident.run(
            id,
            n,
            fingerprint,
            `Hist${k % 50} on ${service}`,
            service,
            at,
            at,
            at + 600_000,
            size.signalsPerIncident,
            at + 60_000,
          );
          for (let s = 0; s < size.signalsPerIncident; s++) {
            signals++;
            const t = at + s * 10_000;
            signal.run(
              `sig_hist${String(signals).padStart(9, '0')}`,
              `hist:${signals}`,
              fingerprint,
              `Hist on ${service}`,
              service,
              t,
              t,
              id,
            );
          }
          const runId = `run_hist${String(n).padStart(8, '0')}`;
          run.run(
            runId,
            `sig_hist${String(signals).padStart(9, '0')}`,
            1020 * size.modelCallsPerRun,
            at,
            at + 2000,
            id,
          );
          for (let m = 0; m < size.modelCallsPerRun; m++) usage.run(runId, at + m);
          proposal.run(`prop_hist${String(n).padStart(8, '0')}`, at + 1000, runId, id);
        }
      }
    })();
    return {
      incidents: n,
      signals,
      runs: n,
      modelCalls: n * size.modelCallsPerRun,
      proposals: n,
    };
  } finally {
    database.close();
  }
}
