/**
 * Sends the demo's requests to a bot over HTTP, as the real senders would: the ingest token as a
 * bearer token, GitHub deliveries signed with X-Hub-Signature-256. Turns what the bot answers into
 * one line for people, and the failures a person can fix (bot unreachable, token refused, GitHub
 * secret different) into a DemoError that says what to do.
 */
import { createHmac } from 'node:crypto';
import { AutonomyError, type AutonomyErrorOptions, type ErrorCode } from '../process/errors.js';
import type { DemoRequest } from './payloads.js';

/** A failure the user can fix: printed as-is, with its code and exit code. */
export class DemoError extends AutonomyError {
  constructor(
    message: string,
    readonly exitCode = 1,
    options: AutonomyErrorOptions & { readonly code?: ErrorCode } = {},
  ) {
    super(options.code ?? 'DEMO_FAILED', message, options);
  }
}

export interface Target {
  /** The bot's base URL, e.g. http://127.0.0.1:8787 (no trailing slash). */
  readonly url: string;
  readonly ingestToken: string;
  /** GITHUB_WEBHOOK_SECRET, or null: the CI failure then goes to /hooks/events. */
  readonly githubSecret: string | null;
  /** Where the ingest token came from, for the message when the bot refuses it. */
  readonly tokenSource: string;
}

export type Fetch = typeof fetch;

/** What the bot answered: the status and the JSON body (null when it was not JSON). */
export interface Answer {
  readonly status: number;
  readonly body: Record<string, unknown> | null;
}

/** The bot's own view of itself (GET /healthz), as far as the demo prints it. */
export interface BotFacts {
  readonly status: string;
  readonly policyFile: string | null;
  readonly phase: number | null;
}

const TIMEOUT_MS = 15_000;

function unreachable(url: string, err: unknown): DemoError {
  const cause = (err as { cause?: { code?: string } }).cause;
  const why = cause?.code ?? (err as Error).message;
  return new DemoError(
    `cannot reach the bot at ${url} (${why}): start one with \`npm start\`, or pass its address with --url URL`,
    1,
    { cause: err, code: 'DEMO_UNREACHABLE' },
  );
}

async function request(fetchFn: Fetch, url: string, init: RequestInit): Promise<Answer> {
  let res: Response;
  try {
    res = await fetchFn(url, { ...init, signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch (err) {
    throw unreachable(new URL(url).origin, err);
  }
  const text = await res.text();
  let body: Record<string, unknown> | null = null;
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
      body = parsed as Record<string, unknown>;
    }
  } catch {
    // Not JSON (a proxy's error page): the status says enough.
  }
  return { status: res.status, body };
}

/** GET /healthz: is an autonomy bot listening there? */
export async function botFacts(url: string, fetchFn: Fetch = fetch): Promise<BotFacts> {
  const answer = await request(fetchFn, `${url}/healthz`, { method: 'GET' });
  const body = answer.body;
  if (body === null || typeof body.status !== 'string') {
    throw new DemoError(
      `something answers at ${url}, but not an autonomy bot (GET /healthz: ${answer.status}); check --url`,
      1,
      { code: 'DEMO_NOT_A_BOT' },
    );
  }
  const policy = (body.policy ?? {}) as { file?: unknown; phase?: unknown };
  return {
    status: body.status,
    policyFile: typeof policy.file === 'string' ? policy.file : null,
    phase: typeof policy.phase === 'number' ? policy.phase : null,
  };
}

/** Sends one request; throws DemoError when the bot refuses our credentials. */
export async function send(target: Target, req: DemoRequest, fetchFn: Fetch = fetch): Promise<Answer> {
  const headers: Record<string, string> = { 'content-type': req.contentType, ...(req.headers ?? {}) };
  if (req.auth === 'bearer') headers.authorization = `Bearer ${target.ingestToken}`;
  else if (target.githubSecret !== null) {
    const mac = createHmac('sha256', target.githubSecret).update(req.body, 'utf8').digest('hex');
    headers['x-hub-signature-256'] = `sha256=${mac}`;
  }
  const answer = await request(fetchFn, `${target.url}${req.path}`, {
    method: 'POST',
    headers,
    body: req.body,
  });
  if (answer.status === 401 && req.auth === 'bearer') {
    throw new DemoError(
      `the bot at ${target.url} refused the ingest token from ${target.tokenSource} (401): set ` +
        'AUTONOMY_INGEST_TOKEN to its token, or AUTONOMY_DB to its database (the token is in the ingest-token file next to it)',
      1,
      { code: 'DEMO_REFUSED' },
    );
  }
  if (answer.status === 401 && req.auth === 'github') {
    throw new DemoError(
      `the bot at ${target.url} refused the GitHub signature (401): GITHUB_WEBHOOK_SECRET here must be the ` +
        "bot's secret; unset it to send the CI failure as a generic event instead",
      1,
      { code: 'DEMO_REFUSED' },
    );
  }
  return answer;
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** One line for people: `202 accepted: incident i3 (1 repeated error signature)`. */
export function describeAnswer(answer: Answer): string {
  const b = answer.body ?? {};
  if (answer.status !== 202 && answer.status !== 200) {
    const error = typeof b.error === 'string' ? b.error : 'no explanation';
    return `${answer.status} refused: ${error}`;
  }
  const incidents = Array.isArray(b.incidents) ? (b.incidents as string[]) : [];
  const parts: string[] = [];
  if (incidents.length > 0)
    parts.push(`${incidents.length === 1 ? 'incident' : 'incidents'} ${incidents.join(', ')}`);
  else if (Number(b.duplicates ?? 0) > 0) parts.push('already seen (a duplicate)');
  else parts.push('stored, no incident');
  if (b.repeats === 0) {
    parts.push(
      'no repeat signal: under the threshold, or that signature is in its cooldown (triggers.errorSignatures)',
    );
  } else if (typeof b.repeats === 'number') parts.push(plural(b.repeats, 'repeated error signature'));
  if (typeof b.matched === 'number')
    parts.push(`${plural(b.matched, 'inventory match', 'inventory matches')}`);
  if (typeof b.ignored === 'string') parts.push(`ignored: ${b.ignored}`);
  return `${answer.status} accepted: ${parts.join('; ')}`;
}

/** True when the bot took the request (a 2xx). */
export function accepted(answer: Answer): boolean {
  return answer.status >= 200 && answer.status < 300;
}
