/**
 * secbot's configuration: the only reader of `process.env`. Parses and validates the contract of
 * DESIGN.md once, and fails with the variable's name and what was wrong.
 */
import { resolve } from 'node:path';
import { validate as validateCron } from 'node-cron';
import { z } from 'zod';
import { CRASH_AT_PATTERN, CRASH_POINTS } from '../lib/crash-points.js';
import { parseDuration } from '../lib/duration.js';
import { ConfigError } from '../lib/errors.js';

const EVERY_15_SECONDS = '*/15 * * * * *';

const optionalString = z
  .string()
  .trim()
  .transform((s) => (s === '' ? undefined : s))
  .optional();

const duration = (fallback: string) =>
  z
    .string()
    .trim()
    .default(fallback)
    .transform((s, ctx) => {
      const ms = parseDuration(s);
      if (ms === undefined) {
        ctx.addIssue({
          code: 'custom',
          message: `"${s}" is not a duration: use a number and s, m, h or d (e.g. 15m)`,
        });
        return z.NEVER;
      }
      return ms;
    });

const bool = (fallback: boolean) =>
  z
    .string()
    .trim()
    .toLowerCase()
    .optional()
    .transform((s, ctx) => {
      if (s === undefined || s === '') return fallback;
      if (['true', '1', 'yes', 'on'].includes(s)) return true;
      if (['false', '0', 'no', 'off'].includes(s)) return false;
      ctx.addIssue({ code: 'custom', message: `"${s}" is not a boolean: use true or false` });
      return z.NEVER;
    });

const list = z
  .string()
  .optional()
  .transform((s) =>
    (s ?? '')
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean),
  );

const url = z.url({ message: 'must be a URL such as https://example.com/' }).optional();

const envSchema = z.object({
  SLACK_BOT_TOKEN: optionalString.pipe(
    z.string().startsWith('xoxb-', 'must be a bot token (xoxb-…)').optional(),
  ),
  SLACK_APP_TOKEN: optionalString.pipe(
    z.string().startsWith('xapp-', 'must be an app-level token (xapp-…) with connections:write').optional(),
  ),
  SLACK_API_URL: url.default('https://slack.com/api/'),
  SECBOT_ALERT_CHANNEL: optionalString.pipe(
    z
      .string()
      .regex(/^[CG][A-Z0-9]+$/, 'must be a channel ID (C…)')
      .optional(),
  ),
  SECBOT_STAFF: list.pipe(
    z.array(z.string().regex(/^[US][A-Z0-9]+$/, 'each entry must be a user ID (U…) or user-group ID (S…)')),
  ),
  SECBOT_QUEUE_URL: optionalString.pipe(url),
  SECBOT_TABLE: z
    .string()
    .trim()
    .min(3)
    .max(255)
    .regex(/^[A-Za-z0-9_.-]+$/, 'must be a DynamoDB table name')
    .default('secbot'),
  AWS_REGION: z.string().trim().default('us-east-1'),
  AWS_ENDPOINT_URL_SQS: optionalString.pipe(url),
  AWS_ENDPOINT_URL_DYNAMODB: optionalString.pipe(url),
  SECBOT_DATA_DIR: z.string().trim().default('./.secbot'),
  DUO_IKEY: optionalString,
  DUO_SKEY: optionalString,
  DUO_HOST: optionalString.pipe(
    z
      .string()
      .regex(/^[A-Za-z0-9.-]+(:\d+)?$/, 'must be a host name such as api-xxxx.duosecurity.com')
      .optional(),
  ),
  PAGERDUTY_ROUTING_KEY: optionalString,
  PAGERDUTY_EVENTS_URL: url.default('https://events.pagerduty.com/v2/enqueue'),
  SECBOT_SCHEDULE: z
    .string()
    .trim()
    .default(EVERY_15_SECONDS)
    .refine((s) => validateCron(s), 'must be a node-cron expression such as */15 * * * * * (every 15 s)'),
  SECBOT_VERIFY_TIMEOUT: duration('15m'),
  SECBOT_DUO_TIMEOUT: duration('60s'),
  SECBOT_MAX_AGE: duration('1h'),
  // `off`: an alert for every alert call (no bursts).
  SECBOT_ALERT_BURST: z
    .string()
    .trim()
    .default('5m')
    .transform((s, ctx) => {
      if (s === 'off') return 0;
      const ms = parseDuration(s);
      if (ms === undefined) {
        ctx.addIssue({
          code: 'custom',
          message: `"${s}" is not a duration: use a number and s, m, h or d (e.g. 5m), or off`,
        });
        return z.NEVER;
      }
      return ms;
    }),
  SECBOT_RULES: optionalString,
  SECBOT_IDENTITY_MAP: optionalString,
  SECBOT_EMAIL_DOMAIN: optionalString,
  SECBOT_AUTOMATION_PRINCIPALS: list,
  SECBOT_FAILED_CALLS: z.enum(['log', 'keep']).default('log'),
  SECBOT_SHADOW: bool(false),
  SECBOT_AUDIT_FILE: optionalString,
  SECBOT_DUO_USERNAME: z.enum(['email', 'local_part']).default('email'),
  SECBOT_ACCOUNT_ALIASES: z
    .string()
    .optional()
    .transform((s, ctx) => {
      const aliases: Record<string, string> = {};
      for (const pair of (s ?? '')
        .split(',')
        .map((p) => p.trim())
        .filter(Boolean)) {
        const m = /^(\d{12})=([A-Za-z0-9 _.-]{1,64})$/.exec(pair);
        if (!m?.[1] || !m[2]) {
          ctx.addIssue({ code: 'custom', message: `"${pair}" is not <12-digit account id>=<alias>` });
          return z.NEVER;
        }
        aliases[m[1]] = m[2];
      }
      return aliases;
    }),
  SECBOT_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  SECBOT_REMEDIATION_ROLE: optionalString.pipe(
    z
      .string()
      .regex(/^[\w+=,.@-]{1,64}$/, 'must be an IAM role name (the same in every workload account)')
      .optional(),
  ),
  SECBOT_REMEDIATION_DUO: bool(true),
  SECBOT_VISIBILITY_TIMEOUT: duration('60s').refine(
    (ms) => ms >= 2_000 && ms <= 12 * 3_600_000,
    'must be between 2s and 12h (the SQS limits, and at least one batch)',
  ),
  SECBOT_DM_RESEND_AFTER: duration('2m'),
  SECBOT_HEARTBEAT_LATE: duration('15m'),
  SECBOT_QUEUE_AGE_ALERT: duration('10m'),
  SECBOT_DRAIN_FAILURES: z
    .string()
    .trim()
    .default('3')
    .refine((s) => /^[1-9]\d{0,2}$/.test(s), 'must be a whole number of drain runs, 1 to 999')
    .transform(Number),
  SECBOT_CRASH_AT: optionalString.pipe(
    z
      .string()
      .regex(CRASH_AT_PATTERN, `must be one of ${CRASH_POINTS.join(', ')}, optionally :<n> (test-only)`)
      .optional(),
  ),
});

