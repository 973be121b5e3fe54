/**
 * `secbot doctor`: checks a deployment — configuration, Slack tokens and scopes, queue, table, Duo,
 * PagerDuty, rules — and says for each problem how to fix it. The calls to the outside world come in
 * as probes (built by cli/doctor.ts), so this module holds only the judgement.
 */
import type { TableDescription } from '@aws-sdk/client-dynamodb';
import type { Config } from '../config/index.js';
import type { QueueStats } from '../integrations/queue.js';
import type { RuleCheck } from '../rules/loader.js';
import { formatRuleIssue } from '../rules/types.js';
import { TABLE_SCHEMA } from '../store/schema.js';
import { checkSchema } from '../store/table.js';

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface CheckResult {
  name: string;
  status: CheckStatus;
  detail: string;
  /** What to do about a warn or fail. */
  fix?: string;
}

/** The outside world, as doctor needs it. Each probe may throw; the error's name and message are judged. */
export interface DoctorProbes {
  /** auth.test with the bot token: who it is, and its scopes when Slack reports them. */
  slackAuth(): Promise<{ team?: string; user?: string; scopes?: string[] }>;
  /** apps.connections.open with the app-level token (opens no connection). */
  slackConnection(): Promise<void>;
  queueStats(): Promise<QueueStats>;
  /** DescribeTable; undefined when the table does not exist. */
  describeTable(): Promise<TableDescription | undefined>;
  /** DescribeTimeToLive. */
  describeTtl(): Promise<{ status?: string; attribute?: string }>;
  duoCheck(): Promise<{ ok: boolean; detail: string }>;
  /** Trigger and resolve a test incident. Only called with `sendTestPage`. */
  sendTestPage(): Promise<{ ok: boolean; detail: string }>;
  rules(): Promise<RuleCheck>;
}

export interface DoctorOptions {
  /** The bot scopes the app needs (manifest.yml's `oauth_config.scopes.bot`); undefined: not checked. */
  requiredScopes?: string[];
  /** Why the required scopes are unknown (e.g. manifest.yml not found). */
  scopesUnknown?: string;
  sendTestPage?: boolean;
  /** Longest wait for one probe. Default 20 s. */
  timeoutMs?: number;
}

const PAGERDUTY_KEY_LENGTH = 32;
const HUB = 'terraform/modules/hub';

/**
 * Run every check, in a fixed order; never throws.
 *
 * @example
 * const results = await runDoctor(loadConfig(), doctorProbes(config), { requiredScopes });
 * if (results.some((r) => r.status === 'fail')) process.exitCode = 1;
 */
export async function runDoctor(
  config: Config,
  probes: DoctorProbes,
  opts: DoctorOptions = {},
): Promise<CheckResult[]> {
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const call = <T>(fn: () => Promise<T>) => withTimeout(fn(), timeoutMs);
  const live = !config.shadow;
  const results: CheckResult[] = [...configurationChecks(config)];

  results.push(...(await slackChecks(config, probes, opts, call)));
  results.push(await queueCheck(config, probes, call));
  results.push(...(await tableChecks(config, probes, call)));
  results.push(await duoCheck(config, probes, live, call));
  results.push(...(await pagerDutyChecks(config, probes, live, opts, call)));
  results.push(await rulesCheck(config, probes, call));
  return results;
}

function configurationChecks(config: Config): CheckResult[] {
  const out: CheckResult[] = [];
  out.push(
    config.shadow
      ? {
          name: 'configuration',
          status: 'warn',
          detail: `valid; shadow mode (${config.shadowReason}): decisions are recorded, nothing is sent`,
          fix: 'to go live set SLACK_BOT_TOKEN and SLACK_APP_TOKEN (and leave SECBOT_SHADOW unset or false)',
        }
      : { name: 'configuration', status: 'ok', detail: 'valid; live mode' },
  );
  if (!config.shadow) {
    out.push(
      config.slack.alertChannel
        ? { name: 'alert channel', status: 'ok', detail: config.slack.alertChannel }
        : {
            name: 'alert channel',
            status: 'warn',
            detail: 'SECBOT_ALERT_CHANNEL is not set: alerts are paged but not posted in Slack',
            fix: 'set SECBOT_ALERT_CHANNEL to the security channel ID (C…) and invite @secbot there',
          },
    );
    out.push(
      config.slack.staff.length > 0
        ? { name: 'staff', status: 'ok', detail: `${config.slack.staff.length} user(s)/group(s)` }
        : {
            name: 'staff',
            status: 'warn',
            detail: 'SECBOT_STAFF is empty: nobody can use /secbot status or silences',
            fix: 'set SECBOT_STAFF to the security team: user IDs (U…) and user-group IDs (S…), comma-separated',
          },
    );
  }
  return out;
}

