/**
 * A message code that opens a message (`AH01630:`, `ORA-00942:`) names the message the program
 * printed: two codes with the same words are two messages, and the code is not cut off with the
 * line's header nor masked as a number.
 */
import { describe, expect, it } from 'vitest';
import { maskMessage, stripHeader } from '../../../src/signals/signatures/mask.js';
import { SignatureMiner } from '../../../src/signals/signatures/miner.js';

const apache = (code: string, module: string, client: string, path: string) =>
  `[Fri May 14 08:58:50.113057 2024] [${module}:error] [pid 25173:tid 917435737950363] [client ${client}] ${code}: client denied by server configuration: ${path}`;

describe('message codes', () => {
  it('two codes with the same words are two signatures; one code with other values is one', () => {
    const miner = new SignatureMiner({ now: () => 0 });
    const a1 = miner.add(
      apache('AH01630', 'authz_core', '43.198.150.174:24564', '/var/www/html/server-status'),
    );
    const b1 = miner.add(
      apache('AH01797', 'access_compat', '57.109.160.12:11407', '/var/www/html/backup.sql'),
    );
    const a2 = miner.add(apache('AH01630', 'authz_core', '10.0.0.1:1', '/srv/www/.env'));
    const b2 = miner.add(apache('AH01797', 'access_compat', '10.0.0.2:2', '/srv/www/.git/config'));
    expect(miner.resolve(a1.signature)).toBe(miner.resolve(a2.signature));
    expect(miner.resolve(b1.signature)).toBe(miner.resolve(b2.signature));
    expect(miner.resolve(a1.signature)).not.toBe(miner.resolve(b1.signature));
    expect(a2.template).toBe('AH01630: client denied by server configuration: <*>');
  });

  it('stay apart however many codes share the words', () => {
    const miner = new SignatureMiner({ now: () => 0 });
    const codes = ['AH00101:', 'AH00102:', 'AH00103:', 'AH00104:', 'AH00105:', 'AH00106:', 'AH00107:'];
    const ids = new Set(codes.map((c) => miner.add(`${c} disk quota exceeded`).signature));
    expect(new Set([...ids].map((s) => miner.resolve(s))).size).toBe(codes.length);
  });

  it('the code starts the message: the header before it is cut, the code kept unmasked', () => {
    expect(stripHeader(apache('AH01630', 'authz_core', '1.2.3.4:5', '/x'))).toBe(
      'AH01630: client denied by server configuration: /x',
    );
    expect(maskMessage('ORA-00942: table or view does not exist')).toBe(
      'ORA-00942: table or view does not exist',
    );
    // a number that is not a code stays a value, and so does a device's number
    expect(maskMessage('1234: table or view does not exist')).toBe('<*>: table or view does not exist');
    expect(maskMessage('CPU001: temperature above threshold')).toBe('<*>: temperature above threshold');
  });
});
