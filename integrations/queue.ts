/**
 * The queue secbot drains: a small interface, and its adapter over Amazon SQS (or anything that speaks
 * SQS's JSON protocol, such as the embedded local-aws-sqs).
 */

import {
  ChangeMessageVisibilityBatchCommand,
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  type Message,
  QueueDoesNotExist,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { type Logger, pino } from 'pino';
import { SecbotError } from '../lib/errors.js';
import { mapLimit } from '../lib/limit.js';

export interface QueueMessage {
  id: string;
  receiptHandle: string;
  body: string;
  /** How many times the message has been received, this time included (ApproximateReceiveCount). */
  receiveCount: number;
  sentAt?: Date;
}

export interface QueueStats {
  visible: number;
  inFlight: number;
  delayed: number;
  oldestAgeSeconds?: number;
  deadLetter?: { url: string; visible: number };
}

export interface Queue {
  readonly url: string;
  /**
   * One ReceiveMessage call. At most 10 messages; a message that appears twice in one answer is returned
   * once (the latest receipt). Asks for ApproximateReceiveCount and SentTimestamp.
   */
  receive(opts?: {
    max?: number;
    waitSeconds?: number;
    visibilityTimeoutSeconds?: number;
  }): Promise<QueueMessage[]>;
  /** Deletes in chunks of 10. Per-entry failures are returned, not thrown. */
  deleteBatch(
    messages: Pick<QueueMessage, 'id' | 'receiptHandle'>[],
  ): Promise<{ deleted: string[]; failed: { id: string; reason: string }[] }>;
  /** Sets the visibility timeout of received messages (ChangeMessageVisibilityBatch, chunks of 10). */
  extendVisibility(messages: Pick<QueueMessage, 'id' | 'receiptHandle'>[], seconds: number): Promise<void>;
  /**
   * Sends in batches of at most 10 entries and 256 KiB. A body SQS would refuse (too large, empty, characters
   * outside SQS's set) is a failed entry, not a throw; `index` is the body's position in `bodies`.
   */
  sendBatch(bodies: string[]): Promise<{ sent: number; failed: { index: number; reason: string }[] }>;
  /** Message counts of the queue and of its dead-letter queue (from the RedrivePolicy), if it has one. */
  stats(): Promise<QueueStats>;
}

export interface SqsQueueOptions {
  url: string;
  client?: SQSClient;
  region?: string;
  endpoint?: string;
  /** Static credentials; otherwise the SDK's default provider chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  logger?: Logger;
  /**
   * The server counts in-flight messages in ApproximateNumberOfMessages (local-aws-sqs does; SQS does not).
   * When true, visible = ApproximateNumberOfMessages − ApproximateNumberOfMessagesNotVisible.
   */
  countsIncludeInFlight?: boolean;
}

/** SQS could not be reached or refused a whole request. Per-entry batch failures are not QueueErrors. */
export class QueueError extends SecbotError {
  readonly code = 'queue_unavailable';
  constructor(
    readonly operation: string,
    readonly queue: string,
    cause: unknown,
  ) {
    super(`SQS ${operation} on ${queue} failed: ${describe(cause)}`, { cause });
  }
}

/** SQS's limits (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html). */
export const MAX_BATCH_ENTRIES = 10;
/** DeleteMessageBatch requests in flight at once for one deleteBatch call. */
const DELETES_IN_FLIGHT = 4;
export const MAX_BATCH_BYTES = 256 * 1024;
const MAX_WAIT_SECONDS = 20;
const MAX_VISIBILITY_SECONDS = 43_200;
// Characters SQS accepts in a body: #x9 | #xA | #xD | #x20–#xD7FF | #xE000–#xFFFD | #x10000–#x10FFFF.
const FORBIDDEN_CHARS = /[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

/**
 * Builds the SQS adapter. The SDK client is injected or built from `region`/`endpoint` (credentials from the
 * SDK's default chain).
 *
 * @example
 * const queue = createSqsQueue({ url: config.queueUrl, logger });
 * const messages = await queue.receive({ max: 10, waitSeconds: 1 });
 */
export function createSqsQueue(opts: SqsQueueOptions): Queue {
  const { url } = opts;
  const client =
    opts.client ??
    new SQSClient({ region: opts.region, endpoint: opts.endpoint, credentials: opts.credentials });
  const log = (opts.logger ?? pino({ level: 'silent' })).child({ queue: url });
  const countsIncludeInFlight = opts.countsIncludeInFlight ?? false;
  let deadLetter: { arn: string; url: string } | undefined;

  // 'All' rather than names: SQS refuses a request naming an attribute it does not have.
  async function counts(queueUrl: string) {
    const out = await wrap('GetQueueAttributes', queueUrl, () =>
      client.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['All'] })),
    );
    const a: Record<string, string | undefined> = out.Attributes ?? {};
    const total = int(a.ApproximateNumberOfMessages);
    const inFlight = int(a.ApproximateNumberOfMessagesNotVisible);
    const visible = countsIncludeInFlight ? Math.max(0, total - inFlight) : total;
    return { a, visible, inFlight, delayed: int(a.ApproximateNumberOfMessagesDelayed) };
  }

  async function resolveDeadLetterUrl(arn: string): Promise<string | undefined> {
    if (deadLetter?.arn === arn) return deadLetter.url;
    // arn:aws:sqs:<region>:<account>:<name>
    const [, , service, , account, name] = arn.split(':');
    if (service !== 'sqs' || !name) {
      log.warn({ arn }, 'RedrivePolicy names a dead-letter target that is not an SQS queue ARN');
      return undefined;
    }
    const out = await wrap('GetQueueUrl', name, () =>
      client.send(new GetQueueUrlCommand({ QueueName: name, QueueOwnerAWSAccountId: account || undefined })),
    );
    if (!out.QueueUrl) return undefined;
    deadLetter = { arn, url: out.QueueUrl };
    return out.QueueUrl;
  }

  return {
    url,

    async receive(o = {}) {
      const out = await wrap('ReceiveMessage', url, () =>
        client.send(
          new ReceiveMessageCommand({
            QueueUrl: url,
            MaxNumberOfMessages: clamp(o.max ?? MAX_BATCH_ENTRIES, 1, MAX_BATCH_ENTRIES),
            WaitTimeSeconds: clamp(o.waitSeconds ?? 1, 0, MAX_WAIT_SECONDS),
            VisibilityTimeout:
              o.visibilityTimeoutSeconds === undefined
                ? undefined
                : clamp(o.visibilityTimeoutSeconds, 0, MAX_VISIBILITY_SECONDS),
            MessageSystemAttributeNames: ['ApproximateReceiveCount', 'SentTimestamp'],
            // The deprecated parameter too, because local-aws-sqs reads only that one. Its type takes queue
            // attribute names; 'All' is one of them and asks for every message system attribute.
            AttributeNames: ['All'],
          }),
        ),
      );
      const raw = out.Messages ?? [];
      // A message can come twice in one answer (local-aws-sqs when the visibility timeout is shorter than the
      // wait); keep its last copy, whose receipt handle and receive count are current.
      const byId = new Map<string, QueueMessage>();
      for (const m of raw) {
        const message = toQueueMessage(m);
        if (!message) {
          log.warn(
            { messageId: m.MessageId },
            'received a message without MessageId or ReceiptHandle; ignored',
          );
          continue;
        }
        byId.delete(message.id);
        byId.set(message.id, message);
      }
      if (byId.size < raw.length)
        log.debug({ received: raw.length, unique: byId.size }, 'duplicates removed');
      return [...byId.values()];
    },

    async deleteBatch(messages) {
      const unique = [...new Map(messages.map((m) => [m.id, m])).values()];
      const deleted: string[] = [];
      const failed: { id: string; reason: string }[] = [];
      // A few batches in flight: a group's deletes are on the path from its decisions to its next group.
      const outs = await mapLimit(chunk(unique, MAX_BATCH_ENTRIES), DELETES_IN_FLIGHT, async (batch) => ({
        batch,
        out: await wrap('DeleteMessageBatch', url, () =>
          client.send(
            new DeleteMessageBatchCommand({
              QueueUrl: url,
              Entries: batch.map((m, i) => ({ Id: String(i), ReceiptHandle: m.receiptHandle })),
            }),
          ),
        ),
      }));
      for (const { batch, out } of outs) {
        const ok = new Set((out.Successful ?? []).map((s) => s.Id));
        const bad = new Map(
          (out.Failed ?? []).map((f) => [f.Id, `${f.Code ?? 'error'}: ${f.Message ?? ''}`]),
        );
        batch.forEach((m, i) => {
          const id = String(i);
          if (ok.has(id)) deleted.push(m.id);
          else failed.push({ id: m.id, reason: bad.get(id) ?? 'no result for this entry' });
        });
      }
      if (failed.length > 0) log.warn({ failed }, 'some messages were not deleted');
      return { deleted, failed };
    },

    async extendVisibility(messages, seconds) {
      const timeout = clamp(Math.round(seconds), 0, MAX_VISIBILITY_SECONDS);
      const unique = [...new Map(messages.map((m) => [m.id, m])).values()];
      for (const batch of chunk(unique, MAX_BATCH_ENTRIES)) {
        const out = await wrap('ChangeMessageVisibilityBatch', url, () =>
          client.send(
            new ChangeMessageVisibilityBatchCommand({
              QueueUrl: url,
              Entries: batch.map((m, i) => ({
                Id: String(i),
                ReceiptHandle: m.receiptHandle,
                VisibilityTimeout: timeout,
              })),
            }),
          ),
        );
        // A message whose receipt expired is visible again and will be redelivered; nothing to do but say so.
        for (const f of out.Failed ?? []) {
          const m = batch[Number(f.Id)];
          log.warn({ messageId: m?.id, code: f.Code, reason: f.Message }, 'visibility not changed');
        }
      }
    },

    async sendBatch(bodies) {
      const failed: { index: number; reason: string }[] = [];
      const batches: { index: number; body: string; bytes: number }[][] = [];
      let current: { index: number; body: string; bytes: number }[] = [];
      let currentBytes = 0;
      bodies.forEach((body, index) => {
        const bytes = Buffer.byteLength(body, 'utf8');
        const refusal = refuse(body, bytes);
        if (refusal) {
          failed.push({ index, reason: refusal });
          return;
        }
        if (current.length === MAX_BATCH_ENTRIES || currentBytes + bytes > MAX_BATCH_BYTES) {
          batches.push(current);
          current = [];
          currentBytes = 0;
        }
        current.push({ index, body, bytes });
        currentBytes += bytes;
      });
      if (current.length > 0) batches.push(current);

      let sent = 0;
      for (const batch of batches) {
        const out = await wrap('SendMessageBatch', url, () =>
          client.send(
            new SendMessageBatchCommand({
              QueueUrl: url,
              Entries: batch.map((e) => ({ Id: String(e.index), MessageBody: e.body })),
            }),
          ),
        );
        const ok = new Set((out.Successful ?? []).map((s) => s.Id));
        const bad = new Map(
          (out.Failed ?? []).map((f) => [f.Id, `${f.Code ?? 'error'}: ${f.Message ?? ''}`]),
        );
        for (const e of batch) {
          if (ok.has(String(e.index))) sent++;
          else
            failed.push({ index: e.index, reason: bad.get(String(e.index)) ?? 'no result for this entry' });
        }
      }
      failed.sort((x, y) => x.index - y.index);
      if (failed.length > 0) log.warn({ failed: failed.length, sent }, 'some messages were not sent');
      return { sent, failed };
    },

    async stats() {
      const main = await counts(url);
      const stats: QueueStats = { visible: main.visible, inFlight: main.inFlight, delayed: main.delayed };
      // SQS has no such queue attribute (it is a CloudWatch metric); read it only if a server offers it.
      if (main.a.ApproximateAgeOfOldestMessage !== undefined) {
        stats.oldestAgeSeconds = int(main.a.ApproximateAgeOfOldestMessage);
      }
      const arn = deadLetterArn(main.a.RedrivePolicy);
      if (arn) {
        const dlqUrl = await resolveDeadLetterUrl(arn);
        if (dlqUrl) stats.deadLetter = { url: dlqUrl, visible: (await counts(dlqUrl)).visible };
      }
      return stats;
    },
  };
}

