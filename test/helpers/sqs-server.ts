/**
 * A local-aws-sqs server on a free loopback port for tests, started through `startEmbeddedSqs` (so tests run
 * the production setup path), plus fresh queues on demand so tests sharing one server do not see each other.
 *
 * @example
 * const sqs = await startSqsServer();
 * after(() => sqs.stop());
 * const { queue } = await sqs.createQueue({ visibilityTimeoutSeconds: 1 });
 */

import { randomUUID } from 'node:crypto';
import { GetQueueUrlCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { Logger } from 'pino';
import { startEmbeddedSqs } from '../../integrations/embedded-sqs.js';
import { createSqsQueue, ensureQueue, type Queue } from '../../integrations/queue.js';

export interface TestQueue {
  name: string;
  url: string;
  deadLetterUrl: string;
  /** The adapter over `url`, set up for local-aws-sqs's counts. */
  queue: Queue;
  /** The adapter over the dead-letter queue. */
  deadLetter: Queue;
}

export interface TestSqsServer {
  endpoint: string;
  /** SDK client for the server (dummy credentials). */
  client: SQSClient;
  /** The default embedded queue (`secbot-events`) and its dead-letter queue. */
  queueUrl: string;
  deadLetterUrl: string;
  /** A new queue with a unique name and its own dead-letter queue (redrive after maxReceiveCount, default 3). */
  createQueue(opts?: {
    name?: string;
    visibilityTimeoutSeconds?: number;
    maxReceiveCount?: number;
    logger?: Logger;
  }): Promise<TestQueue>;
  stop(): Promise<void>;
}

export async function startSqsServer(): Promise<TestSqsServer> {
  const sqs = await startEmbeddedSqs();
  return {
    endpoint: sqs.endpoint,
    client: sqs.client,
    queueUrl: sqs.queueUrl,
    deadLetterUrl: sqs.deadLetterUrl,
    async createQueue(opts = {}) {
      const name = opts.name ?? `test-${randomUUID().slice(0, 8)}`;
      const url = await ensureQueue(sqs.client, name, {
        deadLetterName: `${name}-dlq`,
        maxReceiveCount: opts.maxReceiveCount ?? 3,
        visibilityTimeoutSeconds: opts.visibilityTimeoutSeconds,
      });
      const dlq = await sqs.client.send(new GetQueueUrlCommand({ QueueName: `${name}-dlq` }));
      const deadLetterUrl = dlq.QueueUrl ?? '';
      const common = { client: sqs.client, countsIncludeInFlight: true, logger: opts.logger };
      return {
        name,
        url,
        deadLetterUrl,
        queue: createSqsQueue({ ...common, url }),
        deadLetter: createSqsQueue({ ...common, url: deadLetterUrl }),
      };
    },
    stop: () => sqs.stop(),
  };
}
