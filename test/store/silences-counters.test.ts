import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { NotFoundError } from '../../store/errors.js';
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
const HOUR = 3_600_000;

describe('silences', () => {
  test('create, list while active, stop listing after expiry, count hits', async () => {
    const s = await db.newStore();
    const short = await s.createSilence({
      selector: { kind: 'rule', value: 'iam-create-access-key' },
      reason: 'key rotation week',
      createdBy: 'U_SEC',
      expiresAt: at(2 * HOUR),
      now: T0,
    });
    const long = await s.createSilence({
      selector: { kind: 'principal', value: 'arn:aws:iam::111122223333:role/ci' },
      reason: 'CI migration',
      createdBy: 'U_SEC',
      expiresAt: at(48 * HOUR),
      now: T0,
    });
    assert.match(short.id, /^s_/);
    assert.deepEqual(
      (await s.listActiveSilences(at(HOUR))).map((x) => x.id).sort(),
      [short.id, long.id].sort(),
    );
    assert.deepEqual(
      (await s.listActiveSilences(at(3 * HOUR))).map((x) => x.id),
      [long.id],
    );
    assert.equal(await s.recordSilenceHit(long.id, at(HOUR)), true);
    await Promise.all(Array.from({ length: 20 }, () => s.recordSilenceHit(long.id, at(HOUR))));
    const got = await s.getSilence(long.id, at(HOUR));
    assert.equal(got?.hits, 21);
    assert.equal(got?.lastHitAt, at(HOUR).toISOString());
    assert.equal(await s.recordSilenceHit('s_missing'), false);
  });

  test('a deleted silence leaves the active list, is kept for the record, and cannot be deleted twice', async () => {
    const s = await db.newStore();
    const x = await s.createSilence({
      selector: { kind: 'account', value: '111122223333' },
      reason: 'sandbox',
      createdBy: 'U_SEC',
      expiresAt: at(HOUR),
      now: T0,
    });
    const deleted = await s.deleteSilence(x.id, 'U_LEAD', at(60_000));
    assert.equal(deleted.deletedBy, 'U_LEAD');
    assert.deepEqual(await s.listActiveSilences(at(120_000)), []);
    assert.equal((await s.getSilence(x.id, at(120_000)))?.deletedAt, at(60_000).toISOString());
    await assert.rejects(s.deleteSilence(x.id, 'U_LEAD', at(180_000)), NotFoundError);
    await assert.rejects(s.deleteSilence('s_none', 'U_LEAD'), NotFoundError);
  });

  test('a silence past its TTL reads as gone (dynalite never deletes it)', async () => {
    const s = await db.newStore({ retention: { silenceDays: 1 } });
    const x = await s.createSilence({
      selector: { kind: 'user', value: 'alice' },
      reason: 'offboarding',
      createdBy: 'U_SEC',
      expiresAt: at(HOUR),
      now: T0,
    });
    assert.ok(await s.getSilence(x.id, at(2 * HOUR)), 'expired but within retention: still readable');
    assert.equal(await s.getSilence(x.id, at(26 * HOUR)), undefined);
  });

  test('bad input is refused', async () => {
    const s = await db.newStore();
    const base = { reason: 'r', createdBy: 'U', expiresAt: at(HOUR), now: T0 };
    await assert.rejects(
      s.createSilence({ ...base, selector: { kind: 'team' as 'rule', value: 'x' } }),
      TypeError,
    );
    await assert.rejects(s.createSilence({ ...base, selector: { kind: 'rule', value: '' } }), TypeError);
    await assert.rejects(
      s.createSilence({ ...base, selector: { kind: 'rule', value: 'x' }, expiresAt: T0 }),
      TypeError,
    );
  });
});

describe('counters and run state', () => {
  let store: Store;
  before(async () => {
    store = await db.newStore();
  });

  test('concurrent increments add up, per day and summed over days', async () => {
    await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        store.incrementCounters(i % 2 ? '2026-11-20' : '2026-11-21', {
          'decided.notify': 1,
          'rule.iam-create-access-key.notify': 2,
          ...(i === 0 ? { 'verification.confirmed': 1 } : {}),
        }),
      ),
    );
    assert.deepEqual(await store.readCounters(['2026-11-20']), {
      'decided.notify': 25,
      'rule.iam-create-access-key.notify': 50,
    });
    assert.deepEqual(await store.readCounters(['2026-11-20', '2026-11-21', '2026-11-22']), {
      'decided.notify': 50,
      'rule.iam-create-access-key.notify': 100,
      'verification.confirmed': 1,
    });
    assert.deepEqual(await store.readCounters([]), {});
  });

  test('counter names are free-form and many fit in one call', async () => {
    const counts = Object.fromEntries(
      Array.from({ length: 250 }, (_, i) => [`rule.r-${i}.log ttl pk #:`, i + 1]),
    );
    await store.incrementCounters('2026-10-01', counts);
    const read = await store.readCounters(['2026-10-01']);
    assert.equal(Object.keys(read).length, 250);
    assert.equal(read['rule.r-249.log ttl pk #:'], 250);
  });

  test('days must be YYYY-MM-DD', async () => {
    await assert.rejects(store.incrementCounters('2026-13-01', { a: 1 }), TypeError);
    await assert.rejects(store.readCounters(['20261101']), TypeError);
    await assert.rejects(store.incrementCounters('2026-11-01', { a: 1.5 }), TypeError);
  });

  test('the last drain run is kept, and an older run never overwrites a newer one', async () => {
    assert.equal(await store.lastDrainRun(), undefined);
    await store.recordDrainRun({ at: at(2000), received: 10, decided: 9, errors: 1, durationMs: 120 });
    await store.recordDrainRun({ at: at(1000), received: 5, decided: 5, errors: 0, durationMs: 80 });
    assert.deepEqual(await store.lastDrainRun(), {
      at: at(2000).toISOString(),
      received: 10,
      decided: 9,
      errors: 1,
      durationMs: 120,
    });
  });

  test('a run lease is held by one owner until it expires or is released', async () => {
    assert.equal(await store.acquireLease('drain', 'a', 10_000, T0), true);
    assert.equal(await store.acquireLease('drain', 'b', 10_000, at(5_000)), false);
    assert.equal(await store.acquireLease('drain', 'a', 10_000, at(5_000)), true, 'renewal');
    assert.equal(await store.acquireLease('drain', 'b', 10_000, at(16_000)), true, 'after expiry');
    assert.equal(await store.releaseLease('drain', 'a'), false);
    assert.equal(await store.releaseLease('drain', 'b'), true);
    assert.equal(await store.acquireLease('drain', 'a', 10_000, at(16_000)), true);
  });
});
