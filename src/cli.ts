#!/usr/bin/env node
/**
 * The `autonomy` command. Thin: parses arguments, calls into the modules, prints what happened.
 * Shell commands act as `cli:user:$USER` on the same database as the bot (for when chat is down).
 * Exit codes: 0 done, 1 failed (invalid policy, broken chain, ...), 2 bad usage.
 * The bot itself (main.ts: chat SDKs, charts, the browser; ~1 s of CPU to load) and the other heavy
 * modules load only in the commands that use them, so `autonomy kill` answers fast on a busy host.
 */
import { createWriteStream, realpathSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
import ms from 'ms';
import { acceptDriftBaselines } from './agents/guardian/drift.js';
import { allAgents } from './agents/index.js';
import { AgentJobs } from './agents/runtime/jobs.js';
import { AuditLog, type ExportFormat } from './audit/log.js';
import { runCommand } from './chat/commands/execute.js';
import { parseCommand } from './chat/commands/grammar.js';
import type { ChatMessage } from './chat/message.js';
import { activeContent, activeVersion } from './control/policy-versions.js';
import { ControlStore, isKilled } from './control/state.js';
import { type Core, createCore } from './core.js';
import { backupDatabase, type Database, migrate, openDatabase } from './db/connection.js';
import { DemoError, driveRunningBot, startDemo } from './demo/run.js';
import { formatSimulation, simulate } from './eval/simulate.js';
import { formatRoutingSimulation, simulateRouting } from './eval/simulate-routing.js';
import type { Bot } from './main.js';
import { formatIssue, PolicyError, sortIssues } from './policy/errors.js';
import { loadPolicyFile, parsePolicy } from './policy/load.js';
import { policyJsonSchema } from './policy/schema.js';
import { summarizePolicy } from './policy/summary.js';
import { AGENTS, type AgentName } from './policy/vocabulary.js';
import { type Config, ConfigError, loadConfig } from './process/config.js';
import { installCrashGuard } from './process/crash-guard.js';
import { AutonomyError, type ErrorCode } from './process/errors.js';
import { randomId } from './process/ids.js';
import { createLogger, type Logger } from './process/log.js';
import { packageRoot } from './process/package-root.js';
import { runningPid } from './process/pidfile.js';
import { keptToken } from './process/tokens.js';
import { runSignatures } from './signals/signatures/cli.js';

export interface CliIo {
  readonly stdin?: NodeJS.ReadableStream;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  readonly now: () => number;
}

/** A failure the user can fix: printed as-is (no stack), with its code and exit code (2: usage). */
class CliFailure extends AutonomyError {
  constructor(
    message: string,
    readonly exitCode = 1,
    code: ErrorCode = exitCode === 2 ? 'CLI_USAGE' : 'CLI_FAILED',
  ) {
    super(code, message);
  }
}

/** `cli:user:NAME` for the person at the shell (USER, else the OS account). */
export function cliActor(env: CliIo['env']): string {
  let name = env.USER ?? env.LOGNAME ?? '';
  if (name === '') {
    try {
      name = userInfo().username;
    } catch {
      name = 'unknown';
    }
  }
  const clean = name.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 64) || 'unknown';
  return `cli:user:${clean}`;
}

/** `2025-01-06`, `2025-01-06T09:00:00Z`, or a duration ago like `7d`, `12h`. */
function parseWhen(text: string, now: number, flag: string): number {
  if (/^[0-9]+(ms|s|m|h|d|w)$/.test(text)) return now - (ms(text as ms.StringValue) as number);
  const t = Date.parse(text);
  if (Number.isNaN(t)) {
    throw new CliFailure(
      `${flag} ${JSON.stringify(text)}: use a date (2025-01-06, ISO 8601) or an age like 7d`,
      2,
    );
  }
  return t;
}

function write(stream: NodeJS.WritableStream, text: string): void {
  stream.write(text.endsWith('\n') ? text : `${text}\n`);
}

