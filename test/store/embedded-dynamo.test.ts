import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EmbeddedDynamoError, startEmbeddedDynamo } from '../../integrations/embedded-dynamo.js';
import { createDynamoStore } from '../../store/dynamo-store.js';
import { ensureTable } from '../../store/table.js';

const T0 = new Date('2026-11-20T10:00:00.000Z');

describe('embedded table', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'secbot-dynamo-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('listens on loopback only, on a free port', async () => {
    const [a, b] = await Promise.all([startEmbeddedDynamo(), startEmbeddedDynamo()]);
    try {
      assert.match(a.endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.notEqual(a.port, b.port);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  test('data on disk survives a restart of the embedded server', async () => {
    const first = await startEmbeddedDynamo({ dataDir: dir });
    const c1 = new DynamoDBClient(first.clientConfig);
    assert.equal((await ensureTable(c1, 'secbot')).created, true);
    const s1 = createDynamoStore({ tableName: 'secbot', client: c1 });
    const v = await s1.addNotifyCall(
      'alice',
      {
        eventId: 'persist-1',
        eventName: 'CreateUser',
        eventSource: 'iam.amazonaws.com',
        eventTime: '2026-11-20T09:59:00Z',
        ruleIds: ['iam-create-user'],
        action: 'notify',
      },
      { now: T0, deadline: new Date(T0.getTime() + 900_000) },
    );
    await s1.claimEvent('persist-1', 'replica-a', 60_000, T0);
    await s1.completeEvent(
      'persist-1',
      'replica-a',
      { action: 'notify', ruleIds: ['iam-create-user'], verificationId: v.verificationId },
      T0,
    );
    c1.destroy();
    await first.stop();
    await first.stop(); // idempotent

    const second = await startEmbeddedDynamo({ dataDir: dir });
    const c2 = new DynamoDBClient(second.clientConfig);
    try {
      assert.equal((await ensureTable(c2, 'secbot', { expectTtl: false })).created, false);
      const s2 = createDynamoStore({ tableName: 'secbot', client: c2 });
      assert.equal(await s2.claimEvent('persist-1', 'replica-b', 60_000, T0), 'duplicate');
      const again = await s2.findOpenVerification('alice');
      assert.equal(again?.id, v.verificationId);
      assert.deepEqual(again?.eventIds, ['persist-1']);
    } finally {
      c2.destroy();
      await second.stop();
    }
  });

  test('a data directory in use by a running server is refused with a clear error', async () => {
    const held = await startEmbeddedDynamo({ dataDir: dir });
    try {
      const second = startEmbeddedDynamo({ dataDir: dir });
      // Never leave a second server running if the guard fails: the test process would not exit.
      second.then((s) => s.stop()).catch(() => {});
      await assert.rejects(second, (err: unknown) => {
        assert.ok(err instanceof EmbeddedDynamoError);
        assert.match(err.message, /in use by another secbot embedded table/);
        return true;
      });
    } finally {
      await held.stop();
    }
    const next = await startEmbeddedDynamo({ dataDir: dir });
    await next.stop();
  });

  test('a data directory left by a process that died is taken over', async () => {
    const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
    const deadPid = Number(child.stdout.toString());
    assert.ok(deadPid > 0);
    await mkdir(join(dir, 'dynamodb'), { recursive: true });
    await writeFile(join(dir, 'dynamodb', 'secbot.pid'), String(deadPid));
    const db = await startEmbeddedDynamo({ dataDir: dir });
    await db.stop();
  });

  test('a taken port is reported as an EmbeddedDynamoError', async () => {
    const a = await startEmbeddedDynamo();
    try {
      await assert.rejects(startEmbeddedDynamo({ port: a.port }), EmbeddedDynamoError);
    } finally {
      await a.stop();
    }
  });
});
