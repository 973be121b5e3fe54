/**
 * 4. Drain: 20,000 EventBridge messages (70% log, 25% notify from 50 engineers, 5% alert) in the embedded
 *    queue; secbot (the real app, `start()`) drains, decides, stores and talks to Slack and PagerDuty until
 *    every question is asked and every alert posted and paged. The baseline is a bare drain of the same
 *    messages from the same embedded queue: 4 receivers, receive 10, batch-delete, nothing else. secbot's
 *    drain is timed twice, each time between two bare drains (bare, secbot, bare, secbot, bare); each
 *    side's figure is its mean.
 *
 * The embedded queue (local-aws-sqs) runs in this process, as `npm start` runs it; DynamoDB (dynalite),
 * Slack and PagerDuty run in a child process (bench/world.ts), as they are other machines in production.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { start } from '../app.js';
import { startEmbeddedSqs } from '../integrations/embedded-sqs.js';
import { toEventBridgeEvent } from '../integrations/enqueue.js';
import { createSqsQueue, type Queue } from '../integrations/queue.js';
import { BUNDLED_RULES_DIR, loadRuleDirs } from '../rules/loader.js';
import { EMAIL_DOMAIN, ENGINEERS } from './inputs.js';
import { type BenchResult, figure, perSecond, rate } from './report.js';
import type { BenchContext } from './timing.js';
import { mixedWorkload, type Workload } from './workload.js';
import { ALERT_CHANNEL, startWorld, type World, type WorldRecords } from './world.js';

export const RECEIVERS = 4;
/**
 * secbot's drain is timed this many times, each between two bare drains; figures are means. Once in the
 * quick run, which only has to show that the benchmark still runs (and stay well within its minute).
 */
const SECBOT_DRAINS = 2;
const VISIBILITY_SECONDS = 60;

/**
 * A full garbage collection, when the process allows it (`--expose-gc`, as bench/run.ts starts each
 * benchmark): each timed drain starts from the same clean heap, rather than paying for what the drain
 * before it left (a stopped queue server holding 20,000 messages, a finished app).
 */
function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** Send `bodies` with a few batches in flight. */
export async function fill(queue: Queue, bodies: readonly string[]): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < bodies.length) {
        const batch = bodies.slice(next, next + 10);
        next += 10;
        const { failed } = await queue.sendBatch(batch);
        if (failed.length > 0) throw new Error(`enqueue failed: ${JSON.stringify(failed[0])}`);
      }
    }),
  );
}

/** The baseline: receive 10 and batch-delete, RECEIVERS at a time, until the queue is empty. */
export async function bareDrain(bodies: readonly string[]): Promise<{ ms: number; received: number }> {
  const sqs = await startEmbeddedSqs({ visibilityTimeoutSeconds: VISIBILITY_SECONDS });
  try {
    const queue = createSqsQueue(sqs.queueOptions);
    await fill(queue, bodies);
    collectGarbage();
    let received = 0;
    const t0 = performance.now();
    while (received < bodies.length) {
      await Promise.all(
        Array.from({ length: RECEIVERS }, async () => {
          for (;;) {
            const messages = await queue.receive({
              max: 10,
              waitSeconds: 0,
              visibilityTimeoutSeconds: VISIBILITY_SECONDS,
            });
            if (messages.length === 0) return;
            received += messages.length;
            await queue.deleteBatch(messages);
          }
        }),
      );
      const s = await queue.stats();
      if (s.visible === 0 && s.inFlight === 0) break;
    }
    return { ms: performance.now() - t0, received };
  } finally {
    await sqs.stop();
  }
}

export interface SecbotRun {
  /** Until every question is asked and every alert posted and paged. */
  ms: number;
  /** Until the queue was empty: every message decided, stored and deleted. */
  drainedMs: number;
  runs: number;
  records: WorldRecords;
}

/** secbot's environment against the world: embedded queue, the world's table, Slack and PagerDuty. */
export function secbotEnv(
  world: World,
  dataDir: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  const e = world.endpoints;
  return {
    SLACK_BOT_TOKEN: e.botToken,
    SLACK_APP_TOKEN: e.appToken,
    SLACK_API_URL: e.slackApiUrl,
    SECBOT_ALERT_CHANNEL: ALERT_CHANNEL,
    AWS_ENDPOINT_URL_DYNAMODB: e.dynamoEndpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'bench',
    AWS_SECRET_ACCESS_KEY: 'bench',
    SECBOT_TABLE: `secbot-bench-${randomUUID().slice(0, 8)}`,
    PAGERDUTY_ROUTING_KEY: e.routingKey,
    PAGERDUTY_EVENTS_URL: e.pagerDutyUrl,
    SECBOT_EMAIL_DOMAIN: EMAIL_DOMAIN,
    SECBOT_LOG_LEVEL: process.env.SECBOT_BENCH_LOG_LEVEL ?? 'error',
    SECBOT_DATA_DIR: dataDir,
    SECBOT_AUDIT_FILE: join(dataDir, 'audit.jsonl'),
    ...extra,
  };
}

