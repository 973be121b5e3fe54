/**
 * One replica run (test/reliability/replicas.test.ts, test/soak): `replicas` secbot children on one queue
 * and one table hosted by this process, each with its own Socket Mode connection to the local Slack
 * (envelopes go round-robin, so clicks land on every replica); the workload's bursts arrive wave by wave;
 * every engineer answers once their question is complete; then the invariants.
 */
import assert from 'node:assert/strict';
import { createDynamoStore } from '../../store/dynamo-store.js';
import { childEnv, type SecbotChild, spawnSecbot } from './child-secbot.js';
import {
  answerWhenAsked,
  checkInvariants,
  enqueue,
  type Figures,
  makeWorkload,
  sleep,
  waitForDrained,
  waitForQuiet,
} from './invariants.js';
import { startWorld } from './world.js';

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
  /** Scale-out: this many more replicas start after the first wave is enqueued. */
  joinAfterFirstWave?: number;
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
      if (i === 0 && run.joinAfterFirstWave) {
        // Replicas joining mid-burst: they resume "pending" Duo pushes at start, which must leave alone
        // the pushes the running replicas are starting.
        const joining = Array.from({ length: run.joinAfterFirstWave }, (_, j) =>
          spawnSecbot({ name: `replica-${run.replicas + j + 1}`, duo: world.duo, env }),
        );
        children.push(...joining);
        await Promise.all(joining.map((c) => c.ready(60_000)));
      }
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
    const total = run.replicas + (run.joinAfterFirstWave ?? 0);
    assert.equal(figures.drainers, total, 'every replica decided calls');
    assert.equal(connections.size, total, 'every replica took clicks');
    return {
      ...figures,
      replicas: run.replicas + (run.joinAfterFirstWave ?? 0),
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
