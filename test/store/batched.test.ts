/**
 * The drain's batched writes (issue 7): several calls of one engineer joining at once, the pre-filter
 * of redeliveries, decisions recorded 25 to a BatchWriteItem, deferred call items, alerts read in bulk
 * and their channel post stored with the page's outcome. Each keeps the guarantees of its one-by-one form.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Store } from '../../store/store.js';
import type { VerificationCall } from '../../store/types.js';
import { PREVIEW_CALLS } from '../../store/verifications.js';
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
const MIN = 60_000;
const opts = (ms = 0) => ({ now: at(ms), deadline: at(ms + 15 * MIN) });

function makeCall(eventId: string, second = 0): VerificationCall {
  return {
    eventId,
    eventName: 'CreateAccessKey',
    eventSource: 'iam.amazonaws.com',
    eventTime: new Date(T0.getTime() + second * 1000).toISOString().replace('.000Z', 'Z'),
    ruleIds: ['iam-access-key-created'],
    action: 'notify',
    reason: 'new access key',
  };
}

describe('addNotifyCalls', () => {
  let store: Store;
  before(async () => {
    store = await db.newStore();
  });

  test('a burst opens one verification holding every call once, the first call reported as opening it', async () => {
    const calls = Array.from({ length: 95 }, (_, i) => makeCall(`b1-${i}`, i));
    const results = await store.addNotifyCalls('U0BURST', calls, opts());
    assert.equal(new Set(results.map((r) => r.verificationId)).size, 1);
    assert.deepEqual(
      results.map((r) => r.created),
      calls.map((_, i) => i === 0),
    );
    const v = await store.findOpenVerification('U0BURST');
    assert.equal(v?.callCount, 95);
    assert.equal(v?.eventIds.length, 95);
    assert.equal(v?.preview.length, PREVIEW_CALLS);
    assert.equal((await store.listVerificationCalls(v?.id ?? '')).length, 95);
  });

  test('more calls join in chunks (past the 40 of one update); repeated eventIDs are duplicates, counted once', async () => {
    const first = await store.addNotifyCalls('U0JOIN', [makeCall('j-0')], opts());
    const vid = first[0]?.verificationId ?? '';
    const calls = Array.from({ length: 90 }, (_, i) => makeCall(`j-${i}`, i));
    const results = await store.addNotifyCalls('U0JOIN', [...calls, makeCall('j-5', 5)], opts(1_000));
    assert.ok(results.every((r) => r.verificationId === vid && !r.created));
    assert.equal(results[0]?.duplicate, true, 'j-0 had joined already');
    assert.equal(results.filter((r) => r.duplicate).length, 2, 'j-0, and j-5 given twice');
    const v = await store.getVerification(vid);
    assert.equal(v?.callCount, 90);
    assert.equal(v?.preview.length, PREVIEW_CALLS);
  });

  test('the hint of a verification that has left OPEN is not used: the calls open a new one', async () => {
    const [r] = await store.addNotifyCalls('U0HINT', [makeCall('h-0')], opts());
    const vid = r?.verificationId ?? '';
    await store.transitionVerification(vid, {
      from: ['OPEN'],
      to: 'ESCALATED',
      by: 'U0HINT',
      reason: 'no',
      at: at(1),
    });
    const later = await store.addNotifyCalls('U0HINT', [makeCall('h-1'), makeCall('h-2')], {
      ...opts(2_000),
      verificationId: vid,
    });
    const next = later[0]?.verificationId;
    assert.ok(next && next !== vid);
    assert.deepEqual(
      later.map((x) => x.created),
      [true, false],
    );
    assert.equal((await store.getVerification(vid))?.callCount, 1, 'the closed one is unchanged');
    assert.equal((await store.findOpenVerification('U0HINT'))?.id, next);
  });

  test('two drainers adding the same calls at once: every call in exactly one verification, once', async () => {
    const calls = Array.from({ length: 60 }, (_, i) => makeCall(`r-${i}`, i));
    const [a, b] = await Promise.all([
      store.addNotifyCalls('U0RACE', calls, opts()),
      store.addNotifyCalls('U0RACE', [...calls].reverse(), opts()),
    ]);
    const open = (await store.listVerifications('OPEN')).filter((v) => v.engineerKey === 'U0RACE');
    assert.equal(open.length, 1);
    assert.equal(open[0]?.callCount, 60);
    // Each call is new to exactly one of the two.
    for (const [i, c] of calls.entries()) {
      const fresh = [a?.[i], b?.[59 - i]].filter((r) => r && !r.duplicate);
      assert.equal(fresh.length, 1, `${c.eventId} joined once`);
    }
  });

  test('deferred call items are written by the caller with putVerificationCalls', async () => {
    const calls = [makeCall('d-0'), makeCall('d-1', 1)];
    const results = await store.addNotifyCalls('U0DEFER', calls, { ...opts(), deferCallItems: true });
    const vid = results[0]?.verificationId ?? '';
    assert.equal((await store.listVerificationCalls(vid)).length, 0, 'not yet');
    await store.putVerificationCalls(
      calls.map((call) => ({ verificationId: vid, call })),
      at(1),
    );
    assert.deepEqual(
      (await store.listVerificationCalls(vid)).map((c) => c.eventId),
      ['d-0', 'd-1'],
    );
  });
});

describe('recognising redeliveries in bulk', () => {
  let store: Store;
  before(async () => {
    store = await db.newStore();
  });

  test('recordDecisions marks events decided (any number, 25 a request); checkEvents reports them as duplicates', async () => {
    const entries = Array.from({ length: 130 }, (_, i) => ({
      eventId: `e-${i}`,
      owner: 'drainer-1',
      decision: { action: 'log' as const, ruleIds: [] },
    }));
    await store.recordDecisions(entries, T0);
    const known = await store.checkEvents([...entries.map((e) => e.eventId), 'e-new'], 'drainer-2', at(1));
    assert.equal(known.size, 130);
    assert.ok([...known.values()].every((k) => k === 'duplicate'));
    assert.equal(known.has('e-new'), false, 'an unknown event is free to decide');
    const c = await store.getEventClaim('e-7');
    assert.equal(c?.status, 'decided');
    assert.deepEqual(c?.decision, { action: 'log', ruleIds: [] });
  });

  test('a live claim of another drainer is busy; an expired one, or one of ours, is free', async () => {
    assert.equal(await store.claimEvent('c-1', 'other', 60_000, T0), 'claimed');
    assert.equal(await store.claimEvent('c-2', 'other', 1_000, T0), 'claimed');
    assert.equal(await store.claimEvent('c-3', 'me', 60_000, T0), 'claimed');
    const known = await store.checkEvents(['c-1', 'c-2', 'c-3'], 'me', at(5_000));
    assert.equal(known.get('c-1'), 'busy');
    assert.equal(known.has('c-2'), false);
    assert.equal(known.has('c-3'), false);
  });
});

describe('the alert outbox in bulk', () => {
  let store: Store;
  before(async () => {
    store = await db.newStore();
  });

  test('getAlerts reads many at once; markPageSent stores the channel post with the page in one write', async () => {
    for (const id of ['x-1', 'x-2']) {
      await store.createAlert({
        kind: 'call',
        eventId: id,
        severity: 'error',
        summary: `alert ${id}`,
        reasons: ['r'],
        at: T0,
      });
    }
    const both = await store.getAlerts(['a_x-1', 'a_x-2', 'a_missing']);
    assert.deepEqual(both.map((a) => a.id).sort(), ['a_x-1', 'a_x-2']);
    const ref = { channel: 'C0ALERTS', ts: '1.000100' };
    assert.equal(
      await store.markPageSent('a_x-1', at(1_000), { channelMessage: ref, channelStatus: 'sent' }),
      true,
    );
    const sent = await store.getAlert('a_x-1');
    assert.equal(sent?.pageStatus, 'sent');
    assert.equal(sent?.channelStatus, 'sent');
    assert.deepEqual(sent?.channelMessage, ref);
    assert.equal(await store.markPageSent('a_x-1', at(2_000)), false, 'once');
    assert.equal(
      await store.recordPageFailure(
        'a_x-2',
        { at: at(1_000), error: 'HTTP 503', nextAttemptAt: at(6_000) },
        { channelMessage: ref, channelStatus: 'sent' },
      ),
      true,
    );
    const failed = await store.getAlert('a_x-2');
    assert.equal(failed?.pageStatus, 'pending');
    assert.equal(failed?.pageAttempts, 1);
    assert.deepEqual(failed?.channelMessage, ref, 'the post is not repeated on the next attempt');
  });
});
