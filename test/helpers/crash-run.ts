/**
 * One crash scenario (test/reliability/crash.test.ts, test/soak): a workload on a queue and table hosted
 * by this process, a secbot child with `SECBOT_CRASH_AT` that SIGKILLs itself there, a second child on
 * the same queue and table, the conversation driven to its end, then the invariants.
 */
import assert from 'node:assert/strict';
import { createDynamoStore } from '../../store/dynamo-store.js';
import type { Store } from '../../store/store.js';
import { type ChildExit, childEnv, type SecbotChild, spawnSecbot } from './child-secbot.js';
import {
  answerWhenAsked,
  checkInvariants,
  type Engineer,
  enqueue,
  type Figures,
  makeWorkload,
  waitForDrained,
  waitForQuiet,
} from './invariants.js';
import { ALERT_CHANNEL, startWorld, type World } from './world.js';

export interface CrashScenario {
  /** `SECBOT_CRASH_AT`: a crash point, optionally `:<n>`. */
  point: string;
  /** What the test does to reach the point: nothing (the drain or sweep gets there), or one answer. */
  trigger?: 'yes' | 'no';
  /** Extra checks on the restarted process. */
  after?: (ctx: { second: SecbotChild; world: World; store: Store }) => Promise<void> | void;
  /** The workload; default 6 engineers, 60 notify calls, 6 alert calls, 1 poison message. */
  engineers?: number;
  calls?: number;
  alerts?: number;
  poison?: number;
}

export const CRASH_CHILD_ENV = {
  SECBOT_VERIFY_TIMEOUT: '45s',
  SECBOT_DUO_TIMEOUT: '60s',
  SECBOT_DM_RESEND_AFTER: '2s',
  SECBOT_VISIBILITY_TIMEOUT: '5s',
};

async function within<T>(p: Promise<T>, ms: number, what: string, diagnostics: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms\n${diagnostics()}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export async function runCrashScenario(sc: CrashScenario): Promise<Figures & { seconds: number }> {
  const started = Date.now();
  const world = await startWorld();
  const children: SecbotChild[] = [];
  const diagnostics = () => children.map((c) => `--- ${c.name} ---\n${c.output().slice(-6000)}`).join('\n');
  try {
    const queue = await world.sqs.createQueue({ visibilityTimeoutSeconds: 5, maxReceiveCount: 3 });
    const table = world.dynamo.tableName();
    const store = createDynamoStore({ tableName: table, client: world.dynamo.client });
    const workload = makeWorkload(world, {
      prefix: `k${sc.point.replace(/[^a-z0-9]/g, '').slice(0, 7)}`,
      engineers: sc.engineers ?? 6,
      calls: sc.calls ?? 60,
      alerts: sc.alerts ?? 6,
      poison: sc.poison ?? 1,
    });
    await enqueue(queue, workload.bodies);
    const env = childEnv(world, { queue, table, extra: CRASH_CHILD_ENV });

    const first = spawnSecbot({ name: 'first', duo: world.duo, env: { ...env, SECBOT_CRASH_AT: sc.point } });
    children.push(first);
    await first.ready(60_000);
    const answered = new Set<string>();
    if (sc.trigger) {
      const who = workload.engineers.find((e) => e.answer === sc.trigger) as Engineer;
      await answerWhenAsked(store, world, workload, [who], 60_000, diagnostics);
      answered.add(who.id);
    }
    const exit: ChildExit = await within(first.exited, 60_000, `the crash at ${sc.point}`, diagnostics);
    assert.equal(exit.signal, 'SIGKILL', `killed by its crash point:\n${first.output()}`);
    assert.match(first.output(), /crash point \S+ reached: SIGKILL/);
    // What the dead process had already sent: a page or channel post in flight may go out once more.
    const beforeKill = {
      paged: new Set(world.pagerduty.triggers().map((t) => t.dedup_key)),
      posted: world.slack.messages(ALERT_CHANNEL),
    };

    const second = spawnSecbot({ name: 'second', duo: world.duo, env });
    children.push(second);
    await second.ready(60_000);
    await world.slack.waitForConnections(1, 10_000);
    const rest = workload.engineers.filter((e) => !answered.has(e.id));
    await answerWhenAsked(store, world, workload, rest, 120_000, diagnostics);
    await waitForQuiet(store, 90_000, diagnostics);
    await waitForDrained(queue, workload.poison.length, 60_000, diagnostics);
    await sc.after?.({ second, world, store });
    const stopped = await second.stop();
    assert.equal(stopped.code, 0, `the restarted process exits 0 on SIGTERM:\n${second.output()}`);

    const f = await checkInvariants({ world, table, queue, workload, beforeKill }).catch((err: Error) => {
      err.message += `\n${diagnostics()}`;
      throw err;
    });
    return { ...f, seconds: Math.round((Date.now() - started) / 100) / 10 };
  } finally {
    for (const c of children) c.kill();
    await Promise.all(children.map((c) => c.exited));
    await world.stop();
  }
}
