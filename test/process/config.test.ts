import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/process/config.js';

describe('configuration from env', () => {
  it('has embedded defaults that need nothing', () => {
    const c = loadConfig({}, '/srv/bot');
    expect(c.host).toBe('127.0.0.1');
    expect(c.port).toBe(8787);
    expect(c.dbFile).toBe('/srv/bot/data/autonomy.db');
    expect(c.dataDir).toBe('/srv/bot/data');
    expect(c.policyFile).toBe(join(import.meta.dirname, '..', '..', 'policies', 'default.policy.yaml'));
    expect(c.killAtStart).toBeNull();
    expect(c.logLevel).toBe('info');
  });

  it('resolves paths against the working directory and reads AUTONOMY_KILL', () => {
    const c = loadConfig(
      {
        AUTONOMY_DB: 'x/bot.db',
        AUTONOMY_POLICY: 'p.yaml',
        AUTONOMY_PORT: '9000',
        AUTONOMY_KILL: 'guardian, builder',
      },
      '/srv',
    );
    expect(c.dbFile).toBe('/srv/x/bot.db');
    expect(c.policyFile).toBe('/srv/p.yaml');
    expect(c.port).toBe(9000);
    expect(c.killAtStart).toEqual(['guardian', 'builder']);
    expect(loadConfig({ AUTONOMY_KILL: 'ALL' }).killAtStart).toBe('all');
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfig({ AUTONOMY_PORT: '' }).port).toBe(8787);
  });

  it('names each bad variable and what it takes', () => {
    expect(() =>
      loadConfig({ AUTONOMY_PORT: 'eighty', AUTONOMY_KILL: 'gardian', LOG_LEVEL: 'loud' }),
    ).toThrow(ConfigError);
    expect(() => loadConfig({ AUTONOMY_PORT: '70000', AUTONOMY_KILL: 'gardian' })).toThrow(
      /AUTONOMY_PORT[\s\S]*AUTONOMY_KILL: unknown agent "gardian"/,
    );
  });
});
