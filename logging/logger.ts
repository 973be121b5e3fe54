/** The one structured logger (pino), created in app.ts or the CLI and passed down. Secrets are redacted. */
import { type DestinationStream, type Logger, pino } from 'pino';

export type { Logger } from 'pino';

/** Paths pino censors wherever they appear in a log object. */
export const REDACT_PATHS = [
  '*.token',
  '*.botToken',
  '*.appToken',
  '*.skey',
  '*.routingKey',
  '*.routing_key',
  '*.secretAccessKey',
  '*.password',
  'config.slack.botToken',
  'config.slack.appToken',
  'config.duo.skey',
  'config.pagerDuty.routingKey',
  'headers.authorization',
  'headers.Authorization',
];

export interface LoggerOptions {
  level?: string;
  /**
   * A file descriptor, a path, or a stream (tests capture lines); default stderr so stdout stays free for
   * the audit trail and CLI output.
   */
  destination?: number | string | DestinationStream;
  name?: string;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  return pino(
    {
      name: opts.name ?? 'secbot',
      level: opts.level ?? 'info',
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    },
    typeof opts.destination === 'object'
      ? opts.destination
      : pino.destination({ dest: opts.destination ?? 2, sync: true }),
  );
}

/** A logger that drops everything (tests, quiet CLI runs). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
