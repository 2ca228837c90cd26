/**
 * Errors a person or a caller reads carry a stable code (as bolt-js's ErrorCode): callers branch on
 * `code`, never on the wording; the CLI prints `error [CODE]: message` and the HTTP API answers
 * `{error, code}`. The message says what was wrong and the fix; the original error is kept as
 * `cause`. Plain `Error` is left for states that cannot happen (a bug to report).
 *
 * Codes are UPPER_SNAKE and never change meaning once shipped; add a code here, with the sentence
 * the README's table shows, before throwing it. ResearchError keeps its own kebab-case codes
 * (src/research/errors.ts): agents branch on them and run records store them.
 */

export const ERROR_CODES = {
  CONFIG_INVALID:
    'An environment variable is missing or wrong; the message names each one and what it takes.',
  TOKEN_INVALID:
    'A token (env var or file in the data folder) is too short or holds spaces or control characters.',
  POLICY_INVALID: 'The policy file is not valid; `autonomy policy check FILE` lists every problem.',
  DATA_DIR_IN_USE: 'Another autonomy is running (or starting) on the same data folder.',
  DB_OPEN_FAILED: 'The database file cannot be opened (AUTONOMY_DB, folder permissions).',
  DB_MIGRATIONS_MISSING: 'The package ships without migrations/; reinstall it.',
  DB_MIGRATE_FAILED: 'Migrating the database failed; restore a backup or move the file aside.',
  BACKUP_EXISTS: 'The backup target exists; a backup never overwrites.',
  BUTTON_KEY_INVALID: 'The button key in the data folder cannot be read, written or is damaged.',
  DRIFT_NOT_WATCHED: 'A file named to accept is not in drift.watch.',
  DRIFT_BASELINES_DAMAGED: 'The drift baselines file is damaged; accept every watched file to start over.',
  SIGNATURES_SNAPSHOT_INVALID:
    'A stored log-signature template is not one the miner wrote (a damaged database).',
  GRANT_REFUSED: 'A grant cannot be made or changed as asked.',
  RUN_REFUSED: 'A run was refused before it started: its run record would lack what the policy requires.',
  RUNNER_CLOSED: 'The runner is stopping: no new runs.',
  TEMPLATE_ERROR: 'An action template names an unknown param or an env var where none is allowed.',
  MISSING_ENV: 'An action needs an env var that is not set where the bot runs.',
  MODEL_CALL_FAILED: 'The model server answered with an error status or could not be reached.',
  CHAT_LOGIN_FAILED: 'A chat platform refused the bot at start (its token, or the API address set for it).',
  DELIVERY_FAILED: 'A chat platform refused or failed a post (platformCode has its own code).',
  OUTBOX_INVALID: 'A message for the outbox is not one it can send.',
  COMMAND_REFUSED: 'An /autonomy command was refused (unknown id, wrong state); nothing changed.',
  SKILL_TRANSITION: 'A skill cannot move to the asked state from the one it is in.',
  UNKNOWN_SKILL: 'No skill has that id.',
  PORT_IN_USE: 'The HTTP port is taken (another autonomy?); set AUTONOMY_PORT to another port.',
  LISTEN_FAILED: 'The HTTP server cannot listen on AUTONOMY_HOST:AUTONOMY_PORT (not allowed, bad address).',
  AUDIT_CHAIN_BROKEN:
    'A record of the audit log does not match its hash or link; the message names the first.',
  EVAL_NO_MODEL: 'No model server answers: nothing was evaluated.',
  EVAL_NO_ANSWERS: 'A model answered none of the scenarios (not pulled, or too slow for models.timeout).',
  EVAL_SCENARIOS_INVALID: 'The eval scenarios are not valid, or none is for the agents asked.',
  DEMO_FAILED: 'The demo could not do a step (a file it reads, a step the bot refused).',
  DEMO_UNREACHABLE: 'Nothing answers at the bot address the demo was given.',
  DEMO_NOT_A_BOT: 'Something answers at the address, but not an autonomy bot.',
  DEMO_REFUSED: 'The bot refused the ingest token or the GitHub signature the demo sent.',
  DEMO_NO_TOKEN: 'The demo finds no ingest token for the running bot.',
  DEMO_WRONG_FOLDER: 'The demo runs from the package folder (its actions run `node demo/actions/...`).',
  DEMO_DATA_NOT_EMPTY: 'The demo starts from a fresh database; --data must be an empty folder.',
  CLI_USAGE: 'A command-line argument or flag is wrong; the message says what it takes.',
  CLI_NO_BOT: 'The command needs a running bot and none is running on this data folder.',
  CLI_FAILED: 'A command-line command could not do what was asked; the message says why.',
  HTTP_NOT_FOUND: 'No route at this path.',
  HTTP_INTERNAL: "The bot failed handling the request; the bot's log has the details.",
  HTTP_BAD_REQUEST: 'The request body or query is not what the endpoint takes.',
  HTTP_FORBIDDEN:
    'The request was refused: a Host or Origin the console does not trust (see AUTONOMY_PUBLIC_URL).',
  HTTP_UNAUTHORIZED: 'No valid token or session.',
  HTTP_TOO_LARGE: 'The request body is over the limit.',
  HTTP_METHOD_NOT_ALLOWED: 'The path takes another method (the Allow header says which).',
  HOOK_UNAUTHORIZED: 'A hook request without the ingest token (Authorization: Bearer).',
  HOOK_BAD_SIGNATURE: 'A GitHub delivery whose X-Hub-Signature-256 does not match GITHUB_WEBHOOK_SECRET.',
  HOOK_NOT_CONFIGURED: 'The hook is off (for /hooks/github: GITHUB_WEBHOOK_SECRET is unset).',
  HOOK_UNSUPPORTED_MEDIA_TYPE: 'The hook does not take this Content-Type.',
  HOOK_TOO_LARGE: 'The hook body is over its limit.',
  HOOK_BAD_ENCODING: 'The hook body is not UTF-8.',
  HOOK_BAD_JSON: 'The hook body is not JSON.',
  HOOK_BAD_SCHEMA: "The hook body is JSON that does not fit the sender's schema; `problems` says where.",
  HOOK_BAD_REQUEST: 'A header or query parameter of the hook request is missing or malformed.',
} as const satisfies Record<string, string>;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface AutonomyErrorOptions {
  readonly cause?: unknown;
  /** What to do about it; appended to the message (`message; fix`). */
  readonly fix?: string;
}

/** The base of every error a person or a caller reads. */
export class AutonomyError<C extends string = ErrorCode> extends Error {
  readonly code: C;
  readonly fix: string | null;

  constructor(code: C, message: string, options: AutonomyErrorOptions = {}) {
    super(
      options.fix === undefined ? message : `${message}; ${options.fix}`,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = new.target.name;
    this.code = code;
    this.fix = options.fix ?? null;
  }
}

/** The stable code of an error, or null when it has none (a plain Error: a bug, or a library's). */
export function errorCode(err: unknown): string | null {
  return err instanceof AutonomyError ? err.code : null;
}