/** Runs `autonomy ARGS`; resolves to the exit code (start resolves when the bot has started). */
export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  let config: Config | null = null;
  const cfg = (): Config => {
    config ??= loadConfig(io.env, io.cwd);
    return config;
  };
  const withDb = <T>(fn: (db: Database, audit: AuditLog) => T): T => {
    const database = openDatabase(cfg().dbFile);
    try {
      migrate(database);
      return fn(database, new AuditLog(database, { now: io.now }));
    } finally {
      database.close();
    }
  };
  const out = (text: string) => write(io.stdout, text);
  const chatVerb = async (text: string, channel = 'console:cli'): Promise<void> => {
    const parsed = parseCommand(text);
    if (!parsed.ok)
      throw new CliFailure(`${parsed.error}${parsed.usage ? `\nusage: autonomy ${parsed.usage}` : ''}`, 2);
    const reply = await withCore(cfg(), io, (core) =>
      runCommand(core.commands, { platform: 'cli', actor: cliActor(io.env), channel, text }),
    );
    out(formatReply(reply));
  };

  const program = new Command('autonomy')
    .description('Runs proactive agents under a written autonomy policy, with people in charge.')
    .showSuggestionAfterError(true)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    });

  program
    .command('start')
    .description('run the bot: migrate, load the policy, serve HTTP (GET /healthz); stops on SIGTERM')
    .action(async () => {
      const { startBot } = await import('./main.js');
      const bot = await startBot({ env: io.env, cwd: io.cwd, now: io.now });
      installCrashGuard({ log: bot.log, audit: (entry) => bot.audit.append(entry) });
      installSignalHandlers(bot);
    });

  program
    .command('demo')
    .description(
      'drive a scripted incident through the webhooks: starts a demo bot (policies/examples/demo.policy.yaml, ' +
        'fresh database) and keeps it running, or drives a running bot with --url',
    )
    .option('--url [url]', 'drive the bot running at URL (default: AUTONOMY_HOST:AUTONOMY_PORT) instead')
    .option('--data <dir>', "keep the demo bot's database, log and work folder in this empty folder")
    .option('--pause <ms>', 'pause between steps, in ms', '1500')
    .option('--wait <seconds>', 'how long to wait for the agents after the last step', '20')
    .action(async (opts: { url?: string | true; data?: string; pause: string; wait: string }) => {
      const count = (text: string, flag: string): number => {
        if (!/^[0-9]{1,7}$/.test(text))
          throw new CliFailure(`${flag} ${JSON.stringify(text)}: a whole number`, 2);
        return Number(text);
      };
      const demoIo = {
        env: io.env,
        cwd: io.cwd,
        now: io.now,
        out,
        pauseMs: count(opts.pause, '--pause'),
        waitMs: count(opts.wait, '--wait') * 1000,
      };
      if (opts.url !== undefined) {
        const r = await driveRunningBot({ ...demoIo, url: opts.url === true ? undefined : opts.url });
        if (r.failed > 0) throw new CliFailure(`${r.failed} of ${r.steps} step(s) were refused`);
        return;
      }
      const { startBot } = await import('./main.js');
      const demo = await startDemo({ ...demoIo, start: startBot, dataDir: opts.data });
      stopOnSignals(demo.stop, demo.bot.log, () => out('demo bot stopped'));
      out(demo.stopHint);
    });

  program
    .command('migrate')
    .description('apply database migrations (the bot also does this at start)')
    .action(() => {
      const database = openDatabase(cfg().dbFile);
      try {
        const r = migrate(database);
        out(`${cfg().dbFile}: ${r.applied} migration(s) applied, ${r.total} in all`);
      } finally {
        database.close();
      }
    });

  program
    .command('backup <file>')
    .description('write a consistent copy of the database while the bot runs (never overwrites)')
    .action(async (file: string) => {
      const target = resolve(io.cwd, file);
      const database = openDatabase(cfg().dbFile);
      try {
        const r = await backupDatabase(database, target);
        out(`backup of ${cfg().dbFile} written to ${target} (${r.pages} pages)`);
      } catch (err) {
        if (err instanceof AutonomyError) throw err;
        throw new CliFailure((err as Error).message);
      } finally {
        database.close();
      }
    });

  program
    .command('digest')
    .description(
      'the weekly metrics digest (last complete week vs the one before; the week so far until a complete week has data)',
    )
    .option('-p, --preview', 'print it here instead of posting it')
    .option('-c, --channel <channel>', 'post it to this channel (default: the policy digest channels)')
    .action(async (opts: { preview?: boolean; channel?: string }) => {
      const database = openDatabase(cfg().dbFile);
      try {
        migrate(database);
        const active = activeContent(database);
        const loaded = active
          ? parsePolicy(active.content, active.sourcePath)
          : await loadPolicyFile(cfg().policyFile);
        if (!loaded.ok) throw new PolicyError(loaded.issues);
        if (opts.preview || opts.channel === undefined) {
          const { buildDigest } = await import('./metrics/digest.js');
          const digest = await buildDigest({
            database,
            policy: loaded.policy,
            now: io.now(),
            dataDir: cfg().dataDir,
            weekSoFar: true,
          });
          out(digest.text);
          if (digest.chartFile !== null) out(`chart: ${digest.chartFile}`);
          for (const warning of digest.warnings) write(io.stderr, warning);
          if (!opts.preview) out('(use --channel CHANNEL to post it, or /autonomy digest in chat)');
          return;
        }
      } finally {
        database.close();
      }
      await chatVerb('digest', opts.channel);
    });

  program
    .command('simulate')
    .description(
      "replay stored proposals through decide() under a candidate policy and show what would change, and where the period's incident cards would have gone",
    )
    .requiredOption('--policy <file>', 'the candidate policy file')
    .option('--since <age>', 'how far back (e.g. 7d, 24h) or a date', '7d')
    .action(async (opts: { policy: string; since: string }) => {
      const loaded = await loadPolicyFile(resolve(io.cwd, opts.policy));
      if (!loaded.ok) {
        for (const issue of loaded.issues) write(io.stderr, formatIssue(issue));
        throw new CliFailure(`${loaded.issues.length} error(s) in the candidate policy`, 2, 'POLICY_INVALID');
      }
      const t = io.now();
      const since = parseWhen(opts.since, t, '--since');
      const database = openDatabase(cfg().dbFile);
      try {
        migrate(database);
        out(formatSimulation(simulate(database, loaded.policy, { since, now: t })));
        out(`\n${formatRoutingSimulation(simulateRouting(database, loaded.policy, { since, now: t }))}`);
      } finally {
        database.close();
      }
    });

  program
    .command('eval')
    .description(
      "run the eval scenarios through each agent's turn with a model (executing nothing) and print a scorecard per model",
    )
    .option(
      '-m, --model <name>',
      'a model to evaluate (repeat for several side by side; default: the policy local model)',
      (v: string, all: string[] | undefined) => [...(all ?? []), v],
    )
    .option('--host <url>', 'the model server (default: the policy model host, else OLLAMA_HOST)')
    .option('--scenarios <dir>', 'the scenario folder', join(packageRoot(), 'eval', 'scenarios'))
    .option(
      '--agent <name>',
      "only this agent's scenarios (repeatable)",
      (v: string, all: string[] | undefined) => [...(all ?? []), v],
    )
    .option('--policy <file>', 'the policy whose catalog and model caps apply (default: AUTONOMY_POLICY)')
    .option('--json', 'print one JSON document: each scorecard and every scenario result')
    .action(
      async (opts: {
        model?: string[];
        host?: string;
        scenarios: string;
        agent?: string[];
        policy?: string;
        json?: boolean;
      }) => {
        const file = opts.policy === undefined ? cfg().policyFile : resolve(io.cwd, opts.policy);
        const loaded = await loadPolicyFile(file);
        if (!loaded.ok) throw new PolicyError(loaded.issues);
        if (opts.host !== undefined && !/^https?:\/\/[^\s]+$/.test(opts.host))
          throw new CliFailure(`--host ${JSON.stringify(opts.host)}: a URL like http://127.0.0.1:11434`, 2);
        const agents = opts.agent ?? [];
        const unknown = agents.find((a) => !(AGENTS as readonly string[]).includes(a));
        if (unknown !== undefined)
          throw new CliFailure(`--agent ${JSON.stringify(unknown)}: one of ${AGENTS.join(', ')}`, 2);
        const { evalCommand } = await import('./eval/eval-command.js');
        const { createOllamaClient } = await import('../adapters/ollama/ollama-client.js');
        await evalCommand({
          scenariosDir: resolve(io.cwd, opts.scenarios),
          policy: loaded.policy,
          models: opts.model ?? [],
          agents: agents as AgentName[],
          ...(opts.host === undefined ? {} : { host: opts.host }),
          defaultHost: cfg().ollamaHost,
          client: createOllamaClient(),
          env: io.env,
          json: opts.json === true,
          out,
          err: (text) => write(io.stderr, text),
        });
      },
    );

  program
    .command('signatures')
    .description('group log lines from stdin into error signatures: one JSON line out per line in')
    .action(async () => {
      const r = await runSignatures(io.stdin ?? process.stdin, io.stdout);
      write(io.stderr, `${r.lines} line(s), ${r.templates} signature(s)`);
    });

  program
    .command('drift')
    .description("guardian's drift baselines")
    .command('accept [files...]')
    .description(
      'record the current content of watched files (default: all of drift.watch) as their baseline',
    )
    .action(async (files: string[] = []) => {
      const loaded = await loadPolicyFile(cfg().policyFile);
      if (!loaded.ok) throw new PolicyError(loaded.issues);
      try {
        const accepted = await acceptDriftBaselines(
          loaded.policy,
          join(cfg().dataDir, 'agents', 'guardian'),
          io.now(),
          files,
        );
        if (accepted.length === 0) out('drift.watch lists no files: nothing to accept');
        for (const r of accepted) out(`${r.file}: ${r.result}`);
      } catch (err) {
        if (err instanceof AutonomyError) throw err;
        throw new CliFailure((err as Error).message);
      }
    });

  program
    .command('discord')
    .description('Discord set-up')
    .command('register')
    .description('install the /autonomy slash command in DISCORD_GUILD_ID, else globally')
    .action(async () => {
      const discord = cfg().discord;
      if (discord === null)
        throw new CliFailure('set DISCORD_TOKEN to the bot token first', 2, 'CONFIG_INVALID');
      const { registerCommands } = await import('../adapters/discord/commands.js');
      const { scope } = await registerCommands({
        token: discord.token,
        guildId: discord.guildId ?? undefined,
        apiUrl: discord.apiUrl ?? undefined,
      });
      out(
        scope === 'guild'
          ? `/autonomy registered in guild ${discord.guildId}`
          : '/autonomy registered globally (Discord may take up to an hour to show it)',
      );
    });

  const policy = program.command('policy').description('check, print the schema of, or reload the policy');
  policy
    .command('check [file]')
    .description(
      'validate a policy file (default: AUTONOMY_POLICY); every error as FILE:LINE:COL  path  message',
    )
    .action(async (file: string | undefined) => {
      const path = file === undefined ? cfg().policyFile : resolve(io.cwd, file);
      const result = await loadPolicyFile(path);
      for (const issue of sortIssues([...(result.ok ? [] : result.issues), ...result.warnings])) {
        write(io.stderr, formatIssue(issue));
      }
      if (!result.ok) {
        throw new CliFailure(`${result.issues.length} error(s); the file is not valid`, 1, 'POLICY_INVALID');
      }
      out(summarizePolicy(result.policy));
    });
  policy
    .command('schema')
    .description('print the JSON Schema of policy files (for editors)')
    .action(() => out(JSON.stringify(policyJsonSchema(), null, 2)));
  policy
    .command('reload')
    .description('make the running bot reload its policy file now, and print the outcome')
    .action(async () => reloadRunningBot(cfg(), io));

  program
    .command('kill <agent>')
    .description('stop an agent (or all) at once; the running bot obeys within a second')
    .argument('[reason...]', 'why (recorded in the audit log)')
    .option('-r, --reason <text>', 'why (recorded in the audit log)')
    .action(async (agent: string, words: string[], opts: { reason?: string }) => {
      const reason = opts.reason ?? words.join(' ');
      await chatVerb(`kill ${agent} ${reason}`.trim());
      out(botNotice(cfg()));
    });
  program
    .command('resume <agent>')
    .description('lift a kill switch (resume all lifts the global one only)')
    .argument('[reason...]', 'why (recorded in the audit log)')
    .action(async (agent: string, words: string[]) => {
      await chatVerb(`resume ${agent} ${words.join(' ')}`.trim());
      out(botNotice(cfg()));
    });

  // The chat verbs, for when chat is down: same grammar, same services, acting as cli:user:$USER.
  const verbs: [string, string][] = [
    ['status', 'phase, kill switches, mutes, budgets, approvals, incidents, outbox, health'],
    ['approvals', 'list pending approval requests'],
    ['approve <id>', 'approve a tier 3 request (runs it here and waits for it)'],
    ['deny <id> [reason...]', 'deny a tier 3 request'],
    ['incidents [args...]', 'list open incidents, or: incidents service <name|glob> / incidents team <name>'],
    ['ack <id>', 'acknowledge an incident'],
    ['resolve <id> [note...]', 'resolve an incident'],
    ['mute <kind> <name> <duration> [reason...]', 'hold back posts: kind is agent, signature or service'],
    ['unmute <kind> <name>', 'lift a mute'],
    ['phase [args...]', 'show the rollout phase, or: phase <1-4> [agent] <reason>'],
    ['budget [args...]', 'show token budgets, or: budget <agent> <tokens>'],
    ['skills', 'list learned skills'],
  ];
  for (const [usage, description] of verbs) {
    program
      .command(usage)
      .description(description)
      .allowExcessArguments(false)
      .action(async (...args: unknown[]) => {
        const words = args
          .slice(0, -2)
          .flatMap((a) => (Array.isArray(a) ? a : a === undefined ? [] : [String(a)]))
          .map((w) => (/\s/.test(w) ? `"${w.replaceAll('"', '')}"` : w));
        await chatVerb([usage.split(' ')[0], ...words].join(' '));
      });
  }

  const audit = program.command('audit').description('verify, export or purge the hash-chained audit log');
  audit
    .command('run <run-id>')
    .description("show a run's audit trail")
    .action(async (runId: string) => chatVerb(`audit ${runId}`));
  audit
    .command('verify')
    .description('check every hash and link; exit 0 when the chain is whole, else name the first bad record')
    .action(() => {
      const result = withDb((_db, log) => log.verify());
      if (!result.ok) {
        throw new CliFailure(
          `audit chain broken at record ${result.seq}: ${result.reason}`,
          1,
          'AUDIT_CHAIN_BROKEN',
        );
      }
      out(`audit chain intact: ${result.count} record(s)`);
    });
  audit
    .command('export')
    .description('write the audit log as JSON lines or CSV (fields: see README)')
    .addOption(
      new Option('-f, --format <format>', 'output format').choices(['jsonl', 'csv']).default('jsonl'),
    )
    .option('-s, --since <when>', 'only records at or after a date (2025-01-06) or an age (7d)')
    .option('-o, --out <file>', 'write to a file instead of stdout')
    .action(async (opts: { format: ExportFormat; since?: string; out?: string }) => {
      const since = opts.since === undefined ? undefined : parseWhen(opts.since, io.now(), '--since');
      const target = opts.out === undefined ? io.stdout : createWriteStream(opts.out, { flags: 'wx' });
      withDb((_db, log) => {
        for (const chunk of log.export({ format: opts.format, since })) target.write(chunk);
      });
      if (target !== io.stdout) await new Promise<void>((done) => target.end(done));
    });
  audit
    .command('purge')
    .description("delete records older than the policy's evidence retention, leaving a checkpoint")
    .option('-b, --before <when>', 'purge records before a date or age instead (e.g. 90d)')
    .action(async (opts: { before?: string }) => {
      let before: number;
      if (opts.before !== undefined) before = parseWhen(opts.before, io.now(), '--before');
      else {
        const loaded = await loadPolicyFile(cfg().policyFile);
        if (!loaded.ok) throw new PolicyError(loaded.issues);
        before = io.now() - loaded.policy.retentionMs;
      }
      const r = withDb((_db, log) => log.purge(before, cliActor(io.env)));
      out(
        r.purged === 0
          ? `nothing older than ${new Date(before).toISOString()}`
          : `purged ${r.purged} record(s) older than ${new Date(before).toISOString()}; checkpoint at record ${r.checkpoint?.seq}`,
      );
    });

  try {
    await program.parseAsync(argv as string[], { from: 'user' });
    return 0;
  } catch (err) {
    return reportError(err, io);
  }
}

