/**
 * The sweep (issue 7 changes): questions held back while the drain leaves a backlog (so a burst gets
 * one DM, not a DM and its edits), and the alert outbox worked whole, by one replica at a time, each
 * alert posted and paged once — past the 200 one listing returns.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { memoryAuditTrail } from '../../audit/trail.js';
import type { Messenger } from '../../handlers/ports.js';
import { BACKLOG_HOLD_MS, sweep } from '../../handlers/sweep.js';
import type { Pager } from '../../integrations/pagerduty.js';
import { silentLogger } from '../../logging/logger.js';
import type { Store } from '../../store/store.js';
import { startTestDynamo, type TestDynamo } from '../helpers/dynamo-server.js';

let db: TestDynamo;
before(async () => {
  db = await startTestDynamo();
});
after(async () => {
  await db.stop();
});

function world(store: Store) {
  const dms: string[] = [];
  const posts: string[] = [];
  const pages: string[] = [];
  const messenger: Messenger = {
    async askEngineer(q) {
      dms.push(q.verification.id);
      return { channel: `D${q.verification.engineerKey}`, ts: `${dms.length}.000100` };
    },
    async updateQuestion() {},
    async postAlert(alert) {
      posts.push(alert.id);
      return { channel: 'C0ALERTS', ts: `${posts.length}.000200` };
    },
  };
  const pager: Pager = {
    async trigger(e) {
      pages.push(e.dedupKey);
      return { ok: true, dedupKey: e.dedupKey };
    },
    acknowledge: async (dedupKey) => ({ ok: true, dedupKey }),
    resolve: async (dedupKey) => ({ ok: true, dedupKey }),
  };
  const deps = { store, messenger, pager, audit: memoryAuditTrail(), logger: silentLogger() };
  return { deps, dms, posts, pages };
}

const call = (id: string) => ({
  eventId: id,
  eventName: 'CreateUser',
  eventSource: 'iam.amazonaws.com',
  eventTime: new Date().toISOString(),
  ruleIds: ['iam-user-created'],
  action: 'notify' as const,
});

describe('sweep', () => {
  it('holds a fresh question while the drain left a backlog, and asks once it is drained', async () => {
    const store = await db.newStore();
    const w = world(store);
    const now = new Date();
    await store.addNotifyCalls('U0HOLD', [call('h-1')], { now, deadline: new Date(now.getTime() + 900_000) });
    const held = await sweep({ ...w.deps, owner: 'replica-a' }, { backlog: true });
    assert.equal(held.questionsSent, 0);
    assert.deepEqual(w.dms, []);
    const asked = await sweep({ ...w.deps, owner: 'replica-a' });
    assert.equal(asked.questionsSent, 1);
    assert.equal(w.dms.length, 1);
    // Not beyond the hold: an older question goes out even with a backlog.
    const old = new Date(Date.now() - BACKLOG_HOLD_MS - 1_000);
    await store.addNotifyCalls('U0OLD', [call('o-1')], {
      now: old,
      deadline: new Date(Date.now() + 900_000),
    });
    const late = await sweep({ ...w.deps, owner: 'replica-a', clock: () => new Date() }, { backlog: true });
    assert.equal(late.questionsSent, 1);
  });

  it('posts and pages every due alert once, past one listing of 200, under one outbox lease', async () => {
    const store = await db.newStore();
    const w = world(store);
    const at = new Date(Date.now() - 1_000);
    for (let i = 0; i < 230; i++) {
      await store.createAlert({
        kind: 'call',
        eventId: `p-${i}`,
        severity: 'error',
        summary: `s${i}`,
        reasons: ['r'],
        at,
      });
    }
    // Another replica works the outbox: this one leaves it alone.
    assert.equal(await store.acquireLease('sweep#pages', 'replica-b', 60_000), true);
    const skipped = await sweep({ ...w.deps, owner: 'replica-a' });
    assert.equal(skipped.pagesSent, 0);
    await store.releaseLease('sweep#pages', 'replica-b');

    const [a, b] = await Promise.all([
      sweep({ ...w.deps, owner: 'replica-a' }),
      sweep({ ...w.deps, owner: 'replica-b' }),
    ]);
    assert.equal(a.pagesSent + b.pagesSent, 230);
    assert.equal(new Set(w.pages).size, 230, 'each alert paged');
    assert.equal(w.pages.length, 230, 'and only once');
    assert.equal(w.posts.length, 230, 'each posted once');
    const one = await store.getAlert('a_p-7');
    assert.equal(one?.pageStatus, 'sent');
    assert.equal(one?.channelStatus, 'sent');
    assert.ok(one?.channelMessage?.ts, 'the post is stored with the page');
    assert.equal((await store.listDuePages(new Date(Date.now() + 60_000))).length, 0);
  });
});
