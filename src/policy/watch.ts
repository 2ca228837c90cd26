/**
 * Watches the policy file's folder (not the file: editors save by writing a new file and renaming
 * it over the old one, which a watch on the file itself stops seeing) and calls `onChange` once a
 * burst of events has settled.
 */
import { type FSWatcher, watch } from 'node:fs';
import { basename, dirname } from 'node:path';

export function watchPolicyFile(file: string, onChange: () => void, settleMs = 150): () => void {
  const name = basename(file);
  let timer: NodeJS.Timeout | null = null;
  const watcher: FSWatcher = watch(dirname(file), { persistent: false }, (_event, changed) => {
    // Some platforms give no file name; then any change in the folder counts.
    if (changed !== null && changed !== name) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      onChange();
    }, settleMs);
  });
  watcher.on('error', () => {
    // The folder went away (e.g. unmounted): keep the policy in force; SIGHUP still reloads.
  });
  return () => {
    if (timer) clearTimeout(timer);
    watcher.close();
  };
}
