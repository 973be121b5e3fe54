/**
 * Replicas. Two, then three secbot child processes (as `npm start` runs it) share one queue and one table
 * hosted by this test process, each with its own Socket Mode connection to the local Slack (which hands
 * envelopes out round-robin, so a click lands on any replica). 2,000 calls from 40 engineers, notify and
 * alert mixed, are enqueued while the replicas run; a third of the engineers answer Yes (Duo approves),
 * a third No, a third never. Then (test/helpers/invariants.ts): one verification per engineer for the
 * burst, one question each, one Duo push per Yes, exactly one PagerDuty trigger per dedup_key, every
 * notify eventID in exactly one verification, the queue empty.
 *
 * `SECBOT_SOAK_CALLS` / `SECBOT_SOAK_REPLICAS` (test/soak) run the same with more.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createDynamoStore } from '../../store/dynamo-store.js';
import { childEnv, killAllChildren, type SecbotChild, spawnSecbot } from '../helpers/child-secbot.js';
import {
  answerWhenAsked,
  checkInvariants,
  enqueue,
  type Figures,
  makeWorkload,
  sleep,
  waitForDrained,
  waitForQuiet,
} from '../helpers/invariants.js';
import { startWorld } from '../helpers/world.js';

after(killAllChildren);

export interface ReplicaRun {
  replicas: number;
  calls: number;
  engineers: number;
  alerts: number;
  poison: number;
  /** Waves of overlapping bursts (see makeWorkload), enqueued `waveGapMs` apart. */
  waves: number;
  waveGapMs: number;
  /** Time an engineer has to answer: longer than one wave takes to drain and ask. */
  verifyTimeout: string;
}

export async function runReplicas(run: ReplicaRun): Promise<Figures & Record<string, number>> {
  const started = Date.now();
  const world = await startWorld();
  const children: SecbotChild[] = [];
  const diagnostics = () => children.map((c) => `--- ${c.name} ---\n${c.output().slice(-4000)}`).join('\n');
  try {
    const queue = await world.sqs.createQueue({ visibilityTimeoutSeconds: 30, maxReceiveCount: 3 });
    const table = world.dynamo.tableName();
    const store = createDynamoStore({ tableName: table, client: world.dynamo.client });
    const workload = makeWorkload(world, {
      prefix: `r${run.replicas}`,
      engineers: run.engineers,
      calls: run.calls - run.alerts,
      alerts: run.alerts,
      poison: run.poison,
      waves: run.waves,
    });
    const env = childEnv(world, {
      queue,
      table,
      extra: {
        SECBOT_VERIFY_TIMEOUT: run.verifyTimeout,
        SECBOT_DUO_TIMEOUT: '20s',
        SECBOT_VISIBILITY_TIMEOUT: run.poison > 0 ? '8s' : '30s',
      },
    });
    for (let i = 0; i < run.replicas; i++) {
      children.push(spawnSecbot({ name: `replica-${i + 1}`, duo: world.duo, env }));
    }
    await Promise.all(children.map((c) => c.ready(60_000)));
    await world.slack.waitForConnections(run.replicas, 10_000);
    const ready = Date.now();

    // The bursts arrive wave after wave, each while the replicas work on the one before.
    const enqueued = Date.now();
    for (const [i, wave] of workload.waves.entries()) {
      if (i > 0) await sleep(run.waveGapMs);
      await enqueue(queue, i === 0 ? [...workload.poison, ...wave] : wave);
    }
    // Each engineer answers once their burst is in and the DM shows all of it (answering earlier would
    // rightly open a second question for the calls after the answer).
    const { connections, slowestMs } = await answerWhenAsked(
      store,
      world,
      workload,
      workload.engineers,
      300_000,
      diagnostics,
    );
    const asked = Date.now();
    await waitForDrained(queue, run.poison, 120_000, diagnostics);
    const drained = Date.now();
    await waitForQuiet(store, 240_000, diagnostics);
    const quiet = Date.now();
    const exits = await Promise.all(children.map((c) => c.stop()));
    for (const [i, x] of exits.entries()) {
      assert.equal(x.code, 0, `replica ${i + 1} exits 0 on SIGTERM:\n${children[i]?.output()}`);
    }
    const figures = await checkInvariants({ world, table, queue, workload }).catch((err: Error) => {
      err.message += `\n${diagnostics()}`;
      throw err;
    });
    // Every replica took part: each decided calls, and the clicks were spread over their connections.
    assert.equal(figures.drainers, run.replicas, 'every replica decided calls');
    assert.equal(connections.size, run.replicas, 'every replica took clicks');
    return {
      ...figures,
      replicas: run.replicas,
      clickConnections: connections.size,
      slowestQuestionSeconds: slowestMs / 1000,
      chatUpdates: world.slack.callsTo('chat.update').length,
      chatPosts: world.slack.callsTo('chat.postMessage').length,
      startSeconds: (ready - started) / 1000,
      askSeconds: (asked - enqueued) / 1000,
      drainSeconds: (drained - enqueued) / 1000,
      settleSeconds: (quiet - enqueued) / 1000,
      totalSeconds: (Date.now() - started) / 1000,
    };
  } finally {
    for (const c of children) c.kill();
    await Promise.all(children.map((c) => c.exited));
    await world.stop();
  }
}

const results: Record<string, unknown>[] = [];
after(() => {
  if (results.length > 0) console.log(`replica figures: ${JSON.stringify(results)}`);
});

describe('replicas on one queue and table', { concurrency: true }, () => {
  for (const replicas of [2, 3]) {
    it(`${replicas} replicas, 2,000 calls from 40 engineers: one verification per engineer, one push per Yes, one page per escalation`, async () => {
      results.push(
        await runReplicas({
          replicas,
          calls: 2000,
          engineers: 40,
          alerts: 100,
          poison: 0,
          waves: 5,
          waveGapMs: 2_000,
          verifyTimeout: '30s',
        }),
      );
    });
  }
});