/**
 * Returns the URL of queue `name`, creating it first (with its dead-letter queue and a RedrivePolicy after
 * `maxReceiveCount` receives) when it is missing. Where the queues exist, as Terraform makes them in
 * production, it only checks them (GetQueueUrl) and changes nothing.
 *
 * @example
 * const url = await ensureQueue(client, 'secbot-events', { deadLetterName: 'secbot-events-dlq', maxReceiveCount: 3 });
 */
export async function ensureQueue(
  client: SQSClient,
  name: string,
  opts: { deadLetterName: string; maxReceiveCount: number; visibilityTimeoutSeconds?: number },
): Promise<string> {
  const existing = await queueUrl(client, name);
  if (existing) {
    if (!(await queueUrl(client, opts.deadLetterName))) {
      throw new QueueError(
        'GetQueueUrl',
        opts.deadLetterName,
        new Error(`dead-letter queue ${opts.deadLetterName} of ${name} does not exist`),
      );
    }
    return existing;
  }
  const dlqUrl =
    (await queueUrl(client, opts.deadLetterName)) ?? (await create(client, opts.deadLetterName, {}));
  const arn = await wrap('GetQueueAttributes', dlqUrl, async () => {
    const out = await client.send(
      new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['QueueArn'] }),
    );
    if (!out.Attributes?.QueueArn) throw new Error('no QueueArn in the answer');
    return out.Attributes.QueueArn;
  });
  const attributes: Record<string, string> = {
    RedrivePolicy: JSON.stringify({ deadLetterTargetArn: arn, maxReceiveCount: opts.maxReceiveCount }),
  };
  if (opts.visibilityTimeoutSeconds !== undefined) {
    attributes.VisibilityTimeout = String(opts.visibilityTimeoutSeconds);
  }
  return create(client, name, attributes);
}

