import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { alertIdFor } from '../../store/alerts.js';
import { AlreadyDecidedError, NotFoundError } from '../../store/errors.js';
import type { Store } from '../../store/store.js';
import type { NewAlert } from '../../store/types.js';
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

const callAlert = (eventId: string, ms = 0): NewAlert => ({
  kind: 'call',
  eventId,
  severity: 'critical',
  summary: `AuthorizeSecurityGroupIngress 0.0.0.0/0 (${eventId})`,
  ruleIds: ['ec2-open-ingress'],
  reasons: ['port 22 opened to the world'],
  at: at(ms),
});

describe('alerts', () => {
  let store: Store;
  before(async () => {
    store = await db.newStore();
  });

  test('creating the same alert twice (or concurrently) stores it once, with a stable id', async () => {
    const results = await Promise.all([1, 2, 3].map(() => store.createAlert(callAlert('ev-1'))));
    assert.equal(results.filter((r) => r.created).length, 1);
    for (const r of results) assert.equal(r.alert.id, 'a_ev-1');
    const a = await store.getAlert('a_ev-1');
    assert.deepEqual(a?.eventIds, ['ev-1']);
    assert.equal(a?.state, 'OPEN');
    assert.equal(a?.pageStatus, 'pending');
    assert.equal(a?.pageAttempts, 0);
    assert.equal(alertIdFor({ verificationId: 'v_1' }), 'a_v_1');
  });

  test('an escalation alert is keyed by its verification and carries every eventID', async () => {
    const { alert, created } = await store.createAlert({
      kind: 'escalation',
      verificationId: 'v_ABC',
      engineerKey: 'alice',
      severity: 'error',
      summary: 'alice said No',
      eventIds: ['x-1', 'x-2'],
      reasons: ['engineer denied the calls'],
      at: T0,
    });
    assert.equal(created, true);
    assert.equal(alert.page, true, 'paging is the default');
    assert.equal(alert.id, 'a_v_ABC');
    assert.equal(alert.kind, 'escalation');
    assert.deepEqual(alert.eventIds, ['x-1', 'x-2']);
  });

  test('a channel-only alert says so and still goes through the outbox', async () => {
    const { alert } = await store.createAlert({ ...callAlert('old-1'), page: false });
    assert.equal(alert.page, false);
    assert.equal((await store.getAlert(alert.id))?.page, false);
    assert.equal(alert.pageStatus, 'pending');
  });

  test('the page outbox: due pages are listed, a failure reschedules, a sent page leaves the outbox', async () => {
    const s = await db.newStore();
    await s.createAlert(callAlert('p-1', 0));
    await s.createAlert(callAlert('p-2', MIN));
    await s.createAlert(callAlert('p-3', 10 * MIN));
    assert.deepEqual(
      (await s.listDuePages(at(5 * MIN))).map((a) => a.id),
      ['a_p-1', 'a_p-2'],
    );
    assert.equal(
      await s.recordPageFailure('a_p-1', { at: at(5 * MIN), error: 'HTTP 503', nextAttemptAt: at(20 * MIN) }),
      true,
    );
    assert.deepEqual(
      (await s.listDuePages(at(5 * MIN))).map((a) => a.id),
      ['a_p-2'],
    );
    const failed = await s.getAlert('a_p-1');
    assert.equal(failed?.pageAttempts, 1);
    assert.equal(failed?.lastError, 'HTTP 503');
    assert.equal(await s.markPageSent('a_p-2', at(6 * MIN)), true);
    assert.equal(await s.markPageSent('a_p-2', at(6 * MIN)), false, 'a second mark changes nothing');
    assert.equal(
      await s.recordPageFailure('a_p-2', { at: at(7 * MIN), error: 'late', nextAttemptAt: at(8 * MIN) }),
      false,
      'a sent page is never retried',
    );
    assert.deepEqual(
      (await s.listDuePages(at(30 * MIN))).map((a) => a.id),
      ['a_p-3', 'a_p-1'],
    );
    assert.equal((await s.getAlert('a_p-2'))?.pageSentAt, at(6 * MIN).toISOString());
  });

  test('acknowledge then resolve, conditionally; a second acknowledge loses', async () => {
    const s = await db.newStore();
    await s.createAlert(callAlert('k-1'));
    await s.markPageSent('a_k-1', at(1));
    const acked = await s.acknowledgeAlert('a_k-1', 'U_SEC', at(MIN));
    assert.equal(acked.state, 'ACKNOWLEDGED');
    assert.equal(acked.acknowledgedBy, 'U_SEC');
    await assert.rejects(s.acknowledgeAlert('a_k-1', 'U_OTHER', at(MIN)), (err: unknown) => {
      assert.ok(err instanceof AlreadyDecidedError);
      assert.equal(err.state, 'ACKNOWLEDGED');
      return true;
    });
    const resolved = await s.resolveAlert('a_k-1', 'U_SEC', at(2 * MIN), 'port closed');
    assert.equal(resolved.state, 'RESOLVED');
    assert.deepEqual(
      resolved.history.map((h) => [h.from, h.to, h.by]),
      [
        ['OPEN', 'ACKNOWLEDGED', 'U_SEC'],
        ['ACKNOWLEDGED', 'RESOLVED', 'U_SEC'],
      ],
    );
    await assert.rejects(s.resolveAlert('a_k-1', 'U_SEC'), AlreadyDecidedError);
    await assert.rejects(s.acknowledgeAlert('a_missing', 'U_SEC'), NotFoundError);
    assert.deepEqual(
      (await s.listAlerts('RESOLVED')).map((a) => a.id),
      ['a_k-1'],
    );
    assert.deepEqual(await s.listAlerts('ACKNOWLEDGED'), []);
  });

  test('concurrent acknowledgements: exactly one wins', async () => {
    const s = await db.newStore();
    await s.createAlert(callAlert('c-1'));
    const r = await Promise.allSettled(['U1', 'U2', 'U3'].map((u) => s.acknowledgeAlert('a_c-1', u, at(1))));
    assert.equal(r.filter((x) => x.status === 'fulfilled').length, 1);
    assert.equal((await s.getAlert('a_c-1'))?.history.length, 1);
  });

  test('an alert acknowledged before its page lands stays on the outbox and is listed by state', async () => {
    const s = await db.newStore();
    await s.createAlert(callAlert('o-1', 0));
    await s.createAlert(callAlert('o-2', MIN));
    await s.markPageSent('a_o-2', at(MIN));
    await s.acknowledgeAlert('a_o-1', 'U_SEC', at(2 * MIN));
    assert.deepEqual(
      (await s.listDuePages(at(3 * MIN))).map((a) => a.id),
      ['a_o-1'],
      'still to be paged',
    );
    assert.deepEqual(
      (await s.listAlerts('ACKNOWLEDGED')).map((a) => a.id),
      ['a_o-1'],
    );
    assert.deepEqual(
      (await s.listAlerts('OPEN')).map((a) => a.id),
      ['a_o-2'],
    );
    await s.markPageSent('a_o-1', at(4 * MIN));
    assert.deepEqual(
      (await s.listAlerts('ACKNOWLEDGED')).map((a) => a.id),
      ['a_o-1'],
      'after the page the index follows the state',
    );
    assert.deepEqual(await s.listDuePages(at(5 * MIN)), []);
  });

  test('the channel message: intent first, then the reference', async () => {
    const s = await db.newStore();
    await s.createAlert(callAlert('m-1'));
    const claims = await Promise.allSettled(
      [1, 2].map(() =>
        s.updateAlert('a_m-1', {
          set: { channelStatus: 'sending' },
          at: at(1),
          when: { channelStatus: ['pending'] },
        }),
      ),
    );
    assert.equal(claims.filter((c) => c.status === 'fulfilled').length, 1);
    const sent = await s.updateAlert('a_m-1', {
      set: {
        channelStatus: 'sent',
        channelMessage: { channel: 'C_SEC', ts: '17.1' },
        channelLink: 'https://x.slack.com/p17',
      },
      at: at(2),
    });
    assert.deepEqual(sent.channelMessage, { channel: 'C_SEC', ts: '17.1' });
    assert.equal(sent.channelLink, 'https://x.slack.com/p17');
    await assert.rejects(
      s.updateAlert('a_nope', { set: { channelStatus: 'sent' }, at: at(3) }),
      NotFoundError,
    );
  });
});
