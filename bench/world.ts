/**
 * The outside world for the drain and latency benchmarks, in a child process (as DynamoDB, Slack and
 * PagerDuty are other machines in production): dynalite, the local Slack (Web API + Socket Mode) and the
 * local PagerDuty Events endpoint. The parent talks to it over IPC: `startWorld()` returns its endpoints
 * and asks it for what Slack and PagerDuty received.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startEmbeddedDynamo } from '../integrations/embedded-dynamo.js';
import { startPagerDutyServer } from '../test/helpers/pagerduty-server.js';
import { startSlackServer } from '../test/helpers/slack-server.js';

export const ALERT_CHANNEL = 'C0ALERTS';

export interface WorldEndpoints {
  dynamoEndpoint: string;
  slackApiUrl: string;
  botToken: string;
  appToken: string;
  pagerDutyUrl: string;
  routingKey: string;
}

/** One Web API call, as the benchmark needs it. */
export interface SlackCallSummary {
  method: string;
  at: number;
  channel?: string;
}

/** A message and when each of its versions (post, updates) arrived. */
export interface SlackMessageSummary {
  channel: string;
  ts: string;
  versions: { at: number; via: string; text?: string }[];
}

export interface WorldRecords {
  calls: SlackCallSummary[];
  messages: SlackMessageSummary[];
  pageTriggers: number;
  pageRequests: number;
  /** Every CloudTrail eventID the triggered pages name (their custom_details.eventIDs). */
  pagedEventIds: string[];
}

type Request =
  | { id: number; op: 'users'; names: string[]; domain: string }
  | { id: number; op: 'records'; channels?: string[] }
  | { id: number; op: 'clear' }
  | { id: number; op: 'stop' };

export interface World {
  endpoints: WorldEndpoints;
  /** Slack users `U0<NAME>` with `<name>@<domain>`. */
  addUsers(names: readonly string[], domain: string): Promise<void>;
  records(): Promise<WorldRecords>;
  /** Forget Slack calls and PagerDuty events recorded so far. */
  clear(): Promise<void>;
  stop(): Promise<void>;
}

export const slackUserId = (name: string) => `U0${name.toUpperCase()}`;

/** Forks this module as the world process and waits for its endpoints. */
export async function startWorld(): Promise<World> {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ['--serve'], {
    execArgv: [
      '--import',
      'tsx',
      ...(process.env.SECBOT_BENCH_WORLD_PROF
        ? ['--cpu-prof', `--cpu-prof-dir=${process.env.SECBOT_BENCH_WORLD_PROF}`]
        : []),
    ],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  });
  let seq = 0;
  const waiting = new Map<number, (value: unknown) => void>();
  const ready = new Promise<WorldEndpoints>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`world process exited (${code})`)));
    child.on('message', (m: { id?: number; ready?: WorldEndpoints; result?: unknown }) => {
      if (m.ready) resolve(m.ready);
      else if (m.id !== undefined) {
        waiting.get(m.id)?.(m.result);
        waiting.delete(m.id);
      }
    });
  });
  const endpoints = await ready;
  const ask = <T>(
    req: Request extends infer R ? (R extends Request ? Omit<R, 'id'> : never) : never,
  ): Promise<T> =>
    new Promise<T>((resolve) => {
      const id = ++seq;
      waiting.set(id, resolve as (v: unknown) => void);
      child.send({ ...req, id });
    });
  return {
    endpoints,
    addUsers: (names, domain) => ask({ op: 'users', names: [...names], domain }),
    records: () => ask<WorldRecords>({ op: 'records' }),
    clear: () => ask({ op: 'clear' }),
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.send({ id: ++seq, op: 'stop' });
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function serve(): Promise<void> {
  const [dynamo, slack, pagerduty] = await Promise.all([
    startEmbeddedDynamo({}),
    startSlackServer({ pingIntervalMs: 0 }),
    startPagerDutyServer(),
  ]);
  slack.addChannel(ALERT_CHANNEL, 'security-alerts');
  let pageOffset = 0;
  let requestOffset = 0;
  const send = (m: unknown) => process.send?.(m);
  process.on('message', async (req: Request) => {
    switch (req.op) {
      case 'users':
        for (const name of req.names) {
          slack.addUser({ id: slackUserId(name), name, email: `${name}@${req.domain}` });
        }
        send({ id: req.id, result: true });
        break;
      case 'records': {
        const calls = slack.calls.map((c) => {
          const s: SlackCallSummary = { method: c.method, at: c.at };
          if (typeof c.params.channel === 'string') s.channel = c.params.channel;
          return s;
        });
        const channels = new Set<string>();
        for (const c of calls) if (c.channel) channels.add(c.channel);
        for (const c of slack.calls) {
          if (c.method === 'chat.postMessage' && typeof c.params.channel === 'string') {
            const ch = c.params.channel;
            if (ch.startsWith('U')) channels.add(slack.dmChannelId(ch));
          }
        }
        const messages: SlackMessageSummary[] = [];
        for (const ch of channels) {
          for (const m of slack.messages(ch)) {
            messages.push({
              channel: ch,
              ts: m.ts,
              versions: m.versions.map((v) => ({ at: v.at, via: v.via, text: v.text })),
            });
          }
        }
        const triggered = pagerduty.triggers().slice(pageOffset);
        const triggers = triggered.length;
        const pagedEventIds = triggered.flatMap((t) => {
          const ids = t.payload?.custom_details?.eventIDs;
          return Array.isArray(ids) ? ids.map(String) : [];
        });
        send({
          id: req.id,
          result: {
            calls,
            messages,
            pageTriggers: triggers,
            pageRequests: pagerduty.requests.length - requestOffset,
            pagedEventIds,
          },
        });
        break;
      }
      case 'clear':
        slack.clearRecords();
        pageOffset = pagerduty.triggers().length;
        requestOffset = pagerduty.requests.length;
        send({ id: req.id, result: true });
        break;
      case 'stop':
        await Promise.allSettled([slack.stop(), pagerduty.stop(), dynamo.stop()]);
        process.exit(0);
    }
  });
  send({
    ready: {
      dynamoEndpoint: dynamo.endpoint,
      slackApiUrl: slack.apiUrl,
      botToken: slack.botToken,
      appToken: slack.appToken,
      pagerDutyUrl: pagerduty.eventsUrl,
      routingKey: pagerduty.routingKey,
    } satisfies WorldEndpoints,
  });
}

if (
  process.argv.includes('--serve') &&
  process.argv[1] &&
  fileURLToPath(import.meta.url) === process.argv[1]
) {
  process.on('disconnect', () => process.exit(0));
  await serve();
}
