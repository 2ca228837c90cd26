/**
 * The last line behind every listener's own error handling (`autonomy start` installs it):
 *
 * - An unhandled promise rejection (a library's floating promise, a handler that forgot a catch)
 *   is logged and audited (`process.unhandled`), and the bot keeps serving: one bad request must
 *   not take the bot down for everyone.
 * - An uncaught exception leaves the process in a state nobody can vouch for: it is logged and
 *   audited the same way, then the process exits 1 for the supervisor (systemd) to restart it.
 *   Nothing is lost by that: every step wrote to SQLite before it acknowledged anything.
 *
 * The audit record holds the error's name and message (clipped), never its stack or properties.
 */

export interface CrashLog {
  error(obj: object, msg: string): void;
}

export interface CrashGuardOptions {
  readonly log: CrashLog;
  /** Writes the audit record (kind `process.unhandled`); a failure to write is logged, not thrown. */
  readonly audit?: (entry: { kind: string; actor: string; outcome: string; data: unknown }) => void;
  /** Default process.exit. */
  readonly exit?: (code: number) => void;
  /** Default the process itself (tests pass an EventEmitter). */
  readonly target?: Pick<NodeJS.Process, 'on' | 'off'>;
}

/** Who the process is in the audit log. */
export const PROCESS_ACTOR = 'system:process';
const MAX_MESSAGE = 500;

/** Installs the two handlers; returns a function that removes them. */
export function installCrashGuard(options: CrashGuardOptions): () => void {
  const target = options.target ?? process;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const report = (what: 'unhandled rejection' | 'uncaught exception', reason: unknown, fatal: boolean) => {
    const text = describe(reason);
    options.log.error(
      { err: reason, fatal },
      fatal
        ? `${what}: ${text}; exiting for the supervisor to restart the bot`
        : `${what}: ${text}; the bot keeps serving`,
    );
    try {
      options.audit?.({
        kind: 'process.unhandled',
        actor: PROCESS_ACTOR,
        outcome: `${what}${fatal ? ' (the process exits)' : ' (the process keeps serving)'}: ${text}`,
        data: { what, fatal, error: text },
      });
    } catch (err) {
      options.log.error({ err }, 'could not audit the error above');
    }
  };
  const onRejection = (reason: unknown) => report('unhandled rejection', reason, false);
  const onException = (err: unknown) => {
    report('uncaught exception', err, true);
    exit(1);
  };
  target.on('unhandledRejection', onRejection);
  target.on('uncaughtException', onException);
  return () => {
    target.off('unhandledRejection', onRejection);
    target.off('uncaughtException', onException);
  };
}

function describe(reason: unknown): string {
  const text =
    reason instanceof Error ? `${reason.name}: ${reason.message}` : `non-error value ${String(reason)}`;
  return text.length > MAX_MESSAGE ? `${text.slice(0, MAX_MESSAGE)}…` : text;
}