type Call = <T>(fn: () => Promise<T>) => Promise<T>;

async function slackChecks(
  config: Config,
  probes: DoctorProbes,
  opts: DoctorOptions,
  call: Call,
): Promise<CheckResult[]> {
  if (!config.slack.botToken || !config.slack.appToken) {
    return [
      {
        name: 'slack',
        status: 'warn',
        detail: 'not configured (no SLACK_BOT_TOKEN / SLACK_APP_TOKEN)',
        fix: 'create the Slack app from manifest.yml and set both tokens (docs/operating.md)',
      },
    ];
  }
  const out: CheckResult[] = [];
  let scopes: string[] | undefined;
  let authOk = false;
  try {
    const who = await call(() => probes.slackAuth());
    authOk = true;
    scopes = who.scopes;
    out.push({
      name: 'slack bot token',
      status: 'ok',
      detail: `accepted: @${who.user ?? '?'} in ${who.team ?? '?'} (${config.slack.apiUrl})`,
    });
  } catch (err) {
    const code = slackError(err);
    out.push({
      name: 'slack bot token',
      status: 'fail',
      detail: `auth.test refused the bot token: ${code}`,
      fix: SLACK_NETWORK.has(code)
        ? `check SLACK_API_URL (${config.slack.apiUrl}) and outbound HTTPS to Slack`
        : 'set SLACK_BOT_TOKEN to the Bot User OAuth Token (xoxb-…) from the app\'s "OAuth & Permissions" page; reinstall the app to the workspace if it was revoked',
    });
  }

  if (!authOk) {
    out.push({ name: 'slack scopes', status: 'warn', detail: 'not checked: the bot token was refused' });
  } else if (!opts.requiredScopes) {
    out.push({
      name: 'slack scopes',
      status: 'warn',
      detail: `not checked: ${opts.scopesUnknown ?? 'the required scopes are unknown'}`,
    });
  } else if (!scopes) {
    out.push({
      name: 'slack scopes',
      status: 'warn',
      detail: "Slack did not report the token's scopes (no x-oauth-scopes header)",
      fix: `compare the app's scopes with manifest.yml by hand: ${opts.requiredScopes.join(', ')}`,
    });
  } else {
    const missing = opts.requiredScopes.filter((s) => !scopes?.includes(s));
    const extra = scopes.filter((s) => !opts.requiredScopes?.includes(s));
    if (missing.length > 0) {
      out.push({
        name: 'slack scopes',
        status: 'fail',
        detail: `the bot token lacks ${missing.join(', ')}`,
        fix: 'update the app from manifest.yml (or add the scopes under "OAuth & Permissions"), reinstall it to the workspace, and set the new SLACK_BOT_TOKEN if it changed',
      });
    } else if (extra.length > 0) {
      out.push({
        name: 'slack scopes',
        status: 'warn',
        detail: `all ${opts.requiredScopes.length} needed; also granted, not in manifest.yml: ${extra.join(', ')}`,
        fix: 'remove the extra scopes (least privilege) and reinstall the app',
      });
    } else {
      out.push({ name: 'slack scopes', status: 'ok', detail: scopes.join(', ') });
    }
  }

  try {
    await call(() => probes.slackConnection());
    out.push({
      name: 'slack socket mode',
      status: 'ok',
      detail: 'apps.connections.open accepted the app token',
    });
  } catch (err) {
    const code = slackError(err);
    out.push({
      name: 'slack socket mode',
      status: 'fail',
      detail: `apps.connections.open refused the app-level token: ${code}`,
      fix: SLACK_NETWORK.has(code)
        ? `check SLACK_API_URL (${config.slack.apiUrl}) and outbound HTTPS to Slack`
        : 'enable Socket Mode for the app, and set SLACK_APP_TOKEN to an app-level token (xapp-…) with the connections:write scope ("Basic Information" → "App-Level Tokens")',
    });
  }
  return out;
}

