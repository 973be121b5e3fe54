/**
 * Alert bursts against dynalite: the alert calls of one principal close in time share one alert
 * (store/alerts.ts `addAlertCalls`, `sealAlert`), keyed by handlers/alert-bursts.ts `alertBurstOf`.
 * Calls are real CloudTrail records decided by decide() with the bundled rules, and their
 * remediations are the drain's (remediationsFor with the matching rules' kinds).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import type { CloudTrailRecord } from '../../cloudtrail/record.js';
import { loadConfig } from '../../config/index.js';
import { alertBurstOf, burstCallOf } from '../../handlers/alert-bursts.js';
import { type Decision, decide, defaultDecideContext } from '../../handlers/decide.js';
import { ConfigError } from '../../lib/errors.js';
import { remediationsFor } from '../../remediation/plans.js';
import { BUNDLED_RULES_DIR, loadRuleDirs } from '../../rules/loader.js';
import type { RuleSet } from '../../rules/types.js';
import { burstAlertId, MAX_BURST_CALLS } from '../../store/alerts.js';
import { NotFoundError } from '../../store/errors.js';
import { fromItem, toItem } from '../../store/marshal.js';
import { keys } from '../../store/schema.js';
import type { Store } from '../../store/store.js';
import type { AddAlertCallResult, AlertBurst, BurstCall } from '../../store/types.js';
import { startTestDynamo, type TestDynamo } from '../helpers/dynamo-server.js';
import { alertCall, iamUser, makeRecord } from '../helpers/events.js';

let db: TestDynamo;
let rules: RuleSet;
before(async () => {
  [db, rules] = await Promise.all([startTestDynamo(), loadRuleDirs([BUNDLED_RULES_DIR])]);
});
after(async () => {
  await db.stop();
});

/** A 5-minute window starts here (10:00:00Z). */
const T0 = new Date('2026-11-20T10:00:00.000Z');
const WINDOW = 5 * 60_000;
const at = (s: number) => new Date(T0.getTime() + s * 1000);
/** CloudTrail's own time form, `s` seconds after T0. */
const eventTime = (s: number) => at(s).toISOString().replace('.000Z', 'Z');

interface Decided {
  d: Decision;
  burst: AlertBurst;
  call: BurstCall;
}

/** A record decided as the drain does: decide(), the rules' remediations, the burst and the call. */
function decided(record: CloudTrailRecord): Decided {
  const d = decide(
    record,
    rules,
    defaultDecideContext({ now: new Date(Date.parse(record.eventTime) + 30_000) }),
  );
  assert.equal(d.action, 'alert', `${record.eventName} should be an alert call: ${d.reasons.join('; ')}`);
  const kinds = d.matches.flatMap((m) => rules.rules.find((r) => r.id === m.ruleId)?.remediations ?? []);
  return { d, burst: alertBurstOf(d, WINDOW), call: burstCallOf(d, remediationsFor(record, kinds)) };
}

/**
 * The same call decided again, then made channel-only as the drain adjusts decisions (a Decision is a
 * class with lazy fields: a spread copy would lose its principal).
 */
function channelOnly(x: Decided): Decision {
  const d = decide(
    x.d.record,
    rules,
    defaultDecideContext({ now: new Date(Date.parse(x.d.record.eventTime) + 30_000) }),
  );
  d.page = false;
  return d;
}

/** StopLogging by IAM user `user`, `s` seconds after T0 (no trail named, unless `extra` names one). */
const stopLogging = (user: string, s: number, extra: Record<string, unknown> = {}) =>
  decided({ ...alertCall(user), eventTime: eventTime(s), ...extra } as CloudTrailRecord);

/** StopLogging of trail `name` by mallory. */
const stopTrail = (name: string, s: number, extra: Record<string, unknown> = {}) =>
  stopLogging('mallory', s, { requestParameters: { name }, ...extra });

/** `n` StopLogging calls by mallory, one a second from 10:00:01, all in the 10:00 window. */
const manyCalls = (n: number, user = 'mallory') =>
  Array.from({ length: n }, (_, i) => stopLogging(user, 1 + i));

const ids = (xs: readonly Decided[]) => xs.map((x) => x.d.record.eventID);
const ok = (alertId: string, created = false): AddAlertCallResult => ({ alertId, created, duplicate: false });
const dup = (alertId: string): AddAlertCallResult => ({ alertId, created: false, duplicate: true });

