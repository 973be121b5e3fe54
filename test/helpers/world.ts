/**
 * The outside world for end-to-end tests, all on loopback: a local Slack (Web API + Socket Mode), a
 * signature-checking Duo, a PagerDuty Events endpoint, local-aws-sqs and dynalite. `startSecbot()`
 * runs the real app (`app.ts start()`) against them; tests drive it with `runOnce()` and clicks.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Secbot, type StartOptions, start } from '../../app.js';
import type { CloudTrailRecord } from '../../cloudtrail/record.js';
import { toEventBridgeEvent } from '../../integrations/enqueue.js';
import type { Verification, VerificationState } from '../../store/types.js';
import { type DuoServer, startDuoServer } from './duo-server.js';
import { startTestDynamo, type TestDynamo } from './dynamo-server.js';
import { type PagerDutyServer, startPagerDutyServer } from './pagerduty-server.js';
import { FIXTURE_RULES } from './pipeline.js';
import { type SlackServer, startSlackServer } from './slack-server.js';
import { startSqsServer, type TestQueue, type TestSqsServer } from './sqs-server.js';

export const ALERT_CHANNEL = 'C0ALERTS';
export const STAFF = 'U0STAFF';

export interface World {
  slack: SlackServer;
  duo: DuoServer;
  pagerduty: PagerDutyServer;
  sqs: TestSqsServer;
  dynamo: TestDynamo;
  /** Add an engineer: Slack user `U0<NAME>` with `<name>@example.com`, Duo script as given. */
  engineer(name: string, duo?: Parameters<DuoServer['user']>[1]): string;
  startSecbot(
    env?: Record<string, string>,
    opts?: Pick<StartOptions, 'home' | 'slack' | 'drain' | 'clock' | 'schedule'> & {
      /** Records on the queue before secbot starts (a scheduled secbot drains at once). */
      queued?: readonly CloudTrailRecord[];
    },
  ): Promise<RunningSecbot>;
  stop(): Promise<void>;
}

export interface RunningSecbot {
  secbot: Secbot;
  queue: TestQueue;
  env: Record<string, string>;
  printed: string[];
  /**
   * The operational log, one JSON line per entry (pino), at SECBOT_LOG_LEVEL (`silent` unless the test asks
   * for `warn` or lower).
   */
  logs: string[];
  /** Resolves with the first log line (past or future) whose message matches `re`. */
  waitForLog(re: RegExp, timeoutMs?: number): Promise<string>;
  enqueue(...records: CloudTrailRecord[]): Promise<void>;
  /** Poll the store until the verification reaches `state`. */
  waitForState(id: string, state: VerificationState, timeoutMs?: number): Promise<Verification>;
  stop(): Promise<void>;
}

export async function startWorld(): Promise<World> {
  const [slack, duo, pagerduty, sqs, dynamo] = await Promise.all([
    startSlackServer(),
    startDuoServer(),
    startPagerDutyServer(),
    startSqsServer(),
    startTestDynamo(),
  ]);
  slack.addChannel(ALERT_CHANNEL, 'security-alerts');
  slack.addUser({ id: STAFF, name: 'sec-staff', email: 'staff@example.com' });
  const running: RunningSecbot[] = [];
  return {
    slack,
    duo,
    pagerduty,
    sqs,
    dynamo,
    engineer(name, script = 'allow') {
      const id = `U0${name.toUpperCase()}`;
      slack.addUser({ id, name, email: `${name}@example.com` });
      duo.user(`${name}@example.com`, script);
      return id;
    },
    async startSecbot(extra = {}, opts = {}) {
      const queue = await sqs.createQueue({ visibilityTimeoutSeconds: 30 });
      const env: Record<string, string> = {
        SLACK_BOT_TOKEN: slack.botToken,
        SLACK_APP_TOKEN: slack.appToken,
        SLACK_API_URL: slack.apiUrl,
        SECBOT_ALERT_CHANNEL: ALERT_CHANNEL,
        SECBOT_STAFF: STAFF,
        SECBOT_QUEUE_URL: queue.url,
        AWS_ENDPOINT_URL_SQS: sqs.endpoint,
        AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'test',
        AWS_SECRET_ACCESS_KEY: 'test',
        SECBOT_TABLE: `secbot-e2e-${randomUUID().slice(0, 8)}`,
        DUO_IKEY: duo.ikey,
        DUO_SKEY: duo.skey,
        DUO_HOST: duo.host,
        PAGERDUTY_ROUTING_KEY: pagerduty.routingKey,
        PAGERDUTY_EVENTS_URL: pagerduty.eventsUrl,
        SECBOT_RULES: FIXTURE_RULES,
        SECBOT_EMAIL_DOMAIN: 'example.com',
        SECBOT_LOG_LEVEL: 'silent',
        SECBOT_AUDIT_FILE: join(mkdtempSync(join(tmpdir(), 'secbot-e2e-')), 'audit.jsonl'),
        SECBOT_DATA_DIR: mkdtempSync(join(tmpdir(), 'secbot-data-')),
        ...extra,
      };
      const printed: string[] = [];
      const logs: string[] = [];
      const { queued, ...startOpts } = opts;
      const enqueue = async (records: readonly CloudTrailRecord[]) => {
        const { failed } = await queue.queue.sendBatch(
          records.map((r) => JSON.stringify(toEventBridgeEvent(r))),
        );
        if (failed.length > 0) throw new Error(`enqueue failed: ${JSON.stringify(failed)}`);
      };
      if (queued && queued.length > 0) await enqueue(queued);
      const secbot = await start({
        env,
        schedule: false,
        print: (l) => printed.push(l),
        logDestination: { write: (line: string) => void logs.push(line) },
        ...startOpts,
        drain: { waitSeconds: 0, ...startOpts.drain },
      });
      const handle: RunningSecbot = {
        secbot,
        queue,
        env,
        printed,
        logs,
        async waitForLog(re, timeoutMs = 10_000) {
          const until = Date.now() + timeoutMs;
          for (;;) {
            const hit = logs.find((l) => re.test(l));
            if (hit) return hit;
            if (Date.now() > until) throw new Error(`no log line matches ${re}:\n${logs.join('')}`);
            await new Promise((r) => setTimeout(r, 50));
          }
        },
        enqueue: (...records) => enqueue(records),
        async waitForState(id, state, timeoutMs = 10_000) {
          const until = Date.now() + timeoutMs;
          for (;;) {
            const v = await secbot.store.getVerification(id);
            if (v?.state === state) return v;
            if (Date.now() > until) throw new Error(`verification ${id} is ${v?.state}, not ${state}`);
            await new Promise((r) => setTimeout(r, 100));
          }
        },
        stop: () => secbot.stop(),
      };
      running.push(handle);
      return handle;
    },
    async stop() {
      for (const r of running) await r.stop().catch(() => undefined);
      await Promise.allSettled([slack.stop(), duo.stop(), pagerduty.stop(), sqs.stop(), dynamo.stop()]);
    },
  };
}
