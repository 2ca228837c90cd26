/**
 * Small JSON state files in an agent's data folder (drift baselines, what was already reported).
 * Reading checks the shape with zod and says what is wrong and how to fix it; writing is atomic
 * (a temporary file in the same folder, fsynced, then renamed over the old one), so a crash or a
 * concurrent reader never sees half a file.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { z } from 'zod';

export type StateRead<T> =
  | { readonly ok: true; readonly value: T; readonly existed: boolean }
  | { readonly ok: false; readonly problem: string };

/** Reads and checks `path`; a missing file is `fallback`. Never throws for bad content. */
export async function readState<T>(path: string, schema: z.ZodType<T>, fallback: T): Promise<StateRead<T>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { ok: true, value: fallback, existed: false };
    return { ok: false, problem: `cannot read ${path} (${code ?? (err as Error).message})` };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return {
      ok: false,
      problem: `${path} is not JSON (${(err as Error).message.slice(0, 120)}); fix it or delete it to start over`,
    };
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    const where = first ? `${first.path.join('.') || '(root)'}: ${first.message}` : 'unexpected shape';
    return {
      ok: false,
      problem: `${path} has an unexpected shape (${where}); fix it or delete it to start over`,
    };
  }
  return { ok: true, value: parsed.data, existed: true };
}

/** Writes `value` as JSON to `path` atomically (temp file + fsync + rename). */
export async function writeState(path: string, value: unknown): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(tmp, 'wx', 0o600);
  try {
    await handle.writeFile(`${JSON.stringify(value, null, 2)}\n`, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