/** The alert item as stored (callCount and the `joined` map are not on AlertItem). */
async function rawAlert(store: Store, id: string): Promise<Record<string, unknown> | undefined> {
  const out = await db.client.send(
    new GetItemCommand({ TableName: store.tableName, Key: toItem(keys.alert(id)), ConsistentRead: true }),
  );
  return out.Item ? fromItem(out.Item) : undefined;
}

/** The burst's alerts from `_0` on, as stored, up to the first missing one. */
async function burstAlerts(store: Store, burst: AlertBurst) {
  const out: { id: string; eventIds: string[]; callCount: number; joined: string[] }[] = [];
  for (let seq = 0; ; seq++) {
    const id = burstAlertId(burst, seq);
    const raw = await rawAlert(store, id);
    if (!raw) return out;
    out.push({
      id,
      eventIds: raw.eventIds as string[],
      callCount: raw.callCount as number,
      joined: Object.keys(raw.joined as Record<string, unknown>).sort(),
    });
  }
}

/** Every call is in exactly one alert, and each alert's count, list and member map agree. */
function assertEachCallOnce(alerts: Awaited<ReturnType<typeof burstAlerts>>, calls: readonly string[]) {
  const where = new Map<string, string[]>();
  for (const a of alerts) {
    assert.equal(a.callCount, a.eventIds.length, `${a.id}: callCount is the number of calls`);
    assert.equal(new Set(a.eventIds).size, a.eventIds.length, `${a.id}: no call twice`);
    assert.deepEqual(a.joined, [...a.eventIds].sort(), `${a.id}: joined lists the same calls`);
    assert.ok(a.callCount <= MAX_BURST_CALLS, `${a.id} holds ${a.callCount} calls`);
    for (const e of a.eventIds) where.set(e, [...(where.get(e) ?? []), a.id]);
  }
  for (const e of calls) assert.equal(where.get(e)?.length, 1, `${e} is in ${where.get(e) ?? 'no alert'}`);
  assert.equal(where.size, new Set(calls).size, 'no call that was not given');
  return where;
}