async function queueCheck(config: Config, probes: DoctorProbes, call: Call): Promise<CheckResult> {
  if (config.queue.embedded) {
    return {
      name: 'queue',
      status: 'warn',
      detail:
        'SECBOT_QUEUE_URL is not set: the embedded queue (for trying secbot out) receives nothing from AWS',
      fix: `set SECBOT_QUEUE_URL to the queue made by ${HUB} (terraform output secbot_environment)`,
    };
  }
  let stats: QueueStats;
  try {
    stats = await call(() => probes.queueStats());
  } catch (err) {
    return { name: 'queue', status: 'fail', detail: describe(err), fix: awsFix(err, 'SQS', config) };
  }
  const counts = `${stats.visible} waiting, ${stats.inFlight} in flight`;
  if (!stats.deadLetter) {
    return {
      name: 'queue',
      status: 'fail',
      detail: `${counts}; no dead-letter queue (RedrivePolicy)`,
      fix: `a message secbot cannot decode would be received forever: give the queue a dead-letter queue after 3 receives, as ${HUB} does`,
    };
  }
  if (stats.deadLetter.visible > 0) {
    return {
      name: 'queue',
      status: 'warn',
      detail: `${counts}; ${stats.deadLetter.visible} message(s) in the dead-letter queue`,
      fix: `read them (aws sqs receive-message --queue-url ${stats.deadLetter.url}), fix the cause, then move them back (aws sqs start-message-move-task)`,
    };
  }
  return { name: 'queue', status: 'ok', detail: `${counts}; dead-letter queue empty` };
}

async function tableChecks(config: Config, probes: DoctorProbes, call: Call): Promise<CheckResult[]> {
  const name = config.table.name;
  if (config.table.embedded) {
    return [
      {
        name: 'table',
        status: 'warn',
        detail: `embedded (${config.dataDir}): no queue, no AWS credentials and no AWS_ENDPOINT_URL_DYNAMODB configured`,
        fix: `set SECBOT_QUEUE_URL and SECBOT_TABLE from ${HUB} and give secbot AWS credentials (ECS task role, EKS IRSA, an instance profile, AWS_PROFILE or keys)`,
      },
    ];
  }
  let table: TableDescription | undefined;
  try {
    table = await call(() => probes.describeTable());
  } catch (err) {
    return [{ name: 'table', status: 'fail', detail: describe(err), fix: awsFix(err, 'DynamoDB', config) }];
  }
  if (!table) {
    return [
      {
        name: 'table',
        status: 'fail',
        detail: `table ${name} does not exist in ${config.aws.region}`,
        fix: `apply ${HUB} (or set SECBOT_TABLE / AWS_REGION to where it is); secbot would try to create it at start, which the hub's IAM policy deliberately does not allow`,
      },
    ];
  }
  const out: CheckResult[] = [];
  const problems = checkSchema(table);
  out.push(
    problems.length > 0
      ? {
          name: 'table',
          status: 'fail',
          detail: `${name}: ${problems.join('; ')}`,
          fix: `this table was not made with secbot's schema (store/schema.ts): create it with ${HUB} and point SECBOT_TABLE at it`,
        }
      : table.TableStatus !== 'ACTIVE'
        ? {
            name: 'table',
            status: 'warn',
            detail: `${name} is ${table.TableStatus}`,
            fix: 'wait until it is ACTIVE',
          }
        : {
            name: 'table',
            status: 'ok',
            detail: `${name}: ACTIVE, schema matches (${table.ItemCount ?? '?'} items)`,
          },
  );
  try {
    const ttl = await call(() => probes.describeTtl());
    const on = ttl.status === 'ENABLED' || ttl.status === 'ENABLING';
    out.push(
      on && ttl.attribute === TABLE_SCHEMA.ttlAttribute
        ? { name: 'table ttl', status: 'ok', detail: `${ttl.status} on ${ttl.attribute}` }
        : on
          ? {
              name: 'table ttl',
              status: 'fail',
              detail: `TTL is on attribute ${ttl.attribute}, expected ${TABLE_SCHEMA.ttlAttribute}`,
              fix: `recreate the table with ${HUB} (TTL attribute ${TABLE_SCHEMA.ttlAttribute})`,
            }
          : {
              name: 'table ttl',
              status: 'warn',
              detail: `TTL is ${ttl.status ?? 'unknown'}: expired items are ignored on read but never deleted`,
              fix: `enable TTL on attribute ${TABLE_SCHEMA.ttlAttribute} (${HUB} does)`,
            },
    );
  } catch (err) {
    out.push({
      name: 'table ttl',
      status: 'warn',
      detail: describe(err),
      fix: awsFix(err, 'DynamoDB', config),
    });
  }
  return out;
}

