/**
 * The audit log's hash chain, as pure functions (no database): what a record is, how its hash is
 * computed, and how a sequence of records is checked. A third party can re-implement this from the
 * README: hash = SHA-256 hex of the RFC 8785 (JCS) canonical JSON of the record's fields.
 */
import { hash } from 'node:crypto';
import { canonicalize } from 'json-canonicalize';
import type { ActionClass, AgentName, Tier, Verdict } from '../policy/vocabulary.js';

/** The `prevHash` of the first record ever written. */
export const GENESIS_HASH = '0'.repeat(64);

/** The kind of the record a retention purge leaves behind. */
export const CHECKPOINT_KIND = 'purge.checkpoint';

/** What a caller appends. Everything but `kind` is optional. */
export interface AuditEntry {
  /** `run`, `decision`, `control.kill`, `policy.load`, `approval.approved`, ... */
  readonly kind: string;
  readonly agent?: AgentName | null;
  /** Who: an identity (`slack:user:U123`, `cli:user:NAME`) or `system:...`. */
  readonly actor?: string | null;
  /** The trigger source: `webhook`, `cron`, `chat`, `cli`, ... */
  readonly trigger?: string | null;
  /** The model used, as `provider/model` or the model name. */
  readonly model?: string | null;
  readonly actionClass?: ActionClass | null;
  readonly tier?: Tier | null;
  readonly verdict?: Verdict | null;
  /** What happened, in a few words. */
  readonly outcome?: string | null;
  /** Evidence links or ids. */
  readonly evidence?: readonly string[];
  /** Anything else, as JSON. */
  readonly data?: unknown;
}

/** The fields the hash covers, exactly as stored (evidence and data as canonical JSON text). */
export type StoredFields = {
  readonly seq: number;
  readonly at: number;
  readonly kind: string;
  readonly agent: string | null;
  readonly actor: string | null;
  readonly trigger: string | null;
  readonly model: string | null;
  readonly actionClass: string | null;
  readonly tier: number | null;
  readonly verdict: string | null;
  readonly outcome: string | null;
  /** Canonical JSON of a string array. */
  readonly evidence: string;
  /** Canonical JSON, or null. */
  readonly data: string | null;
  readonly prevHash: string;
};

export type StoredRecord = StoredFields & { readonly hash: string };

/** A record as readers see it (evidence and data parsed). */
export interface AuditRecord {
  readonly seq: number;
  readonly at: number;
  readonly kind: string;
  readonly agent: AgentName | null;
  readonly actor: string | null;
  readonly trigger: string | null;
  readonly model: string | null;
  readonly actionClass: ActionClass | null;
  readonly tier: Tier | null;
  readonly verdict: Verdict | null;
  readonly outcome: string | null;
  readonly evidence: readonly string[];
  readonly data: unknown;
  readonly prevHash: string;
  readonly hash: string;
}

/** Canonical JSON (RFC 8785) of any JSON value; throws a TypeError naming the problem otherwise. */
export function canonicalJson(value: unknown, what: string): string {
  try {
    const text = canonicalize(value);
    if (typeof text !== 'string') throw new TypeError('not representable as JSON');
    return text;
  } catch (cause) {
    throw new TypeError(`audit ${what} must be plain JSON: ${(cause as Error).message}`, { cause });
  }
}

/** The evidence list as stored: a canonical JSON array of strings. */
export function evidenceJson(evidence: readonly string[] | undefined): string {
  if (evidence === undefined || evidence.length === 0) return '[]';
  for (const item of evidence) {
    if (typeof item !== 'string') throw new TypeError('audit evidence must be an array of strings');
  }
  // JSON.stringify of an array of strings is already RFC 8785 canonical.
  return JSON.stringify(evidence);
}

/** `data` as stored: canonical JSON text, or null when absent. */
export function dataJson(data: unknown): string | null {
  return data === undefined || data === null ? null : canonicalJson(data, 'data');
}

const str = (v: string | null): string => (v === null ? 'null' : JSON.stringify(v));
const num = (v: number | null): string => (v === null ? 'null' : JSON.stringify(v));

/**
 * RFC 8785 canonical JSON of the hashed fields: keys in code-unit order, strings and numbers as
 * ECMAScript serialises them, `evidence` and `data` spliced in as the canonical text they already
 * are. Equal to `canonicalize()` of the same object (a test checks), without its cost per record.
 */
export function canonicalRecord(f: StoredFields): string {
  return (
    `{"actionClass":${str(f.actionClass)},"actor":${str(f.actor)},"agent":${str(f.agent)},` +
    `"at":${num(f.at)},"data":${f.data ?? 'null'},"evidence":${f.evidence},"kind":${str(f.kind)},` +
    `"model":${str(f.model)},"outcome":${str(f.outcome)},"prevHash":${str(f.prevHash)},` +
    `"seq":${num(f.seq)},"tier":${num(f.tier)},"trigger":${str(f.trigger)},"verdict":${str(f.verdict)}}`
  );
}

/** SHA-256 hex of the record's canonical JSON. */
export function recordHash(f: StoredFields): string {
  return hash('sha256', canonicalRecord(f), 'hex');
}

