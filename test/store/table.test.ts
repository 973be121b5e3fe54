import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CreateTableCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  TransactWriteItemsCommand,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { TableSchemaError } from '../../store/errors.js';
import { createTableInput, TABLE_SCHEMA } from '../../store/schema.js';
import { checkSchema, ensureTable } from '../../store/table.js';
import { startTestDynamo, type TestDynamo } from '../helpers/dynamo-server.js';

let db: TestDynamo;
before(async () => {
  db = await startTestDynamo();
});
after(async () => {
  await db.stop();
});

/** Names of the commands the client sends, recorded by a middleware on the real client. */
function recordCommands(): { names: string[]; stop(): void } {
  const names: string[] = [];
  const name = `record-${Math.random()}`;
  db.client.middlewareStack.add(
    (next, context) => async (args) => {
      names.push(String(context.commandName));
      return next(args);
    },
    { step: 'initialize', name },
  );
  return { names, stop: () => db.client.middlewareStack.remove(name) };
}

describe('ensureTable', () => {
  test('creates a missing table with gsi1, then on the next start only describes and checks it', async () => {
    const name = db.tableName();
    const rec = recordCommands();
    try {
      const first = await ensureTable(db.client, name);
      assert.deepEqual(first, { created: true, ttl: 'unsupported' }, 'dynalite has no UpdateTimeToLive');
      assert.ok(rec.names.includes('CreateTableCommand'));
      rec.names.length = 0;
      const second = await ensureTable(db.client, name, { expectTtl: false });
      assert.equal(second.created, false);
      assert.equal(second.ttl, 'disabled', 'dynalite reports TTL as disabled');
      assert.deepEqual(rec.names, ['DescribeTableCommand', 'DescribeTimeToLiveCommand']);
    } finally {
      rec.stop();
    }
    const t = (await db.client.send(new DescribeTableCommand({ TableName: name }))).Table;
    assert.ok(t);
    assert.equal(t.TableStatus, 'ACTIVE');
    assert.deepEqual(checkSchema(t), []);
    assert.equal(t.GlobalSecondaryIndexes?.[0]?.IndexName, TABLE_SCHEMA.globalSecondaryIndexes[0].name);
  });

  test('replicas starting together both end with the one table', async () => {
    const name = db.tableName();
    const results = await Promise.all([ensureTable(db.client, name), ensureTable(db.client, name)]);
    assert.ok(results.filter((r) => r.created).length >= 1);
  });

  test('refuses an existing table whose keys or index differ, naming each problem', async () => {
    const cases: { why: string; mutate: (i: ReturnType<typeof createTableInput>) => void; expect: RegExp }[] =
      [
        {
          why: 'different partition key',
          mutate: (i) => {
            i.AttributeDefinitions = [{ AttributeName: 'id', AttributeType: 'S' }];
            i.KeySchema = [{ AttributeName: 'id', KeyType: 'HASH' }];
            i.GlobalSecondaryIndexes = undefined;
          },
          expect: /partition key is id, expected pk.*sort key is missing.*gsi1 is missing/,
        },
        {
          why: 'numeric sort key',
          mutate: (i) => {
            i.AttributeDefinitions = i.AttributeDefinitions?.map((a) =>
              a.AttributeName === 'sk' ? { ...a, AttributeType: 'N' } : a,
            );
          },
          expect: /sort key sk has type N, expected S/,
        },
        {
          why: 'index projecting keys only',
          mutate: (i) => {
            const g = i.GlobalSecondaryIndexes?.[0];
            if (g) g.Projection = { ProjectionType: 'KEYS_ONLY' };
          },
          expect: /index gsi1 projects KEYS_ONLY, expected ALL/,
        },
      ];
    for (const c of cases) {
      const input = createTableInput(db.tableName());
      c.mutate(input);
      await db.client.send(new CreateTableCommand(input));
      await assert.rejects(ensureTable(db.client, String(input.TableName)), (err: unknown) => {
        assert.ok(err instanceof TableSchemaError, `${c.why}: ${String(err)}`);
        assert.equal(err.code, 'table_mismatch');
        assert.match(err.message, c.expect, c.why);
        return true;
      });
      await db.client.send(new DeleteTableCommand({ TableName: input.TableName }));
    }
  });

  test('the schema as data matches the CreateTable request', () => {
    const input = createTableInput('secbot');
    assert.deepEqual(input.KeySchema, [
      { AttributeName: TABLE_SCHEMA.partitionKey.name, KeyType: 'HASH' },
      { AttributeName: TABLE_SCHEMA.sortKey.name, KeyType: 'RANGE' },
    ]);
    assert.equal(input.BillingMode, 'PAY_PER_REQUEST');
    assert.deepEqual(input.AttributeDefinitions?.map((a) => a.AttributeName).sort(), [
      'gsi1pk',
      'gsi1sk',
      'pk',
      'sk',
    ]);
    assert.equal(TABLE_SCHEMA.ttlAttribute, 'ttl');
  });
});

describe('what dynalite supports (pinned, so a dynalite upgrade that changes it is noticed)', () => {
  test('no transactions and no TTL API: claims stay single-item conditional writes, expiry is checked on read', async () => {
    const name = db.tableName();
    await ensureTable(db.client, name);
    await assert.rejects(
      db.client.send(
        new TransactWriteItemsCommand({
          TransactItems: [{ Put: { TableName: name, Item: { pk: { S: 'a' }, sk: { S: 'b' } } } }],
        }),
      ),
      (err: unknown) => err instanceof Error && err.name === 'UnknownOperationException',
    );
    await assert.rejects(
      db.client.send(
        new UpdateTimeToLiveCommand({
          TableName: name,
          TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
        }),
      ),
      (err: unknown) => err instanceof Error && err.name === 'UnknownOperationException',
    );
    const ttl = await db.client.send(new DescribeTimeToLiveCommand({ TableName: name }));
    assert.equal(ttl.TimeToLiveDescription?.TimeToLiveStatus, 'DISABLED');
  });
});