describe('alert bursts: one alert for a principal’s alert calls', () => {
  test('the first call opens the alert, later calls join it in order', async () => {
    const store = await db.newStore();
    const c1 = stopLogging('mallory', 5);
    const c2 = stopLogging('mallory', 20);
    const c3 = stopLogging('mallory', 40, { awsRegion: 'eu-west-1' });
    assert.equal(c2.burst.key, c1.burst.key);
    assert.equal(c3.burst.key, c1.burst.key, 'the region is not part of the key');
    const id = burstAlertId(c1.burst, 0);
    assert.match(id, /^a_20261120T1000_[0-9a-f]{20}_0$/);

    const first = await store.addAlertCalls(c1.burst, [c1.call, c2.call], { now: at(30) });
    assert.deepEqual(first, { seq: 0, results: [ok(id, true), ok(id)] });
    const second = await store.addAlertCalls(c3.burst, [c3.call], { now: at(45), seq: first.seq });
    assert.deepEqual(second, { seq: 0, results: [ok(id)] });

    const a = await store.getAlert(id);
    assert.ok(a);
    assert.deepEqual(a.eventIds, ids([c1, c2, c3]));
    assert.deepEqual(a.ruleIds, ['cloudtrail-logging-stopped'], 'one rule, listed once');
    assert.deepEqual(a.reasons, [
      'StopLogging: audit logging stopped in us-east-1',
      'StopLogging: audit logging stopped in us-east-1',
      'StopLogging: audit logging stopped in eu-west-1',
    ]);
    assert.equal(a.summary, c1.d.summary, 'the first call’s summary');
    assert.equal(a.burst, true);
    assert.equal(a.sealed, undefined);
    assert.equal(a.kind, 'call');
    assert.equal(a.severity, 'critical');
    assert.equal(a.page, true);
    assert.equal(a.state, 'OPEN');
    assert.equal(a.pageStatus, 'pending');
    assert.equal(a.pageAttempts, 0);
    assert.equal(a.channelStatus, 'pending');
    assert.equal(a.createdAt, at(30).toISOString());
    assert.equal(a.updatedAt, at(45).toISOString(), 'a join updates updatedAt');
    assert.equal((await rawAlert(store, id))?.callCount, 3);

    assert.deepEqual(
      (await store.listDuePages(at(31))).map((x) => x.id),
      [id],
      'the burst alert is in the page outbox once',
    );
    assert.deepEqual(await store.listDuePages(at(29)), [], 'not before it was opened');
  });

  test('the burst’s paging, severity and engineer are the alert’s', async () => {
    const store = await db.newStore();
    const c = stopLogging('mallory', 5);
    const burst = alertBurstOf(channelOnly(c), WINDOW, 'mallory@example.com');
    const { results } = await store.addAlertCalls(burst, [c.call], { now: at(6) });
    const a = await store.getAlert(results[0]?.alertId ?? '');
    assert.equal(a?.page, false);
    assert.equal(a?.engineerKey, 'mallory@example.com');
    assert.equal(a?.severity, 'critical');
    assert.notEqual(results[0]?.alertId, burstAlertId(c.burst, 0), 'a channel-only burst is another alert');
  });

  test('a call given again, or twice in one request, is a duplicate and changes nothing', async () => {
    const store = await db.newStore();
    const [c1, c2, c3] = [stopLogging('mallory', 5), stopLogging('mallory', 6), stopLogging('mallory', 7)];
    const id = burstAlertId(c1.burst, 0);
    await store.addAlertCalls(c1.burst, [c1.call, c2.call], { now: at(10) });
    const before = await rawAlert(store, id);

    // The same process (hint), a fresh process (no hint), a redelivery: each finds it.
    for (const opts of [{ seq: 0 }, {}, { redelivered: true }]) {
      const again = await store.addAlertCalls(c1.burst, [c1.call], { now: at(60), ...opts });
      assert.deepEqual(again, { seq: 0, results: [dup(id)] }, JSON.stringify(opts));
      const both = await store.addAlertCalls(c1.burst, [c2.call, c2.call, c1.call], { now: at(60), ...opts });
      assert.deepEqual(both.results, [dup(id), dup(id), dup(id)], JSON.stringify(opts));
    }
    assert.deepEqual(await rawAlert(store, id), before, 'the item is unchanged (updatedAt too)');

    // A new call given twice in one request joins once; the second is reported a duplicate.
    const twice = await store.addAlertCalls(c1.burst, [c3.call, c3.call], { now: at(70), seq: 0 });
    assert.deepEqual(twice.results, [ok(id), dup(id)]);
    const a = await store.getAlert(id);
    assert.deepEqual(a?.eventIds, ids([c1, c2, c3]));
    assert.equal(a?.reasons.length, 3);
    assert.equal((await rawAlert(store, id))?.callCount, 3);

    // A new burst whose first request names its first call twice: created once.
    const other = stopLogging('trudy', 5);
    const otherId = burstAlertId(other.burst, 0);
    const opened = await store.addAlertCalls(other.burst, [other.call, other.call], { now: at(8) });
    assert.deepEqual(opened.results, [ok(otherId, true), dup(otherId)]);
    assert.deepEqual((await store.getAlert(otherId))?.eventIds, ids([other]));
  });

  test('a sealed alert takes no call: the next opens `_1`; a redelivered call is found where it joined', async () => {
    const store = await db.newStore();
    const [c1, c2, c3, c4] = [5, 6, 7, 8].map((s) => stopLogging('mallory', s)) as [
      Decided,
      Decided,
      Decided,
      Decided,
    ];
    const { burst } = c1;
    const id0 = burstAlertId(burst, 0);
    const id1 = burstAlertId(burst, 1);
    assert.equal(id1, `${id0.slice(0, -2)}_1`);

    await store.addAlertCalls(burst, [c1.call], { now: at(10) });
    const sealed = await store.sealAlert(id0, at(20));
    assert.equal(sealed.sealed, at(20).toISOString());
    assert.equal(sealed.burst, true);
    assert.deepEqual(sealed.eventIds, ids([c1]));
    assert.equal((await store.sealAlert(id0, at(25))).sealed, at(20).toISOString(), 'sealed once');

    // A new call with the stale hint (seq 0), not a redelivery: it opens _1.
    const next = await store.addAlertCalls(burst, [c2.call], { now: at(30), seq: 0 });
    assert.deepEqual(next, { seq: 1, results: [ok(id1, true)] });
    assert.ok(id1.endsWith('_1'));

    // The sealed alert's call, redelivered without a hint: found in _0, not added to _1.
    const redelivered = await store.addAlertCalls(burst, [c1.call], { now: at(40), redelivered: true });
    assert.deepEqual(redelivered, { seq: 0, results: [dup(id0)] });
    // With the stale hint and no redelivery flag it is found too (the seal makes the join fail).
    const hinted = await store.addAlertCalls(burst, [c2.call], { now: at(41), seq: 0 });
    assert.deepEqual(hinted, { seq: 1, results: [dup(id1)] });

    // A fresh process (no hint) and a redelivered never-joined call both land in _1.
    const fresh = await store.addAlertCalls(burst, [c3.call], { now: at(50) });
    assert.deepEqual(fresh, { seq: 1, results: [ok(id1)] });
    const late = await store.addAlertCalls(burst, [c4.call, c1.call], { now: at(55), redelivered: true });
    assert.deepEqual(late.results, [ok(id1), dup(id0)]);

    assert.deepEqual((await store.getAlert(id0))?.eventIds, ids([c1]));
    assert.deepEqual((await store.getAlert(id1))?.eventIds, ids([c2, c3, c4]));
    assert.equal((await store.getAlert(id1))?.sealed, undefined);
    assertEachCallOnce(await burstAlerts(store, burst), ids([c1, c2, c3, c4]));
    assert.deepEqual(
      (await store.listDuePages(at(60))).map((a) => a.id),
      [id0, id1],
      'each of the burst’s alerts is paged',
    );

    await assert.rejects(store.sealAlert('a_missing_0', at(60)), NotFoundError);
  });

  test(`an alert holds at most MAX_BURST_CALLS (${MAX_BURST_CALLS}) calls, in one request`, async () => {
    const store = await db.newStore();
    const calls = manyCalls(2 * MAX_BURST_CALLS + 7);
    const { burst } = calls[0] as Decided;
    assert.ok(calls.every((c) => c.burst.key === burst.key));
    const r = await store.addAlertCalls(
      burst,
      calls.map((c) => c.call),
      { now: at(200) },
    );
    assert.equal(r.seq, 2);
    const expected = calls.map((_, i) =>
      ok(burstAlertId(burst, Math.floor(i / MAX_BURST_CALLS)), i % MAX_BURST_CALLS === 0),
    );
    assert.deepEqual(r.results, expected);

    const alerts = await burstAlerts(store, burst);
    assert.deepEqual(
      alerts.map((a) => [a.id, a.callCount]),
      [
        [burstAlertId(burst, 0), MAX_BURST_CALLS],
        [burstAlertId(burst, 1), MAX_BURST_CALLS],
        [burstAlertId(burst, 2), 7],
      ],
    );
    assert.deepEqual(
      alerts.flatMap((a) => a.eventIds),
      ids(calls),
      'in order, none twice',
    );
    assertEachCallOnce(alerts, ids(calls));
  });

  test('an alert holds at most MAX_BURST_CALLS calls, over several requests', async () => {
    const store = await db.newStore();
    const calls = manyCalls(MAX_BURST_CALLS + 55);
    const { burst } = calls[0] as Decided;
    const id = (seq: number) => burstAlertId(burst, seq);
    const add = (from: number, to: number, opts: { seq?: number; redelivered?: boolean }) =>
      store.addAlertCalls(
        burst,
        calls.slice(from, to).map((c) => c.call),
        { now: at(250), ...opts },
      );

    const r1 = await add(0, 30, {});
    assert.equal(r1.seq, 0);
    // 20 fit in _0, 10 open _1.
    const r2 = await add(30, 60, { seq: r1.seq });
    assert.equal(r2.seq, 1);
    assert.deepEqual(r2.results, [
      ...Array.from({ length: 20 }, () => ok(id(0))),
      ok(id(1), true),
      ...Array.from({ length: 9 }, () => ok(id(1))),
    ]);
    const r3 = await add(60, 90, { seq: r2.seq });
    assert.equal(r3.seq, 1);
    assert.ok(r3.results.every((x) => x.alertId === id(1) && !x.created && !x.duplicate));
    // No hint (another process): _0 is full, _1 takes 10, the last 5 open _2.
    const r4 = await add(90, 105, {});
    assert.equal(r4.seq, 2);
    assert.deepEqual(
      r4.results.map((x) => x.alertId),
      [...Array.from({ length: 10 }, () => id(1)), ...Array.from({ length: 5 }, () => id(2))],
    );
    // All of them again, redelivered: each found in its own alert.
    const r5 = await add(0, 105, { redelivered: true });
    assert.equal(r5.seq, 2);
    assert.deepEqual(
      r5.results,
      calls.map((_, i) => dup(id(Math.floor(i / MAX_BURST_CALLS)))),
    );

    const alerts = await burstAlerts(store, burst);
    assert.deepEqual(
      alerts.map((a) => a.callCount),
      [MAX_BURST_CALLS, MAX_BURST_CALLS, 5],
    );
    assert.deepEqual(
      alerts.flatMap((a) => a.eventIds),
      ids(calls),
    );
    assertEachCallOnce(alerts, ids(calls));
  });

  test('a hinted join one call too many for the alert: the store refuses it, the overflow opens the next', async () => {
    const store = await db.newStore();
    // 26 calls, then 25 with the hint: the join is tried blind (26 + 25 = MAX_BURST_CALLS + 1).
    const calls = manyCalls(MAX_BURST_CALLS + 1, 'trudy');
    const { burst } = calls[0] as Decided;
    await store.addAlertCalls(
      burst,
      calls.slice(0, 26).map((c) => c.call),
      { now: at(100) },
    );
    const r = await store.addAlertCalls(
      burst,
      calls.slice(26).map((c) => c.call),
      { now: at(101), seq: 0 },
    );
    assert.equal(r.seq, 1);
    assert.deepEqual(r.results, [
      ...Array.from({ length: 24 }, () => ok(burstAlertId(burst, 0))),
      ok(burstAlertId(burst, 1), true),
    ]);
    const alerts = await burstAlerts(store, burst);
    assert.deepEqual(
      alerts.map((a) => a.callCount),
      [MAX_BURST_CALLS, 1],
    );
    assertEachCallOnce(alerts, ids(calls));
  });

  test('concurrent requests with disjoint calls: each call in exactly one alert', async () => {
    for (let round = 0; round < 3; round++) {
      const store = await db.newStore();
      const calls = manyCalls(80);
      const { burst } = calls[0] as Decided;
      const parts = [0, 1, 2, 3].map((p) => calls.slice(p * 20, p * 20 + 20));
      const out = await Promise.all(
        parts.map((part, p) =>
          store.addAlertCalls(
            burst,
            part.map((c) => c.call),
            { now: at(100), redelivered: round === 2 && p % 2 === 1 },
          ),
        ),
      );
      const results = out.flatMap((o) => o.results);
      assert.ok(
        results.every((r) => !r.duplicate),
        'no call is a duplicate',
      );
      const alerts = await burstAlerts(store, burst);
      assert.deepEqual(
        alerts.map((a) => a.callCount),
        [MAX_BURST_CALLS, 30],
        `round ${round}`,
      );
      const where = assertEachCallOnce(alerts, ids(calls));
      ids(calls).forEach((e, i) => {
        assert.equal(results[i]?.alertId, where.get(e)?.[0], `${e}: the result names its alert`);
      });
      assert.equal(results.filter((r) => r.created).length, alerts.length, 'one creator per alert');
      for (const a of alerts) {
        const creator = results.findIndex((r) => r.created && r.alertId === a.id);
        assert.equal(ids(calls)[creator], a.eventIds[0], `${a.id}: its creator’s call is its first`);
      }
    }
  });

  test('concurrent requests with overlapping calls: each call joins once, the rest are duplicates', async () => {
    for (let round = 0; round < 3; round++) {
      const store = await db.newStore();
      const calls = manyCalls(70);
      const { burst } = calls[0] as Decided;
      // Four requests of 25 calls, each sharing 10 with the next (70 distinct), some twice in one.
      const parts = [0, 1, 2, 3].map((p) => calls.slice(p * 15, p * 15 + 25));
      (parts[1] as Decided[]).push(calls[20] as Decided);
      const out = await Promise.all(
        parts.map((part, p) =>
          store.addAlertCalls(
            burst,
            part.map((c) => c.call),
            { now: at(100), redelivered: round > 0 && p % 2 === round % 2 },
          ),
        ),
      );
      const alerts = await burstAlerts(store, burst);
      const where = assertEachCallOnce(alerts, ids(calls));
      assert.deepEqual(
        alerts.map((a) => a.callCount),
        [MAX_BURST_CALLS, 20],
        `round ${round}: ${calls.length} distinct calls`,
      );
      const given = parts.flatMap((part) => ids(part));
      const results = out.flatMap((o) => o.results);
      assert.equal(results.length, given.length);
      for (const e of ids(calls)) {
        const mine = results.filter((_, i) => given[i] === e);
        assert.equal(mine.filter((r) => !r.duplicate).length, 1, `${e}: not a duplicate exactly once`);
        assert.ok(
          mine.every((r) => r.alertId === where.get(e)?.[0]),
          `${e}: every result names the alert that holds it`,
        );
      }
      assert.equal(results.filter((r) => r.created).length, alerts.length, 'one creator per alert');
    }
  });

  test('another principal, account, window, severity or paging is another alert', async () => {
    const store = await db.newStore();
    const base = stopLogging('mallory', 5);
    const sameBurst = stopLogging('mallory', 100);
    const otherPrincipal = stopLogging('trudy', 5);
    const otherAccount = stopLogging('mallory', 5, {
      userIdentity: iamUser('mallory', '444455556666'),
      recipientAccountId: '444455556666',
    });
    const otherWindow = stopLogging('mallory', 5 * 60 + 1);
    const otherSeverity = decided(
      makeRecord({
        eventSource: 'ec2.amazonaws.com',
        eventName: 'AuthorizeSecurityGroupIngress',
        eventTime: eventTime(5),
        userIdentity: iamUser('mallory'),
        requestParameters: {
          groupId: 'sg-0123456789abcdef0',
          ipPermissions: {
            items: [
              { ipProtocol: 'tcp', fromPort: 22, toPort: 22, ipRanges: { items: [{ cidrIp: '0.0.0.0/0' }] } },
            ],
          },
        },
      }),
    );
    assert.equal(otherSeverity.d.severity, 'error');
    assert.equal(base.d.severity, 'critical');
    const unpaged = { ...base, burst: alertBurstOf(channelOnly(base), WINDOW) };
    const others = [otherPrincipal, otherAccount, otherWindow, otherSeverity, unpaged];

    const keysSeen = [base, ...others].map((x) => x.burst.key);
    assert.equal(new Set(keysSeen).size, keysSeen.length, keysSeen.join('\n'));
    assert.equal(sameBurst.burst.key, base.burst.key);

    const idOf = async (x: Decided) =>
      (await store.addAlertCalls(x.burst, [x.call], { now: at(400) })).results[0]?.alertId;
    const baseId = await idOf(base);
    assert.equal(await idOf(sameBurst), baseId);
    const otherIds = [];
    for (const x of others.slice(0, -1)) otherIds.push(await idOf(x));
    // The channel-only burst: a fresh call of the same record shape, so it is not a duplicate.
    const channelCall = stopLogging('mallory', 6);
    otherIds.push(
      (await store.addAlertCalls(unpaged.burst, [channelCall.call], { now: at(400) })).results[0]?.alertId,
    );
    assert.equal(new Set([baseId, ...otherIds]).size, 6);
    assert.deepEqual((await store.getAlert(baseId ?? ''))?.eventIds, ids([base, sameBurst]));
    assert.deepEqual((await store.getAlert(otherIds[0] ?? ''))?.eventIds, ids([otherPrincipal]));
    assert.deepEqual((await store.getAlert(otherIds[3] ?? ''))?.severity, 'error');
    assert.deepEqual((await store.getAlert(otherIds[4] ?? ''))?.page, false);
    assert.ok(otherIds[2]?.startsWith('a_20261120T1005_'), `${otherIds[2]} is in the 10:05 window`);
  });
});

