/**
 * `autonomy demo`: a scripted incident driven through a bot's own webhooks.
 *
 * - `startDemo`: starts a bot in this process on policies/examples/demo.policy.yaml with a fresh
 *   database in a temp folder (harmless actions, phase 3, console only), prints the console URL,
 *   drives the script, waits for the agents, and keeps the bot running until stopped.
 * - `driveRunningBot`: drives a bot that is already running (`--url`); what happens then is whatever
 *   its policy allows. Its ingest token comes from AUTONOMY_INGEST_TOKEN or the data folder of
 *   AUTONOMY_DB; the CI failure is a signed GitHub delivery when GITHUB_WEBHOOK_SECRET is set.
 * The bot is passed in (`start`), so this module needs no adapter and tests can start their own.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import type { Bot, BotOptions } from '../main.js';
import { loadConfig } from '../process/config.js';
import { errorCode } from '../process/errors.js';
import { packageRoot } from '../process/package-root.js';
import { ConsoleFeed, type FeedEntry, sleep, waitForReactions } from './console-feed.js';
import { accepted, botFacts, DemoError, describeAnswer, type Fetch, send, type Target } from './driver.js';
import { workflowRunExample } from './payloads.js';
import { demoSteps } from './script.js';

export { DemoError } from './driver.js';

export interface DemoOptions {
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The working directory (the bot's actions run `node demo/actions/...` relative to it). */
  readonly cwd: string;
  readonly now: () => number;
  readonly out: (line: string) => void;
  /** Between steps (default 1500 ms). */
  readonly pauseMs?: number;
  /** How long to wait for the agents after the last step (default 20 s). */
  readonly waitMs?: number;
  readonly fetch?: Fetch;
}

export interface DriveResult {
  readonly steps: number;
  readonly failed: number;
  /** What the console showed after the steps (empty when it could not be read). */
  readonly feed: readonly FeedEntry[];
  /** Approval requests that appeared (short ids, e.g. a1). */
  readonly approvals: readonly string[];
}

export interface RunningDemo {
  readonly bot: Bot;
  /** The demo folder: data/ (database, tokens), work/ (what the actions touch), bot.log. */
  readonly dir: string;
  readonly result: DriveResult;
  /**
   * The last line to print, how to stop the demo: the caller prints it once Ctrl-C is handled (a
   * script that stops the demo on seeing it otherwise kills it before it can clean up).
   */
  readonly stopHint: string;
  /** Stops the bot; removes the demo folder unless it was given with --data. */
  stop(): Promise<void>;
}

export const DEMO_POLICY = join('policies', 'examples', 'demo.policy.yaml');

/** Env the demo bot never inherits: other chat platforms, kill switches, the user's tokens and URLs. */
const NOT_INHERITED = [
  /^SLACK_/,
  /^DISCORD_/,
  /^AUTONOMY_(KILL|HEARTBEAT_URL|PUBLIC_URL|INGEST_TOKEN|CONSOLE_TOKEN|CONSOLE|POLICY|DB|DEMO_DIR)$/,
  /^GITHUB_WEBHOOK_SECRET$/,
];

const short = (text: string, max = 96) => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);

function feedLine(e: FeedEntry): string {
  const ref = e.approval ?? e.incident ?? '';
  const by = e.writtenBy === 'model' ? '  [model-written]' : e.writtenBy === 'rules' ? '  [rules]' : '';
  return `  ${e.kind.padEnd(10)} ${ref.padEnd(5)} ${short(e.title)}${by}`;
}

/** One line on who wrote the agents' posts: the model's assessments, or rules alone. */
function writtenByLine(entries: readonly FeedEntry[]): string | null {
  const model = entries.filter((e) => e.writtenBy === 'model').length;
  const rules = entries.filter((e) => e.writtenBy === 'rules').length;
  if (model + rules === 0) return null;
  if (model === 0) {
    return (
      `The agents ran on rules: no model answered, so their ${rules} post(s) are marked "Written by: rules". ` +
      "With a model reachable (README: 'Running a real small model with Ollama') they carry its assessment."
    );
  }
  return `${model} agent post(s) carry the model's assessment, marked "Written by: a model" (untrusted text: check before acting on it); ${rules} by rules.`;
}

