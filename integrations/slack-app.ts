/** The Bolt app in Socket Mode, pointed at `SLACK_API_URL`, logging through secbot's pino logger. */
import { App, type Logger as BoltLogger, LogLevel } from '@slack/bolt';
import type { Logger } from 'pino';
import { SecbotError } from '../lib/errors.js';

/** Slack refused secbot's tokens at start (invalid_auth, not_authed, account_inactive…). */
export class SlackAuthError extends SecbotError {
  readonly code = 'slack_auth_failed';
}

/** Bolt's Logger interface over pino. */
export function boltLogger(logger: Logger): BoltLogger {
  const child = logger.child({ component: 'bolt' });
  let level = LogLevel.INFO;
  const text = (msg: unknown[]) => msg.map((m) => (typeof m === 'string' ? m : JSON.stringify(m))).join(' ');
  return {
    debug: (...msg) => child.debug(text(msg)),
    info: (...msg) => child.info(text(msg)),
    warn: (...msg) => child.warn(text(msg)),
    error: (...msg) => child.error(text(msg)),
    setLevel: (l) => {
      level = l;
      child.level = l;
    },
    getLevel: () => level,
    setName: () => {},
  };
}

/** Longest wait for one Web API call; without it a connection that never answers stalls the sweep for ever. */
export const SLACK_REQUEST_TIMEOUT_MS = 10_000;

export function createSlackApp(opts: {
  botToken: string;
  appToken: string;
  apiUrl: string;
  logger: Logger;
  /** Per-request timeout (default SLACK_REQUEST_TIMEOUT_MS); each attempt of a retried call gets its own. */
  timeoutMs?: number;
}): App {
  const log = opts.logger.child({ integration: 'slack' });
  // Not a literal in the call: the SDK's RetryOptions type omits p-retry's onFailedAttempt, which it honours.
  const retryConfig = {
    retries: 5,
    factor: 2,
    randomize: true,
    // Every failed attempt is logged, so a Slack outage or rate limit shows in the log before it escalates.
    onFailedAttempt: (err: Error & { attemptNumber?: number; retriesLeft?: number }) => {
      log.warn(
        { attempt: err.attemptNumber, retriesLeft: err.retriesLeft },
        `slack: Web API call failed (${err.message}); ${err.retriesLeft ? `retrying, ${err.retriesLeft} attempt(s) left` : 'giving up'}`,
      );
    },
  };
  return new App({
    token: opts.botToken,
    appToken: opts.appToken,
    socketMode: true,
    logger: boltLogger(opts.logger),
    logLevel: LogLevel.INFO,
    // Without this, Bolt checks the bot token in the constructor and a refusal is an unhandled rejection.
    deferInitialization: true,
    // Explicit, or the Socket Mode client's own policy (100 retries) leaks into every listener's client.
    clientOptions: {
      slackApiUrl: opts.apiUrl,
      retryConfig,
      timeout: opts.timeoutMs ?? SLACK_REQUEST_TIMEOUT_MS,
    },
  });
}

/** Start the app; a token Slack refuses becomes a SlackAuthError with Slack's own code. */
export async function startSlackApp(app: App): Promise<void> {
  try {
    await app.init(); // auth.test: a refused bot token rejects here
    await app.start(); // apps.connections.open: a refused app token rejects here
  } catch (err) {
    const code = (err as { data?: { error?: string }; code?: string }).data?.error ?? (err as Error).message;
    throw new SlackAuthError(
      `Slack refused to start the app (${code}): check SLACK_BOT_TOKEN (xoxb-…) and SLACK_APP_TOKEN (xapp-…, with connections:write)`,
      { cause: err },
    );
  }
}
