/**
 * Puts CloudTrail records on the queue the way production delivers them: each wrapped in the event that an
 * EventBridge rule sends to its SQS target. Used to seed the embedded queue and by tests and benchmarks.
 */

import { randomUUID } from 'node:crypto';
import type { CloudTrailRecord } from '../cloudtrail/record.js';
import { MAX_BATCH_ENTRIES, type Queue } from './queue.js';

/** The envelope EventBridge puts around a CloudTrail record. */
export interface EventBridgeEvent {
  version: '0';
  id: string;
  'detail-type': string;
  source: string;
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: CloudTrailRecord;
}

/**
 * Wraps a record in an EventBridge event as delivered to an SQS target. The detail-type follows the record's
 * eventType (AwsConsoleSignIn → "AWS Console Sign In via CloudTrail", AwsServiceEvent → "AWS Service Event via
 * CloudTrail", AwsConsoleAction → "AWS Console Action via CloudTrail", anything else → "AWS API Call via
 * CloudTrail"); `source` is `aws.<service>` from the eventSource (`iam.amazonaws.com` → `aws.iam`).
 *
 * @example
 * const body = JSON.stringify(toEventBridgeEvent(record));
 */
export function toEventBridgeEvent(record: CloudTrailRecord): EventBridgeEvent {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': detailType(record),
    source: `aws.${serviceOf(record.eventSource)}`,
    account: record.recipientAccountId ?? record.userIdentity?.accountId ?? '000000000000',
    time: eventBridgeTime(record.eventTime),
    region: record.awsRegion ?? 'us-east-1',
    resources: [],
    detail: record,
  };
}

/**
 * Sends each record, wrapped by `toEventBridgeEvent`, in batches within SQS's limits. Records the queue
 * refuses are counted in `failed`; an unreachable queue throws `QueueError`.
 *
 * @example
 * const { sent, failed } = await enqueueRecords(queue, sampleRecords);
 */
export async function enqueueRecords(
  queue: Queue,
  records: AsyncIterable<CloudTrailRecord> | Iterable<CloudTrailRecord>,
): Promise<{ sent: number; failed: number }> {
  let sent = 0;
  let failed = 0;
  let pending: string[] = [];
  const flush = async () => {
    if (pending.length === 0) return;
    const result = await queue.sendBatch(pending);
    sent += result.sent;
    failed += result.failed.length;
    pending = [];
  };
  for await (const record of records) {
    pending.push(JSON.stringify(toEventBridgeEvent(record)));
    if (pending.length === MAX_BATCH_ENTRIES) await flush();
  }
  await flush();
  return { sent, failed };
}

const CONSOLE_SIGN_IN_EVENTS = new Set([
  'ConsoleLogin',
  'ConsoleLogout',
  'CheckMfa',
  'SwitchRole',
  'ExitRole',
]);

function detailType(record: CloudTrailRecord): string {
  switch (record.eventType) {
    case 'AwsConsoleSignIn':
      return 'AWS Console Sign In via CloudTrail';
    case 'AwsServiceEvent':
      return 'AWS Service Event via CloudTrail';
    case 'AwsConsoleAction':
      return 'AWS Console Action via CloudTrail';
    case undefined:
      // Older or trimmed records carry no eventType; sign-ins are still recognisable by name.
      return record.eventSource === 'signin.amazonaws.com' && CONSOLE_SIGN_IN_EVENTS.has(record.eventName)
        ? 'AWS Console Sign In via CloudTrail'
        : 'AWS API Call via CloudTrail';
    default:
      return 'AWS API Call via CloudTrail';
  }
}

function serviceOf(eventSource: string): string {
  const service = eventSource.replace(/\.amazonaws\.com(\.cn)?$/, '').split('.')[0];
  return service || 'unknown';
}

/** EventBridge's `time` is ISO 8601 in UTC to the second; some records write eventTime as "YYYY-MM-DD hh:mm:ss". */
function eventBridgeTime(eventTime: string | undefined): string {
  const zoned = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(eventTime ?? '')
    ? `${eventTime?.replace(' ', 'T')}Z`
    : (eventTime ?? '');
  const ms = Date.parse(zoned);
  const date = Number.isNaN(ms) ? new Date() : new Date(ms);
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