/** Sends every step, prints what the bot answered, then waits for and prints what it posted. */
async function drive(
  target: Target,
  feed: ConsoleFeed | null,
  o: DemoOptions,
  withExpectations: boolean,
): Promise<DriveResult> {
  const fetchFn = o.fetch ?? fetch;
  const pauseMs = o.pauseMs ?? 1500;
  const waitMs = o.waitMs ?? 20_000;
  const ctx = { runId: randomUUID().replaceAll('-', '').slice(0, 12), now: o.now() };
  const steps = demoSteps(ctx, workflowRunExample(), { github: target.githubSecret !== null });
  const cursor = feed === null ? null : await feed.cursor();
  let failed = 0;
  for (const [i, step] of steps.entries()) {
    if (i > 0 && pauseMs > 0) await sleep(pauseMs);
    o.out(`${i + 1}/${steps.length}  ${step.title}`);
    if (step.note) o.out(`     (${step.note})`);
    let request = step.request;
    let answer = await send(target, request, fetchFn);
    if (answer.status === 503 && step.fallback) {
      o.out(`     (${step.fallback.note})`);
      request = step.fallback.request;
      answer = await send(target, request, fetchFn);
    }
    if (!accepted(answer)) failed++;
    o.out(`     POST ${request.path} -> ${describeAnswer(answer)}`);
    if (withExpectations) o.out(`     expect: ${step.expect}`);
  }
  o.out('');
  if (feed === null || cursor === null) {
    o.out('(no console token here, so the demo cannot show what the bot posted: open its console)');
    return { steps: steps.length, failed, feed: [], approvals: [] };
  }
  if (waitMs > 0) o.out(`Waiting up to ${Math.round(waitMs / 1000)} s for the agents to react...`);
  const entries = await waitForReactions(feed, cursor, { waitMs });
  const approvals = [
    ...new Set(
      entries.filter((e) => e.kind === 'approval' && e.approval !== null).map((e) => e.approval as string),
    ),
  ];
  o.out(`The console shows ${entries.length} new message(s):`);
  for (const e of entries) o.out(feedLine(e));
  const by = writtenByLine(entries);
  if (by !== null) o.out(by);
  return { steps: steps.length, failed, feed: entries, approvals };
}

function whatNext(result: DriveResult, consoleUrl: string | null, waitMs: number): string[] {
  const lines: string[] = [''];
  if (result.failed > 0) lines.push(`${result.failed} step(s) were refused: see the lines above.`);
  const pending = result.feed.filter((e) => e.kind === 'approval' && e.buttons && e.approval !== null);
  if (pending.length > 0) {
    for (const p of pending) lines.push(`Waiting for you: ${short(p.title, 120)} (${p.approval}).`);
    lines.push(
      `Approve or deny it in the console${consoleUrl ? `: ${consoleUrl}` : ''} (it then runs, or not, and says so there).`,
    );
  } else if (result.feed.length > 0 || consoleUrl !== null) {
    lines.push(
      `No new approval request within ${Math.round(waitMs / 1000)} s: one may be waiting already ` +
        '(/autonomy approvals in the console), or the policy asks for none here (/autonomy status; the bot log says more).',
    );
  }
  return lines;
}

function readTokenFile(path: string): string | null {
  try {
    const text = readFileSync(path, 'utf8').trim();
    return text === '' ? null : text;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new DemoError(`cannot read ${path}: ${(err as Error).message}`, 1, { cause: err });
  }
}

function localUrl(host: string, port: number): string {
  const h = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return `http://${h.includes(':') ? `[${h}]` : h}:${port}`;
}

/** Drives a bot that is already running at `url` (default AUTONOMY_HOST:AUTONOMY_PORT). */
export async function driveRunningBot(o: DemoOptions & { readonly url?: string }): Promise<DriveResult> {
  const config = loadConfig(o.env, o.cwd);
  let url = (o.url ?? localUrl(config.host, config.port)).replace(/\/+$/, '');
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('not http(s)');
    url = parsed.origin;
  } catch {
    throw new DemoError(
      `--url ${JSON.stringify(url)}: give the bot's address, e.g. http://127.0.0.1:8787`,
      2,
      { code: 'CLI_USAGE' },
    );
  }
  let ingestToken = config.ingestToken;
  let tokenSource = 'AUTONOMY_INGEST_TOKEN';
  if (ingestToken === null) {
    const file = join(config.dataDir, 'ingest-token');
    ingestToken = readTokenFile(file);
    tokenSource = file;
    if (ingestToken === null) {
      throw new DemoError(
        `no ingest token: set AUTONOMY_INGEST_TOKEN to the bot's token, or AUTONOMY_DB to its database ` +
          `(the token is kept next to it, in ingest-token; there is none in ${config.dataDir})`,
        1,
        { code: 'DEMO_NO_TOKEN' },
      );
    }
  }
  const facts = await botFacts(url, o.fetch);
  o.out(`autonomy demo: driving the bot at ${url}`);
  o.out(
    `  policy ${facts.policyFile ?? '(unknown)'}, phase ${facts.phase ?? '?'}: what happens next is up to that policy`,
  );
  o.out(`  ingest token from ${tokenSource}`);
  o.out('');
  const consoleToken = config.consoleToken ?? readTokenFile(join(config.dataDir, 'console-token'));
  const feed = consoleToken === null ? null : new ConsoleFeed(url, consoleToken, o.fetch);
  const target: Target = { url, ingestToken, githubSecret: config.githubWebhookSecret, tokenSource };
  const result = await drive(target, feed, o, false);
  for (const line of whatNext(result, null, o.waitMs ?? 20_000)) o.out(line);
  return result;
}

