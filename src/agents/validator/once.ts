/**
 * "Say it once per incident": validator remembers which follow-ups it has posted (in its data
 * folder, `reported.json`), so a red branch that fails twenty times makes one "would re-run" note,
 * not twenty. An incident that opens or reopens is news again. Entries expire after 30 days and the
 * file keeps at most MAX_KEYS of them. A damaged file is started afresh (the worst case is one
 * repeated note), never a reason to stay silent.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { readState, writeState } from '../runtime/state-file.js';
import type { AgentContext, AgentSignal } from '../runtime/types.js';

const FILE = 'reported.json';
const MAX_KEYS = 2000;
const TTL_MS = 30 * 24 * 3600_000;

const schema = z.object({ version: z.literal(1), keys: z.record(z.string(), z.number()) });

/** What a follow-up is about: the incident, else the signal's fingerprint. */
export function subjectOf(signal: AgentSignal): string {
  return signal.incident ? `incident:${signal.incident.id}` : `fingerprint:${signal.fingerprint}`;
}

/** true when the incident is news: just opened or reopened (or the signal has none). */
function isNews(signal: AgentSignal): boolean {
  return (
    signal.incident === null || signal.incident.change === 'opened' || signal.incident.change === 'reopened'
  );
}

/**
 * true (and remembered) when `key` about this signal's subject should be posted now: the first
 * time, or whenever its incident opens or reopens.
 */
export async function firstTime(ctx: AgentContext, signal: AgentSignal, key: string): Promise<boolean> {
  const path = join(ctx.dataDir, FILE);
  const read = await readState(path, schema, { version: 1, keys: {} });
  if (!read.ok) ctx.log.warn({ problem: read.problem }, 'validator starts its reported list afresh');
  const keys = read.ok ? read.value.keys : {};
  const full = `${subjectOf(signal)}:${key}`;
  const now = ctx.now();
  if (Object.hasOwn(keys, full) && !isNews(signal) && now - (keys[full] as number) < TTL_MS) return false;
  const kept = Object.entries(keys)
    .filter(([k, at]) => k !== full && now - at < TTL_MS)
    .sort((a, b) => b[1] - a[1])
    .slice(0, MAX_KEYS - 1);
  await writeState(path, { version: 1, keys: Object.fromEntries([[full, now], ...kept]) });
  return true;
}
