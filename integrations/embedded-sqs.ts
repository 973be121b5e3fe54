/**
 * The embedded queue: local-aws-sqs in this process on loopback, for running secbot with no AWS account.
 * Its queues are created through the SDK by `ensureQueue`, the same code path as production.
 *
 * local-aws-sqs differs from SQS in ways the caller must allow for (verified in
 * test/integrations/embedded-sqs.test.ts):
 * - a receive answers only when the batch is full or the wait is over, and within one wait it hands out a
 *   message again each time its visibility timeout expires — each time counting as a receive. Keep
 *   WaitTimeSeconds short (0–1 s) and below the visibility timeout;
 * - ApproximateNumberOfMessages counts in-flight messages (hence `countsIncludeInFlight` in `queueOptions`);
 * - ChangeMessageVisibility also increments ApproximateReceiveCount, so each visibility extension brings a
 *   message one step nearer to the dead-letter queue;
 * - redrive happens when the visibility timeout of the maxReceiveCount-th receive expires (SQS moves the
 *   message on the next receive attempt); either way it reaches the dead-letter queue after N receives.
 */

import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GetQueueUrlCommand, SQSClient, type SQSClientConfig } from '@aws-sdk/client-sqs';
import { createRequestHandler } from 'local-aws-sqs';
import { ensureQueue, QueueError, type SqsQueueOptions } from './queue.js';

export interface EmbeddedSqs {
  endpoint: string;
  queueUrl: string;
  deadLetterUrl: string;
  /** An SDK client for `endpoint`, with the static dummy credentials the embedded server accepts. */
  client: SQSClient;
  /** What `createSqsQueue` needs for the main queue, including the count quirk of local-aws-sqs. */
  queueOptions: SqsQueueOptions;
  stop(): Promise<void>;
}

export const EMBEDDED_QUEUE_NAME = 'secbot-events';
const REGION = 'us-east-1';
const DUMMY_CREDENTIALS = { accessKeyId: 'embedded', secretAccessKey: 'embedded' };

/** An SDK client for an embedded queue started by another process (`secbot enqueue` → a running `npm start`). */
export function embeddedSqsClient(endpoint: string): SQSClient {
  return new SQSClient(embeddedClientConfig(endpoint));
}

/**
 * The SDK configuration for the embedded queue: its dummy credentials, and no MD5 check of the bodies
 * it returns (over loopback from a server in this machine there is no transit to guard; clients of
 * real SQS keep the check).
 */
function embeddedClientConfig(endpoint: string): SQSClientConfig {
  return { endpoint, region: REGION, credentials: DUMMY_CREDENTIALS, md5: false };
}

/**
 * Starts local-aws-sqs on `host:port` (port 0, the default, takes a free port) and creates the queue and its
 * dead-letter queue (`<queueName>-dlq`, redrive after `maxReceiveCount` receives, default 3).
 *
 * @example
 * const sqs = await startEmbeddedSqs();
 * const queue = createSqsQueue({ ...sqs.queueOptions, logger });
 * // …
 * await sqs.stop();
 */
export async function startEmbeddedSqs(
  opts: {
    port?: number;
    host?: string;
    queueName?: string;
    maxReceiveCount?: number;
    visibilityTimeoutSeconds?: number;
  } = {},
): Promise<EmbeddedSqs> {
  // The library builds queue URLs as http://<host>:<port>/…, so the host must be usable in a URL as is.
  const host = opts.host ?? '127.0.0.1';
  const queueName = opts.queueName ?? EMBEDDED_QUEUE_NAME;
  const deadLetterName = `${queueName}-dlq`;

  // The request handler rather than createSqsServer: the latter never settles when listen fails.
  const { service, requestHandler } = createRequestHandler({
    port: opts.port ?? 0,
    hostname: host,
    region: REGION,
  });
  const server = createServer((req, res) => {
    void requestHandler(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  service.PORT = port;
  const endpoint = `http://${host}:${port}`;
  const client = new SQSClient(embeddedClientConfig(endpoint));

  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      client.destroy();
      service.resetAll(); // clears the message timers
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections(); // keep-alive sockets of other clients, pending long polls
      });
    })();
    return stopped;
  };

  try {
    const queueUrl = await ensureQueue(client, queueName, {
      deadLetterName,
      maxReceiveCount: opts.maxReceiveCount ?? 3,
      visibilityTimeoutSeconds: opts.visibilityTimeoutSeconds,
    });
    const dlq = await client
      .send(new GetQueueUrlCommand({ QueueName: deadLetterName }))
      .catch((err: unknown) => {
        throw new QueueError('GetQueueUrl', deadLetterName, err);
      });
    if (!dlq.QueueUrl)
      throw new QueueError('GetQueueUrl', deadLetterName, new Error('no QueueUrl in the answer'));
    return {
      endpoint,
      queueUrl,
      deadLetterUrl: dlq.QueueUrl,
      client,
      queueOptions: { url: queueUrl, client, countsIncludeInFlight: true },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
