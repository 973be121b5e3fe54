/** Remediations on an alert item, against dynalite: stored with the alert, claimed once, released, finished. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { RemediationPlan } from '../../remediation/types.js';
import { AlreadyDecidedError } from '../../store/errors.js';
import type { Store } from '../../store/store.js';
import { startTestDynamo, type TestDynamo } from '../helpers/dynamo-server.js';

let db: TestDynamo;
let store: Store;
before(async () => {
  db = await startTestDynamo();
  store = await db.newStore();
});
after(async () => {
  await db.stop();
});

const T0 = new Date('2026-11-20T10:00:00.000Z');
const at = (s: number) => new Date(T0.getTime() + s * 1000);

const plan = (n: number): RemediationPlan => ({
  kind: 'revoke_security_group_ingress',
  service: 'ec2',
  command: 'RevokeSecurityGroupIngress',
  input: {
    GroupId: `sg-${n}`,
    IpPermissions: [{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }],
  },
  account: '111122223333',
  region: 'eu-west-1',
  eventId: `ev-${n}`,
  eventName: 'AuthorizeSecurityGroupIngress',
  label: `Revoke ingress on sg-${n}`,
  description: `ec2:RevokeSecurityGroupIngress on sg-${n}`,
});

async function newAlert(eventId: string) {
  const { alert } = await store.createAlert({
    kind: 'call',
    eventId,
    severity: 'critical',
    summary: 'opened',
    reasons: ['r'],
    remediations: [plan(1), plan(2)],
    remediationGaps: [{ kind: 'quarantine', reason: 'root' }],
    at: T0,
  });
  return alert;
}

const claim = (id: string, by: string, s = 1) =>
  store.transitionRemediation(id, 'r1', {
    from: ['available'],
    to: 'running',
    alertStates: ['OPEN', 'ACKNOWLEDGED'],
    staleDuoBefore: at(s - 120),
    set: { phase: 'duo', by, startedAt: at(s) },
    countAttempt: true,
    at: at(s),
  });

describe('remediations on alerts', () => {
  test('are stored with the alert, in order, each available; gaps are kept', async () => {
    const a = await newAlert('ev-store');
    const read = await store.getAlert(a.id);
    assert.deepEqual(
      read?.remediations?.map((r) => [r.id, r.status, r.attempts, r.plan.input.GroupId]),
      [
        ['r1', 'available', 0, 'sg-1'],
        ['r2', 'available', 0, 'sg-2'],
      ],
    );
    assert.deepEqual(read?.remediations?.[0]?.plan, plan(1));
    assert.deepEqual(read?.remediationGaps, [{ kind: 'quarantine', reason: 'root' }]);
    assert.deepEqual(a.remediations, read?.remediations, 'createAlert returns what getAlert reads');
  });

  test('five presses at once: exactly one claims it; the others lose with the status they found', async () => {
    const a = await newAlert('ev-race');
    const results = await Promise.allSettled(['U1', 'U2', 'U3', 'U4', 'U5'].map((u) => claim(a.id, u)));
    const won = results.filter((r) => r.status === 'fulfilled');
    assert.equal(won.length, 1);
    for (const r of results.filter((x) => x.status === 'rejected')) {
      assert.ok(r.reason instanceof AlreadyDecidedError);
      assert.equal(r.reason.state, 'running');
    }
    const rem = (await store.getAlert(a.id))?.remediations?.[0];
    assert.equal(rem?.status, 'running');
    assert.equal(rem?.phase, 'duo');
    assert.equal(rem?.attempts, 1);
    assert.equal((await store.getAlert(a.id))?.remediations?.[1]?.status, 'available', 'r2 untouched');
  });

  test('released after a Duo deny it is available again, with the attempt noted; then done is final', async () => {
    const a = await newAlert('ev-release');
    await claim(a.id, 'U1');
    const released = await store.transitionRemediation(a.id, 'r1', {
      from: ['running'],
      expectPhase: 'duo',
      expectBy: 'U1',
      to: 'available',
      set: {
        phase: null,
        by: null,
        startedAt: null,
        lastAttempt: { by: 'U1', at: at(5), result: 'Duo: push denied' },
      },
      at: at(5),
    });
    const r1 = released.remediations?.[0];
    assert.equal(r1?.status, 'available');
    assert.equal(r1?.by, undefined);
    assert.equal(r1?.phase, undefined);
    assert.deepEqual(r1?.lastAttempt, { by: 'U1', at: at(5).toISOString(), result: 'Duo: push denied' });

    await claim(a.id, 'U2', 10);
    // Only the presser's own run moves on.
    await assert.rejects(
      store.transitionRemediation(a.id, 'r1', {
        from: ['running'],
        expectBy: 'U1',
        to: 'running',
        set: { phase: 'executing' },
        at: at(11),
      }),
      AlreadyDecidedError,
    );
    await store.transitionRemediation(a.id, 'r1', {
      from: ['running'],
      expectPhase: 'duo',
      expectBy: 'U2',
      to: 'running',
      set: { phase: 'executing' },
      at: at(12),
    });
    const done = await store.transitionRemediation(a.id, 'r1', {
      from: ['running'],
      expectPhase: 'executing',
      expectBy: 'U2',
      to: 'done',
      set: { phase: null, finishedAt: at(13), outcome: 'revoked sgr-1', requestId: 'req-1' },
      at: at(13),
    });
    const r = done.remediations?.[0];
    assert.deepEqual(
      [r?.status, r?.by, r?.finishedAt, r?.outcome, r?.requestId, r?.attempts],
      ['done', 'U2', at(13).toISOString(), 'revoked sgr-1', 'req-1', 2],
    );
    await assert.rejects(
      claim(a.id, 'U3', 20),
      (e: unknown) => e instanceof AlreadyDecidedError && e.state === 'done',
    );
  });

  test('a run stuck waiting for Duo (its process died) is taken over once stale; one running the call is not', async () => {
    const a = await newAlert('ev-stale');
    await claim(a.id, 'U1', 0);
    // Not stale yet: staleDuoBefore (t-120 s) is before the first press.
    await assert.rejects(claim(a.id, 'U2', 60), AlreadyDecidedError);
    const taken = await claim(a.id, 'U2', 200);
    assert.equal(taken.remediations?.[0]?.by, 'U2');
    await store.transitionRemediation(a.id, 'r1', {
      from: ['running'],
      expectBy: 'U2',
      to: 'running',
      set: { phase: 'executing' },
      at: at(201),
    });
    await assert.rejects(claim(a.id, 'U3', 1000), AlreadyDecidedError, 'never while AWS may be called');
  });

  test('is refused on a resolved alert', async () => {
    const a = await newAlert('ev-resolved');
    await store.resolveAlert(a.id, 'U1', at(1));
    await assert.rejects(
      claim(a.id, 'U1', 2),
      (e: unknown) => e instanceof AlreadyDecidedError && /RESOLVED/.test(e.message),
    );
  });

  test('an alert without remediations has none, and changing one that does not exist says so', async () => {
    const { alert } = await store.createAlert({
      kind: 'call',
      eventId: 'ev-none',
      severity: 'warning',
      summary: 's',
      reasons: [],
      at: T0,
    });
    assert.equal(alert.remediations, undefined);
    await assert.rejects(claim(alert.id, 'U1'), /not found/);
  });
});