async function duoCheck(
  config: Config,
  probes: DoctorProbes,
  live: boolean,
  call: Call,
): Promise<CheckResult> {
  if (!config.duo) {
    return {
      name: 'duo',
      status: live ? 'fail' : 'warn',
      detail: 'not configured: every "Yes" escalates (no second factor can confirm the engineer)',
      fix: 'create an Auth API application in the Duo Admin Panel and set DUO_IKEY, DUO_SKEY and DUO_HOST',
    };
  }
  try {
    const r = await call(() => probes.duoCheck());
    if (r.ok) return { name: 'duo', status: 'ok', detail: r.detail };
    const keys = /\b401\b|40101|40102|40103|40104|signature|credentials|integration key/i.test(r.detail);
    return {
      name: 'duo',
      status: 'fail',
      detail: `/auth/v2/check failed: ${r.detail}`,
      fix: keys
        ? 'DUO_IKEY and DUO_SKEY do not match: copy both from the Auth API application in the Duo Admin Panel (with its DUO_HOST)'
        : `check DUO_HOST (${config.duo.host}, api-xxxxxxxx.duosecurity.com) and outbound HTTPS to it`,
    };
  } catch (err) {
    return { name: 'duo', status: 'fail', detail: describe(err), fix: `check DUO_HOST (${config.duo.host})` };
  }
}

async function pagerDutyChecks(
  config: Config,
  probes: DoctorProbes,
  live: boolean,
  opts: DoctorOptions,
  call: Call,
): Promise<CheckResult[]> {
  const key = config.pagerDuty.routingKey;
  if (!key) {
    return [
      {
        name: 'pagerduty',
        status: live ? 'fail' : 'warn',
        detail: 'PAGERDUTY_ROUTING_KEY is not set: alerts are posted in Slack but nobody is paged',
        fix: "add an Events API v2 integration to the security team's PagerDuty service and set PAGERDUTY_ROUTING_KEY to its integration key",
      },
    ];
  }
  if (key.length !== PAGERDUTY_KEY_LENGTH || !/^[A-Za-z0-9]+$/.test(key)) {
    return [
      {
        name: 'pagerduty',
        status: 'fail',
        detail: `PAGERDUTY_ROUTING_KEY is ${key.length} characters; an Events API v2 integration key is ${PAGERDUTY_KEY_LENGTH} letters and digits`,
        fix: 'copy the "Integration Key" of the service\'s Events API v2 integration (not a REST API key)',
      },
    ];
  }
  const out: CheckResult[] = [
    {
      name: 'pagerduty',
      status: 'ok',
      detail: `routing key set (…${key.slice(-4)}), events to ${config.pagerDuty.eventsUrl}${opts.sendTestPage ? '' : '; no test page sent (--send-test-page)'}`,
    },
  ];
  if (opts.sendTestPage) {
    try {
      const r = await call(() => probes.sendTestPage());
      out.push(
        r.ok
          ? { name: 'pagerduty test page', status: 'ok', detail: r.detail }
          : {
              name: 'pagerduty test page',
              status: 'fail',
              detail: r.detail,
              fix: `check PAGERDUTY_ROUTING_KEY and outbound HTTPS to ${config.pagerDuty.eventsUrl}`,
            },
      );
    } catch (err) {
      out.push({ name: 'pagerduty test page', status: 'fail', detail: describe(err) });
    }
  }
  return out;
}

