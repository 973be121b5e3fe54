/**
 * `secbot enqueue <files…|->`: send CloudTrail records to the configured queue as EventBridge events.
 * With no SECBOT_QUEUE_URL it finds the embedded queue of a running `npm start` (written to the data dir).
 */

import { describeFailure } from '../cloudtrail/decode.js';
import { readCloudTrailInputs } from '../cloudtrail/read-files.js';
import type { CloudTrailRecord } from '../cloudtrail/record.js';
import { loadConfig } from '../config/index.js';
import { embeddedSqsClient } from '../integrations/embedded-sqs.js';
import { readEmbeddedEndpoints } from '../integrations/embedded-state.js';
import { enqueueRecords } from '../integrations/enqueue.js';
import { createSqsQueue } from '../integrations/queue.js';

export async function runEnqueue(paths: string[]): Promise<number> {
  if (paths.length === 0) {
    process.stderr.write('secbot enqueue: name at least one file, or - for standard input\n');
    return 2;
  }
  const config = loadConfig();
  let url = config.queue.url;
  let endpoint = config.queue.endpoint;
  if (!url) {
    const embedded = await readEmbeddedEndpoints(config.dataDir);
    if (!embedded) {
      process.stderr.write(
        'secbot enqueue: no SECBOT_QUEUE_URL, and no running embedded secbot found (start one with `npm start`)\n',
      );
      return 1;
    }
    url = embedded.queueUrl;
    endpoint = embedded.sqsEndpoint;
  }
  const queue = createSqsQueue(
    config.queue.url
      ? { url, endpoint, region: config.aws.region, credentials: config.aws.credentials }
      : { url, client: embeddedSqsClient(endpoint ?? ''), countsIncludeInFlight: true },
  );
  let malformed = 0;
  async function* records(): AsyncGenerator<CloudTrailRecord> {
    for await (const item of readCloudTrailInputs(paths)) {
      if (!item.result.ok) {
        malformed++;
        process.stderr.write(`skipped ${item.source}:${item.line}: ${describeFailure(item.result)}\n`);
        continue;
      }
      malformed += item.result.invalid.length;
      yield* item.result.records;
    }
  }
  const { sent, failed } = await enqueueRecords(queue, records());
  process.stdout.write(
    `enqueued ${sent} records to ${url} (${failed} failed, ${malformed} malformed skipped)\n`,
  );
  return failed > 0 ? 1 : 0;
}
