import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { REJECT_REASONS } from '../../adapters/http/hooks/counters.js';
import { MissingEnvError, TemplateError } from '../../src/actions/executors/template.js';
import { GrantRefusal } from '../../src/actions/grants.js';
import { RunRefusedError } from '../../src/actions/run-required.js';
import { RunnerClosedError } from '../../src/actions/runner.js';
import { DeliveryError } from '../../src/chat/adapter.js';
import { loadOrCreateButtonKey } from '../../src/chat/button-key.js';
import { CommandRefusal } from '../../src/chat/commands/services.js';
import { OutboxError } from '../../src/chat/outbox.js';
import { backupDatabase, migrate, openDatabase } from '../../src/db/connection.js';
import { DemoError } from '../../src/demo/driver.js';
import { EvalFailure } from '../../src/eval/run-eval.js';
import { SkillTransitionError, UnknownSkillError } from '../../src/learning/skill-states.js';
import { ModelCallError } from '../../src/llm/types.js';
import { PolicyError } from '../../src/policy/errors.js';
import { ConfigError, loadConfig } from '../../src/process/config.js';
import { AutonomyError, ERROR_CODES, errorCode } from '../../src/process/errors.js';
import { TokenError } from '../../src/process/tokens.js';
import { ResearchError } from '../../src/research/errors.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'autonomy-errors-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('a coded error', () => {
  it('carries its code, keeps its cause, and says the fix in its message', () => {
    const cause = new Error('EADDRINUSE');
    const e = new AutonomyError('PORT_IN_USE', 'port 8787 is in use', { cause, fix: 'set AUTONOMY_PORT' });
    expect(e).toBeInstanceOf(Error);
    expect(e.code).toBe('PORT_IN_USE');
    expect(e.cause).toBe(cause);
    expect(e.fix).toBe('set AUTONOMY_PORT');
    expect(e.message).toBe('port 8787 is in use; set AUTONOMY_PORT');
    expect(e.name).toBe('AutonomyError');
    expect(errorCode(e)).toBe('PORT_IN_USE');
  });

  it('has no cause property when it was given none, and a plain Error has no code', () => {
    expect(Object.hasOwn(new AutonomyError('CLI_FAILED', 'x'), 'cause')).toBe(false);
    expect(errorCode(new Error('a bug'))).toBeNull();
    expect(errorCode('text')).toBeNull();
  });

  it('every documented code is thrown or answered somewhere (no stale rows in the table)', () => {
    const root = join(import.meta.dirname, '..', '..');
    const sources = ['src', 'adapters']
      .flatMap((d) =>
        readdirSync(join(root, d), { recursive: true, encoding: 'utf8' }).map((f) => join(root, d, f)),
      )
      .filter((f) => f.endsWith('.ts') && !f.endsWith(join('src', 'process', 'errors.ts')))
      .map((f) => readFileSync(f, 'utf8'))
      .join('\n');
    const hooks = REJECT_REASONS.map((r) => `HOOK_${r.toUpperCase()}`);
    const unused = Object.keys(ERROR_CODES).filter((c) => !hooks.includes(c) && !sources.includes(`'${c}'`));
    expect(unused).toEqual([]);
    expect(hooks.filter((c) => !(c in ERROR_CODES))).toEqual([]);
  });

  it('codes are UPPER_SNAKE and each is documented with a sentence', () => {
    for (const [code, text] of Object.entries(ERROR_CODES)) {
      expect(code).toMatch(/^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$/);
      expect(text.length).toBeGreaterThan(10);
    }
  });
});

