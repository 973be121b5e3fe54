/**
 * `secbot doctor`: builds the probes of handlers/doctor.ts from the configuration (the same clients
 * secbot itself uses), runs the checks, prints a table with a fix under each problem, and exits 1 when
 * any check fails.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { DescribeTableCommand, DescribeTimeToLiveCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LogLevel, type Logger as SlackLogger, WebClient } from '@slack/web-api';
import { parse as parseYaml } from 'yaml';
import { type Config, loadConfig } from '../config/index.js';
import { type CheckResult, type CheckStatus, type DoctorProbes, runDoctor } from '../handlers/doctor.js';
import { createDuoSecondFactor } from '../integrations/duo.js';
import { createPagerDutyPager } from '../integrations/pagerduty.js';
import { createSqsQueue } from '../integrations/queue.js';
import { ConfigError } from '../lib/errors.js';
import { BUNDLED_RULES_DIR, checkRuleDirs } from '../rules/loader.js';

/** manifest.yml beside the sources (a checkout) or beside dist/ (the build copies it there). */
export const DEFAULT_MANIFEST = fileURLToPath(new URL('../manifest.yml', import.meta.url));

export interface DoctorCommandOptions {
  sendTestPage?: boolean;
  /** --rules folders (else SECBOT_RULES, else the bundled rules). */
  rules?: string[];
  manifest?: string;
  env?: Record<string, string | undefined>;
  write?: (text: string) => void;
}

/**
 * @example
 * process.exitCode = await runDoctorCommand({ sendTestPage: false });
 */
export async function runDoctorCommand(opts: DoctorCommandOptions = {}): Promise<number> {
  const write = opts.write ?? ((t: string) => process.stdout.write(t));
  let config: Config;
  try {
    config = loadConfig(opts.env ?? process.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    write(
      formatReport([
        {
          name: 'configuration',
          status: 'fail',
          detail: err.message,
          fix: `set ${err.variable ?? 'the variable'} as .env.example describes; nothing else was checked`,
        },
      ]),
    );
    return 1;
  }
  const scopes = await requiredBotScopes(opts.manifest ?? DEFAULT_MANIFEST);
  const probes = doctorProbes(config, { rules: opts.rules });
  try {
    const results = await runDoctor(config, probes, {
      requiredScopes: scopes.scopes,
      scopesUnknown: scopes.problem,
      sendTestPage: opts.sendTestPage,
    });
    write(formatReport(results));
    return results.some((r) => r.status === 'fail') ? 1 : 0;
  } finally {
    probes.close();
  }
}

/** The bot scopes of the Slack app manifest (`oauth_config.scopes.bot`). */
export async function requiredBotScopes(path: string): Promise<{ scopes?: string[]; problem?: string }> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return { problem: `${path} not found` };
  }
  try {
    const manifest = parseYaml(text) as { oauth_config?: { scopes?: { bot?: unknown } } } | null;
    const bot = manifest?.oauth_config?.scopes?.bot;
    if (Array.isArray(bot) && bot.every((s) => typeof s === 'string')) return { scopes: bot };
    return { problem: `${path} has no oauth_config.scopes.bot list` };
  } catch (err) {
    return { problem: `${path} is not valid YAML: ${(err as Error).message}` };
  }
}

const silentSlackLogger: SlackLogger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  setLevel: () => {},
  getLevel: () => LogLevel.ERROR,
  setName: () => {},
};

/** Probes over the real clients, built as app.ts builds them. Call `close()` when done. */
export function doctorProbes(
  config: Config,
  opts: { rules?: string[] } = {},
): DoctorProbes & { close(): void } {
  const slack = (token: string | undefined) =>
    new WebClient(token, {
      slackApiUrl: config.slack.apiUrl,
      logger: silentSlackLogger,
      retryConfig: { retries: 0 },
      rejectRateLimitedCalls: true,
      timeout: 15_000,
    });
  const aws = { region: config.aws.region, credentials: config.aws.credentials, maxAttempts: 2 };
  let dynamo: DynamoDBClient | undefined;
  const table = () => {
    dynamo ??= new DynamoDBClient({ ...aws, endpoint: config.table.endpoint });
    return dynamo;
  };
  const queue = () =>
    createSqsQueue({ url: config.queue.url ?? '', endpoint: config.queue.endpoint, ...aws });

  return {
    async slackAuth() {
      const r = await slack(config.slack.botToken).auth.test();
      return { team: r.team, user: r.user, scopes: r.response_metadata?.scopes };
    },
    async slackConnection() {
      await slack(config.slack.appToken).apps.connections.open();
    },
    queueStats: () => queue().stats(),
    async describeTable() {
      try {
        return (await table().send(new DescribeTableCommand({ TableName: config.table.name }))).Table;
      } catch (err) {
        if ((err as Error).name === 'ResourceNotFoundException') return undefined;
        throw err;
      }
    },
    async describeTtl() {
      const d = (await table().send(new DescribeTimeToLiveCommand({ TableName: config.table.name })))
        .TimeToLiveDescription;
      return { status: d?.TimeToLiveStatus, attribute: d?.AttributeName };
    },
    async duoCheck() {
      const duo = config.duo;
      if (!duo) return { ok: false, detail: 'not configured' };
      return createDuoSecondFactor({ ikey: duo.ikey, skey: duo.skey, host: duo.host }).check();
    },
    async sendTestPage() {
      const pager = createPagerDutyPager({
        routingKey: config.pagerDuty.routingKey ?? '',
        eventsUrl: config.pagerDuty.eventsUrl,
      });
      const dedupKey = `secbot-doctor-${Date.now()}`;
      const t = await pager.trigger({
        dedupKey,
        summary: 'secbot doctor: test page (resolved at once; no action needed)',
        severity: 'info',
        source: 'secbot doctor',
      });
      if (!t.ok) return { ok: false, detail: `trigger refused: ${t.reason}` };
      const r = await pager.resolve(dedupKey);
      return r.ok
        ? { ok: true, detail: `test incident ${dedupKey} triggered and resolved` }
        : {
            ok: false,
            detail: `triggered ${dedupKey}, but resolve failed: ${r.reason} (resolve it by hand)`,
          };
    },
    rules: () => checkRuleDirs(opts.rules?.length ? opts.rules : (config.rulesDirs ?? [BUNDLED_RULES_DIR])),
    close() {
      dynamo?.destroy();
    },
  };
}

const MARK: Record<CheckStatus, string> = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL' };

/** One line per check (status, name, detail), a `fix:` line under each warn and fail, and a summary. */
export function formatReport(results: CheckResult[]): string {
  const width = Math.max(...results.map((r) => r.name.length));
  const lines: string[] = [];
  for (const r of results) {
    lines.push(`${MARK[r.status]}  ${r.name.padEnd(width)}  ${r.detail}`);
    if (r.fix && r.status !== 'ok') lines.push(`      ${' '.repeat(width)}  fix: ${r.fix}`);
  }
  const count = (s: CheckStatus) => results.filter((r) => r.status === s).length;
  lines.push('', `doctor: ${count('ok')} ok, ${count('warn')} warnings, ${count('fail')} failed`);
  return `${lines.join('\n')}\n`;
}