/** A pino destination that appends to a file synchronously (the demo's bot log). */
function fileLog(path: string): { write(msg: string): void; close(): void } {
  const fd = openSync(path, 'a', 0o600);
  let open = true;
  return {
    write(msg: string) {
      if (open) writeSync(fd, msg);
    },
    close() {
      if (open) closeSync(fd);
      open = false;
    },
  };
}

/**
 * Starts a demo bot with `start` (src/main.ts startBot), drives the script against it, and
 * returns it running. `dataDir`: keep everything there (must not hold a database yet); default: a
 * new temp folder, removed by stop().
 */
export async function startDemo(
  o: DemoOptions & { readonly start: (options: BotOptions) => Promise<Bot>; readonly dataDir?: string },
): Promise<RunningDemo> {
  const root = packageRoot();
  if (!existsSync(join(o.cwd, 'demo', 'actions', 'demo-folder.mjs'))) {
    throw new DemoError(
      `the demo's actions run \`node demo/actions/...\` from the working directory, and ${o.cwd} has none: ` +
        `run it from ${root} (cd ${root} && npm run demo)`,
      2,
      { code: 'DEMO_WRONG_FOLDER' },
    );
  }
  const given = o.dataDir !== undefined;
  const dir = given ? resolve(o.cwd, o.dataDir as string) : mkdtempSync(join(tmpdir(), 'autonomy-demo-'));
  const dbFile = join(dir, 'data', 'autonomy.db');
  if (existsSync(dbFile)) {
    throw new DemoError(
      `${dbFile} exists: the demo starts from a fresh database; give --data an empty folder`,
      2,
      { code: 'DEMO_DATA_NOT_EMPTY' },
    );
  }
  const work = join(dir, 'work');
  mkdirSync(work, { recursive: true });
  const log = fileLog(join(dir, 'bot.log'));
  const githubSecret = randomBytes(24).toString('base64url');
  const env: Record<string, string | undefined> = Object.fromEntries(
    Object.entries(o.env).filter(([k]) => !NOT_INHERITED.some((re) => re.test(k))),
  );
  Object.assign(env, {
    AUTONOMY_POLICY: join(root, DEMO_POLICY),
    AUTONOMY_DB: dbFile,
    AUTONOMY_CONSOLE: 'on',
    AUTONOMY_DEMO_DIR: work,
    GITHUB_WEBHOOK_SECRET: githubSecret,
  });
  const cleanup = () => {
    log.close();
    if (!given) rmSync(dir, { recursive: true, force: true });
  };

  let bot: Bot;
  try {
    bot = await o.start({ env, cwd: o.cwd, now: o.now, logDestination: log, print: () => {} });
  } catch (err) {
    cleanup();
    if (errorCode(err) === 'PORT_IN_USE') {
      throw new DemoError(
        `${(err as Error).message}, e.g. AUTONOMY_PORT=0 npm run demo; or drive the bot that is running there: autonomy demo --url`,
        1,
        { cause: err, code: 'PORT_IN_USE' },
      );
    }
    throw err;
  }
  let stopping: Promise<void> | null = null;
  const stop = () => {
    stopping ??= bot.stop().finally(cleanup);
    return stopping;
  };
  try {
    const consoleToken = bot.consoleUrl === null ? null : new URL(bot.consoleUrl).searchParams.get('token');
    const policyPath = relative(o.cwd, bot.config.policyFile) || bot.config.policyFile;
    o.out("autonomy demo: a scripted incident, driven through the bot's own webhooks");
    o.out('');
    o.out(`Bot      ${bot.url}  (policy ${policyPath}, phase ${bot.policy.current.phase}, fresh database)`);
    o.out(`Console  ${bot.consoleUrl ?? '(off)'}`);
    o.out(`Actions  harmless scripts in demo/actions/; they only write in ${work}`);
    o.out(`Bot log  ${join(dir, 'bot.log')}`);
    o.out('');
    const target: Target = {
      url: bot.url,
      ingestToken: bot.ingestToken,
      githubSecret,
      tokenSource: 'the demo bot',
    };
    const feed = consoleToken === null ? null : new ConsoleFeed(bot.url, consoleToken, o.fetch);
    const result = await drive(target, feed, o, true);
    for (const line of whatNext(result, bot.consoleUrl, o.waitMs ?? 20_000)) o.out(line);
    const stopHint = given
      ? `Ctrl-C stops the demo bot; its database, log and work folder stay in ${dir}.`
      : 'Ctrl-C stops the demo bot and removes its temp folder.';
    return { bot, dir, result, stopHint, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
