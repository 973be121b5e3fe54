/**
 * secbot's composition root: reads the configuration, builds the services (embedded queue and table
 * when none are configured; Slack, Duo and PagerDuty, or their shadow stand-ins), and runs the drain
 * on its schedule until SIGTERM/SIGINT.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { App } from '@slack/bolt';
import cron from 'node-cron';
import type { DestinationStream } from 'pino';
import { createAuditTrail } from './audit/trail.js';
import { decodeMessage } from './cloudtrail/decode.js';
import type { CloudTrailRecord } from './cloudtrail/record.js';
import { type Config, loadConfig } from './config/index.js';
import type { Decision } from './handlers/decide.js';
import { DEFAULT_DRAIN_OPTIONS, type DrainOptions, type DrainReport, drainQueue } from './handlers/drain.js';
import { principalDirectory } from './handlers/engineers.js';
import { createHomeService, type HomeService, notifyingStore } from './handlers/home.js';
import type { EngineerDirectory, Messenger } from './handlers/ports.js';
import { createStaffGuard } from './handlers/staff.js';
import { sweep } from './handlers/sweep.js';
import { resumePendingPushes, type VerifyDeps } from './handlers/verify.js';
import { createWatchdog } from './handlers/watchdog.js';
import { createRemediationExecutor, shadowRemediationExecutor } from './integrations/aws-remediation.js';
import { createDuoSecondFactor } from './integrations/duo.js';
import { startEmbeddedDynamo } from './integrations/embedded-dynamo.js';
import { startEmbeddedSqs } from './integrations/embedded-sqs.js';
import { clearEmbeddedEndpoints, writeEmbeddedEndpoints } from './integrations/embedded-state.js';
import { enqueueRecords } from './integrations/enqueue.js';
import { loadIdentityMap } from './integrations/identity-map.js';
import { createPagerDutyPager, type Pager } from './integrations/pagerduty.js';
import { createSqsQueue, type Queue } from './integrations/queue.js';
import { type Print, printToStdout, shadowMessenger, shadowPager } from './integrations/shadow.js';
import { createSlackApp, startSlackApp } from './integrations/slack-app.js';
import { createSlackDirectory } from './integrations/slack-directory.js';
import { createSlackHomePublisher, slackHealth } from './integrations/slack-home.js';
import { createSlackMessenger } from './integrations/slack-messenger.js';
import { armCrashPoint } from './lib/crash-points.js';
import { SecbotError } from './lib/errors.js';
import { secbotVersion } from './lib/version.js';
import { registerListeners } from './listeners/index.js';
import { createLogger, type Logger } from './logging/logger.js';
import { BUNDLED_RULES_DIR, loadRuleDirs, RuleLoadError } from './rules/loader.js';
import { createDynamoStore, type Store } from './store/store.js';
import { ensureTable } from './store/table.js';

const SAMPLES = fileURLToPath(new URL('./samples/seed.jsonl', import.meta.url));

export interface Secbot {
  config: Config;
  store: Store;
  queue: Queue;
  /**
   * One drain and sweep now. The schedule runs these, back to back while a run stops on its budget with
   * messages left.
   */
  runOnce(): Promise<void>;
  stop(): Promise<void>;
}

export interface StartOptions {
  env?: Record<string, string | undefined>;
  print?: Print;
  /** Do not schedule (tests drive runOnce themselves). */
  schedule?: boolean;
  drain?: Partial<DrainOptions>;
  /** App Home refresh debounce (tests shorten it). */
  home?: { debounceMs?: number };
  /** The time as secbot sees it, for the drain, sweep, watchdog, status and Home (tests control it). */
  clock?: () => Date;
  /** Where the operational log goes instead of stderr (tests capture it to assert what operators see). */
  logDestination?: DestinationStream;
  /** Slack Web API per-request timeout (tests shorten it). */
  slack?: { timeoutMs?: number };
}

function decisionLine(d: Decision): string {
  const tag = d.action.toUpperCase().padEnd(6);
  return `[decide] ${tag} ${d.summary}${d.adjustments.length > 0 ? ` (${d.adjustments.map((a) => a.reason).join('; ')})` : ''}`;
}

