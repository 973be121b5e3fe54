import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { VerificationCall } from '../../store/types.js';
import { startTestDynamo, type TestDynamo } from '../helpers/dynamo-server.js';

let dynamo: TestDynamo;
before(async () => {
  dynamo = await startTestDynamo();
});
after(async () => {
  await dynamo?.stop();
});

const call = (id: string, at: Date): VerificationCall => ({
  eventId: id,
  eventName: 'CreateUser',
  eventSource: 'iam.amazonaws.com',
  eventTime: at.toISOString(),
  ruleIds: ['r1'],
  action: 'notify',
});

describe('listEngineerVerifications', () => {
  it("lists an engineer's own verifications newest first, and nobody else's", async () => {
    const store = await dynamo.newStore();
    const t0 = Date.now() - 3_600_000; // recent: items past their TTL read as absent
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const now = new Date(t0 + i * 60_000);
      const r = await store.addNotifyCall('U0ALICE', call(`e${i}`, now), {
        now,
        deadline: new Date(now.getTime() + 600_000),
      });
      assert.equal(r.created, true);
      ids.push(r.verificationId);
      // A second call joins the same verification: still one entry.
      await store.addNotifyCall('U0ALICE', call(`e${i}b`, now), {
        now,
        deadline: new Date(now.getTime() + 600_000),
      });
      await store.transitionVerification(r.verificationId, {
        from: ['OPEN'],
        to: 'ESCALATED',
        by: 'test',
        reason: 'test',
        at: new Date(now.getTime() + 1000),
      });
    }
    const now = new Date(t0);
    await store.addNotifyCall('U0BOB', call('b1', now), { now, deadline: new Date(t0 + 600_000) });
    const mine = await store.listEngineerVerifications('U0ALICE');
    assert.deepEqual(
      mine.map((v) => v.id),
      [...ids].reverse(),
    );
    assert.ok(mine.every((v) => v.engineerKey === 'U0ALICE' && v.callCount === 2));
    assert.equal((await store.listEngineerVerifications('U0ALICE', { limit: 2 })).length, 2);
    assert.deepEqual(await store.listEngineerVerifications('U0NOBODY'), []);
  });
});