/** Builds the stored fields of the record that follows `prev` (null: the first record ever). */
export function nextFields(
  entry: AuditEntry,
  at: number,
  prev: { readonly seq: number; readonly hash: string } | null,
): StoredFields {
  if (typeof entry.kind !== 'string' || entry.kind.length === 0) {
    throw new TypeError('audit entry needs a kind (e.g. "run", "control.kill")');
  }
  if (!Number.isSafeInteger(at)) throw new TypeError(`audit time must be integer epoch ms, got ${at}`);
  return {
    seq: prev === null ? 1 : prev.seq + 1,
    at,
    kind: entry.kind,
    agent: entry.agent ?? null,
    actor: entry.actor ?? null,
    trigger: entry.trigger ?? null,
    model: entry.model ?? null,
    actionClass: entry.actionClass ?? null,
    tier: entry.tier ?? null,
    verdict: entry.verdict ?? null,
    outcome: entry.outcome ?? null,
    evidence: evidenceJson(entry.evidence),
    data: dataJson(entry.data),
    prevHash: prev === null ? GENESIS_HASH : prev.hash,
  };
}

/** The reader's view of a stored record. */
export function toRecord(
  row: StoredRecord,
  evidence: readonly string[] = parseOr(row.evidence, []) as string[],
  data: unknown = row.data === null ? null : parseOr(row.data, row.data),
): AuditRecord {
  return {
    seq: row.seq,
    at: row.at,
    kind: row.kind,
    agent: row.agent as AgentName | null,
    actor: row.actor,
    trigger: row.trigger,
    model: row.model,
    actionClass: row.actionClass as ActionClass | null,
    tier: row.tier as Tier | null,
    verdict: row.verdict as Verdict | null,
    outcome: row.outcome,
    evidence,
    data,
    prevHash: row.prevHash,
    hash: row.hash,
  };
}

function parseOr(text: string, fallback: unknown): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return fallback;
  }
}

/** What a checkpoint record's `data` says about the purge that wrote it. */
export interface CheckpointData {
  readonly lastPurgedSeq: number;
  readonly lastPurgedHash: string;
  readonly lastPurgedAt: number;
  readonly purgedCount: number;
  readonly before: number;
}

export function readCheckpoint(row: StoredRecord): CheckpointData | null {
  if (row.kind !== CHECKPOINT_KIND || row.data === null) return null;
  const data = parseOr(row.data, null) as Partial<CheckpointData> | null;
  if (data === null || typeof data !== 'object') return null;
  if (typeof data.lastPurgedSeq !== 'number' || typeof data.lastPurgedHash !== 'string') return null;
  return data as CheckpointData;
}

export type VerifyResult =
  | {
      readonly ok: true;
      readonly count: number;
      readonly firstSeq: number | null;
      readonly lastHash: string | null;
    }
  | { readonly ok: false; readonly seq: number; readonly reason: string };

/**
 * Checks a chain, record by record, in seq order: each hash matches the record's fields, each
 * prevHash is the previous record's hash, no seq is missing. Where a purge removed the beginning, the
 * first record must link to the hash a later `purge.checkpoint` record vouches for.
 */
export class ChainVerifier {
  private count = 0;
  private prev: StoredRecord | null = null;
  private first: StoredRecord | null = null;
  private failure: { seq: number; reason: string } | null = null;

  /**
   * @param checkpoints every checkpoint still in the log (needed only when the first seq is not 1).
   */
  constructor(private readonly checkpoints: () => readonly StoredRecord[]) {}

  /** Feeds the next record; returns false once the chain is known to be broken. */
  add(row: StoredRecord): boolean {
    if (this.failure !== null) return false;
    const prev = this.prev;
    if (prev === null) {
      this.first = row;
      if (row.seq !== 1) {
        const vouch = this.checkpoints()
          .map(readCheckpoint)
          .find((c): c is CheckpointData => c !== null && c.lastPurgedSeq === row.seq - 1);
        if (vouch === undefined) {
          return this.fail(
            1,
            `records 1 to ${row.seq - 1} are missing and no purge.checkpoint record accounts for them`,
          );
        }
        if (row.prevHash !== vouch.lastPurgedHash) {
          return this.fail(
            row.seq,
            `record ${row.seq} does not link to purged record ${vouch.lastPurgedSeq}: its prevHash differs from the hash the checkpoint kept`,
          );
        }
      } else if (row.prevHash !== GENESIS_HASH) {
        return this.fail(row.seq, 'record 1 does not start the chain: its prevHash is not 64 zeros');
      }
    } else {
      if (row.seq !== prev.seq + 1) {
        const missing = prev.seq + 1;
        const range =
          row.seq - 1 === missing ? `record ${missing} is` : `records ${missing} to ${row.seq - 1} are`;
        return this.fail(missing, `${range} missing (the log jumps from ${prev.seq} to ${row.seq})`);
      }
      if (row.prevHash !== prev.hash) {
        return this.fail(
          row.seq,
          `record ${row.seq} does not link to record ${prev.seq}: its prevHash differs from that record's hash`,
        );
      }
    }
    if (recordHash(row) !== row.hash) {
      return this.fail(
        row.seq,
        `record ${row.seq} was changed after it was written: its hash does not match its fields`,
      );
    }
    this.prev = row;
    this.count += 1;
    return true;
  }

  result(): VerifyResult {
    if (this.failure !== null) return { ok: false, ...this.failure };
    return {
      ok: true,
      count: this.count,
      firstSeq: this.first?.seq ?? null,
      lastHash: this.prev?.hash ?? null,
    };
  }

  private fail(seq: number, reason: string): false {
    this.failure = { seq, reason };
    return false;
  }
}