export type Env = z.input<typeof envSchema>;

export interface Config {
  slack: { botToken?: string; appToken?: string; apiUrl: string; alertChannel?: string; staff: string[] };
  queue: { url?: string; endpoint?: string; embedded: boolean };
  table: { name: string; endpoint?: string; embedded: boolean };
  /** Explicit static credentials when the environment carries them; otherwise the SDK's provider chain. */
  aws: {
    region: string;
    credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  };
  dataDir: string;
  duo?: { ikey: string; skey: string; host: string; timeoutMs: number };
  /** How the Duo username is made from the Slack profile email. */
  duoUsername: 'email' | 'local_part';
  accountAliases: Record<string, string>;
  pagerDuty: { routingKey?: string; eventsUrl: string };
  schedule: string;
  verifyTimeoutMs: number;
  /** Alert calls of one principal within this window share an alert (0: one alert per call). */
  alertBurstMs: number;
  rulesDirs?: string[];
  identityMapFile?: string;
  emailDomain?: string;
  policy: { automation: string[]; maxAgeMs: number; failedCalls: 'log' | 'keep' };
  /** Decide and record everything, send nothing. On when asked, or when Slack tokens are missing. */
  shadow: boolean;
  shadowReason?: string;
  auditFile?: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /**
   * One-click remediation: the role secbot assumes in a call's account (unset: remediations run in
   * shadow, printing the exact call), and whether pressing one needs a Duo push to the staff member.
   */
  remediation: { roleName?: string; requireDuo: boolean };
  /** How long a received message stays invisible while its batch is decided. */
  visibilityTimeoutMs: number;
  /** A question left `sending` this long (its sender presumed dead) is looked for in the DM, else sent again. */
  dmResendAfterMs: number;
  /** Test-only: the crash point (lib/crash-points.ts) at which this process SIGKILLs itself. */
  crashAt?: string;
  /** The watchdog (README "Watching the watcher"). */
  watchdog: { heartbeatLateMs: number; queueAgeMs: number; drainFailures: number };
}

/** Any of the SDK's own credential sources: with none and no endpoint, the table is embedded. */
const AWS_CREDENTIAL_VARS = [
  'AWS_ACCESS_KEY_ID',
  'AWS_PROFILE',
  'AWS_WEB_IDENTITY_TOKEN_FILE',
  'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
  'AWS_CONTAINER_CREDENTIALS_FULL_URI',
];