async function rulesCheck(config: Config, probes: DoctorProbes, call: Call): Promise<CheckResult> {
  let check: RuleCheck;
  try {
    check = await call(() => probes.rules());
  } catch (err) {
    return { name: 'rules', status: 'fail', detail: describe(err), fix: 'check SECBOT_RULES' };
  }
  const errors = check.issues.filter((i) => i.severity === 'error');
  const warnings = check.issues.filter((i) => i.severity === 'warning');
  const where = config.rulesDirs ? config.rulesDirs.join(', ') : 'the bundled rules';
  if (errors.length > 0) {
    const shown = errors.slice(0, 5).map(formatRuleIssue).join('; ');
    return {
      name: 'rules',
      status: 'fail',
      detail: `${errors.length} error(s) in ${where}: ${shown}${errors.length > 5 ? '; …' : ''}`,
      fix: 'secbot refuses to start with a broken ruleset: run `secbot rules check` and fix each file:line',
    };
  }
  if (check.ruleSet.rules.length === 0) {
    return {
      name: 'rules',
      status: 'fail',
      detail: `no rules in ${where}`,
      fix: 'point SECBOT_RULES at folders of rule files, or unset it for the bundled rules',
    };
  }
  return warnings.length > 0
    ? {
        name: 'rules',
        status: 'warn',
        detail: `${check.ruleSet.rules.length} rules from ${where}; ${warnings.length} warning(s): ${formatRuleIssue(warnings[0] as (typeof warnings)[number])}`,
        fix: 'run `secbot rules check` for the full list',
      }
    : { name: 'rules', status: 'ok', detail: `${check.ruleSet.rules.length} rules from ${where}` };
}

/** Slack's error code from a @slack/web-api error, or the message. */
function slackError(err: unknown): string {
  const e = err as { data?: { error?: unknown }; code?: unknown; message?: unknown };
  if (typeof e.data?.error === 'string') return e.data.error;
  if (typeof e.code === 'string' && e.code !== 'slack_webapi_platform_error')
    return `${e.code}: ${String(e.message)}`;
  return String(e.message ?? err);
}
const SLACK_NETWORK = new Set(['slack_webapi_request_error', 'timeout']);

/** The root AWS error name (QueueError and StoreError wrap it as `cause`). */
function awsErrorName(err: unknown): string {
  let e: unknown = err;
  for (let i = 0; i < 5 && e instanceof Error; i++) {
    const cause = (e as { cause?: unknown }).cause;
    if (!(cause instanceof Error)) return e.name;
    e = cause;
  }
  return e instanceof Error ? e.name : '';
}

function awsFix(err: unknown, service: 'SQS' | 'DynamoDB', config: Config): string {
  const name = awsErrorName(err);
  const text = describe(err);
  if (/AccessDenied|UnauthorizedOperation|not authorized/i.test(`${name} ${text}`)) {
    return `secbot's role may not call ${service} here: attach the hub's policy (terraform output secbot_policy_arn) to the role secbot runs as`;
  }
  if (
    /Credentials|UnrecognizedClient|InvalidClientTokenId|ExpiredToken|security token/i.test(`${name} ${text}`)
  ) {
    return 'give secbot AWS credentials: a task, pod or instance role, AWS_PROFILE, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY';
  }
  if (service === 'SQS' && /QueueDoesNotExist|NonExistentQueue/i.test(`${name} ${text}`)) {
    return `check SECBOT_QUEUE_URL (${config.queue.url}) and AWS_REGION (${config.aws.region}): terraform output queue_url`;
  }
  return service === 'SQS'
    ? `check SECBOT_QUEUE_URL, AWS_REGION and network access to SQS${config.queue.endpoint ? ` (${config.queue.endpoint})` : ''}`
    : `check AWS_REGION and network access to DynamoDB${config.table.endpoint ? ` (${config.table.endpoint})` : ''}`;
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  return err.message || err.name;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${Math.round(ms / 1000)} s`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
