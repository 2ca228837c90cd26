/**
 * What every demo action shares: the one folder the actions may touch (AUTONOMY_DEMO_DIR, which
 * `autonomy demo` sets to a fresh temp folder; else $TMPDIR/autonomy-demo), `--name=value`
 * arguments checked against a pattern, and a log of what was done. Nothing outside that folder is
 * read or written, so these scripts are safe to run anywhere.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** The demo folder (created if missing). */
export function demoFolder() {
  const dir = resolve(process.env.AUTONOMY_DEMO_DIR || join(tmpdir(), 'autonomy-demo'));
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** A folder inside the demo folder (created if missing). */
export function subFolder(name) {
  const dir = join(demoFolder(), name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** The value of `--name=value`; exits 2 when it is missing or does not match `pattern`. */
export function arg(name, pattern) {
  const prefix = `--${name}=`;
  const value = process.argv
    .slice(2)
    .find((a) => a.startsWith(prefix))
    ?.slice(prefix.length);
  if (value === undefined || !pattern.test(value)) {
    process.stderr.write(`usage: ${name} is required and must match ${pattern}\n`);
    process.exit(2);
  }
  return value;
}

/** Prints a line and appends it to actions.log in the demo folder. */
export function report(line) {
  process.stdout.write(`${line}\n`);
  appendFileSync(join(demoFolder(), 'actions.log'), `${new Date().toISOString()} ${line}\n`);
}