/** A data directory whose embedded queue is not seeded with the bundled samples. */
export function benchDataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'secbot-bench-'));
  writeFileSync(join(dir, 'seeded'), 'bench\n');
  return dir;
}

async function secbotDrain(
  world: World,
  bodies: readonly string[],
  alertCalls: readonly string[],
): Promise<SecbotRun> {
  const dataDir = benchDataDir();
  const secbot = await start({
    env: secbotEnv(world, dataDir),
    schedule: false,
    print: () => {},
    drain: { receivers: RECEIVERS, visibilityTimeoutSeconds: VISIBILITY_SECONDS },
  });
  try {
    await fill(secbot.queue, bodies);
    await world.clear(); // start-up calls (auth.test, Socket Mode) are not the drain's
    collectGarbage();
    const profiler = await startProfiler(process.env.SECBOT_BENCH_PROFILE);
    const t0 = performance.now();
    let runs = 0;
    // When the queue empties, seen from outside while the runs go on.
    let drainedMs = Number.NaN;
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const q = await secbot.queue.stats();
        if (q.visible === 0 && q.inFlight === 0) {
          drainedMs = performance.now() - t0;
          return;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    for (;;) {
      await secbot.runOnce();
      runs++;
      const s = await secbot.queue.stats();
      if (s.visible > 0 || s.inFlight > 0) continue;
      const due = await secbot.store.listDuePages(new Date(Date.now() + 86_400_000), 1);
      const open = await secbot.store.listVerifications('OPEN', { limit: 1000 });
      if (due.length === 0 && open.every((v) => v.dmStatus === 'sent' && !v.needsUpdate)) break;
      if (runs > 1_000) throw new Error('drain benchmark: secbot does not settle');
    }
    const ms = performance.now() - t0;
    await profiler?.stop();
    watching = false;
    await watcher;
    if (Number.isNaN(drainedMs)) drainedMs = ms;
    const records = await world.records();
    // Alert calls of one principal close in time share an alert (a burst): each call is in a page.
    const paged = new Set(records.pagedEventIds);
    const unpaged = alertCalls.filter((id) => !paged.has(id));
    if (unpaged.length > 0)
      throw new Error(
        `${unpaged.length} of ${alertCalls.length} alert calls were not paged (e.g. ${unpaged[0]})`,
      );
    return { ms, drainedMs, runs, records };
  } finally {
    await secbot.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** The eventIDs of a workload's alert calls. */
const alertCallsOf = (w: Workload): string[] =>
  [...w.actions].filter(([, a]) => a === 'alert').map(([id]) => id);

/**
 * With SECBOT_BENCH_PROFILE=<file.cpuprofile>, a CPU profile of this process over secbot's drain alone
 * (not the fill or the bare drains); summarise it with `npx tsx bench/profile.ts <file>`.
 */
async function startProfiler(file: string | undefined): Promise<{ stop(): Promise<void> } | undefined> {
  if (!file) return undefined;
  const { Session } = await import('node:inspector/promises');
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return {
    async stop() {
      const { profile } = await session.post('Profiler.stop');
      writeFileSync(file, JSON.stringify(profile));
      session.disconnect();
    },
  };
}

export async function benchDrain(bc: BenchContext): Promise<BenchResult> {
  const total = bc.quick ? 2_000 : 20_000;
  const counts = { log: total * 0.7, notify: total * 0.25, alert: total * 0.05 };
  // The quick run keeps the proportions: 5 engineers for 500 notify records (0.02 calls a record is 10).
  const engineers = ENGINEERS.slice(0, bc.quick ? 5 : 50);
  const ruleSet = await loadRuleDirs([BUNDLED_RULES_DIR]);
  const workload = mixedWorkload(bc.corpus, ruleSet, {
    counts,
    engineers,
    seed: bc.seed,
    anchorMs: Date.now(),
    spreadMs: 10 * 60_000,
  });
  const bodies = workload.records.map((r) => JSON.stringify(toEventBridgeEvent(r)));
  bc.log(
    `drain: ${total.toLocaleString('en')} messages (${counts.log} log, ${counts.notify} notify, ${counts.alert} alert)`,
  );

  const world = await startWorld();
  try {
    await world.addUsers(engineers, EMAIL_DOMAIN);
    // Untimed warm-up of both drains on other messages (a tenth as many, same mix): what is timed is
    // their steady state, not V8 compiling the code paths or the first connections being opened.
    const warm = mixedWorkload(bc.corpus, ruleSet, {
      counts: { log: counts.log / 10, notify: counts.notify / 10, alert: counts.alert / 10 },
      engineers,
      seed: bc.seed + 1,
      anchorMs: Date.now(),
      spreadMs: 10 * 60_000,
    });
    bc.log(`drain: warm-up (${warm.records.length.toLocaleString('en')} other messages, untimed)`);
    const warmBodies = warm.records.map((r) => JSON.stringify(toEventBridgeEvent(r)));
    await bareDrain(warmBodies);
    await secbotDrain(world, warmBodies, alertCallsOf(warm));
    // Twice secbot, between three bare drains: each side's figure is a mean, the bare drains on both
    // sides of each secbot drain (a machine that slows down or speeds up meanwhile hits both alike).
    const alertCalls = alertCallsOf(workload);
    const bare: { ms: number }[] = [];
    const runs: SecbotRun[] = [];
    for (let i = 0; i < (bc.quick ? 1 : SECBOT_DRAINS); i++) {
      bc.log(`drain: bare drain${i === 0 ? ' (baseline)' : ' again'}`);
      const before = await bareDrain(bodies);
      bare.push(before);
      bc.log(`drain: secbot (${rate(perSecond(total, before.ms))} msg/s bare)`);
      runs.push(await secbotDrain(world, bodies, alertCalls));
    }
    bc.log('drain: bare drain again');
    bare.push(await bareDrain(bodies));
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const bareMs = mean(bare.map((b) => b.ms));
    const secbotMs = mean(runs.map((r) => r.ms));
    const drainedMs = mean(runs.map((r) => r.drainedMs));
    const bareRate = perSecond(total, bareMs);
    const secbotRate = perSecond(total, secbotMs);
    const seconds = (xs: number[]) => xs.map((ms) => `${(ms / 1000).toFixed(1)} s`).join(', ');

    // What each secbot drain asked of Slack: the figures below are the worse of the two.
    const toAlertChannel = (c: { channel?: string }) => c.channel === ALERT_CHANNEL;
    const slackOf = (run: SecbotRun) => {
      const calls = run.records.calls;
      const verificationCalls = calls.filter((c) => !toAlertChannel(c));
      const byMethod: Record<string, number> = {};
      for (const c of verificationCalls) byMethod[c.method] = (byMethod[c.method] ?? 0) + 1;
      return {
        dms: calls.filter((c) => c.method === 'chat.postMessage' && !toAlertChannel(c)).length,
        verificationCalls: verificationCalls.length,
        alertPosts: calls.filter(toAlertChannel).length,
        pages: run.records.pageTriggers,
        byMethod,
      };
    };
    const slack = runs.map(slackOf);
    const dms = slack.map((s) => s.dms).find((n) => n !== engineers.length) ?? engineers.length;
    const worst = slack.reduce((a, b) => (b.verificationCalls > a.verificationCalls ? b : a));
    const perNotify = worst.verificationCalls / counts.notify;
    return {
      bench: 'drain',
      title: `drain ${total.toLocaleString('en')} messages from the embedded queue, ${RECEIVERS} receivers, to Slack and PagerDuty`,
      figures: [
        figure(
          'secbot (until all sent) / bare drain throughput',
          secbotRate / bareRate,
          'ratio',
          `bare ${rate(bareRate)} msg/s (${seconds(bare.map((b) => b.ms))}); secbot ${rate(secbotRate)} msg/s (${seconds(runs.map((r) => r.ms))}; ${runs.map((r) => r.runs).join(' and ')} runs)`,
          { op: '>=', value: 0.7 },
        ),
        figure(
          'queue drained / bare drain throughput',
          perSecond(total, drainedMs) / bareRate,
          'ratio',
          `every message decided, stored and deleted after ${seconds(runs.map((r) => r.drainedMs))} (${rate(perSecond(total, drainedMs))} msg/s); the sweeps in between included (no bar)`,
        ),
        figure(
          'DMs (questions asked)',
          dms,
          'DMs',
          `${engineers.length} engineers; ${slack.map((x) => x.dms).join(' and ')}`,
          {
            op: '==',
            value: engineers.length,
          },
        ),
        figure(
          'Slack calls per notify record',
          perNotify,
          'calls',
          `${worst.verificationCalls} calls for ${counts.notify} notify records (${Object.entries(
            worst.byMethod,
          )
            .map(([m, n]) => `${m} ${n}`)
            .join(
              ', ',
            )}); alert channel: ${worst.alertPosts} more (${alertCalls.length} alert calls, ${worst.pages} pages)`,
          { op: '<=', value: 0.02 },
        ),
      ],
      absolute: {
        messages: total,
        bareMs: Math.round(bareMs),
        ...Object.fromEntries(bare.map((b, i) => [`bare${i + 1}Ms`, Math.round(b.ms)])),
        secbotMs: Math.round(secbotMs),
        ...Object.fromEntries(runs.map((r, i) => [`secbot${i + 1}Ms`, Math.round(r.ms)])),
        drainedMs: Math.round(drainedMs),
        runs: Math.max(...runs.map((r) => r.runs)),
        bareMsgPerSecond: Math.round(bareRate),
        secbotMsgPerSecond: Math.round(secbotRate),
        dms,
        verificationSlackCalls: worst.verificationCalls,
        alertChannelCalls: worst.alertPosts,
        alertCalls: alertCalls.length,
        pagesTriggered: worst.pages,
        ...Object.fromEntries(Object.entries(worst.byMethod).map(([m, n]) => [`slack.${m}`, n])),
      },
      notes: [
        'The embedded queue runs in the benchmark process; DynamoDB, Slack and PagerDuty in a child process.',
        'Slack calls per notify record count every Web API call made for questions (directory lookups, DMs, their updates); the alert channel posts are reported apart.',
      ],
    };
  } finally {
    await world.stop();
  }
}
