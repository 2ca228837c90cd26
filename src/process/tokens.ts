/**
 * Shared secrets the bot makes itself when none is configured (DESIGN: secure by default, easy on
 * day one): the ingest token that guards /hooks/*, the console token. An env value wins; else the
 * token kept in the data folder (`<dataDir>/<name>`, mode 600); else a new one is generated there.
 *
 * Generated tokens are 32 random bytes, base64url. The file is created atomically (written under a
 * temporary name, then hard-linked into place, which fails if another process got there first: then
 * that one's token is used), so two bots starting at once agree on one token. A token's value is
 * never put in an error or a log line; callers log `source` and `path`, never `token`.
 */
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { AutonomyError, type AutonomyErrorOptions } from './errors.js';

export type TokenSource = 'env' | 'file' | 'generated';

export interface EnsuredToken {
  readonly token: string;
  /** Where it came from: the environment, the data folder, or made just now (and saved there). */
  readonly source: TokenSource;
  /** The file that holds it, or null when it came from the environment. */
  readonly path: string | null;
}

/** Shorter tokens are refused: they can be guessed. */
export const MIN_TOKEN_LENGTH = 16;
const NAME = /^[a-z][a-z0-9-]{0,63}$/;
const VALID = /^[\x21-\x7e]+$/;

export class TokenError extends AutonomyError {
  constructor(message: string, options?: AutonomyErrorOptions) {
    super('TOKEN_INVALID', message, options);
  }
}

/** `ingest-token` -> `AUTONOMY_INGEST_TOKEN`, the variable that overrides it. */
export function tokenEnvName(name: string): string {
  return `AUTONOMY_${name.toUpperCase().replaceAll('-', '_')}`;
}

/** 32 random bytes as base64url (43 characters). */
export function generateToken(): string {
  return randomBytes(32).toString('base64url');
}

function checkValue(value: string, where: string, fix: string): string {
  if (!VALID.test(value)) {
    throw new TokenError(`${where} holds spaces or control characters: ${fix}`);
  }
  if (value.length < MIN_TOKEN_LENGTH) {
    throw new TokenError(`${where} is shorter than ${MIN_TOKEN_LENGTH} characters (${value.length}): ${fix}`);
  }
  return value;
}

function readTokenFile(path: string, envName: string): string | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new TokenError(`cannot read the token file ${path}: ${(err as Error).message}`, { cause: err });
  }
  const token = checkValue(
    text.trim(),
    `the token file ${path}`,
    `delete it to have a new token made at the next start, or set ${envName}`,
  );
  // Keep it private even if someone loosened it (a copy, a restore from backup).
  try {
    if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
  } catch {
    // Not ours to fix (another owner, read-only mount): the token is still usable.
  }
  return token;
}

function syncDir(dir: string): void {
  let fd: number | null = null;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Some filesystems refuse fsync on a folder; the link is still in place.
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

/**
 * The token called `name` as the bot would use it (`envValue` when set, else the one kept in
 * `<dataDir>/<name>`), or null when there is none or it is unusable. Never makes one: for tools
 * that only need to know the bot's secrets (to redact them), like the CLI.
 */
export function keptToken(dataDir: string, name: string, envValue: string | undefined): string | null {
  const fromEnv = envValue?.trim() ?? '';
  if (fromEnv !== '') return fromEnv;
  if (!NAME.test(name)) return null;
  try {
    return readTokenFile(join(dataDir, name), tokenEnvName(name));
  } catch {
    return null;
  }
}

/**
 * The token called `name` (e.g. `ingest-token`): `envValue` when set (non-empty), else the one kept
 * in `<dataDir>/<name>`, else a new one saved there with mode 600. Throws TokenError (saying what
 * to do) when the env value or the file is unusable; never includes the token in a message.
 */
export function ensureToken(dataDir: string, name: string, envValue: string | undefined): EnsuredToken {
  if (!NAME.test(name)) throw new TokenError(`bad token name "${name}": use lower-case letters and dashes`);
  const envName = tokenEnvName(name);
  const fromEnv = envValue?.trim() ?? '';
  if (fromEnv !== '') {
    const token = checkValue(
      fromEnv,
      envName,
      `use a long random value, e.g. \`openssl rand -base64 32\`, or unset it to have one made in ${dataDir}`,
    );
    return { token, source: 'env', path: null };
  }
  const path = join(dataDir, name);
  const existing = readTokenFile(path, envName);
  if (existing !== null) return { token: existing, source: 'file', path };

  mkdirSync(dataDir, { recursive: true });
  const token = generateToken();
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    const fd = openSync(tmp, 'wx', 0o600);
    try {
      writeSync(fd, `${token}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    try {
      linkSync(tmp, path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      // Another process made one first: use it, so both agree.
      const theirs = readTokenFile(path, envName);
      if (theirs !== null) return { token: theirs, source: 'file', path };
      throw err;
    }
    syncDir(dataDir);
  } catch (err) {
    if (err instanceof TokenError) throw err;
    throw new TokenError(
      `cannot save a new token in ${path}: ${(err as Error).message}. Make ${dataDir} writable or set ${envName}`,
      { cause: err },
    );
  } finally {
    try {
      unlinkSync(tmp);
    } catch {
      // Already gone, or never made.
    }
  }
  return { token, source: 'generated', path };
}
