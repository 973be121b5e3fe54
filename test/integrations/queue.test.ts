// The SQS adapter against a real local-aws-sqs server over loopback, through the real AWS SDK.
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import {
  createSqsQueue,
  ensureQueue,
  MAX_BATCH_BYTES,
  type Queue,
  QueueError,
} from '../../integrations/queue.js';
import { startSqsServer, type TestSqsServer } from '../helpers/sqs-server.js';

let sqs: TestSqsServer;
before(async () => {
  sqs = await startSqsServer();
});
after(() => sqs.stop());

/** Receives (short polls) until `want` messages came or `ms` passed. */
async function receiveAll(queue: Queue, want: number, ms = 3000) {
  const got = new Map<string, Awaited<ReturnType<Queue['receive']>>[number]>();
  const deadline = Date.now() + ms;
  while (got.size < want && Date.now() < deadline) {
    for (const m of await queue.receive({ max: 10, waitSeconds: 0 })) got.set(m.id, m);
  }
  return [...got.values()];
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('createSqsQueue', { concurrency: true }, () => {
  it('sends, receives and deletes a batch, with receive count and sent time', async () => {
    const { queue } = await sqs.createQueue();
    const before = Date.now();
    const sent = await queue.sendBatch(['one', 'two', 'three']);
    assert.deepEqual(sent, { sent: 3, failed: [] });

    const messages = await receiveAll(queue, 3);
    assert.deepEqual(messages.map((m) => m.body).sort(), ['one', 'three', 'two']);
    for (const m of messages) {
      assert.equal(m.receiveCount, 1);
      assert.ok(m.sentAt instanceof Date && m.sentAt.getTime() >= before - 1000, 'sentAt from SentTimestamp');
      assert.ok(m.receiptHandle.length > 0);
    }

    const result = await queue.deleteBatch(messages);
    assert.deepEqual(result.deleted.sort(), messages.map((m) => m.id).sort());
    assert.deepEqual(result.failed, []);
    const stats = await queue.stats();
    assert.equal(stats.visible, 0);
    assert.equal(stats.inFlight, 0);
  });

  it('reports a bad receipt handle as a failed entry and still deletes the rest', async () => {
    const { queue } = await sqs.createQueue();
    await queue.sendBatch(['keep going']);
    const [message] = await receiveAll(queue, 1);
    assert.ok(message);
    const result = await queue.deleteBatch([message, { id: 'bogus', receiptHandle: 'not-a-receipt-handle' }]);
    assert.deepEqual(result.deleted, [message.id]);
    assert.equal(result.failed.length, 1);
    assert.equal(result.failed[0]?.id, 'bogus');
    assert.match(result.failed[0]?.reason ?? '', /ReceiptHandleIsInvalid/);
  });

  it('deletes more than 10 messages in chunks', async () => {
    const { queue } = await sqs.createQueue();
    await queue.sendBatch(Array.from({ length: 23 }, (_, i) => `m${i}`));
    const messages = await receiveAll(queue, 23);
    assert.equal(messages.length, 23);
    const result = await queue.deleteBatch(messages);
    assert.equal(result.deleted.length, 23);
    assert.equal((await queue.stats()).visible + (await queue.stats()).inFlight, 0);
  });

  it('returns a message that appears twice in one answer only once, with its latest receipt', async () => {
    // local-aws-sqs re-delivers within one wait when the visibility timeout (1 s) is shorter than the wait (2 s).
    const { queue } = await sqs.createQueue({ maxReceiveCount: 10 });
    await queue.sendBatch(['only once']);
    const messages = await queue.receive({ max: 10, waitSeconds: 2, visibilityTimeoutSeconds: 1 });
    assert.equal(messages.length, 1);
    assert.equal(messages[0]?.body, 'only once');
    assert.ok(
      (messages[0]?.receiveCount ?? 0) >= 2,
      'the server did hand it out more than once in that answer',
    );
    // The kept receipt is the current one: it deletes the message.
    const result = await queue.deleteBatch(messages);
    assert.deepEqual(result.failed, []);
  });

  it('keeps a message hidden past its original visibility timeout after extendVisibility', async () => {
    const { queue } = await sqs.createQueue({ visibilityTimeoutSeconds: 1, maxReceiveCount: 10 });
    await queue.sendBatch(['slow work']);
    const [message] = await receiveAll(queue, 1);
    assert.ok(message);
    await queue.extendVisibility([message], 3);
    await sleep(1500); // past the original 1 s
    assert.deepEqual(await queue.receive({ waitSeconds: 0 }), []);
    const stats = await queue.stats();
    assert.equal(stats.inFlight, 1);
    assert.equal(stats.visible, 0);
    assert.deepEqual((await queue.deleteBatch([message])).failed, []);
  });

  it('moves a message received 3 times without delete to the dead-letter queue', async () => {
    const { queue, deadLetter, deadLetterUrl } = await sqs.createQueue({ visibilityTimeoutSeconds: 1 });
    await queue.sendBatch(['poison']);
    const counts: number[] = [];
    for (let i = 0; i < 3; i++) {
      const [m] = await receiveAll(queue, 1);
      assert.ok(m, `receive ${i + 1} got the message`);
      counts.push(m.receiveCount);
    }
    assert.deepEqual(counts, [1, 2, 3]);
    await sleep(1500); // the third receive's visibility timeout expires
    assert.deepEqual(await queue.receive({ waitSeconds: 0 }), []);
    const stats = await queue.stats();
    assert.equal(stats.visible + stats.inFlight, 0);
    assert.deepEqual(stats.deadLetter, { url: deadLetterUrl, visible: 1 });
    const [dead] = await receiveAll(deadLetter, 1);
    assert.equal(dead?.body, 'poison');
  });

  it('counts visible, in-flight and delayed messages, and names the dead-letter queue', async () => {
    const { queue, deadLetterUrl } = await sqs.createQueue();
    await queue.sendBatch(['a', 'b', 'c']);
    const taken = await queue.receive({ max: 1, waitSeconds: 0 });
    assert.equal(taken.length, 1);
    const stats = await queue.stats();
    assert.equal(stats.oldestAgeSeconds, undefined, 'SQS has no such queue attribute');
    assert.deepEqual(stats, {
      visible: 2,
      inFlight: 1,
      delayed: 0,
      deadLetter: { url: deadLetterUrl, visible: 0 },
    });
  });

  it('reports an empty, an oversized and an unacceptable body as failed entries and sends the rest', async () => {
    const { queue } = await sqs.createQueue();
    const bodies = [
      'fine',
      'x'.repeat(MAX_BATCH_BYTES + 1),
      '',
      'nul \u0000 inside',
      'é'.repeat(MAX_BATCH_BYTES / 2),
    ];
    const result = await queue.sendBatch(bodies);
    assert.equal(result.sent, 2);
    assert.deepEqual(
      result.failed.map((f) => f.index),
      [1, 2, 3],
    );
    assert.match(result.failed[0]?.reason ?? '', /262145 bytes/);
    const received = await receiveAll(queue, 2);
    assert.deepEqual(
      received.map((m) => m.body.length).sort((a, b) => a - b),
      [4, MAX_BATCH_BYTES / 2],
    );
  });

  it('sends 25 bodies in 3 batches and splits batches at 256 KiB', async () => {
    const client = new SQSClient({
      region: 'us-east-1',
      endpoint: sqs.endpoint,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    const batches: number[] = [];
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'SendMessageBatchCommand') {
          batches.push((args.input as { Entries: unknown[] }).Entries.length);
        }
        return next(args);
      },
      { step: 'initialize', name: 'countBatches' },
    );
    const { url } = await sqs.createQueue();
    const queue = createSqsQueue({ url, client, countsIncludeInFlight: true });

    assert.deepEqual(await queue.sendBatch(Array.from({ length: 25 }, (_, i) => `body ${i}`)), {
      sent: 25,
      failed: [],
    });
    assert.deepEqual(batches, [10, 10, 5]);

    batches.length = 0;
    const big = 'y'.repeat(100 * 1024);
    assert.deepEqual(await queue.sendBatch([big, big, big, 'small']), { sent: 4, failed: [] });
    assert.deepEqual(batches, [2, 2], 'three 100 KiB bodies do not fit one 256 KiB batch');
    assert.equal((await queue.stats()).visible, 29);
    client.destroy();
  });

  it('returns no messages from an empty queue', async () => {
    const { queue } = await sqs.createQueue();
    assert.deepEqual(await queue.receive({ waitSeconds: 0 }), []);
  });

  it('throws QueueError naming the operation and the queue when the endpoint is unreachable', async () => {
    const port = await closedPort();
    const endpoint = `http://127.0.0.1:${port}`;
    const url = `${endpoint}/123456789012/nowhere`;
    const client = new SQSClient({
      region: 'us-east-1',
      endpoint,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      maxAttempts: 1,
    });
    const queue = createSqsQueue({ url, client });
    const cases: [string, () => Promise<unknown>][] = [
      ['ReceiveMessage', () => queue.receive({ waitSeconds: 0 })],
      ['SendMessageBatch', () => queue.sendBatch(['x'])],
      ['DeleteMessageBatch', () => queue.deleteBatch([{ id: 'a', receiptHandle: 'r' }])],
      ['ChangeMessageVisibilityBatch', () => queue.extendVisibility([{ id: 'a', receiptHandle: 'r' }], 5)],
      ['GetQueueAttributes', () => queue.stats()],
    ];
    for (const [operation, run] of cases) {
      await assert.rejects(run, (err: unknown) => {
        assert.ok(err instanceof QueueError, `${operation}: a QueueError`);
        assert.equal(err.code, 'queue_unavailable');
        assert.equal(err.name, 'QueueError');
        assert.equal(err.operation, operation);
        assert.match(err.message, new RegExp(`${operation} on ${url}`));
        assert.ok(err.cause, 'keeps the SDK error as cause');
        return true;
      });
    }
    client.destroy();
  });
});

