import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ClaimLostError } from '../../store/errors.js';
import type { Store } from '../../store/store.js';
import { startTestDynamo, type TestDynamo } from '../helpers/dynamo-server.js';

let db: TestDynamo;
before(async () => {
  db = await startTestDynamo();
});
after(async () => {
  await db.stop();
});

const T0 = new Date('2026-11-20T10:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
const decision = { action: 'log' as const, ruleIds: ['iam-create-group'] };

describe('event claims', () => {
  let store: Store;
  before(async () => {
    store = await db.newStore();
  });

  test('a new event is claimed, then a redelivery after the decision is a duplicate', async () => {
    assert.equal(await store.claimEvent('e-1', 'replica-a', 60_000, T0), 'claimed');
    const done = await store.completeEvent('e-1', 'replica-a', decision, at(1_000));
    assert.equal(done.status, 'decided');
    assert.deepEqual(done.decision, decision);
    assert.equal(await store.claimEvent('e-1', 'replica-b', 60_000, at(2_000)), 'duplicate');
    assert.equal(await store.claimEvent('e-1', 'replica-a', 60_000, at(2_000)), 'duplicate');
  });

  test('a live lease held by another replica answers busy; the holder may renew it', async () => {
    assert.equal(await store.claimEvent('e-2', 'replica-a', 60_000, T0), 'claimed');
    assert.equal(await store.claimEvent('e-2', 'replica-b', 60_000, at(59_000)), 'busy');
    assert.equal(await store.claimEvent('e-2', 'replica-a', 60_000, at(59_000)), 'claimed');
    const c = await store.getEventClaim('e-2', at(59_000));
    assert.equal(c?.claimedBy, 'replica-a');
    assert.equal(c?.leaseUntil, at(119_000).toISOString());
  });

  test('an expired lease is taken over, and the old owner can no longer complete', async () => {
    assert.equal(await store.claimEvent('e-3', 'replica-a', 60_000, T0), 'claimed');
    assert.equal(await store.claimEvent('e-3', 'replica-b', 60_000, at(61_000)), 'claimed');
    const c = await store.getEventClaim('e-3', at(61_000));
    assert.equal(c?.claimedBy, 'replica-b');
    assert.equal(c?.attempts, 2);
    await assert.rejects(store.completeEvent('e-3', 'replica-a', decision, at(62_000)), (err: unknown) => {
      assert.ok(err instanceof ClaimLostError);
      assert.equal(err.code, 'claim_lost');
      assert.equal(err.heldBy, 'replica-b');
      return true;
    });
    assert.equal((await store.completeEvent('e-3', 'replica-b', decision, at(62_000))).status, 'decided');
  });

  test('completing twice by the same owner is harmless', async () => {
    await store.claimEvent('e-4', 'replica-a', 60_000, T0);
    await store.completeEvent('e-4', 'replica-a', decision, at(1));
    const again = await store.completeEvent('e-4', 'replica-a', { ...decision, action: 'alert' }, at(2));
    assert.equal(again.decision?.action, 'log', 'the first decision stays');
  });

  test('a released claim can be claimed again at once', async () => {
    await store.claimEvent('e-5', 'replica-a', 60_000, T0);
    assert.equal(await store.releaseEvent('e-5', 'replica-b'), false, 'only the owner releases');
    assert.equal(await store.releaseEvent('e-5', 'replica-a'), true);
    assert.equal(await store.claimEvent('e-5', 'replica-b', 60_000, at(1)), 'claimed');
  });

  test('the same eventID claimed by concurrent callers is claimed exactly once', async () => {
    for (let round = 0; round < 10; round++) {
      const id = `race-${round}`;
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) => store.claimEvent(id, `replica-${i}`, 60_000, T0)),
      );
      assert.equal(results.filter((r) => r === 'claimed').length, 1, `round ${round}: ${results.join(',')}`);
      assert.equal(results.filter((r) => r === 'busy').length, 7);
    }
  });

  test('a decided claim past its TTL reads as absent and can be claimed afresh', async () => {
    const s = await db.newStore({ retention: { eventDays: 1 } });
    await s.claimEvent('e-ttl', 'replica-a', 60_000, T0);
    await s.completeEvent('e-ttl', 'replica-a', decision, T0);
    const later = at(2 * 86_400_000);
    assert.equal(await s.getEventClaim('e-ttl', later), undefined);
    assert.equal(await s.claimEvent('e-ttl', 'replica-b', 60_000, later), 'claimed');
    const c = await s.getEventClaim('e-ttl', later);
    assert.equal(c?.status, 'claimed');
    assert.equal(c?.decision, undefined, 'the old decision is gone');
  });

  test('claimEvents pre-filters decided ids and claims the rest conditionally', async () => {
    const s = await db.newStore();
    await s.claimEvent('b-decided', 'replica-a', 60_000, T0);
    await s.completeEvent('b-decided', 'replica-a', decision, T0);
    await s.claimEvent('b-held', 'replica-a', 60_000, T0);
    await s.claimEvent('b-stale', 'replica-a', 1_000, T0);
    const ids = [
      'b-decided',
      'b-held',
      'b-stale',
      ...Array.from({ length: 150 }, (_, i) => `b-new-${i}`),
      'b-new-0',
    ];
    const r = await s.claimEvents(ids, 'replica-b', 60_000, at(5_000));
    assert.equal(r.size, 153);
    assert.equal(r.get('b-decided'), 'duplicate');
    assert.equal(r.get('b-held'), 'busy');
    assert.equal(r.get('b-stale'), 'claimed');
    assert.equal([...r.values()].filter((v) => v === 'claimed').length, 151);
  });

  test('two replicas claiming the same batch at once split it without overlap', async () => {
    const s = await db.newStore();
    const ids = Array.from({ length: 60 }, (_, i) => `split-${i}`);
    const [a, b] = await Promise.all([
      s.claimEvents(ids, 'replica-a', 60_000, T0),
      s.claimEvents([...ids].reverse(), 'replica-b', 60_000, T0),
    ]);
    for (const id of ids) {
      const claimed = [a.get(id), b.get(id)].filter((v) => v === 'claimed').length;
      assert.equal(claimed, 1, `${id}: ${a.get(id)} / ${b.get(id)}`);
    }
  });
});