describe('alert bursts: remediations', () => {
  const summary = (rs: { plan: { kind: string; input: unknown }; status: string }[] | undefined) =>
    rs?.map((r) => [r.plan.kind, r.plan.input, r.status]);
  const QUARANTINE = {
    UserName: 'mallory',
    PolicyArn: 'arn:aws:iam::aws:policy/AWSDenyAll',
  };

  test('a plan two calls share is one entry; distinct plans are entries in call-time order', async () => {
    const store = await db.newStore();
    const a1 = stopTrail('trail-a', 10);
    const a2 = stopTrail('trail-a', 20);
    const b = stopTrail('trail-b', 30);
    const early = stopTrail('trail-c', 2);
    const id = burstAlertId(a1.burst, 0);

    await store.addAlertCalls(a1.burst, [a1.call, a2.call], { now: at(31) });
    const shared = await store.getAlert(id);
    assert.deepEqual(summary(shared?.remediations), [
      ['start_logging', { Name: 'trail-a' }, 'available'],
      ['quarantine', QUARANTINE, 'available'],
    ]);
    assert.equal(shared?.remediations?.[0]?.plan.eventId, a1.d.record.eventID, 'the first call’s plan');
    assert.equal(shared?.remediationGaps, undefined);

    await store.addAlertCalls(b.burst, [b.call], { now: at(32), seq: 0 });
    // A call made earlier but joined later is shown in its time's place.
    await store.addAlertCalls(early.burst, [early.call], { now: at(33), seq: 0 });
    const all = await store.getAlert(id);
    assert.deepEqual(summary(all?.remediations), [
      ['start_logging', { Name: 'trail-c' }, 'available'],
      ['start_logging', { Name: 'trail-a' }, 'available'],
      ['quarantine', QUARANTINE, 'available'],
      ['start_logging', { Name: 'trail-b' }, 'available'],
    ]);
    const rids = all?.remediations?.map((r) => r.id) ?? [];
    assert.equal(new Set(rids).size, 4);
    for (const rid of rids) assert.match(rid, /^r_[0-9a-f]{12}$/);
    assert.deepEqual(
      all?.remediations?.map((r) => r.attempts),
      [0, 0, 0, 0],
    );
  });

  test('a join bringing a plan already there never resets it', async () => {
    const store = await db.newStore();
    const first = stopTrail('org-trail', 10);
    const again = stopTrail('org-trail', 20);
    const id = burstAlertId(first.burst, 0);
    await store.addAlertCalls(first.burst, [first.call], { now: at(11) });
    const start = (await store.getAlert(id))?.remediations?.find((r) => r.plan.kind === 'start_logging');
    assert.ok(start);
    const claimed = await store.transitionRemediation(id, start.id, {
      from: ['available'],
      to: 'running',
      alertStates: ['OPEN', 'ACKNOWLEDGED'],
      set: { phase: 'executing', by: 'U0SECURITY', startedAt: at(15) },
      countAttempt: true,
      at: at(15),
    });
    assert.equal(claimed.remediations?.find((r) => r.id === start.id)?.status, 'running');

    const joined = await store.addAlertCalls(again.burst, [again.call], { now: at(21), seq: 0 });
    assert.deepEqual(joined.results, [ok(id)]);
    const a = await store.getAlert(id);
    assert.deepEqual(a?.eventIds, ids([first, again]));
    const after = a?.remediations?.find((r) => r.id === start.id);
    assert.equal(after?.status, 'running');
    assert.equal(after?.phase, 'executing');
    assert.equal(after?.by, 'U0SECURITY');
    assert.equal(after?.attempts, 1);
    assert.equal(after?.startedAt, at(15).toISOString());
    assert.equal(a?.remediations?.length, 2, 'start_logging and quarantine, once each');

    // Finished, then the same plan joins again (a redelivery of a third call): still done.
    await store.transitionRemediation(id, start.id, {
      from: ['running'],
      to: 'done',
      expectBy: 'U0SECURITY',
      set: { phase: null, finishedAt: at(30), outcome: 'logging started' },
      at: at(30),
    });
    const third = stopTrail('org-trail', 40);
    await store.addAlertCalls(third.burst, [third.call], { now: at(41), redelivered: true });
    const done = (await store.getAlert(id))?.remediations?.find((r) => r.id === start.id);
    assert.equal(done?.status, 'done');
    assert.equal(done?.outcome, 'logging started');
  });

  test('the gaps of joined calls are appended and an identical gap is shown once', async () => {
    const store = await db.newStore();
    const noTrail1 = stopLogging('mallory', 10);
    const noTrail2 = stopLogging('mallory', 20);
    const noStore = stopLogging('mallory', 30, { eventName: 'StopEventDataStoreIngestion' });
    assert.deepEqual(noStore.call.remediationGaps?.[0]?.reason, 'the request names no eventDataStore');
    const id = burstAlertId(noTrail1.burst, 0);
    await store.addAlertCalls(noTrail1.burst, [noTrail1.call], { now: at(11) });
    await store.addAlertCalls(noTrail1.burst, [noTrail2.call, noStore.call], { now: at(31), seq: 0 });

    const raw = await rawAlert(store, id);
    assert.equal((raw?.remediationGaps as unknown[] | undefined)?.length, 3, 'every call’s gap is stored');
    const a = await store.getAlert(id);
    // Which of the two identical gaps is shown (its eventId) is not pinned: the first's is kept by
    // position, the last's by value (remediationsOf builds a Map from the list).
    const shownNoTrail = a?.remediationGaps?.[0]?.eventId;
    assert.ok(
      shownNoTrail === noTrail1.d.record.eventID || shownNoTrail === noTrail2.d.record.eventID,
      `${shownNoTrail} is one of the two calls`,
    );
    assert.deepEqual(a?.remediationGaps, [
      {
        kind: 'start_logging',
        reason: 'the request names no trail',
        eventId: shownNoTrail,
        eventName: 'StopLogging',
      },
      {
        kind: 'start_logging',
        reason: 'the request names no eventDataStore',
        eventId: noStore.d.record.eventID,
        eventName: 'StopEventDataStoreIngestion',
      },
    ]);
    assert.deepEqual(summary(a?.remediations), [['quarantine', QUARANTINE, 'available']]);
  });

  test('calls with no remediation and no gap: the alert has neither', async () => {
    const store = await db.newStore();
    const c = stopTrail('org-trail', 10);
    const bare = burstCallOf(c.d, { plans: [], gaps: [] });
    assert.equal(bare.remediations, undefined);
    const { results } = await store.addAlertCalls(c.burst, [bare], { now: at(11) });
    const a = await store.getAlert(results[0]?.alertId ?? '');
    assert.deepEqual(a?.eventIds, ids([c]));
    assert.equal(a?.remediations, undefined);
    assert.equal(a?.remediationGaps, undefined);
  });

  test('the same trail name in two regions is two trails: both are offered', async () => {
    const store = await db.newStore();
    const east = stopTrail('org-trail', 10);
    const west = stopTrail('org-trail', 20, { awsRegion: 'eu-west-1' });
    assert.equal(west.burst.key, east.burst.key, 'one burst: the region is not in the key');
    assert.notDeepEqual(
      west.call.remediations?.[0],
      { ...east.call.remediations?.[0], eventId: west.d.record.eventID },
      'the plans differ (region)',
    );
    const { results } = await store.addAlertCalls(east.burst, [east.call, west.call], { now: at(21) });
    const a = await store.getAlert(results[0]?.alertId ?? '');
    assert.deepEqual(
      a?.remediations?.filter((r) => r.plan.kind === 'start_logging').map((r) => r.plan.region),
      ['us-east-1', 'eu-west-1'],
    );
  });
});