describe('ensureQueue', () => {
  it('creates a missing queue with its dead-letter queue and redrive policy', async () => {
    const url = await ensureQueue(sqs.client, 'ensure-new', {
      deadLetterName: 'ensure-new-dlq',
      maxReceiveCount: 5,
    });
    assert.match(url, /\/ensure-new$/);
    const attrs = await sqs.client.send(
      new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['RedrivePolicy'] }),
    );
    const policy = JSON.parse(attrs.Attributes?.RedrivePolicy ?? '{}');
    assert.equal(policy.maxReceiveCount, 5);
    assert.match(policy.deadLetterTargetArn, /:ensure-new-dlq$/);
  });

  it('only checks queues that exist and changes nothing', async () => {
    const first = await ensureQueue(sqs.client, 'ensure-existing', {
      deadLetterName: 'ensure-existing-dlq',
      maxReceiveCount: 3,
    });
    // Different settings: a CreateQueue would be refused ("already exists with a different value").
    const second = await ensureQueue(sqs.client, 'ensure-existing', {
      deadLetterName: 'ensure-existing-dlq',
      maxReceiveCount: 7,
      visibilityTimeoutSeconds: 99,
    });
    assert.equal(second, first);
    const attrs = await sqs.client.send(
      new GetQueueAttributesCommand({
        QueueUrl: first,
        AttributeNames: ['RedrivePolicy', 'VisibilityTimeout'],
      }),
    );
    assert.equal(JSON.parse(attrs.Attributes?.RedrivePolicy ?? '{}').maxReceiveCount, 3);
    assert.equal(attrs.Attributes?.VisibilityTimeout, '30');
  });

  it('fails with QueueError when the queue exists but its dead-letter queue does not', async () => {
    await ensureQueue(sqs.client, 'ensure-orphan', {
      deadLetterName: 'ensure-orphan-dlq',
      maxReceiveCount: 3,
    });
    await assert.rejects(
      ensureQueue(sqs.client, 'ensure-orphan', { deadLetterName: 'no-such-dlq', maxReceiveCount: 3 }),
      (err: unknown) => err instanceof QueueError && /no-such-dlq/.test(err.message),
    );
  });
});
