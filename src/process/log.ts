/**
 * Structured logs (pino, JSON lines on stderr). Secrets never reach a log line: known secret
 * fields are redacted wherever they appear, and callers log names of env vars, never values.
 */
import { type Logger, pino } from 'pino';

export type { Logger };

const REDACT = [
  '*.token',
  '*.secret',
  '*.password',
  '*.authorization',
  '*.Authorization',
  '*.headers.authorization',
  '*.headers.cookie',
  'token',
  'secret',
  'password',
];

export function createLogger(
  level: string,
  destination: pino.DestinationStream = pino.destination(2),
): Logger {
  return pino(
    {
      level,
      base: { app: 'autonomy' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT, censor: '[redacted]' },
    },
    destination,
  );
}
