// EventBridge envelopes for CloudTrail records, and enqueueing them onto a real local-aws-sqs queue.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { CloudTrailRecord } from '../../cloudtrail/record.js';
import { enqueueRecords, toEventBridgeEvent } from '../../integrations/enqueue.js';
import { startSqsServer, type TestSqsServer } from '../helpers/sqs-server.js';

const CORPUS = new URL('../../../shared/corpus/public.jsonl', import.meta.url);

function record(overrides: Partial<CloudTrailRecord> = {}): CloudTrailRecord {
  return {
    eventID: '3f9d2948-d3bf-4594-b408-9bc2849945fc',
    eventName: 'CreateUser',
    eventSource: 'iam.amazonaws.com',
    eventTime: '2024-05-01T12:34:56Z',
    eventType: 'AwsApiCall',
    awsRegion: 'us-east-1',
    recipientAccountId: '111122223333',
    userIdentity: { type: 'IAMUser', accountId: '111122223333', arn: 'arn:aws:iam::111122223333:user/ana' },
    requestParameters: { userName: 'mallory' },
    ...overrides,
  };
}

describe('toEventBridgeEvent', () => {
  it('builds the envelope EventBridge sends for an API call', () => {
    const r = record();
    const event = toEventBridgeEvent(r);
    assert.match(event.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.deepEqual(
      { ...event, id: 'x' },
      {
        version: '0',
        id: 'x',
        'detail-type': 'AWS API Call via CloudTrail',
        source: 'aws.iam',
        account: '111122223333',
        time: '2024-05-01T12:34:56Z',
        region: 'us-east-1',
        resources: [],
        detail: r,
      },
    );
    assert.notEqual(toEventBridgeEvent(r).id, event.id, 'a fresh id per event');
  });

  it('names console sign-ins and service events by their own detail-type', () => {
    const signIn = toEventBridgeEvent(
      record({
        eventName: 'ConsoleLogin',
        eventSource: 'signin.amazonaws.com',
        eventType: 'AwsConsoleSignIn',
      }),
    );
    assert.equal(signIn['detail-type'], 'AWS Console Sign In via CloudTrail');
    assert.equal(signIn.source, 'aws.signin');
    const untyped = toEventBridgeEvent(
      record({ eventName: 'ConsoleLogin', eventSource: 'signin.amazonaws.com', eventType: undefined }),
    );
    assert.equal(untyped['detail-type'], 'AWS Console Sign In via CloudTrail');
    const service = toEventBridgeEvent(
      record({
        eventName: 'RotationSucceeded',
        eventSource: 'secretsmanager.amazonaws.com',
        eventType: 'AwsServiceEvent',
      }),
    );
    assert.equal(service['detail-type'], 'AWS Service Event via CloudTrail');
    assert.equal(service.source, 'aws.secretsmanager');
  });

  it('writes time as ISO 8601 UTC even when eventTime uses a space', () => {
    assert.equal(
      toEventBridgeEvent(record({ eventTime: '2025-02-19 20:13:49' })).time,
      '2025-02-19T20:13:49Z',
    );
    assert.equal(
      toEventBridgeEvent(record({ eventTime: '2023-07-19T21:44:40.123Z' })).time,
      '2023-07-19T21:44:40Z',
    );
  });

  it('falls back to the caller account when the record has no recipientAccountId', () => {
    assert.equal(toEventBridgeEvent(record({ recipientAccountId: undefined })).account, '111122223333');
  });
});

describe('enqueueRecords', () => {
  let sqs: TestSqsServer;
  before(async () => {
    sqs = await startSqsServer();
  });
  after(() => sqs.stop());

  it('puts every record of a sync or async iterable on the queue as an EventBridge event', async () => {
    const { queue } = await sqs.createQueue();
    const records = Array.from({ length: 13 }, (_, i) => record({ eventID: `id-${i}` }));
    async function* stream() {
      yield* records.slice(0, 4);
    }
    assert.deepEqual(await enqueueRecords(queue, records.slice(4)), { sent: 9, failed: 0 });
    assert.deepEqual(await enqueueRecords(queue, stream()), { sent: 4, failed: 0 });

    const ids = new Set<string>();
    for (let i = 0; i < 20 && ids.size < 13; i++) {
      for (const m of await queue.receive({ max: 10, waitSeconds: 0 })) {
        const event = JSON.parse(m.body);
        assert.equal(event['detail-type'], 'AWS API Call via CloudTrail');
        ids.add(event.detail.eventID);
      }
    }
    assert.deepEqual([...ids].sort(), records.map((r) => r.eventID).sort());
  });

  it('counts a record too large for SQS as failed and sends the others', async () => {
    const { queue } = await sqs.createQueue();
    const huge = record({ eventID: 'huge', requestParameters: { policyDocument: 'p'.repeat(300 * 1024) } });
    assert.deepEqual(await enqueueRecords(queue, [record(), huge, record()]), { sent: 2, failed: 1 });
  });

  it('enqueues the real records of the shared corpus', {
    skip: !existsSync(CORPUS) && 'no ../shared corpus',
  }, async () => {
    const { queue } = await sqs.createQueue();
    const lines = readFileSync(CORPUS, 'utf8').split('\n').filter(Boolean).slice(0, 120);
    const records = lines.map((l) => JSON.parse(l).event as CloudTrailRecord);
    const result = await enqueueRecords(queue, records);
    assert.deepEqual(result, { sent: records.length, failed: 0 });
    assert.equal((await queue.stats()).visible, records.length);
  });
});
