/**
 * secbot as a real child process, started as `npm start` starts it (`node --import tsx app.ts`, plus the
 * Duo forwarding preload of duo-server.ts), against servers hosted by the TEST process: local-aws-sqs and
 * dynalite (so the queue and the table outlive a killed child) and the local Slack, Duo and PagerDuty.
 *
 * Every child is SIGKILLed when the test process exits, however it exits (`killAllChildren()` in an
 * `after` hook does it earlier); a test that fails half way leaves no secbot behind.
 *
 * @example
 * const child = spawnSecbot({ name: 'a', duo: world.duo, env: childEnv(world, { queue, table }) });
 * await child.ready();
 * const { signal } = await child.exited; // 'SIGKILL' when SECBOT_CRASH_AT fired
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO } from './cli.js';
import type { DuoServer } from './duo-server.js';
import { FIXTURE_RULES } from './pipeline.js';
import type { TestQueue } from './sqs-server.js';
import { ALERT_CHANNEL, STAFF, type World } from './world.js';

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface SecbotChild {
  readonly name: string;
  readonly pid: number;
  /** stdout and stderr as received (the last 256 KB). */
  output(): string;
  readonly exited: Promise<ChildExit>;
  running(): boolean;
  /** Resolves once the banner is printed (Slack connected, schedule running); rejects if it exits first. */
  ready(timeoutMs?: number): Promise<void>;
  kill(signal?: NodeJS.Signals): void;
  /** SIGTERM, then SIGKILL after `timeoutMs`. */
  stop(timeoutMs?: number): Promise<ChildExit>;
}

const children = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  const killAll = () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  };
  process.on('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      killAll();
      process.exit(130);
    });
  }
}

const OUTPUT_LIMIT = 256 * 1024;

/** The environment of a fresh machine (nothing of secbot's, no AWS credentials) plus `env`. */
function childProcessEnv(env: Record<string, string>): Record<string, string> {
  const base: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !/^(SECBOT_|SLACK_|DUO_|PAGERDUTY_|AWS_|NODE_TEST)/.test(k)) base[k] = v;
  }
  return { ...base, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...env };
}

export function spawnSecbot(opts: {
  name: string;
  duo: DuoServer;
  env: Record<string, string>;
}): SecbotChild {
  installExitHook();
  const child = spawn(process.execPath, [...opts.duo.childArgs(), 'app.ts'], {
    cwd: REPO,
    env: childProcessEnv(opts.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let out = '';
  const append = (d: Buffer) => {
    out += d.toString('utf8');
    if (out.length > OUTPUT_LIMIT) out = out.slice(-OUTPUT_LIMIT);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const exited = new Promise<ChildExit>((resolve) => {
    child.once('exit', (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    });
    child.once('error', (err) => {
      append(Buffer.from(`spawn error: ${err.message}\n`));
      children.delete(child);
      resolve({ code: -1, signal: null });
    });
  });
  const running = () => child.exitCode === null && child.signalCode === null;
  return {
    name: opts.name,
    pid: child.pid ?? -1,
    output: () => out,
    exited,
    running,
    async ready(timeoutMs = 30_000) {
      const until = Date.now() + timeoutMs;
      while (!out.includes('secbot is running.')) {
        if (!running()) throw new Error(`secbot ${opts.name} exited before it was ready:\n${out}`);
        if (Date.now() > until)
          throw new Error(`secbot ${opts.name} not ready within ${timeoutMs} ms:\n${out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    kill(signal = 'SIGKILL') {
      if (running()) child.kill(signal);
    },
    async stop(timeoutMs = 15_000) {
      if (running()) child.kill('SIGTERM');
      const timer = setTimeout(() => {
        if (running()) child.kill('SIGKILL');
      }, timeoutMs);
      const exit = await exited;
      clearTimeout(timer);
      return exit;
    },
  };
}

/** SIGKILL every child still running and wait for them to go. */
export async function killAllChildren(): Promise<void> {
  const waiting = [...children].map(
    (c) =>
      new Promise<void>((resolve) =>
        c.exitCode !== null || c.signalCode !== null ? resolve() : c.once('exit', () => resolve()),
      ),
  );
  for (const c of children) c.kill('SIGKILL');
  await Promise.all(waiting);
}

/**
 * The full live configuration of a child against the world's servers: the test's queue and table
 * (`SECBOT_QUEUE_URL`, `AWS_ENDPOINT_URL_SQS`, `AWS_ENDPOINT_URL_DYNAMODB`, dummy credentials), Slack,
 * Duo (with the preload's forwarding), PagerDuty, the fixture rules, a drain every second.
 */
export function childEnv(
  world: World,
  opts: { queue: TestQueue; table: string; extra?: Record<string, string> },
): Record<string, string> {
  const dir = mkdtempSync(join(tmpdir(), 'secbot-child-'));
  return {
    SLACK_BOT_TOKEN: world.slack.botToken,
    SLACK_APP_TOKEN: world.slack.appToken,
    SLACK_API_URL: world.slack.apiUrl,
    SECBOT_ALERT_CHANNEL: ALERT_CHANNEL,
    SECBOT_STAFF: STAFF,
    SECBOT_QUEUE_URL: opts.queue.url,
    AWS_ENDPOINT_URL_SQS: world.sqs.endpoint,
    AWS_ENDPOINT_URL_DYNAMODB: world.dynamo.endpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    SECBOT_TABLE: opts.table,
    ...world.duo.childEnv(),
    PAGERDUTY_ROUTING_KEY: world.pagerduty.routingKey,
    PAGERDUTY_EVENTS_URL: world.pagerduty.eventsUrl,
    SECBOT_RULES: FIXTURE_RULES,
    SECBOT_EMAIL_DOMAIN: 'example.com',
    SECBOT_LOG_LEVEL: 'warn',
    SECBOT_AUDIT_FILE: join(dir, 'audit.jsonl'),
    SECBOT_DATA_DIR: dir,
    SECBOT_SCHEDULE: '*/1 * * * * *',
    ...opts.extra,
  };
}