async function queueUrl(client: SQSClient, name: string): Promise<string | undefined> {
  return wrap('GetQueueUrl', name, async () => {
    try {
      return (await client.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl;
    } catch (err) {
      if (err instanceof QueueDoesNotExist || (err as { name?: unknown }).name === 'QueueDoesNotExist') {
        return undefined;
      }
      throw err;
    }
  });
}

async function create(client: SQSClient, name: string, attributes: Record<string, string>): Promise<string> {
  return wrap('CreateQueue', name, async () => {
    const out = await client.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
    if (!out.QueueUrl) throw new Error('no QueueUrl in the answer');
    return out.QueueUrl;
  });
}

async function wrap<T>(operation: string, queue: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw err instanceof QueueError ? err : new QueueError(operation, queue, err);
  }
}

function toQueueMessage(m: Message): QueueMessage | undefined {
  if (!m.MessageId || !m.ReceiptHandle) return undefined;
  const attrs = m.Attributes ?? {};
  const message: QueueMessage = {
    id: m.MessageId,
    receiptHandle: m.ReceiptHandle,
    body: m.Body ?? '',
    receiveCount: Math.max(1, int(attrs.ApproximateReceiveCount)),
  };
  const sent = Number(attrs.SentTimestamp);
  if (attrs.SentTimestamp && Number.isFinite(sent)) message.sentAt = new Date(sent);
  return message;
}

function refuse(body: string, bytes: number): string | undefined {
  if (body.length === 0) return 'empty body (SQS needs at least one character)';
  if (bytes > MAX_BATCH_BYTES) return `body is ${bytes} bytes; SQS takes at most ${MAX_BATCH_BYTES}`;
  if (FORBIDDEN_CHARS.test(body)) return 'body contains characters SQS does not accept';
  return undefined;
}

function deadLetterArn(redrivePolicy: string | undefined): string | undefined {
  if (!redrivePolicy) return undefined;
  try {
    const arn = (JSON.parse(redrivePolicy) as { deadLetterTargetArn?: unknown }).deadLetterTargetArn;
    return typeof arn === 'string' ? arn : undefined;
  } catch {
    return undefined;
  }
}

function chunk<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function clamp(n: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, Math.trunc(n)));
}

function int(s: string | undefined): number {
  const n = Number(s);
  return Number.isFinite(n) ? n : 0;
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    const detail = err.message || (typeof code === 'string' ? code : '') || err.name;
    return err.name && err.name !== 'Error' && !detail.includes(err.name) ? `${err.name}: ${detail}` : detail;
  }
  return String(err);
}