function reportError(err: unknown, io: CliIo): number {
  if (err instanceof CommanderError) {
    // Commander has already printed the message (with "Did you mean ...?" for typos).
    return err.exitCode === 0 ? 0 : 2;
  }
  if (err instanceof PolicyError) {
    for (const issue of err.issues) write(io.stderr, formatIssue(issue));
    write(
      io.stderr,
      `error [${err.code}]: the policy is not valid (${err.issues.length} error(s)); nothing was started`,
    );
    return 1;
  }
  if (err instanceof AutonomyError) {
    write(io.stderr, `error [${err.code}]: ${err.message}`);
    return err instanceof CliFailure || err instanceof DemoError
      ? err.exitCode
      : err instanceof ConfigError
        ? 2
        : 1;
  }
  // No code: a bug or a library's error; the stack is there with LOG_LEVEL=debug.
  const e = err as Error;
  write(io.stderr, `error: ${e?.message ?? String(err)}`);
  if (io.env.LOG_LEVEL === 'debug' || io.env.LOG_LEVEL === 'trace') write(io.stderr, String(e?.stack ?? ''));
  return 1;
}

/** The ingest and console tokens the bot uses, by env name, where there are any. */
function botTokens(config: Config): Map<string, string> {
  const tokens = new Map<string, string>();
  const ingest = keptToken(config.dataDir, 'ingest-token', config.ingestToken ?? undefined);
  const consoleToken = keptToken(config.dataDir, 'console-token', config.consoleToken ?? undefined);
  if (ingest !== null) tokens.set('AUTONOMY_INGEST_TOKEN', ingest);
  if (consoleToken !== null) tokens.set('AUTONOMY_CONSOLE_TOKEN', consoleToken);
  return tokens;
}

