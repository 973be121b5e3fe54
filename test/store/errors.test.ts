import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EMBEDDED_CREDENTIALS } from '../../integrations/embedded-dynamo.js';
import { createDynamoStore } from '../../store/dynamo-store.js';
import { StoreError } from '../../store/errors.js';
import { startTestDynamo, type TestDynamo } from '../helpers/dynamo-server.js';

let db: TestDynamo;
/** A loopback proxy in front of dynalite that answers the first `throttle` requests with a throttling error. */
let proxy: Server;
let proxyUrl: string;
let throttle = 0;
/** Forward the next request of this operation, then cut the connection instead of answering. */
let dropAnswerOf: string | undefined;
let seen: string[] = [];

before(async () => {
  db = await startTestDynamo();
  const target = new URL(db.endpoint);
  proxy = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push(String(req.headers['x-amz-target']));
      if (throttle > 0) {
        throttle--;
        res.writeHead(400, { 'content-type': 'application/x-amz-json-1.0' });
        res.end(
          JSON.stringify({
            __type: 'com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException',
            message: 'The level of configured provisioned throughput for the table was exceeded.',
          }),
        );
        return;
      }
      const op = String(req.headers['x-amz-target']).split('.')[1];
      const drop = dropAnswerOf !== undefined && op === dropAnswerOf;
      if (drop) dropAnswerOf = undefined;
      const fwd = request(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
        (up) => {
          if (drop) {
            up.resume();
            up.on('end', () => req.socket.destroy());
            return;
          }
          res.writeHead(up.statusCode ?? 500, up.headers);
          up.pipe(res);
        },
      );
      fwd.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
});
after(async () => {
  proxy.closeAllConnections();
  await new Promise((r) => proxy.close(r));
  await db.stop();
});

describe('store errors', () => {
  test('throttling is retried by the SDK and the call then succeeds', async () => {
    const table = (await db.newStore()).tableName;
    const client = new DynamoDBClient({
      endpoint: proxyUrl,
      region: 'us-east-1',
      credentials: EMBEDDED_CREDENTIALS,
    });
    try {
      const store = createDynamoStore({ tableName: table, client });
      throttle = 1;
      seen = [];
      assert.equal(await store.claimEvent('t-1', 'replica-a', 60_000), 'claimed');
      assert.deepEqual(seen, ['DynamoDB_20120810.UpdateItem', 'DynamoDB_20120810.UpdateItem']);
    } finally {
      client.destroy();
    }
  });

  test('throttling that outlasts the retries becomes a StoreError naming the operation', async () => {
    const table = (await db.newStore()).tableName;
    const client = new DynamoDBClient({
      endpoint: proxyUrl,
      region: 'us-east-1',
      credentials: EMBEDDED_CREDENTIALS,
      maxAttempts: 1,
    });
    try {
      const store = createDynamoStore({ tableName: table, client });
      throttle = 5;
      await assert.rejects(store.incrementCounters('2026-11-20', { a: 1 }), (err: unknown) => {
        assert.ok(err instanceof StoreError);
        assert.equal(err.code, 'store_unavailable');
        assert.equal(err.operation, 'incrementCounters');
        assert.equal((err.cause as Error).name, 'ProvisionedThroughputExceededException');
        return true;
      });
    } finally {
      throttle = 0;
      client.destroy();
    }
  });

  test('a transition whose answer is lost is still won by its caller (the SDK retry fails the condition)', async () => {
    const direct = await db.newStore();
    const client = new DynamoDBClient({
      endpoint: proxyUrl,
      region: 'us-east-1',
      credentials: EMBEDDED_CREDENTIALS,
    });
    try {
      const store = createDynamoStore({ tableName: direct.tableName, client });
      const { verificationId } = await direct.addNotifyCall(
        'alice',
        {
          eventId: 'lost-1',
          eventName: 'CreateUser',
          eventSource: 'iam.amazonaws.com',
          eventTime: '2026-11-20T10:00:00Z',
          ruleIds: ['r'],
          action: 'notify',
        },
        { now: new Date(), deadline: new Date(Date.now() + 60_000) },
      );
      dropAnswerOf = 'UpdateItem';
      seen = [];
      const v = await store.transitionVerification(verificationId, {
        from: ['OPEN'],
        to: 'DUO_PENDING',
        by: 'U_ALICE',
        reason: 'yes',
        at: new Date(),
      });
      assert.equal(v.state, 'DUO_PENDING');
      assert.equal(
        seen.filter((t) => t.endsWith('.UpdateItem')).length,
        2,
        'the SDK retried the update once',
      );
      assert.equal(v.history.length, 1);
      assert.equal(await direct.findOpenVerification('alice'), undefined, 'the lock was still released');
    } finally {
      dropAnswerOf = undefined;
      client.destroy();
    }
  });

  test('a missing table surfaces as StoreError with the SDK error as cause', async () => {
    const store = createDynamoStore({ tableName: 'no-such-table', client: db.client });
    await assert.rejects(store.getVerification('v_1'), (err: unknown) => {
      assert.ok(err instanceof StoreError);
      assert.equal(err.operation, 'getVerification');
      assert.equal((err.cause as Error).name, 'ResourceNotFoundException');
      assert.match(err.message, /getVerification failed: ResourceNotFoundException/);
      return true;
    });
  });

  test('an unreachable endpoint surfaces as StoreError', async () => {
    const dead = createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    const port = (dead.address() as AddressInfo).port;
    await new Promise((r) => dead.close(r));
    const store = createDynamoStore({
      tableName: 'secbot',
      client: new DynamoDBClient({
        endpoint: `http://127.0.0.1:${port}`,
        region: 'us-east-1',
        credentials: EMBEDDED_CREDENTIALS,
        maxAttempts: 1,
      }),
    });
    await assert.rejects(
      store.claimEvent('x', 'o', 1000),
      (err: unknown) => err instanceof StoreError && err.operation === 'claimEvent',
    );
  });
});