/**
 * Parse the environment. Throws ConfigError naming the first bad variable.
 *
 * @example loadConfig({ SECBOT_VERIFY_TIMEOUT: '15x' }) // throws: SECBOT_VERIFY_TIMEOUT: "15x" is not a duration…
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const variable = String(issue?.path[0] ?? 'environment');
    const messages = parsed.error.issues.map((i) => `${String(i.path[0])}: ${i.message}`);
    throw new ConfigError(`invalid configuration: ${messages.join('; ')}`, variable);
  }
  const e = parsed.data;
  if (e.SLACK_BOT_TOKEN && !e.SLACK_APP_TOKEN) {
    throw new ConfigError(
      'SLACK_APP_TOKEN: required with SLACK_BOT_TOKEN (secbot runs in Socket Mode)',
      'SLACK_APP_TOKEN',
    );
  }
  const duoVars = [e.DUO_IKEY, e.DUO_SKEY, e.DUO_HOST].filter(Boolean).length;
  if (duoVars > 0 && duoVars < 3) {
    const missing = (['DUO_IKEY', 'DUO_SKEY', 'DUO_HOST'] as const).find((k) => !e[k]) ?? 'DUO_IKEY';
    throw new ConfigError(`${missing}: DUO_IKEY, DUO_SKEY and DUO_HOST go together`, missing);
  }
  const hasCredentials = AWS_CREDENTIAL_VARS.some((k) => (env[k] ?? '') !== '');
  const shadowReason = e.SECBOT_SHADOW
    ? 'SECBOT_SHADOW=true'
    : !e.SLACK_BOT_TOKEN
      ? 'no Slack tokens (SLACK_BOT_TOKEN, SLACK_APP_TOKEN)'
      : undefined;
  return {
    slack: {
      botToken: e.SLACK_BOT_TOKEN,
      appToken: e.SLACK_APP_TOKEN,
      apiUrl: e.SLACK_API_URL,
      alertChannel: e.SECBOT_ALERT_CHANNEL,
      staff: e.SECBOT_STAFF,
    },
    queue: { url: e.SECBOT_QUEUE_URL, endpoint: e.AWS_ENDPOINT_URL_SQS, embedded: !e.SECBOT_QUEUE_URL },
    table: {
      name: e.SECBOT_TABLE,
      endpoint: e.AWS_ENDPOINT_URL_DYNAMODB,
      // A configured queue means a real deployment: its table is real too, even when the credentials come
      // from an instance profile that no environment variable shows.
      embedded: !e.AWS_ENDPOINT_URL_DYNAMODB && !hasCredentials && !e.SECBOT_QUEUE_URL,
    },
    aws: {
      region: e.AWS_REGION,
      credentials:
        env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY
          ? {
              accessKeyId: env.AWS_ACCESS_KEY_ID,
              secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
              sessionToken: env.AWS_SESSION_TOKEN || undefined,
            }
          : undefined,
    },
    dataDir: resolve(e.SECBOT_DATA_DIR),
    duo:
      e.DUO_IKEY && e.DUO_SKEY && e.DUO_HOST
        ? { ikey: e.DUO_IKEY, skey: e.DUO_SKEY, host: e.DUO_HOST, timeoutMs: e.SECBOT_DUO_TIMEOUT }
        : undefined,
    duoUsername: e.SECBOT_DUO_USERNAME,
    accountAliases: e.SECBOT_ACCOUNT_ALIASES,
    pagerDuty: { routingKey: e.PAGERDUTY_ROUTING_KEY, eventsUrl: e.PAGERDUTY_EVENTS_URL },
    schedule: e.SECBOT_SCHEDULE,
    verifyTimeoutMs: e.SECBOT_VERIFY_TIMEOUT,
    alertBurstMs: e.SECBOT_ALERT_BURST,
    rulesDirs: e.SECBOT_RULES ? e.SECBOT_RULES.split(',').map((d) => resolve(d.trim())) : undefined,
    identityMapFile: e.SECBOT_IDENTITY_MAP,
    emailDomain: e.SECBOT_EMAIL_DOMAIN,
    policy: {
      automation: e.SECBOT_AUTOMATION_PRINCIPALS,
      maxAgeMs: e.SECBOT_MAX_AGE,
      failedCalls: e.SECBOT_FAILED_CALLS,
    },
    shadow: shadowReason !== undefined,
    shadowReason,
    auditFile: e.SECBOT_AUDIT_FILE,
    logLevel: e.SECBOT_LOG_LEVEL,
    remediation: { roleName: e.SECBOT_REMEDIATION_ROLE, requireDuo: e.SECBOT_REMEDIATION_DUO },
    visibilityTimeoutMs: e.SECBOT_VISIBILITY_TIMEOUT,
    dmResendAfterMs: e.SECBOT_DM_RESEND_AFTER,
    crashAt: e.SECBOT_CRASH_AT,
    watchdog: {
      heartbeatLateMs: e.SECBOT_HEARTBEAT_LATE,
      queueAgeMs: e.SECBOT_QUEUE_AGE_ALERT,
      drainFailures: e.SECBOT_DRAIN_FAILURES,
    },
  };
}
