/**
 * Drift: guardian's deep sweep hashes every file the policy names in `drift.watch` (paths relative
 * to the policy file, as the inventory's are) and compares it with the baseline recorded in the
 * agent's data folder (`baselines.json`, written atomically).
 *
 * - First sight: the baseline is recorded; one info notice lists the files baselined that sweep.
 * - Changed: a warning alert with the baseline and current hash and size, once per new content
 *   (what was reported is remembered; a further change alerts again).
 * - Missing or unreadable: a warning, once, until the file is back.
 * - Back to the baseline content after an alert: an info notice.
 * Accepting a change as the new baseline is `acceptDriftBaselines()` (for a CLI verb).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import type { Policy } from '../../policy/types.js';
import { AutonomyError } from '../../process/errors.js';
import { readState, writeState } from '../runtime/state-file.js';
import type { AgentContext, Finding } from '../runtime/types.js';

export const BASELINES_FILE = 'baselines.json';
/** `reported` when the file was reported missing or unreadable. */
const MISSING = 'missing';

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/);
const entrySchema = z.object({
  /** The path as the policy writes it, for people. */
  file: z.string(),
  baseline: z.object({ sha256: sha256Hex, size: z.int().min(0), at: z.int() }).nullable(),
  /** The content hash last reported as a change, `missing`, or null (nothing outstanding). */
  reported: z.string().nullable(),
});
const baselinesSchema = z.object({
  version: z.literal(1),
  /** By absolute path. */
  files: z.record(z.string(), entrySchema),
});
type Entry = z.output<typeof entrySchema>;
type Baselines = z.output<typeof baselinesSchema>;

export interface WatchedFile {
  /** As written in the policy. */
  readonly file: string;
  readonly path: string;
}

/** The policy's `drift.watch`, resolved against the policy file's folder. */
export function watchedFiles(policy: Policy): WatchedFile[] {
  const base = dirname(resolve(policy.source));
  const seen = new Set<string>();
  const out: WatchedFile[] = [];
  for (const file of policy.doc.drift.watch) {
    const path = resolve(base, file);
    if (seen.has(path)) continue;
    seen.add(path);
    out.push({ file, path });
  }
  return out;
}

export type Digest =
  | { readonly ok: true; readonly sha256: string; readonly size: number }
  | { readonly ok: false; readonly missing: boolean; readonly reason: string };

/** SHA-256 and size of a regular file, streamed (any size, constant memory). */
export async function digestFile(path: string, signal?: AbortSignal): Promise<Digest> {
  try {
    const s = await stat(path);
    if (!s.isFile()) return { ok: false, missing: false, reason: 'is not a regular file' };
    const hash = createHash('sha256');
    let size = 0;
    for await (const chunk of createReadStream(path, signal ? { signal } : {})) {
      hash.update(chunk as Buffer);
      size += (chunk as Buffer).length;
    }
    return { ok: true, sha256: hash.digest('hex'), size };
  } catch (err) {
    if (signal?.aborted) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { ok: false, missing: true, reason: 'is missing' };
    return { ok: false, missing: false, reason: `cannot be read (${code ?? (err as Error).message})` };
  }
}

function iso(at: number): string {
  return new Date(at).toISOString();
}

function emptyBaselines(): Baselines {
  return { version: 1, files: {} };
}

function changedAlert(
  w: WatchedFile,
  base: NonNullable<Entry['baseline']>,
  now: { sha256: string; size: number },
): Finding {
  return {
    kind: 'alert',
    title: `drift: ${w.file} changed since ${iso(base.at)}`,
    severity: 'warning',
    body: [
      `${w.path} no longer matches the baseline recorded at ${iso(base.at)}.`,
      `Baseline: sha256 ${base.sha256}, ${base.size} bytes`,
      `Now:      sha256 ${now.sha256}, ${now.size} bytes`,
      `If the change is expected, record it as the new baseline with \`autonomy drift accept ${w.file}\`; guardian alerts again only if it changes again.`,
    ].join('\n'),
    fields: [
      { label: 'File', value: w.path },
      { label: 'Baseline sha256', value: base.sha256 },
      { label: 'Current sha256', value: now.sha256 },
      { label: 'Baseline size', value: `${base.size} bytes` },
      { label: 'Current size', value: `${now.size} bytes` },
      { label: 'Baseline recorded', value: iso(base.at) },
    ],
  };
}