/** Build and start secbot. Throws a SecbotError (with a message naming what is wrong) when it cannot start. */
export async function start(opts: StartOptions = {}): Promise<Secbot> {
  const config = loadConfig(opts.env ?? process.env);
  const logger = createLogger({ level: config.logLevel, destination: opts.logDestination });
  armCrashPoint(config.crashAt);
  if (config.crashAt)
    logger.warn(`SECBOT_CRASH_AT=${config.crashAt}: this process SIGKILLs itself there (test-only)`);
  const print = opts.print ?? printToStdout;
  const clock = opts.clock ?? (() => new Date());
  const watch = { heartbeatLateMs: config.watchdog.heartbeatLateMs, accountAliases: config.accountAliases };
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const s of stops.reverse()) await s().catch((err) => logger.warn({ err }, 'stop failed'));
  };

  try {
    const ruleSet = await loadRuleDirs(config.rulesDirs ?? [BUNDLED_RULES_DIR]);
    for (const w of ruleSet.warnings)
      logger.warn(`rules: ${w.file}${w.line ? `:${w.line}` : ''}: ${w.message}`);

    // --- the table ---
    let dynamo: DynamoDBClient;
    if (config.table.embedded) {
      const embedded = await startEmbeddedDynamo({ dataDir: config.dataDir });
      stops.push(() => embedded.stop());
      dynamo = new DynamoDBClient(embedded.clientConfig);
    } else {
      dynamo = new DynamoDBClient({
        region: config.aws.region,
        endpoint: config.table.endpoint,
        credentials: config.aws.credentials,
        maxAttempts: 5,
      });
    }
    stops.push(async () => dynamo.destroy());
    await ensureTable(dynamo, config.table.name, { logger, expectTtl: !config.table.embedded });
    // Every write that changes what an App Home shows tells the Home service (live mode sets it).
    let home: HomeService | undefined;
    const store = notifyingStore(
      createDynamoStore({ tableName: config.table.name, client: dynamo, logger }),
      () => home?.changed(),
    );

    // --- the queue ---
    let queue: Queue;
    if (config.queue.embedded) {
      const sqs = await startEmbeddedSqs();
      stops.push(() => sqs.stop());
      queue = createSqsQueue({ ...sqs.queueOptions, logger });
      await writeEmbeddedEndpoints(config.dataDir, {
        pid: process.pid,
        sqsEndpoint: sqs.endpoint,
        queueUrl: sqs.queueUrl,
        deadLetterUrl: sqs.deadLetterUrl,
      });
      stops.push(() => clearEmbeddedEndpoints(config.dataDir));
      await seedOnFirstStart(config.dataDir, queue, print);
    } else {
      queue = createSqsQueue({
        url: config.queue.url ?? '',
        region: config.aws.region,
        endpoint: config.queue.endpoint,
        credentials: config.aws.credentials,
        logger,
      });
    }

    // --- the outside world, or its shadow ---
    const audit = createAuditTrail({
      file: config.auditFile ?? (config.queue.embedded ? join(config.dataDir, 'audit.jsonl') : undefined),
    });
    stops.push(() => audit.flush());
    const ruleTitles = new Map(ruleSet.rules.map((r) => [r.id, r.title]));
    const pager: Pager = config.shadow
      ? shadowPager(print)
      : config.pagerDuty.routingKey
        ? createPagerDutyPager({
            routingKey: config.pagerDuty.routingKey,
            eventsUrl: config.pagerDuty.eventsUrl,
            logger,
          })
        : unconfiguredPager(logger);
    const shutdown = new AbortController();
    let messenger: Messenger;
    let directory: EngineerDirectory;
    let slack: App | undefined;
    let verifyDeps: VerifyDeps | undefined;
    const background = new Set<Promise<unknown>>();
    if (config.shadow || !config.slack.botToken || !config.slack.appToken) {
      messenger = shadowMessenger(logger, print);
      directory = principalDirectory();
    } else {
      slack = createSlackApp({
        botToken: config.slack.botToken,
        appToken: config.slack.appToken,
        apiUrl: config.slack.apiUrl,
        logger,
        timeoutMs: opts.slack?.timeoutMs,
      });
      const client = slack.client;
      const slackDirectory = createSlackDirectory({
        client,
        identityMap: config.identityMapFile ? await loadIdentityMap(config.identityMapFile) : undefined,
        emailDomain: config.emailDomain,
        logger,
      });
      directory = slackDirectory;
      // One-click remediation: live with SECBOT_REMEDIATION_ROLE, else in shadow (the exact call printed).
      const remediationExecutor = config.remediation.roleName
        ? createRemediationExecutor({
            roleName: config.remediation.roleName,
            region: config.aws.region,
            credentials: config.aws.credentials,
            logger,
          })
        : shadowRemediationExecutor({ print, why: 'SECBOT_REMEDIATION_ROLE is not set' });
      const slackMessenger = createSlackMessenger({
        client,
        alertChannel: config.slack.alertChannel,
        logger,
        ruleTitles,
        accountAliases: config.accountAliases,
        remediation: { enabled: true, mode: remediationExecutor.mode, duo: config.remediation.requireDuo },
      });
      messenger = slackMessenger;
      const duo = config.duo
        ? createDuoSecondFactor({
            ikey: config.duo.ikey,
            skey: config.duo.skey,
            host: config.duo.host,
            logger,
          })
        : undefined;
      if (!duo) logger.warn('Duo is not configured (DUO_IKEY, DUO_SKEY, DUO_HOST): every "Yes" escalates');
      if (!config.remediation.requireDuo)
        logger.warn('SECBOT_REMEDIATION_DUO=false: staff run remediations without a second factor');
      else if (!duo) logger.warn('Duo is not configured: every remediation press is refused');
      verifyDeps = {
        store,
        messenger,
        duo,
        duoUsername: async (userId) => {
          const email = await slackDirectory.emailOf(userId);
          return email && config.duoUsername === 'local_part' ? email.split('@')[0] : email;
        },
        audit,
        logger,
        duoTimeoutMs: config.duo?.timeoutMs ?? 60_000,
        signal: shutdown.signal,
      };
      const staff = createStaffGuard({
        staff: config.slack.staff,
        groups: {
          members: async (usergroup) => (await client.usergroups.users.list({ usergroup })).users ?? [],
        },
        logger,
      });
      const homeService = createHomeService({
        store,
        staff,
        publisher: createSlackHomePublisher({ client, ruleTitles }),
        logger,
        debounceMs: opts.home?.debounceMs,
        clock,
        watch,
      });
      home = homeService;
      registerListeners(slack, {
        verify: verifyDeps,
        alerts: { store, pager, messenger, audit, logger, clock },
        silences: { store, audit, clock },
        rules: { store, rules: ruleSet.rules, audit, clock },
        status: {
          store,
          queue,
          rules: { count: ruleSet.rules.length, warnings: ruleSet.warnings },
          health: {
            slack: slackHealth({
              client,
              alertChannel: config.slack.alertChannel,
              alertChannelProblem: slackMessenger.alertChannelProblem,
            }),
            duo: async () => {
              if (!duo) return { state: 'not_configured', detail: 'not configured: every "Yes" escalates' };
              const r = await duo.check();
              return { state: r.ok ? 'ok' : 'problem', detail: r.detail };
            },
            pagerDuty: () =>
              config.pagerDuty.routingKey
                ? {
                    state: 'ok',
                    detail: `routing key configured (${new URL(config.pagerDuty.eventsUrl).host})`,
                  }
                : {
                    state: 'not_configured',
                    detail: 'PAGERDUTY_ROUTING_KEY is not set: pages wait until it is',
                  },
          },
          shadow: { on: config.shadow, reason: config.shadowReason },
          version: secbotVersion(),
          audit,
          logger,
          clock,
          watch,
        },
        home: homeService,
        remediate: {
          store,
          messenger,
          executor: remediationExecutor,
          requireDuo: config.remediation.requireDuo,
          duo,
          duoUsername: verifyDeps.duoUsername,
          duoTimeoutMs: config.duo?.timeoutMs ?? 60_000,
          audit,
          logger,
          signal: shutdown.signal,
        },
        staff,
        audit,
        logger,
        background,
      });
      await startSlackApp(slack);
      const app = slack;
      stops.push(async () => {
        await app.stop();
      });
      stops.push(() => homeService.stop());
      const resumed = await resumePendingPushes(verifyDeps);
      if (resumed > 0) logger.info(`resumed ${resumed} Duo push(es) left pending by a previous process`);
    }

    const owner = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    const drainOptions: DrainOptions = {
      ...DEFAULT_DRAIN_OPTIONS,
      // The embedded queue answers long polls only when full or at the end of the wait: keep them short.
      waitSeconds: config.queue.embedded ? 0 : 1,
      visibilityTimeoutSeconds: Math.round(config.visibilityTimeoutMs / 1000),
      // Shorter than the visibility timeout: a message redelivered after a crash mid-batch finds its
      // records' claims expired, instead of "busy" (which spends a receive on the way to the DLQ).
      leaseMs: Math.round(config.visibilityTimeoutMs * 0.75),
      ...opts.drain,
    };
    // The watchdog (README "Watching the watcher"): judged after each drain, before the sweep, so the
    // sweep of the same run posts and pages what it raised.
    const watchdog = createWatchdog({
      store,
      queue,
      messenger,
      pager,
      audit,
      logger,
      clock,
      accountAliases: config.accountAliases,
      options: {
        heartbeatLateMs: config.watchdog.heartbeatLateMs,
        queueAgeMs: config.watchdog.queueAgeMs,
        drainFailures: config.watchdog.drainFailures,
      },
    });
    let running: Promise<boolean> | undefined;
    /** One drain and its sweep. True when the drain stopped on its time budget with messages left. */
    const runOnce = async (): Promise<boolean> => {
      let report: DrainReport | undefined;
      let drainError: unknown;
      try {
        report = await drainQueue(
          {
            queue,
            store,
            ruleSet,
            directory,
            audit,
            logger,
            policy: config.policy,
            verifyTimeoutMs: config.verifyTimeoutMs,
            alertBurstMs: config.alertBurstMs,
            owner,
            clock,
            onDecision: config.shadow ? (d) => print(decisionLine(d)) : undefined,
          },
          drainOptions,
          shutdown.signal,
        );
      } catch (err) {
        drainError = err;
      }
      if (report && (report.received > 0 || report.errors > 0)) {
        logger.info(
          { drain: { ...report, startedAt: report.startedAt.toISOString() } },
          `drain: ${report.decided} decided, ${report.duplicates} duplicates, ${report.poison} poison, ${report.errors} errors`,
        );
      }
      if (shutdown.signal.aborted) {
        if (drainError) throw drainError;
        return false;
      }
      const watched = await watchdog.run({ drain: report, drainError });
      if (watched.errors > 0) logger.warn({ watchdog: watched }, 'watchdog finished with errors');
      const sweptAt = Date.now();
      const swept = await sweep(
        {
          store,
          messenger,
          pager,
          audit,
          logger,
          owner,
          clock,
          staleSendMs: config.dmResendAfterMs,
        },
        // Messages left on the queue may hold more calls of a fresh question's burst: hold it (a minute at most).
        { backlog: report?.stoppedBy === 'budget' },
      );
      if (swept.errors > 0) logger.warn({ sweep: swept }, 'sweep finished with errors');
      else if (swept.questionsSent + swept.questionsUpdated + swept.alertsPosted + swept.pagesSent > 0) {
        logger.info(
          { sweep: { ...swept, durationMs: Date.now() - sweptAt } },
          `sweep: ${swept.questionsSent} questions sent, ${swept.questionsUpdated} updated, ${swept.pagesSent} pages sent`,
        );
      }
      if (drainError) throw drainError;
      return report?.stoppedBy === 'budget' && report.received > 0;
    };
    const guardedRun = async (): Promise<boolean> => {
      if (running) return false; // no overlapping runs
      running = runOnce()
        .catch((err) => {
          logger.error({ err }, 'run failed; the next scheduled run retries');
          return false;
        })
        .finally(() => {
          running = undefined;
        });
      return running;
    };
    /**
     * What the schedule runs. A run that stopped on its budget left a backlog (a burst): the next run
     * starts as soon as its sweep is done, not at the next tick, so a backlog drains at the drain's
     * pace while every run's sweep still posts and pages what the run decided (the budget bounds how
     * long a page waits behind the backlog). Ticks that come meanwhile are skipped (no overlapping runs).
     */
    const scheduledRun = async () => {
      while ((await guardedRun()) && !shutdown.signal.aborted) {
        logger.info('drain: the run stopped on its budget with messages left; the next run starts now');
      }
    };

    let task: ReturnType<typeof cron.schedule> | undefined;
    if (opts.schedule !== false) {
      task = cron.schedule(config.schedule, scheduledRun, { name: 'secbot-drain', noOverlap: true });
      void scheduledRun();
    }
    stops.push(async () => {
      shutdown.abort();
      await task?.stop();
      await running;
      await Promise.allSettled([...background]);
    });

    printBanner(config, print);
    return {
      config,
      store,
      queue,
      runOnce: async () => {
        await guardedRun();
      },
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** PagerDuty not configured outside shadow mode: pages stay pending (and visible in status) until it is. */
function unconfiguredPager(logger: Logger): Pager {
  logger.warn(
    'PAGERDUTY_ROUTING_KEY is not set: alerts are posted in Slack but pages wait until it is configured',
  );
  const no = async () => ({
    ok: false as const,
    retryable: true,
    reason: 'PAGERDUTY_ROUTING_KEY is not set',
  });
  return { trigger: no, acknowledge: no, resolve: no };
}

/** On the first start of an embedded queue, enqueue the bundled samples (with fresh times and ids). */
async function seedOnFirstStart(dataDir: string, queue: Queue, print: Print): Promise<void> {
  const marker = join(dataDir, 'seeded');
  if (existsSync(marker)) return;
  const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  const lines = (await readFile(SAMPLES, 'utf8')).split('\n').filter((l) => l.trim() !== '');
  const records: CloudTrailRecord[] = [];
  for (const line of lines) {
    const decoded = decodeMessage(line);
    if (decoded.ok) records.push(...decoded.records);
  }
  for (const r of records) r.eventTime = now;
  const { sent } = await enqueueRecords(queue, records);
  await mkdir(dataDir, { recursive: true });
  await writeFile(marker, `${now}\n`);
  print(`[seed] enqueued ${sent} sample CloudTrail events from samples/seed.jsonl`);
}

function printBanner(config: Config, print: Print): void {
  const lines = [
    '',
    'secbot is running.',
    `  queue: ${config.queue.embedded ? 'embedded (in-process, local-aws-sqs)' : config.queue.url}`,
    `  table: ${config.table.embedded ? `embedded (dynalite, ${config.dataDir})` : config.table.name}`,
    `  drain: ${config.schedule}`,
    config.shadow
      ? `  shadow mode (${config.shadowReason}): decisions are stored, nothing is sent to Slack, Duo or PagerDuty`
      : '  live: Slack, Duo and PagerDuty are connected',
    `  audit trail: ${config.auditFile ?? (config.queue.embedded ? join(config.dataDir, 'audit.jsonl') : 'stdout')}`,
    '',
    'Enqueue more events:   npx secbot enqueue <cloudtrail files…>',
    'Go live:               set SLACK_BOT_TOKEN, SLACK_APP_TOKEN, DUO_IKEY/DUO_SKEY/DUO_HOST and',
    '                       PAGERDUTY_ROUTING_KEY (see .env.example and README.md)',
    'Stop:                  Ctrl-C',
    '',
  ];
  for (const l of lines) print(l);
}

/** `npm start` / `node dist/app.js`: run until a signal, exit non-zero on a failed start. */
async function main(): Promise<void> {
  let secbot: Secbot;
  try {
    secbot = await start();
  } catch (err) {
    if (err instanceof RuleLoadError) {
      process.stderr.write(`secbot: the ruleset is broken; refusing to start:\n${err.message}\n`);
    } else if (err instanceof SecbotError) {
      process.stderr.write(`secbot: cannot start: ${err.message}\n`);
    } else {
      process.stderr.write(`secbot: cannot start: ${(err as Error).stack ?? String(err)}\n`);
    }
    process.exit(1);
  }
  let stopping = false;
  const onSignal = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`secbot: ${signal}: finishing the current run, then exiting\n`);
    secbot.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await main();
}