describe('every error class has its stable code, name and unchanged message', () => {
  const cases: [AutonomyError<string>, string, string][] = [
    [new ConfigError('bad'), 'CONFIG_INVALID', 'ConfigError'],
    [new TokenError('short'), 'TOKEN_INVALID', 'TokenError'],
    [new PolicyError([]), 'POLICY_INVALID', 'PolicyError'],
    [new GrantRefusal('no'), 'GRANT_REFUSED', 'GrantRefusal'],
    [new RunRefusedError('restart', ['trigger']), 'RUN_REFUSED', 'RunRefusedError'],
    [new RunnerClosedError('closing'), 'RUNNER_CLOSED', 'RunnerClosedError'],
    [new TemplateError('bad'), 'TEMPLATE_ERROR', 'TemplateError'],
    [new MissingEnvError('TOKEN', 'hook'), 'MISSING_ENV', 'MissingEnvError'],
    [new ModelCallError('down', 503), 'MODEL_CALL_FAILED', 'ModelCallError'],
    [new DeliveryError('nope', { platform: 'slack' }), 'DELIVERY_FAILED', 'DeliveryError'],
    [new SkillTransitionError('k1', 'draft', 'validated'), 'SKILL_TRANSITION', 'SkillTransitionError'],
    [new UnknownSkillError('k9'), 'UNKNOWN_SKILL', 'UnknownSkillError'],
    [new EvalFailure('no server'), 'EVAL_NO_MODEL', 'EvalFailure'],
    [new DemoError('x'), 'DEMO_FAILED', 'DemoError'],
    [new DemoError('x', 1, { code: 'DEMO_REFUSED' }), 'DEMO_REFUSED', 'DemoError'],
    [new OutboxError('not a channel'), 'OUTBOX_INVALID', 'OutboxError'],
    [new CommandRefusal('a9 is not pending'), 'COMMAND_REFUSED', 'CommandRefusal'],
  ];
  it.each(cases)('%s', (error, code, name) => {
    expect(error).toBeInstanceOf(AutonomyError);
    expect(error.code).toBe(code);
    expect(error.name).toBe(name);
    expect(Object.keys(ERROR_CODES)).toContain(code);
  });

  it('keeps the messages callers and people read', () => {
    expect(new MissingEnvError('TOKEN', 'hook').message).toBe(
      'hook needs the env var TOKEN, which is not set; set it where the bot runs and restart',
    );
    expect(new PolicyError([]).message).toBe(
      'the policy is invalid; run `autonomy policy check` to see them all',
    );
    expect(new UnknownSkillError('k9').message).toBe('no skill "k9"; `/autonomy skills` lists them');
  });

  it('ResearchError keeps its kebab-case codes (agents branch on them, run records store them) and its cause', () => {
    const cause = new Error('ETIMEDOUT');
    const e = new ResearchError('timeout', 'too slow', { cause, status: 504 });
    expect(e).toBeInstanceOf(AutonomyError);
    expect(e.code).toBe('timeout');
    expect(e.status).toBe(504);
    expect(e.cause).toBe(cause);
    expect(e.name).toBe('ResearchError');
  });

  it('the delivery error keeps its platform code and cause', () => {
    const cause = new Error('ratelimited');
    const e = new DeliveryError('slow down', { platform: 'slack', platformCode: 'ratelimited', cause });
    expect(e.code).toBe('DELIVERY_FAILED');
    expect(e.options.platformCode).toBe('ratelimited');
    expect(e.cause).toBe(cause);
  });
});

describe('errors a person meets at start and at the shell are coded', () => {
  it('a bad environment: CONFIG_INVALID', () => {
    expect(() => loadConfig({ AUTONOMY_PORT: '70000' })).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining('AUTONOMY_PORT') }),
    );
  });

  it('a database that cannot be opened: DB_OPEN_FAILED, with the cause and the fix', () => {
    let caught: unknown;
    try {
      openDatabase(dir); // a folder, not a database file
    } catch (err) {
      caught = err;
    }
    expect(caught).toMatchObject({
      code: 'DB_OPEN_FAILED',
      message: expect.stringContaining('Check AUTONOMY_DB and that its folder is writable.'),
    });
    expect((caught as Error).cause).toBeInstanceOf(Error);
  });

  it('no migrations folder: DB_MIGRATIONS_MISSING; a backup onto a file: BACKUP_EXISTS', async () => {
    const database = openDatabase(join(dir, 'a.db'));
    try {
      expect(() => migrate(database, join(dir, 'none'))).toThrow(
        expect.objectContaining({
          code: 'DB_MIGRATIONS_MISSING',
          message: expect.stringContaining('reinstall it'),
        }),
      );
      writeFileSync(join(dir, 'copy.db'), '');
      await expect(backupDatabase(database, join(dir, 'copy.db'))).rejects.toMatchObject({
        code: 'BACKUP_EXISTS',
        message: `${join(dir, 'copy.db')} exists; choose a new file name (a backup never overwrites)`,
      });
    } finally {
      database.close();
    }
  });

  it('a damaged button key: BUTTON_KEY_INVALID, saying how to make a new one', () => {
    writeFileSync(join(dir, 'button-key'), 'not hex\n');
    expect(() => loadOrCreateButtonKey(join(dir, 'button-key'))).toThrow(
      expect.objectContaining({ code: 'BUTTON_KEY_INVALID', message: expect.stringContaining('Delete it') }),
    );
  });
});
