/**
 * The drain's group commit (issue 7): a burst is decided in groups whose writes go out together, an
 * empty answer from the queue does not end a run while messages remain, and a decision that could not
 * be recorded leaves its message for redelivery — decided once on the next run.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Queue } from '../../integrations/queue.js';
import type { Store } from '../../store/store.js';
import { startTestDynamo, type TestDynamo } from '../helpers/dynamo-server.js';
import { asEventBridge, logCall, notifyCall } from '../helpers/events.js';
import { newPipeline } from '../helpers/pipeline.js';
import { startSqsServer, type TestSqsServer } from '../helpers/sqs-server.js';

let sqs: TestSqsServer;
let dynamo: TestDynamo;
before(async () => {
  [sqs, dynamo] = await Promise.all([startSqsServer(), startTestDynamo()]);
});
after(async () => {
  await Promise.all([sqs?.stop(), dynamo?.stop()]);
});

async function send(queue: Queue, bodies: string[]) {
  for (let i = 0; i < bodies.length; i += 10) {
    const { failed } = await queue.sendBatch(bodies.slice(i, i + 10));
    assert.deepEqual(failed, []);
  }
}

/** The store, counting calls to some of its methods (and failing the first N of one, when asked). */
function counting(store: Store, failFirst: { method?: keyof Store; times?: number } = {}) {
  const calls: Record<string, number> = {};
  let failures = failFirst.times ?? 0;
  const wrapped = { ...store } as Record<string, unknown>;
  for (const name of [
    'addNotifyCall',
    'addNotifyCalls',
    'recordDecisions',
    'checkEvents',
    'claimEvents',
  ] as const) {
    const original = store[name] as (...args: unknown[]) => Promise<unknown>;
    wrapped[name] = async (...args: unknown[]) => {
      calls[name] = (calls[name] ?? 0) + 1;
      if (failFirst.method === name && failures > 0) {
        failures--;
        throw new Error(`injected ${name} failure`);
      }
      return original.apply(store, args);
    };
  }
  return { store: wrapped as unknown as Store, calls };
}

describe('the drain group commit', () => {
  it('decides a burst in few writes: each engineer’s calls join together, decisions 25 to a request', async () => {
    const p = await newPipeline(sqs, dynamo);
    const engineers = ['ada', 'bea', 'cai'];
    const records = [
      ...engineers.flatMap((e) => Array.from({ length: 40 }, () => notifyCall(e))),
      ...Array.from({ length: 80 }, () => logCall('dee')),
    ];
    await send(p.queue, records.map(asEventBridge));
    const { store, calls } = counting(p.store);
    const report = await p.drain('drainer-1', { receivers: 4 }, { store });
    assert.equal(report.decided, records.length);
    assert.equal(report.deleted, records.length);
    assert.equal(calls.addNotifyCall, undefined, 'no call joins alone');
    assert.ok((calls.addNotifyCalls ?? 0) <= engineers.length * 3, `joins: ${calls.addNotifyCalls}`);
    assert.ok((calls.recordDecisions ?? 0) <= 12, `decision writes: ${calls.recordDecisions}`);
    assert.equal(calls.claimEvents, undefined, 'no per-record claims');
    for (const e of engineers) {
      const v = await p.store.findOpenVerification(`arn:aws:iam::111122223333:user/${e}`);
      assert.equal(v?.callCount, 40);
      assert.equal((await p.store.listVerificationCalls(v?.id ?? '')).length, 40, 'every call item written');
    }
    assert.equal((await p.queue.stats()).visible, 0);
  });

  it('an empty answer from the queue does not end the run while messages remain', async () => {
    const p = await newPipeline(sqs, dynamo);
    const records = Array.from({ length: 60 }, () => logCall('eve'));
    await send(p.queue, records.map(asEventBridge));
    // Every other receive answers empty, as a sampling short poll (or a late local-aws-sqs timer) may.
    let n = 0;
    const flaky: Queue = { ...p.queue, receive: async (o) => (n++ % 2 === 0 ? [] : p.queue.receive(o)) };
    const report = await p.drain('drainer-1', { receivers: 1 }, { queue: flaky });
    assert.equal(report.decided, 60);
    assert.equal(report.stoppedBy, 'empty');
  });

  it('a decision that cannot be recorded leaves its message; the next run decides it once', async () => {
    const p = await newPipeline(sqs, dynamo, { visibilityTimeoutSeconds: 1 });
    const record = notifyCall('fay');
    await send(p.queue, [asEventBridge(record)]);
    const { store } = counting(p.store, { method: 'recordDecisions', times: 1 });
    const first = await p.drain('drainer-1', { visibilityTimeoutSeconds: 1 }, { store });
    assert.equal(first.deleted, 0, 'not deleted');
    assert.ok(first.errors > 0);
    await new Promise((r) => setTimeout(r, 1_200)); // the visibility timeout
    const second = await p.drain('drainer-1', { visibilityTimeoutSeconds: 1 }, { store });
    assert.equal(second.deleted, 1);
    assert.equal(
      second.duplicates,
      1,
      'the join had landed: the redelivery is that decision, not a second one',
    );
    const v = await p.store.findOpenVerification('arn:aws:iam::111122223333:user/fay');
    assert.equal(v?.callCount, 1);
    assert.equal((await p.store.getEventClaim(record.eventID))?.status, 'decided');
    assert.equal((await p.store.listVerificationCalls(v?.id ?? '')).length, 1);
  });
});