function unreadableAlert(w: WatchedFile, reason: string, base: Entry['baseline']): Finding {
  return {
    kind: 'alert',
    title: `drift: ${w.file} ${reason}`,
    severity: 'warning',
    body: [
      `${w.path} ${reason}.`,
      base
        ? `Its baseline (sha256 ${base.sha256}, ${base.size} bytes) was recorded at ${iso(base.at)}.`
        : 'No baseline was recorded for it yet: check the path in drift.watch of the policy.',
      'Guardian reports this once, and again only after the file was back.',
    ].join('\n'),
    fields: [
      { label: 'File', value: w.path },
      ...(base ? [{ label: 'Baseline sha256', value: base.sha256 }] : []),
    ],
  };
}

function backNotice(w: WatchedFile, base: NonNullable<Entry['baseline']>): Finding {
  return {
    kind: 'notice',
    title: `drift: ${w.file} back to baseline`,
    severity: 'info',
    body: `${w.path} matches its baseline again (sha256 ${base.sha256}, ${base.size} bytes, recorded at ${iso(base.at)}).`,
    fields: [{ label: 'File', value: w.path }],
  };
}

function baselinedNotice(list: readonly { w: WatchedFile; sha256: string; size: number }[]): Finding {
  return {
    kind: 'notice',
    title: `drift: baseline recorded for ${list.length} file${list.length === 1 ? '' : 's'}`,
    severity: 'info',
    body: [
      'Guardian watches these files (drift.watch) and alerts when they change:',
      ...list.map((b) => `${b.w.path}  sha256 ${b.sha256}  ${b.size} bytes`),
    ].join('\n'),
  };
}

/** What one file's check found, for the sweep's caller and tests. */
export type DriftState = 'baselined' | 'unchanged' | 'changed' | 'still-changed' | 'back' | 'unreadable';

/** A change reported (alerted) in this sweep: what guardian's turn judges. */
export interface DriftChange {
  readonly file: string;
  readonly path: string;
  /** The recorded baseline (null: none was recorded yet). */
  readonly baseline: { readonly sha256: string; readonly size: number; readonly at: number } | null;
  /** The content now, or why it cannot be read. */
  readonly now:
    | { readonly ok: true; readonly sha256: string; readonly size: number }
    | { readonly ok: false; readonly reason: string };
}

export interface DriftReport {
  /** Each watched file's state, by absolute path. */
  readonly states: Map<string, DriftState>;
  /** The changes alerted in this sweep (not those alerted before and still the same). */
  readonly changes: readonly DriftChange[];
}

/**
 * The deep sweep's drift check: compares, posts, saves. Returns each file's state and the changes it
 * alerted. A baselines file that cannot be read is reported (warning) and nothing else happens, so a
 * damaged file never silently becomes a new baseline.
 */
