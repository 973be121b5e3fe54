import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { AlreadyDecidedError, StaleVerificationError } from '../../store/errors.js';
import { toItem } from '../../store/marshal.js';
import { keys } from '../../store/schema.js';
import type { Store } from '../../store/store.js';
import type { Verification, VerificationCall } from '../../store/types.js';
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
    account: '111122223333',
    region: 'us-east-1',
    ruleIds: ['iam-create-access-key'],
    action: 'notify',
    reason: 'new access key',
    summary: `CreateAccessKey ${eventId}`,
  };
}

/** Run `fn` over `items`, `size` at a time concurrently. */
async function inBatches<T>(items: T[], size: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
}

function shuffle<T>(items: T[], seed: number): T[] {
  const out = [...items];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

async function openFor(store: Store, engineerKey: string): Promise<Verification[]> {
  return (await store.listVerifications('OPEN')).filter((v) => v.engineerKey === engineerKey);
}

describe('coalescing calls into verifications', () => {
  let store: Store;
  before(async () => {
    store = await db.newStore();
  });

  test('the first call opens a verification; later calls join it; a repeated eventID is absorbed', async () => {
    const first = await store.addNotifyCall('alice', makeCall('a-1', 1), opts());
    assert.equal(first.created, true);
    assert.match(first.verificationId, /^v_[0-9A-Z]{26}$/);
    const second = await store.addNotifyCall('alice', makeCall('a-2', 2), opts(1000));
    assert.deepEqual(second, { verificationId: first.verificationId, created: false, duplicate: false });
    const again = await store.addNotifyCall('alice', makeCall('a-1', 1), opts(2000));
    assert.deepEqual(again, { verificationId: first.verificationId, created: false, duplicate: true });

    const v = await store.getVerification(first.verificationId);
    assert.ok(v);
    assert.equal(v.state, 'OPEN');
    assert.equal(v.engineerKey, 'alice');
    assert.equal(v.callCount, 2);
    assert.deepEqual(v.eventIds, ['a-1', 'a-2']);
    assert.equal(v.deadline, at(15 * MIN).toISOString(), 'the deadline is set when the verification opens');
    assert.equal(v.dmStatus, 'pending');
    assert.equal(v.needsUpdate, true);
    const calls = await store.listVerificationCalls(first.verificationId);
    assert.deepEqual(
      calls.map((c) => c.eventId),
      ['a-1', 'a-2'],
    );
    assert.deepEqual(calls[0], makeCall('a-1', 1));
    assert.equal((await store.findOpenVerification('alice'))?.id, first.verificationId);
  });

  test('the header keeps only the first few calls; the call items keep them all', async () => {
    const ids = Array.from({ length: 8 }, (_, i) => `p-${i}`);
    let vid = '';
    for (const [i, id] of ids.entries())
      vid = (await store.addNotifyCall('pat', makeCall(id, i), opts())).verificationId;
    const v = await store.getVerification(vid);
    assert.equal(v?.callCount, 8);
    assert.deepEqual(
      v?.preview.map((c) => c.eventId),
      ids.slice(0, PREVIEW_CALLS),
    );
    assert.equal((await store.listVerificationCalls(vid)).length, 8);
    assert.equal((await store.listVerificationCalls(vid, { limit: 3 })).length, 3);
  });

  test('300 calls from one engineer in a concurrent burst make one verification with callCount 300', async () => {
    const calls = Array.from({ length: 300 }, (_, i) => makeCall(`burst-${i}`, i));
    const results: { verificationId: string; created: boolean }[] = [];
    await inBatches(calls, 30, async (c) => {
      results.push(await store.addNotifyCall('bob', c, opts()));
    });
    const ids = new Set(results.map((r) => r.verificationId));
    assert.equal(ids.size, 1);
    assert.equal(results.filter((r) => r.created).length, 1);
    const [vid] = [...ids] as [string];
    const v = await store.getVerification(vid);
    assert.equal(v?.callCount, 300);
    assert.equal(new Set(v?.eventIds).size, 300);
    assert.equal((await store.listVerificationCalls(vid)).length, 300);
    assert.equal((await openFor(store, 'bob')).length, 1);
  });

  test('two drainers adding interleaved calls for 5 engineers end with one OPEN verification each, no call lost or doubled', async () => {
    const engineers = ['e0', 'e1', 'e2', 'e3', 'e4'];
    const all = engineers.flatMap((e) =>
      Array.from({ length: 40 }, (_, i) => ({ e, c: makeCall(`${e}-call-${i}`, i) })),
    );
    // Both drainers see every call (at-least-once delivery), in different orders.
    const drainer = (seed: number) =>
      inBatches(shuffle(all, seed), 10, ({ e, c }) => store.addNotifyCall(e, c, opts()));
    await Promise.all([drainer(1), drainer(2)]);
    for (const e of engineers) {
      const open = await openFor(store, e);
      assert.equal(open.length, 1, `${e} has ${open.length} open verifications`);
      const v = open[0] as Verification;
      assert.equal(v.callCount, 40);
      assert.deepEqual(new Set(v.eventIds), new Set(all.filter((x) => x.e === e).map((x) => x.c.eventId)));
      assert.equal((await store.listVerificationCalls(v.id)).length, 40);
    }
  });

  test('a call arriving while the verification waits for Duo opens a new verification', async () => {
    const first = await store.addNotifyCall('carol', makeCall('c-1'), opts());
    await store.transitionVerification(first.verificationId, {
      from: ['OPEN'],
      to: 'DUO_PENDING',
      by: 'U_CAROL',
      reason: 'answered yes',
      at: at(MIN),
    });
    const next = await store.addNotifyCall('carol', makeCall('c-2', 70), opts(2 * MIN));
    assert.equal(next.created, true);
    assert.notEqual(next.verificationId, first.verificationId);
    assert.equal((await store.getVerification(first.verificationId))?.callCount, 1);
    assert.equal((await store.findOpenVerification('carol'))?.id, next.verificationId);
  });

  test('a lock left pointing at a closed verification (crash before release) is replaced', async () => {
    const first = await store.addNotifyCall('dave', makeCall('d-1'), opts());
    await store.transitionVerification(first.verificationId, {
      from: ['OPEN'],
      to: 'ESCALATED',
      by: 'U_DAVE',
      reason: 'answered no',
      at: at(MIN),
    });
    // Put the stale lock back, as if the process died between the transition and the release.
    await db.client.send(
      new PutItemCommand({
        TableName: store.tableName,
        Item: toItem({
          ...keys.openLock('dave'),
          entity: 'lock',
          engineerKey: 'dave',
          verificationId: first.verificationId,
        }),
      }),
    );
    const results = await Promise.all(
      ['d-2', 'd-3', 'd-4'].map((id, i) => store.addNotifyCall('dave', makeCall(id, i + 10), opts(2 * MIN))),
    );
    assert.equal(new Set(results.map((r) => r.verificationId)).size, 1);
    assert.notEqual(results[0]?.verificationId, first.verificationId);
    const open = await openFor(store, 'dave');
    assert.equal(open.length, 1);
    assert.equal(open[0]?.callCount, 3);
  });

  test('calls racing Yes clicks land in exactly one verification each', async () => {
    const calls = Array.from({ length: 120 }, (_, i) => makeCall(`race-${i}`, i));
    const drainer = (name: string, seed: number) =>
      inBatches(shuffle(calls, seed), 8, async (c) => {
        // The drainer's own dedupe: only the claimant of an eventID processes it.
        if ((await store.claimEvent(c.eventId, name, MIN, T0)) !== 'claimed') return;
        await store.addNotifyCall('erin', c, opts());
        await store.completeEvent(c.eventId, name, { action: 'notify', ruleIds: c.ruleIds }, T0);
      });
    const clicker = async () => {
      for (let i = 0; i < 6; i++) {
        await new Promise((r) => setTimeout(r, 15));
        const v = await store.findOpenVerification('erin');
        if (!v) continue;
        await store
          .transitionVerification(v.id, {
            from: ['OPEN'],
            to: 'DUO_PENDING',
            by: 'U_ERIN',
            reason: 'yes',
            at: at(MIN),
          })
          .catch((err: unknown) => assert.ok(err instanceof AlreadyDecidedError));
      }
    };
    await Promise.all([drainer('replica-a', 3), drainer('replica-b', 4), clicker()]);
    const all = [
      ...(await store.listVerifications('OPEN')),
      ...(await store.listVerifications('DUO_PENDING')),
    ].filter((v) => v.engineerKey === 'erin');
    assert.ok(all.length >= 2, 'the clicks closed at least one verification mid-stream');
    assert.ok(all.filter((v) => v.state === 'OPEN').length <= 1);
    const seen = all.flatMap((v) => v.eventIds);
    assert.equal(seen.length, 120, 'every call joined exactly once');
    assert.equal(new Set(seen).size, 120);
    assert.equal(
      all.reduce((n, v) => n + v.callCount, 0),
      120,
    );
    for (const v of all) assert.equal((await store.listVerificationCalls(v.id)).length, v.callCount);
  });
});

describe('verification state machine', () => {
  let store: Store;
  let n = 0;
  before(async () => {
    store = await db.newStore();
  });
  const open = async () => {
    n++;
    const r = await store.addNotifyCall(`eng-${n}`, makeCall(`sm-${n}`), opts());
    return r.verificationId;
  };

  test('OPEN → DUO_PENDING → CONFIRMED, with history, intent fields and the lock released', async () => {
    const id = await open();
    const pending = await store.transitionVerification(id, {
      from: ['OPEN'],
      to: 'DUO_PENDING',
      by: 'U_ENG',
      reason: 'answered yes',
      at: at(MIN),
      set: { duoStartedAt: at(MIN), deadline: at(3 * MIN) },
    });
    assert.equal(pending.state, 'DUO_PENDING');
    assert.equal(pending.deadline, at(3 * MIN).toISOString());
    assert.equal(await store.findOpenVerification(pending.engineerKey), undefined, 'lock released');
    // The Duo txid is written right after Duo's auth call answers.
    const withTx = await store.updateVerification(id, {
      set: { duoTxid: 'tx-1' },
      at: at(MIN + 1),
      when: { state: ['DUO_PENDING'] },
    });
    assert.equal(withTx.duoTxid, 'tx-1');
    assert.deepEqual(
      (await store.listVerifications('DUO_PENDING', { dueBefore: at(3 * MIN) })).map((v) => v.id),
      [id],
    );
    const done = await store.transitionVerification(id, {
      from: ['DUO_PENDING'],
      to: 'CONFIRMED',
      by: 'duo',
      reason: 'push approved',
      at: at(2 * MIN),
      set: { duoResult: 'allow' },
    });
    assert.equal(done.state, 'CONFIRMED');
    assert.equal(done.closedAt, at(2 * MIN).toISOString());
    assert.deepEqual(
      done.history.map((h) => [h.from, h.to, h.by]),
      [
        ['OPEN', 'DUO_PENDING', 'U_ENG'],
        ['DUO_PENDING', 'CONFIRMED', 'duo'],
      ],
    );
    assert.deepEqual(
      (await store.listVerifications('CONFIRMED')).map((v) => v.id),
      [id],
    );
    assert.equal((await store.listVerifications('DUO_PENDING')).length, 0);
  });

  for (const [why, by] of [
    ['answered no', 'U_ENG'],
    ['no answer by the deadline', 'sweep'],
    ['no Slack user for the principal', 'secbot'],
  ] as const) {
    test(`OPEN → ESCALATED: ${why}`, async () => {
      const id = await open();
      const v = await store.transitionVerification(id, {
        from: ['OPEN'],
        to: 'ESCALATED',
        by,
        reason: why,
        at: at(MIN),
        set: { escalationReason: why },
      });
      assert.equal(v.state, 'ESCALATED');
      assert.equal(v.escalationReason, why);
      assert.deepEqual(v.history[0], {
        from: 'OPEN',
        to: 'ESCALATED',
        at: at(MIN).toISOString(),
        by,
        reason: why,
      });
      assert.equal(await store.findOpenVerification(v.engineerKey), undefined);
    });
  }

  test('DUO_PENDING → ESCALATED when the push is denied', async () => {
    const id = await open();
    await store.transitionVerification(id, {
      from: ['OPEN'],
      to: 'DUO_PENDING',
      by: 'U',
      reason: 'yes',
      at: at(MIN),
    });
    const v = await store.transitionVerification(id, {
      from: ['OPEN', 'DUO_PENDING'],
      to: 'ESCALATED',
      by: 'duo',
      reason: 'push denied',
      at: at(2 * MIN),
    });
    assert.equal(v.state, 'ESCALATED');
    assert.equal(v.history.at(-1)?.from, 'DUO_PENDING', 'history names the state actually left');
  });

  test('the sweep finds OPEN verifications past their deadline', async () => {
    const s = await db.newStore();
    const early = await s.addNotifyCall('x', makeCall('sw-1'), { now: T0, deadline: at(5 * MIN) });
    await s.addNotifyCall('y', makeCall('sw-2'), { now: T0, deadline: at(20 * MIN) });
    const due = await s.listVerifications('OPEN', { dueBefore: at(10 * MIN) });
    assert.deepEqual(
      due.map((v) => v.id),
      [early.verificationId],
    );
  });

  test('a double transition loses with AlreadyDecidedError carrying the current state', async () => {
    const id = await open();
    const results = await Promise.allSettled([
      store.transitionVerification(id, {
        from: ['OPEN'],
        to: 'DUO_PENDING',
        by: 'U',
        reason: 'yes',
        at: at(MIN),
      }),
      store.transitionVerification(id, {
        from: ['OPEN'],
        to: 'ESCALATED',
        by: 'U',
        reason: 'no',
        at: at(MIN),
      }),
      store.transitionVerification(id, {
        from: ['OPEN'],
        to: 'DUO_PENDING',
        by: 'U',
        reason: 'yes again',
        at: at(MIN),
      }),
    ]);
    const won = results.filter((r) => r.status === 'fulfilled');
    assert.equal(won.length, 1);
    const winner = (won[0] as PromiseFulfilledResult<Verification>).value;
    for (const r of results.filter((x) => x.status === 'rejected')) {
      const err = (r as PromiseRejectedResult).reason;
      assert.ok(err instanceof AlreadyDecidedError, String(err));
      assert.equal(err.code, 'already_decided');
      assert.equal(err.state, winner.state);
    }
    const v = await store.getVerification(id);
    assert.equal(v?.history.length, 1);
    // A replay of the winning transition also loses.
    await assert.rejects(
      store.transitionVerification(id, {
        from: ['OPEN'],
        to: winner.state,
        by: 'U',
        reason: 'replay',
        at: at(MIN),
      }),
      AlreadyDecidedError,
    );
  });

  test('transitions outside the state machine are refused before touching the table', async () => {
    const id = await open();
    await assert.rejects(
      store.transitionVerification(id, {
        from: ['OPEN'],
        to: 'CONFIRMED',
        by: 'U',
        reason: 'skip duo',
        at: at(MIN),
      }),
      TypeError,
    );
    await assert.rejects(
      store.transitionVerification(id, {
        from: ['CONFIRMED'],
        to: 'ESCALATED',
        by: 'U',
        reason: 'x',
        at: at(MIN),
      }),
      TypeError,
    );
    assert.equal((await store.getVerification(id))?.state, 'OPEN');
  });

  test('an answer to a DM that has since gained calls is refused as stale', async () => {
    n++;
    const key = `eng-${n}`;
    const { verificationId: id } = await store.addNotifyCall(key, makeCall(`st-${n}-1`), opts());
    await store.addNotifyCall(key, makeCall(`st-${n}-2`), opts());
    await assert.rejects(
      store.transitionVerification(id, {
        from: ['OPEN'],
        to: 'DUO_PENDING',
        by: 'U',
        reason: 'yes',
        at: at(MIN),
        expectCallCount: 1,
      }),
      (err: unknown) =>
        err instanceof StaleVerificationError && err.callCount === 2 && err.code === 'verification_changed',
    );
    const ok = await store.transitionVerification(id, {
      from: ['OPEN'],
      to: 'DUO_PENDING',
      by: 'U',
      reason: 'yes',
      at: at(MIN),
      expectCallCount: 2,
    });
    assert.equal(ok.state, 'DUO_PENDING');
  });

  test('DM intent: exactly one sender moves pending → sending; rendering clears needsUpdate only if no call joined', async () => {
    n++;
    const key = `eng-${n}`;
    const { verificationId: id } = await store.addNotifyCall(key, makeCall(`dm-${n}-1`), opts());
    const claims = await Promise.allSettled(
      [1, 2, 3].map(() =>
        store.updateVerification(id, {
          set: { dmStatus: 'sending' },
          at: at(1),
          when: { state: ['OPEN'], dmStatus: ['pending'] },
        }),
      ),
    );
    assert.equal(claims.filter((c) => c.status === 'fulfilled').length, 1);
    const sent = await store.updateVerification(id, {
      set: { dmStatus: 'sent', dm: { channel: 'D123', ts: '1.2' }, needsUpdate: false },
      at: at(2),
      when: { callCount: 1 },
    });
    assert.deepEqual(sent.dm, { channel: 'D123', ts: '1.2' });
    assert.equal(sent.needsUpdate, false);
    await store.addNotifyCall(key, makeCall(`dm-${n}-2`), opts());
    assert.equal((await store.getVerification(id))?.needsUpdate, true);
    await assert.rejects(
      store.updateVerification(id, { set: { needsUpdate: false }, at: at(3), when: { callCount: 1 } }),
      AlreadyDecidedError,
    );
  });
});
