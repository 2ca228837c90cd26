/**
 * How `subscribe`, `unsubscribe`, `subscriptions` and `incidents` read their arguments: bare
 * `subscribe` still means the digest, and bad input says what was wrong and how to write it.
 */
import { describe, expect, it } from 'vitest';
import { parseCommand } from '../../../src/chat/commands/grammar.js';

const ok = (text: string) => {
  const r = parseCommand(text);
  if (!r.ok) throw new Error(r.error);
  return r.command;
};
const error = (text: string) => {
  const r = parseCommand(text);
  if (r.ok) throw new Error(`parsed: ${JSON.stringify(r.command)}`);
  return r.error;
};

describe('subscription commands', () => {
  it('reads the digest, a service (name or glob) and a team', () => {
    expect(ok('subscribe')).toEqual({ verb: 'subscribe', target: { scope: 'digest' } });
    expect(ok('subscribe digest')).toEqual({ verb: 'subscribe', target: { scope: 'digest' } });
    expect(ok('unsubscribe')).toEqual({ verb: 'unsubscribe', target: { scope: 'digest' } });
    expect(ok('subscribe service checkout-*')).toEqual({
      verb: 'subscribe',
      target: { scope: 'service', name: 'checkout-*' },
    });
    expect(ok('unsubscribe Team checkout')).toEqual({
      verb: 'unsubscribe',
      target: { scope: 'team', name: 'checkout' },
    });
    expect(ok('subscriptions')).toEqual({ verb: 'subscriptions' });
    expect(ok('incidents')).toEqual({ verb: 'incidents', filter: null });
    expect(ok('incidents team checkout')).toEqual({
      verb: 'incidents',
      filter: { scope: 'team', name: 'checkout' },
    });
  });

  it('says what was wrong and how to write it', () => {
    expect(error('subscribe servce web')).toBe(
      'say digest, service or team (did you mean service?) (usage: subscribe [digest|service <name>|team <name>])',
    );
    expect(error('subscribe team')).toContain('name one team: a team name like checkout');
    expect(error('subscribe service a b')).toContain(
      'name one service: a service name or glob like checkout',
    );
    expect(error('subscribe service <web>')).toContain('name one service');
    expect(error('subscribe digest weekly')).toContain('digest takes no name');
    expect(error('incidents digest')).toContain('say service or team');
    expect(error('subscriptions all')).toContain('subscriptions takes no arguments');
  });
});
