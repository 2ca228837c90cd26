/**
 * Where the package is installed: the nearest folder at or above this file that holds
 * package.json. The same from src/ (vitest) and from dist/src/ (the built `autonomy` command),
 * so migrations/ and policies/ are found wherever the command is run from.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export function packageRoot(from: string = fileURLToPath(import.meta.url)): string {
  let dir = dirname(from);
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json found above ${from}`);
    dir = parent;
  }
}