/** Opens the core on the database, under the policy version the bot enforces (or the file, before any start). */
async function withCore<T>(config: Config, io: CliIo, fn: (core: Core) => Promise<T>): Promise<T> {
  const database = openDatabase(config.dbFile);
  try {
    migrate(database);
    const audit = new AuditLog(database, { now: io.now });
    const control = new ControlStore(database, audit, { now: io.now });
    const active = activeContent(database);
    const loaded = active
      ? parsePolicy(active.content, active.sourcePath)
      : await loadPolicyFile(config.policyFile);
    if (!loaded.ok) throw new PolicyError(loaded.issues);
    const core = createCore({
      config,
      database,
      audit,
      control,
      policy: () => loaded.policy,
      policyVersion: () => activeVersion(database)?.id ?? 0,
      lastPolicyError: () => null,
      now: io.now,
      newId: randomId,
      env: io.env,
      // The bot's own tokens, if it made any: redacted like the bot redacts them (never made here).
      secrets: () => botTokens(config),
      log: createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel),
    });
    // A resolution typed here feeds the learning loop as one in chat does: the mentor's job is
    // written in the resolution's transaction, and the running bot takes it up within LOOK_MS
    // (agents/runtime/dispatch.ts), or the next bot at its start. Built on the first resolution
    // (its statements are prepared then, not for every other verb).
    let jobs: AgentJobs | null = null;
    core.incidents.onResolvedByPerson((heard) => {
      for (const stored of heard) {
        try {
          jobs ??= new AgentJobs({
            database,
            audit,
            now: io.now,
            newId: randomId,
            agents: allAgents({ database, skills: core.skills }),
            policy: () => loaded.policy,
            isKilled: (agent) => isKilled(control.snapshot(), agent),
          });
          jobs.raise(stored);
        } catch (err) {
          // The resolution is what the person asked for: it stands without the job (as in the bot).
          io.stderr.write(`warning: no mentor job for this resolution: ${(err as Error).message}\n`);
        }
      }
    });
    const result = await fn(core);
    await core.approvals.settled();
    return result;
  } finally {
    database.close();
  }
}