export async function checkDrift(ctx: AgentContext): Promise<DriftReport> {
  const states = new Map<string, DriftState>();
  const changes: DriftChange[] = [];
  const report: DriftReport = { states, changes };
  const watched = watchedFiles(ctx.policy);
  if (watched.length === 0) return report;
  const file = join(ctx.dataDir, BASELINES_FILE);
  const read = await readState(file, baselinesSchema, emptyBaselines());
  if (!read.ok) {
    ctx.post({
      kind: 'alert',
      title: 'drift: the baselines file cannot be used',
      severity: 'warning',
      body: `${read.problem}. Drift was not checked this sweep.`,
    });
    return report;
  }
  const store = read.value;
  const fresh: { w: WatchedFile; sha256: string; size: number }[] = [];
  let dirty = false;
  try {
    for (const w of watched) {
      if (ctx.signal.aborted) break;
      const entry: Entry = store.files[w.path] ?? { file: w.file, baseline: null, reported: null };
      let digest: Digest;
      try {
        digest = await digestFile(w.path, ctx.signal);
      } catch (err) {
        if (ctx.signal.aborted) break;
        throw err;
      }
      const next: Entry = { ...entry, file: w.file };
      if (!digest.ok) {
        states.set(w.path, 'unreadable');
        if (entry.reported !== MISSING) {
          ctx.post(unreadableAlert(w, digest.reason, entry.baseline));
          ctx.evidence(`file:${w.path}`);
          changes.push({ ...w, baseline: entry.baseline, now: { ok: false, reason: digest.reason } });
          next.reported = MISSING;
        }
      } else if (entry.baseline === null) {
        next.baseline = { sha256: digest.sha256, size: digest.size, at: ctx.now() };
        next.reported = null;
        fresh.push({ w, sha256: digest.sha256, size: digest.size });
        states.set(w.path, 'baselined');
      } else if (digest.sha256 === entry.baseline.sha256) {
        states.set(w.path, entry.reported === null ? 'unchanged' : 'back');
        if (entry.reported !== null) ctx.post(backNotice(w, entry.baseline));
        next.reported = null;
      } else if (entry.reported === digest.sha256) {
        states.set(w.path, 'still-changed');
      } else {
        ctx.post(changedAlert(w, entry.baseline, digest));
        ctx.evidence(`file:${w.path}`);
        changes.push({ ...w, baseline: entry.baseline, now: digest });
        next.reported = digest.sha256;
        states.set(w.path, 'changed');
      }
      if (JSON.stringify(next) !== JSON.stringify(store.files[w.path])) {
        store.files[w.path] = next;
        dirty = true;
      }
    }
  } finally {
    // Whatever was checked (and posted) is remembered, even when the sweep was stopped half-way.
    if (dirty) await writeState(file, store);
  }
  if (fresh.length > 0 && !ctx.signal.aborted) ctx.post(baselinedNotice(fresh));
  return report;
}

export interface AcceptedBaseline {
  readonly file: string;
  readonly path: string;
  readonly result: string;
}

/**
 * Records the current content of watched files as their new baseline (all of them, or those whose
 * policy path or absolute path is in `only`): for a person who checked a reported change. A file
 * that cannot be read keeps its old baseline. `dataDir` is guardian's data folder.
 */
export async function acceptDriftBaselines(
  policy: Policy,
  dataDir: string,
  now: number,
  only: readonly string[] = [],
): Promise<AcceptedBaseline[]> {
  const all = watchedFiles(policy);
  const unknown = only.filter((f) => !all.some((w) => w.file === f || w.path === f));
  if (unknown.length > 0) {
    const listed = all.map((w) => w.file).join(', ') || 'none';
    throw new AutonomyError(
      'DRIFT_NOT_WATCHED',
      `not in drift.watch: ${unknown.join(', ')} (watched: ${listed}); nothing was changed`,
    );
  }
  const watched = all.filter((w) => only.length === 0 || only.includes(w.file) || only.includes(w.path));
  const file = join(dataDir, BASELINES_FILE);
  const read = await readState(file, baselinesSchema, emptyBaselines());
  // A damaged file is replaced only when every file is accepted: that is a person starting over.
  if (!read.ok && only.length > 0) {
    throw new AutonomyError('DRIFT_BASELINES_DAMAGED', read.problem, {
      fix: 'or accept every watched file at once to start over',
    });
  }
  const store = read.ok ? read.value : emptyBaselines();
  const out: AcceptedBaseline[] = [];
  for (const w of watched) {
    const digest = await digestFile(w.path);
    if (!digest.ok) {
      out.push({ file: w.file, path: w.path, result: `not accepted: ${digest.reason}` });
      continue;
    }
    store.files[w.path] = {
      file: w.file,
      baseline: { sha256: digest.sha256, size: digest.size, at: now },
      reported: null,
    };
    out.push({
      file: w.file,
      path: w.path,
      result: `baseline sha256 ${digest.sha256} (${digest.size} bytes)`,
    });
  }
  if (out.some((o) => !o.result.startsWith('not'))) await writeState(file, store);
  return out;
}
