import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Queue } from '../../integrations/queue.js';
import { startTestDynamo, type TestDynamo } from '../helpers/dynamo-server.js';
import { alertCall, asEventBridge, logCall, notifyCall } from '../helpers/events.js';
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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function send(queue: Queue, bodies: string[]) {
  const { failed } = await queue.sendBatch(bodies);
  assert.deepEqual(failed, []);
}

describe('drainQueue against local SQS and DynamoDB servers', () => {
  it('decides a record delivered three times once, with one verification entry', async () => {
    const p = await newPipeline(sqs, dynamo);
    const record = notifyCall('alice');
    await send(p.queue, [asEventBridge(record), asEventBridge(record), JSON.stringify(record)]);
    const first = await p.drain();
    assert.equal(first.decided, 1);
    assert.equal(first.duplicates + first.decided, first.records);
    assert.equal(first.deleted, 3);
    const second = await p.drain();
    assert.equal(second.received, 0);
    const v = await p.store.findOpenVerification('arn:aws:iam::111122223333:user/alice');
    assert.ok(v, 'an open verification for alice');
    assert.equal(v.callCount, 1);
    assert.deepEqual(v.eventIds, [record.eventID]);
    assert.equal(p.audit.records.filter((r) => (r as any).event.id === record.eventID).length, 1);
  });

  it('changes nothing when a message stored but not deleted (a crash) is redelivered', async () => {
    const p = await newPipeline(sqs, dynamo, { visibilityTimeoutSeconds: 1 });
    const records = [notifyCall('bob'), alertCall('bob'), logCall('bob')];
    await send(p.queue, records.map(asEventBridge));
    // The "crash": every decision is stored, then the process dies before the delete.
    const crashed = await p.drain(
      'crashing',
      { visibilityTimeoutSeconds: 1 },
      {
        queue: {
          ...p.queue,
          url: p.queue.url,
          deleteBatch: async () => ({ deleted: [], failed: [] }),
        } as Queue,
      },
    );
    assert.equal(crashed.decided, 3);
    assert.equal(crashed.deleted, 0);
    const decisionsBefore = p.audit.records.length;
    await sleep(1_200); // visibility runs out: the messages come back
    const replay = await p.drain('restarted');
    assert.equal(replay.decided, 0);
    assert.equal(replay.duplicates, 3);
    assert.equal(replay.deleted, 3);
    assert.equal(p.audit.records.length, decisionsBefore, 'no second decision in the audit trail');
    const v = await p.store.findOpenVerification('arn:aws:iam::111122223333:user/bob');
    assert.equal(v?.callCount, 1);
    const alerts = await p.store.listAlerts('OPEN');
    assert.equal(alerts.length, 1);
    assert.equal((await p.queue.stats()).visible, 0);
  });

  it('decides good messages around poison ones and leaves the poison for the dead-letter queue', async () => {
    const p = await newPipeline(sqs, dynamo, { visibilityTimeoutSeconds: 1, maxReceiveCount: 3 });
    const good = [notifyCall('carol'), logCall('carol'), alertCall('carol')];
    const poison = [
      'not json at all',
      '{"detail-type":"EC2 Instance State-change Notification","detail":{}}',
      JSON.stringify({ eventName: 'CreateUser' }), // missing eventID and friends
      '{"Records": "nope"}',
      `{"deep":${'['.repeat(200)}${']'.repeat(200)}}`,
    ];
    const [g0, g1, g2] = good.map(asEventBridge) as [string, string, string];
    const [p0, p1, p2, p3, p4] = poison as [string, string, string, string, string];
    await send(p.queue, [p0, g0, p1, p2, g1, p3, p4, g2]);
    const first = await p.drain('d1', { visibilityTimeoutSeconds: 1 });
    assert.equal(first.decided, 3);
    assert.equal(first.poison, 5);
    assert.equal(first.deleted, 3);
    // Two more receives each (visibility 1 s) and the redrive policy moves the poison out.
    for (let i = 0; i < 2; i++) {
      await sleep(1_100);
      const again = await p.drain('d1', { visibilityTimeoutSeconds: 1 });
      assert.equal(again.decided, 0);
    }
    let dead = 0;
    for (let i = 0; i < 20 && dead < 5; i++) {
      await sleep(250);
      dead = (await p.testQueue.deadLetter.stats()).visible;
    }
    assert.equal(dead, 5, 'all five poison messages in the dead-letter queue');
    assert.equal((await p.queue.stats()).visible, 0);
  });

  it('lets two drainers share one queue: nothing decided twice, one open verification per engineer', async () => {
    const p = await newPipeline(sqs, dynamo);
    const engineers = ['dan', 'erin', 'frank', 'grace', 'heidi'];
    const records = engineers.flatMap((e) => Array.from({ length: 12 }, () => notifyCall(e)));
    // Every record twice, so the two drainers race on the same eventIDs.
    await send(p.queue, [...records, ...records].map(asEventBridge));
    const [a, b] = await Promise.all([p.drain('replica-a'), p.drain('replica-b')]);
    const decided = a.decided + b.decided;
    assert.equal(decided, records.length, `decided ${decided}, expected ${records.length}`);
    const eventsInVerifications = new Set<string>();
    for (const e of engineers) {
      const open = await p.store.findOpenVerification(`arn:aws:iam::111122223333:user/${e}`);
      assert.ok(open, `an open verification for ${e}`);
      assert.equal(open.callCount, 12);
      for (const id of open.eventIds) {
        assert.ok(!eventsInVerifications.has(id), `${id} in two verifications`);
        eventsInVerifications.add(id);
      }
    }
    assert.equal((await p.store.listVerifications('OPEN')).length, engineers.length);
    assert.equal(eventsInVerifications.size, records.length);
  });

  it('coalesces 300 notify calls from one engineer in one burst into one verification', async () => {
    const p = await newPipeline(sqs, dynamo);
    const records = Array.from({ length: 300 }, () => notifyCall('ivan', { eventName: 'CreateAccessKey' }));
    await send(p.queue, records.map(asEventBridge));
    const report = await p.drain('d1', { receivers: 4 });
    assert.equal(report.decided, 300);
    assert.equal(report.verificationsOpened, 1);
    const open = await p.store.listVerifications('OPEN');
    assert.equal(open.length, 1);
    assert.equal(open[0]?.callCount, 300);
    const calls = await p.store.listVerificationCalls(open[0]?.id ?? '');
    assert.equal(calls.length, 300);
  });

  it('takes one batch per receiver even with its budget spent: a run always makes progress', async () => {
    const p = await newPipeline(sqs, dynamo);
    await send(
      p.queue,
      Array.from({ length: 25 }, () => asEventBridge(logCall('judy'))),
    );
    const first = await p.drain('d1', { receivers: 1, budgetMs: 0 });
    assert.equal(first.stoppedBy, 'budget');
    assert.equal(first.received, 10);
    assert.equal(first.decided, 10);
    assert.equal(first.deleted, 10);
    const second = await p.drain('d1', { receivers: 2, budgetMs: 0 });
    assert.equal(second.stoppedBy, 'budget');
    assert.equal(second.received, 15);
    assert.equal((await p.drain('d1', { receivers: 1, budgetMs: 0 })).received, 0);
  });
});