/** A reply message as terminal text: title, body, then each field. */
export function formatReply(reply: ChatMessage): string {
  const lines = [reply.title];
  if (reply.body) lines.push(reply.body);
  for (const f of reply.fields) {
    lines.push(
      f.value.includes('\n')
        ? `${f.label}:\n  ${f.value.split('\n').join('\n  ')}`
        : `${f.label}: ${f.value}`,
    );
  }
  return lines.join('\n');
}

function botNotice(config: Config): string {
  const pid = runningPid(config.dataDir);
  return pid === null
    ? `(no bot is running on ${config.dbFile}; the setting is kept for its next start)`
    : `(the running bot, pid ${pid}, obeys within a second)`;
}

const RELOAD_KINDS = new Set(['policy.load', 'policy.reject', 'policy.unchanged']);

async function reloadRunningBot(config: Config, io: CliIo): Promise<void> {
  const pid = runningPid(config.dataDir);
  if (pid === null) {
    throw new CliFailure(
      `no bot is running on ${config.dbFile}; it loads the policy when it starts (check a file with: autonomy policy check FILE)`,
      1,
      'CLI_NO_BOT',
    );
  }
  const database = openDatabase(config.dbFile);
  try {
    const log = new AuditLog(database, { now: io.now });
    const asked = log.append({ kind: 'policy.reload', actor: cliActor(io.env), trigger: 'cli' });
    process.kill(pid, 'SIGHUP');
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const answer = log.records({ afterSeq: asked.seq, limit: 50 }).find((r) => RELOAD_KINDS.has(r.kind));
      if (answer !== undefined) {
        const data = (answer.data ?? {}) as { errors?: string[]; version?: number };
        if (answer.kind === 'policy.reject') {
          for (const line of data.errors ?? []) write(io.stderr, line);
          throw new CliFailure(`policy rejected: ${answer.outcome}`, 1, 'POLICY_INVALID');
        }
        write(io.stdout, answer.outcome ?? answer.kind);
        return;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new CliFailure(`the bot (pid ${pid}) did not answer within 10 s; see its log`);
  } finally {
    database.close();
  }
}

function installSignalHandlers(bot: Bot): void {
  process.on('SIGHUP', () => {
    void bot.policy.reload('system:sighup', 'signal');
  });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      bot.log.warn({ signal }, 'second signal: exiting now');
      process.exit(130);
    }
    stopping = true;
    bot.log.info({ signal }, 'stopping');
    bot.stop().then(
      () => process.exit(0),
      (err) => {
        bot.log.error({ err }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

/** The demo bot: stop it (and remove its temp folder) on Ctrl-C or SIGTERM; a second signal exits at once. */
function stopOnSignals(stop: () => Promise<void>, log: Logger, done: () => void): void {
  let stopping = false;
  const onSignal = (signal: string) => {
    if (stopping) process.exit(130);
    stopping = true;
    log.info({ signal }, 'stopping the demo');
    stop().then(
      () => {
        done();
        process.exit(0);
      },
      (err) => {
        log.error({ err }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
}

function isMain(): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) {
  // `autonomy audit export | head`: the reader went away; that is not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  try {
    process.loadEnvFile('.env');
  } catch {
    // No .env in the working directory: the environment alone configures the bot.
  }
  const code = await run(process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    cwd: process.cwd(),
    now: Date.now,
  });
  // `start` keeps running (its server holds the event loop); every other command ends here.
  if (code !== 0) process.exit(code);
}
