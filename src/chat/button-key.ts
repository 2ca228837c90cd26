/**
 * The nonce on a chat button (approve, deny, grant, ack): HMAC-SHA256 of (what, its id) under a
 * key kept beside the database, so a click can be checked without trusting the platform payload
 * and without storing anything per message.
 *
 * Why a derived nonce rather than a random one stored with the approval: no schema change; nothing
 * secret sits in the database, so a backup, an `audit export` or a read-only copy of the file
 * cannot be used to forge clicks; it survives restarts (the key is a file, like `console-token`);
 * and because approval ids are random, a button left over from an older database whose `a12` was
 * another request never matches the new `a12`. Losing the key file only retires outstanding buttons:
 * the typed `/autonomy approve a12` still works.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { linkSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { AutonomyError } from '../process/errors.js';

export type ButtonScope = 'approval' | 'incident';

const NONCE_CHARS = 32; // 192 bits of base64url: far beyond guessing, inside the button's 64-char limit
const KEY_BYTES = 32;

export class ButtonKey {
  private readonly key: Buffer;

  constructor(secret: Uint8Array | string) {
    const key = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : Buffer.from(secret);
    if (key.length < 16) {
      throw new RangeError(`a button key needs at least 16 bytes of secret, got ${key.length}`);
    }
    this.key = key;
  }

  /** The nonce for buttons acting on this approval or incident (stable: same input, same nonce). */
  nonce(scope: ButtonScope, id: string): string {
    return createHmac('sha256', this.key).update(`${scope}:${id}`).digest('base64url').slice(0, NONCE_CHARS);
  }

  /** Does `nonce` belong to this approval or incident? Constant time; any non-string is false. */
  verify(scope: ButtonScope, id: string, nonce: unknown): boolean {
    if (typeof nonce !== 'string' || nonce.length !== NONCE_CHARS) return false;
    return timingSafeEqual(Buffer.from(nonce), Buffer.from(this.nonce(scope, id)));
  }
}

/**
 * Reads the key from `file` (hex), or makes one (32 random bytes, mode 600) when there is none.
 * Two processes starting at once agree: the second finds the file the first wrote.
 */
export function loadOrCreateButtonKey(file: string): ButtonKey {
  const existing = readKeyFile(file);
  if (existing !== null) return new ButtonKey(existing);
  // Written aside, then linked into place: the file appears whole or not at all, and link() fails
  // with EEXIST when another process got there first (its key wins).
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    writeFileSync(tmp, `${randomBytes(KEY_BYTES).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
    linkSync(tmp, file);
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new AutonomyError(
        'BUTTON_KEY_INVALID',
        `cannot write the button key ${file}: ${(cause as Error).message}. Check that the data folder is writable.`,
        { cause },
      );
    }
  } finally {
    rmSync(tmp, { force: true });
  }
  const made = readKeyFile(file);
  if (made === null) {
    throw new AutonomyError('BUTTON_KEY_INVALID', `the button key ${file} vanished while it was being made`, {
      fix: 'start again',
    });
  }
  return new ButtonKey(made);
}

function readKeyFile(file: string): Buffer | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new AutonomyError(
      'BUTTON_KEY_INVALID',
      `cannot read the button key ${file}: ${(cause as Error).message}`,
      {
        cause,
        fix: 'check that the bot can read the data folder',
      },
    );
  }
  if (!/^[0-9a-f]{32,128}$/.test(text)) {
    throw new AutonomyError(
      'BUTTON_KEY_INVALID',
      `the button key ${file} is damaged (expected 64 hex characters). Delete it to make a new one; ` +
        'buttons already posted will then be refused (typed `/autonomy approve <id>` still works).',
    );
  }
  return Buffer.from(text, 'hex');
}
