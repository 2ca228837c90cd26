/**
 * POST /hooks/logs: log lines, bearer-token guarded. `Content-Type: text/plain` (one line per line;
 * `?service=api` names the service, `?level=error` the level of lines that state none) or
 * `application/x-ndjson` (`{"message", "service", "timestamp", "level"}` per line). Lines are mined
 * into error signatures (templates kept, lines not); a repeated error signature becomes one
 * `error_signature` signal (src/signals/normalise/logs.ts). `Idempotency-Key` makes a retry safe.
 * Reply: 202 {accepted: lines, duplicates: 0|1, incidents, signatures, repeats}.
 */

import type { Context } from 'hono';
import { durationMs } from '../../../src/policy/compile.js';
import {
  type LogFormat,
  mineLines,
  parseLogBody,
  type RepeatCounter,
  type RepeatSettings,
} from '../../../src/signals/normalise/logs.js';
import { mediaType, readBody } from './body.js';
import type { HookDeps, HookHandler } from './deps.js';
import { IDEMPOTENCY_KEY, RecentKeys } from './idempotency.js';
import { accept, reject, summarise } from './reply.js';

const HOOK = 'logs';
const SERVICE = /^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,199}$/;
const LEVEL = /^(?:[A-Za-z]{1,16}|\d{1,2})$/;
const FORMATS: Record<string, LogFormat> = {
  'text/plain': 'text',
  'application/x-ndjson': 'ndjson',
  'application/ndjson': 'ndjson',
  'application/jsonl': 'ndjson',
  'application/x-jsonlines': 'ndjson',
};

/** The logs route's memory: recent idempotency keys, the repeat counter in use, template saves. */
export class LogIntake {
  readonly keys: RecentKeys;
  private counter: { key: string; counter: RepeatCounter; settings: RepeatSettings } | null = null;
  private lastSaveAt = Number.NEGATIVE_INFINITY;
  private dirty = false;

  constructor(private readonly deps: HookDeps) {
    this.keys = new RecentKeys({ now: deps.now });
    // Checked against newer rules on restore: saved under them (at the latest at stop), so the
    // next start does not check again.
    this.dirty = (deps.miner.checkedOnRestore ?? 0) > 0;
  }

  /** The counter for the policy in force (a factory is called again when the settings change). */
  repeats(): { counter: RepeatCounter; settings: RepeatSettings } {
    const s = this.deps.policy().doc.triggers.errorSignatures;
    const settings = {
      threshold: s.threshold,
      windowMs: durationMs(s.window),
      cooldownMs: durationMs(s.cooldown),
    };
    const key = `${settings.threshold}/${settings.windowMs}/${settings.cooldownMs}`;
    if (this.counter === null || this.counter.key !== key) {
      const r = this.deps.repeats;
      this.counter = { key, counter: typeof r === 'function' ? r(settings) : r, settings };
    }
    return this.counter;
  }

  /** Saves the miner's templates if lines came since the last save and the interval passed (or `force`). */
  saveTemplates(force = false): void {
    const templates = this.deps.templates;
    if (templates === undefined || !this.dirty) return;
    const at = this.deps.now();
    if (!force && at - this.lastSaveAt < (this.deps.templateSaveIntervalMs ?? 1000)) return;
    this.lastSaveAt = at;
    try {
      templates.save(this.deps.miner.snapshot());
      this.dirty = false;
    } catch (err) {
      // The templates stay in memory and the next save retries; signature ids are content hashes.
      this.deps.log.warn({ err }, 'cannot save error-signature templates; will retry');
    }
  }

  markDirty(): void {
    this.dirty = true;
  }
}

function queryProblem(c: Context): string | null {
  const service = c.req.query('service');
  if (service !== undefined && !SERVICE.test(service)) {
    return 'query "service" must be a name like api or payments-db (letters, digits, ._:/@-; up to 200)';
  }
  const level = c.req.query('level');
  if (level !== undefined && !LEVEL.test(level))
    return 'query "level" must be a level word like error or warn';
  const key = c.req.header('idempotency-key');
  if (key !== undefined && !IDEMPOTENCY_KEY.test(key)) {
    return 'Idempotency-Key must be 1 to 200 printable ASCII characters without spaces';
  }
  return null;
}

export function logsHandler(deps: HookDeps, intake: LogIntake): HookHandler {
  const o = { counters: deps.counters, hook: HOOK };
  return async (c) => {
    const type = mediaType(c) ?? '';
    const format = Object.hasOwn(FORMATS, type) ? FORMATS[type] : undefined;
    if (format === undefined) {
      return reject(
        c,
        deps.counters,
        HOOK,
        'unsupported_media_type',
        415,
        `unsupported Content-Type "${type.slice(0, 100)}": send text/plain (one log line per line) or application/x-ndjson`,
      );
    }
    const problem = queryProblem(c);
    if (problem !== null) return reject(c, deps.counters, HOOK, 'bad_request', 400, problem);
    const body = await readBody(c, o);
    if (!body.ok) return body.response;
    const parsed = parseLogBody(body.value.text, {
      format,
      now: deps.now(),
      service: c.req.query('service') ?? null,
      defaultLevel: c.req.query('level') ?? null,
    });
    if (!parsed.ok) {
      return reject(c, deps.counters, HOOK, 'bad_schema', 400, 'some log lines cannot be read', {
        problems: parsed.problems,
      });
    }
    const key = c.req.header('idempotency-key');
    if (key !== undefined && !intake.keys.claim(key)) {
      return accept(c, deps.counters, HOOK, { accepted: 0, duplicates: 1, incidents: [] });
    }
    const lines = parsed.value;
    const { counter, settings } = intake.repeats();
    const mined = mineLines(lines, deps.miner, counter, settings);
    if (lines.length > 0) intake.markDirty();
    let outcomes: Awaited<ReturnType<HookDeps['sink']['ingestBatched']>> = [];
    try {
      if (mined.signals.length > 0) outcomes = await deps.sink.ingestBatched(mined.signals);
    } catch (err) {
      if (key !== undefined) intake.keys.release(key);
      throw err;
    }
    intake.saveTemplates();
    const summary = summarise(outcomes);
    deps.counters.accepted(HOOK, { stored: lines.length, duplicates: 0, ignored: 0 });
    return c.json(
      {
        accepted: lines.length,
        duplicates: 0,
        incidents: summary.incidents,
        signatures: mined.signatures,
        newSignatures: mined.newTemplates,
        errorLines: mined.errorLines,
        repeats: mined.signals.length,
      },
      202,
      { 'cache-control': 'no-store' },
    );
  };
}
