/**
 * A real bot in a child process for the end-to-end benchmarks (bench/bot-process.ts runs it): its
 * CPU and memory are its own, and the parent talks to it over IPC. Shared by the incident CPU, the
 * chat latency and the storm benches: start it, send Alertmanager webhooks, wait until it settled.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Dispatcher, request } from 'undici';
import { packageRoot } from '../src/process/package-root.js';

export interface Reply {
  readonly op: string;
  readonly [key: string]: unknown;
}

export interface BotChild {
  readonly child: ChildProcess;
  readonly url: string;
  readonly token: string;
  ask(op: string): Promise<Reply>;
  /** Resolves when no agent job waits or runs, nothing waits in the outbox and `incidents` exist. */
  settled(incidents: number, timeoutMs?: number): Promise<void>;
  /** The bot's CPU time (µs), RSS and peak RSS so far (bytes); after a full GC when `gc` is set. */
  usage(gc?: boolean): Promise<{ micros: number; rss: number; peakRss: number }>;
  stop(): Promise<void>;
}

/** Forks bench/bot-process with `env` on top of this process's; `execArgv` for node flags. */
export async function startBotChild(env: Record<string, string>, execArgv: string[] = []): Promise<BotChild> {
  const self = fileURLToPath(import.meta.url);
  const script = self.replace(/bot-child\.(ts|js)$/, 'bot-process.$1');
  const child = fork(script, [], {
    env: { ...process.env, ...env },
    execArgv: [
      ...execArgv,
      // BENCH_PROF=dir writes a V8 CPU profile of the bot there (where its time goes).
      ...(process.env.BENCH_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROF}`] : []),
    ],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const ready = await new Promise<Reply>((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`the bench bot exited with ${code}`)));
  });
  const ask = (op: string): Promise<Reply> =>
    new Promise((resolve) => {
      const on = (m: Reply) => {
        if (m.op !== op) return;
        child.off('message', on);
        resolve(m);
      };
      child.on('message', on);
      child.send({ op });
    });
  return {
    child,
    url: String(ready.url),
    token: String(ready.token),
    ask,
    async settled(incidents, timeoutMs = 120_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const s = await ask('settled');
        if (s.busy === 0 && s.pending === 0 && s.incidents === incidents) return;
        if (Date.now() > deadline) throw new Error(`the bot did not settle: ${JSON.stringify(s)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async usage(gc = false) {
      const r = await ask(gc ? 'gc' : 'cpu');
      return { micros: Number(r.micros), rss: Number(r.rss), peakRss: Number(r.peakRss) };
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.send({ op: 'stop' });
      await exited;
    },
  };
}

/** An Alertmanager webhook with one alert, firing (or resolved: it ended a minute after it began). */
export function alert(
  fingerprint: string,
  service: string,
  i: number,
  status: 'firing' | 'resolved' = 'firing',
): string {
  const startsAt = Date.UTC(2026, 0, 1) + i * 1000;
  return JSON.stringify({
    version: '4',
    groupKey: `{}:{alertname="${fingerprint}"}`,
    status,
    receiver: 'autonomy',
    groupLabels: { alertname: fingerprint },
    commonLabels: {},
    commonAnnotations: {},
    externalURL: 'http://alertmanager.example.test:9093',
    alerts: [
      {
        status,
        labels: { alertname: fingerprint, severity: 'warning', service, instance: `10.0.0.${i % 250}:9100` },
        annotations: { summary: `${fingerprint} on ${service}` },
        startsAt: new Date(startsAt).toISOString(),
        endsAt: status === 'resolved' ? new Date(startsAt + 60_000).toISOString() : '0001-01-01T00:00:00Z',
        generatorURL: 'http://prometheus.example.test:9090/graph',
      },
    ],
  });
}

/** A name with no digits (names that differ only by a number are one family: one incident). */
export function word(i: number): string {
  let out = '';
  for (let n = i + 1; n > 0; n = Math.floor((n - 1) / 26))
    out = String.fromCharCode(97 + ((n - 1) % 26)) + out;
  return out;
}

/**
 * POSTs one webhook; resolves with the ms until its answer; throws unless it is a 202. On undici's
 * request, not fetch: fetch costs this process ~0.5 ms of CPU per call, so 20 webhooks "sent at
 * once" would leave over 10 ms, and the sender's cost would be counted as the bot's latency (a
 * real sender, Alertmanager, is a Go program that puts 20 requests on the wire in well under 1 ms).
 */
export async function postAlert(
  url: string,
  token: string,
  body: string,
  onReset?: () => void,
): Promise<number> {
  const t0 = performance.now();
  const send = () =>
    request(`${url}/hooks/alertmanager`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body,
    });
  let res: Dispatcher.ResponseData;
  try {
    res = await send();
  } catch (err) {
    // A kept-alive connection the server closed just as it was reused (the keep-alive race, wider on
    // a loaded machine): sent again once, as Alertmanager would; the answer time counts from the first.
    const code = (err as { code?: string }).code;
    if (code !== 'ECONNRESET' && code !== 'UND_ERR_SOCKET') throw err;
    onReset?.();
    res = await send();
  }
  await res.body.arrayBuffer();
  const ms = performance.now() - t0;
  if (res.statusCode !== 202) throw new Error(`webhook answered ${res.statusCode}`);
  return ms;
}

/** Sends `bodies` with `concurrency` requests in flight; resolves with each one's ms, in order. */
export async function sendAll(
  url: string,
  token: string,
  bodies: readonly string[],
  concurrency: number,
): Promise<number[]> {
  const ms: number[] = new Array(bodies.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < bodies.length; i = next++)
      ms[i] = await postAlert(url, token, bodies[i] as string);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return ms;
}

const ROUTES = '    info: [console:main]\n    warning: [console:main]\n    critical: [console:main]\n';
const LOCKFILE = 'npmLockfiles: [../package-lock.json]';
const STORM = '    cardsPerMinute: 10\n';
const SERVICES = '  # services: { checkout-*: { critical: [slack:C0SHOP] } }\n';

/**
 * The default policy, changed by `edit` (given its text), written to `dir` with its one relative
 * path (the inventory lockfile) made absolute. Returns the file.
 */
function writePolicy(dir: string, edit: (text: string) => string): string {
  const root = packageRoot();
  const source = join(root, 'policies', 'default.policy.yaml');
  const text = readFileSync(source, 'utf8');
  for (const line of [ROUTES, LOCKFILE, STORM, SERVICES])
    if (!text.includes(line)) throw new Error(`${source} changed: update bench/bot-child.ts`);
  const file = join(dir, 'bench.policy.yaml');
  writeFileSync(
    file,
    edit(text).replace(LOCKFILE, `npmLockfiles: [${JSON.stringify(join(root, 'package-lock.json'))}]`),
  );
  copyFileSync(join(root, 'policies', 'policy.schema.json'), join(dir, 'policy.schema.json'));
  return file;
}

/**
 * The default policy with every route (info, warning, critical) sent to one Slack channel, and
 * optionally another storm rate (`routing.storm.cardsPerMinute`).
 */
export function writeSlackPolicy(
  dir: string,
  channel = 'slack:C0ALERTS',
  stormCardsPerMinute?: number,
): string {
  return writePolicy(dir, (text) =>
    text
      .replace(ROUTES, `    info: [${channel}]\n    warning: [${channel}]\n    critical: [${channel}]\n`)
      .replace(STORM, `    cardsPerMinute: ${stormCardsPerMinute ?? 10}\n`),
  );
}

/**
 * The default policy with services spread over 26 console channels by their name's last letter
 * (`*a` to console:a, ...), each taking up to 1,000 new incident cards a minute: thousands of new
 * incidents a minute all get cards of their own (none folds into a storm card), as a steady
 * stream of unrelated incidents does. The routing adds one glob per channel to each post's lookup.
 */
export function writeSpreadPolicy(dir: string): string {
  const letters = Array.from({ length: 26 }, (_, i) => String.fromCharCode(97 + i));
  const services = letters
    .map((l) => `"*${l}": { info: [console:${l}], warning: [console:${l}], critical: [console:${l}] }`)
    .join(', ');
  return writePolicy(dir, (text) =>
    text.replace(SERVICES, `  services: { ${services} }\n`).replace(STORM, '    cardsPerMinute: 1000\n'),
  );
}