describe('alertBurstOf and SECBOT_ALERT_BURST', () => {
  test('the same principal, account, severity and paging in one window: one key', () => {
    const early = stopLogging('mallory', 1);
    const late = stopLogging('mallory', 5 * 60 - 1);
    assert.deepEqual(early.burst, {
      key: 'arn:aws:iam::111122223333:user/mallory|111122223333|critical|page|2026-11-20T10:00:00.000Z',
      windowStart: '2026-11-20T10:00:00.000Z',
      severity: 'critical',
      page: true,
      engineerKey: undefined,
    });
    assert.equal(late.burst.key, early.burst.key);
    assert.equal(burstAlertId(late.burst, 0), burstAlertId(early.burst, 0));
    assert.equal(
      alertBurstOf(early.d, WINDOW, 'mallory@example.com').key,
      early.burst.key,
      'not the engineer',
    );
    assert.equal(alertBurstOf(early.d, WINDOW, 'mallory@example.com').engineerKey, 'mallory@example.com');
    // Decided again later (a redelivery): the same key.
    const again = decide(early.d.record, rules, defaultDecideContext({ now: at(3600) }));
    assert.equal(alertBurstOf(again, WINDOW).key, early.burst.key);
  });

  test('times either side of a window boundary: two keys', () => {
    const before = stopLogging('mallory', 5 * 60 - 1);
    const boundary = stopLogging('mallory', 5 * 60);
    assert.notEqual(boundary.burst.key, before.burst.key);
    assert.equal(before.burst.windowStart, '2026-11-20T10:00:00.000Z');
    assert.equal(boundary.burst.windowStart, '2026-11-20T10:05:00.000Z');
    assert.notEqual(burstAlertId(boundary.burst, 0), burstAlertId(before.burst, 0));
    // A longer window holds both.
    assert.equal(alertBurstOf(before.d, 3_600_000).key, alertBurstOf(boundary.d, 3_600_000).key);
    assert.equal(alertBurstOf(before.d, 3_600_000).windowStart, '2026-11-20T10:00:00.000Z');
  });

  test('SECBOT_ALERT_BURST: 5m by default, off is 0, anything else must be a duration', () => {
    assert.equal(loadConfig({}).alertBurstMs, 300_000);
    assert.equal(loadConfig({ SECBOT_ALERT_BURST: '5m' }).alertBurstMs, 300_000);
    assert.equal(loadConfig({ SECBOT_ALERT_BURST: 'off' }).alertBurstMs, 0);
    assert.equal(loadConfig({ SECBOT_ALERT_BURST: ' 90s ' }).alertBurstMs, 90_000);
    for (const bad of ['banana', '0s', '5', 'OFF']) {
      assert.throws(
        () => loadConfig({ SECBOT_ALERT_BURST: bad }),
        (err: unknown) =>
          err instanceof ConfigError &&
          err.variable === 'SECBOT_ALERT_BURST' &&
          err.message.includes('SECBOT_ALERT_BURST') &&
          err.message.includes(`"${bad.trim()}" is not a duration`),
        bad,
      );
    }
  });
});
