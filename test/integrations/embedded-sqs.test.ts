// The embedded queue, and the ways local-aws-sqs differs from SQS that secbot has to allow for.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ChangeMessageVisibilityCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import { type EmbeddedSqs, startEmbeddedSqs } from '../../integrations/embedded-sqs.js';
import { createSqsQueue, QueueError } from '../../integrations/queue.js';
import { startSqsServer, type TestSqsServer } from '../helpers/sqs-server.js';

describe('startEmbeddedSqs', () => {
  let sqs: EmbeddedSqs;
  before(async () => {
    sqs = await startEmbeddedSqs();
  });
  after(() => sqs.stop());

  it('listens on a free loopback port and creates secbot-events with a dead-letter queue after 3 receives', async () => {
    assert.match(sqs.endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.notEqual(sqs.endpoint, 'http://127.0.0.1:0');
    assert.equal(sqs.queueUrl, `${sqs.endpoint}/123456789012/secbot-events`);
    assert.equal(sqs.deadLetterUrl, `${sqs.endpoint}/123456789012/secbot-events-dlq`);
    const attrs = await sqs.client.send(
      new GetQueueAttributesCommand({ QueueUrl: sqs.queueUrl, AttributeNames: ['RedrivePolicy'] }),
    );
    assert.deepEqual(JSON.parse(attrs.Attributes?.RedrivePolicy ?? '{}'), {
      deadLetterTargetArn: 'arn:aws:sqs:us-east-1:123456789012:secbot-events-dlq',
      maxReceiveCount: 3,
    });
  });

  it('gives createSqsQueue options that work against it', async () => {
    const queue = createSqsQueue(sqs.queueOptions);
    assert.deepEqual(await queue.sendBatch(['hello']), { sent: 1, failed: [] });
    const [m] = await queue.receive({ waitSeconds: 0 });
    assert.equal(m?.body, 'hello');
    const stats = await queue.stats();
    assert.equal(stats.visible, 0);
    assert.equal(stats.inFlight, 1);
    assert.deepEqual(stats.deadLetter, { url: sqs.deadLetterUrl, visible: 0 });
  });

  it('rejects instead of hanging when the port is taken', async () => {
    const port = Number(new URL(sqs.endpoint).port);
    await assert.rejects(startEmbeddedSqs({ port }), /EADDRINUSE/);
  });
});

describe('stop', () => {
  it('closes the server: later calls fail with QueueError, and stopping twice is harmless', async () => {
    const sqs = await startEmbeddedSqs({ queueName: 'stop-me' });
    const queue = createSqsQueue(sqs.queueOptions);
    await queue.sendBatch(['x']);
    await sqs.stop();
    await sqs.stop();
    const { SQSClient } = await import('@aws-sdk/client-sqs');
    const client = new SQSClient({
      region: 'us-east-1',
      endpoint: sqs.endpoint,
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
      maxAttempts: 1,
    });
    await assert.rejects(createSqsQueue({ url: sqs.queueUrl, client }).stats(), QueueError);
    client.destroy();
  });

  it('leaves no handles: a process that starts, uses and stops it exits by itself', async () => {
    const script = `
      import { startEmbeddedSqs } from './integrations/embedded-sqs.ts';
      import { createSqsQueue } from './integrations/queue.ts';
      const sqs = await startEmbeddedSqs();
      const queue = createSqsQueue(sqs.queueOptions);
      await queue.sendBatch(['a', 'b']);
      const got = await queue.receive({ waitSeconds: 1, visibilityTimeoutSeconds: 5 });
      await queue.extendVisibility(got, 30);
      await sqs.stop();
      console.log('stopped', got.length);
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: process.cwd(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    clearTimeout(killer);
    assert.equal(code, 0, `exited by itself (stderr: ${err})`);
    assert.match(out, /stopped 2/);
  });
});

// What local-aws-sqs does differently from SQS. If one of these starts failing after an upgrade, revisit the
// notes at the top of integrations/embedded-sqs.ts and the adapter's countsIncludeInFlight.
describe('local-aws-sqs behaviour', { concurrency: true }, () => {
  let sqs: TestSqsServer;
  before(async () => {
    sqs = await startSqsServer();
  });
  after(() => sqs.stop());

  it('answers a long poll only when the batch is full or the wait is over', async () => {
    const { url } = await sqs.createQueue();
    await sqs.client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'waiting' }));
    const start = Date.now();
    const out = await sqs.client.send(
      new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    assert.equal(out.Messages?.length, 1);
    assert.ok(Date.now() - start >= 900, 'waited the whole second although a message was there');
  });

  it('hands the same message out twice in one answer when the visibility timeout is shorter than the wait', async () => {
    const { url } = await sqs.createQueue({ maxReceiveCount: 10 });
    await sqs.client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'twice' }));
    const out = await sqs.client.send(
      new ReceiveMessageCommand({
        QueueUrl: url,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 2,
        VisibilityTimeout: 1,
      }),
    );
    const ids = (out.Messages ?? []).map((m) => m.MessageId);
    assert.ok(ids.length >= 2, `got ${ids.length}`);
    assert.equal(new Set(ids).size, 1);
  });

  it('counts in-flight messages in ApproximateNumberOfMessages (delayed ones not)', async () => {
    const { url, queue } = await sqs.createQueue();
    await queue.sendBatch(['a', 'b']);
    await sqs.client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'later', DelaySeconds: 5 }));
    await queue.receive({ max: 1, waitSeconds: 0 });
    const attrs = await sqs.client.send(
      new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] }),
    );
    assert.equal(attrs.Attributes?.ApproximateNumberOfMessages, '2', 'SQS would say 1');
    assert.equal(attrs.Attributes?.ApproximateNumberOfMessagesNotVisible, '1');
    assert.equal(attrs.Attributes?.ApproximateNumberOfMessagesDelayed, '1');
    assert.equal((attrs.Attributes as Record<string, string>).ApproximateAgeOfOldestMessage, undefined);
    assert.deepEqual(
      { ...(await queue.stats()), deadLetter: undefined },
      { visible: 1, inFlight: 1, delayed: 1, deadLetter: undefined },
    );
  });

  it('counts each ChangeMessageVisibility as a receive, so extensions bring a message nearer the DLQ', async () => {
    const { url, queue, deadLetter } = await sqs.createQueue({ visibilityTimeoutSeconds: 1 });
    await queue.sendBatch(['extended']);
    const [m] = await queue.receive({ waitSeconds: 0 });
    assert.ok(m);
    for (let i = 0; i < 2; i++) {
      await sqs.client.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: url,
          ReceiptHandle: m.receiptHandle,
          VisibilityTimeout: 1,
        }),
      );
    }
    await sleep(1500);
    // Received once only, yet in the dead-letter queue: SQS would have made it visible again.
    assert.equal((await queue.stats()).visible, 0);
    const [dead] = await deadLetter.receive({ waitSeconds: 0 });
    assert.equal(dead?.body, 'extended');
  });
});
