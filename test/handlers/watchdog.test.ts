/**
 * The watchdog against a real (dynalite) store with a controllable clock: each condition alerts once
 * per incident, recovers once with a follow-up, retries what did not land, and replicas agree.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { memoryAuditTrail } from '../../audit/trail.js';
import type { DrainReport } from '../../handlers/drain.js';
import type { Messenger } from '../../handlers/ports.js';
import { createWatchdog, heartbeatKey, type WatchdogDeps } from '../../handlers/watchdog.js';
import type { PageResult, Pager } from '../../integrations/pagerduty.js';
import type { QueueStats } from '../../integrations/queue.js';
import { silentLogger } from '../../logging/logger.js';
import type { Store } from '../../store/store.js';
import type { AlertItem, MessageRef } from '../../store/types.js';
import { startTestDynamo, type TestDynamo } from '../helpers/dynamo-server.js';

const ACCOUNT = '111122223333';
const MIN = 60_000;

let dynamo: TestDynamo;
before(async () => {
  dynamo = await startTestDynamo();
});
after(async () => {
  await dynamo?.stop();
});

function drained(over: Partial<DrainReport> = {}): DrainReport {
  return {
    startedAt: new Date(),
    durationMs: 1,
    received: 0,
    records: 0,
    decided: 0,
    duplicates: 0,
    busy: 0,
    poison: 0,
    errors: 0,
    deleted: 0,
    byAction: { log: 0, notify: 0, alert: 0 },
    verificationsOpened: 0,
    alertsCreated: 0,
    stoppedBy: 'empty',
    heartbeats: 0,
    ...over,
  };
}

interface Harness {
  store: Store;
  now: { t: number };
  stats: QueueStats;
  followUps: { thread?: MessageRef; text: string }[];
  resolves: string[];
  failFollowUps: { n: number };
  resolveResult: { r: PageResult };
  deps(over?: Partial<WatchdogDeps>): WatchdogDeps;
}

async function harness(): Promise<Harness> {
  const store = await dynamo.newStore();
  // Near the real time: reads treat an item whose TTL (set from this clock) has passed as absent.
  const now = { t: Math.floor(Date.now() / 60_000) * 60_000 };
  const h: Harness = {
    store,
    now,
    stats: { visible: 0, inFlight: 0, delayed: 0, deadLetter: { url: 'dlq', visible: 0 } },
    followUps: [],
    resolves: [],
    failFollowUps: { n: 0 },
    resolveResult: { r: { ok: true, dedupKey: 'x' } },
    deps(over = {}) {
      const messenger: Messenger = {
        askEngineer: async () => ({ channel: 'D', ts: '1' }),
        updateQuestion: async () => undefined,
        postAlert: async () => ({ channel: 'C0ALERTS', ts: '1.0' }),
        async postFollowUp(text, thread) {
          if (h.failFollowUps.n > 0) {
            h.failFollowUps.n--;
            throw new Error('channel_not_found');
          }
          h.followUps.push({ thread, text });
          return { channel: 'C0ALERTS', ts: '2.0' };
        },
      };
      const pager: Pager = {
        trigger: async (e) => ({ ok: true, dedupKey: e.dedupKey }),
        acknowledge: async (k) => ({ ok: true, dedupKey: k }),
        resolve: async (k) => {
          h.resolves.push(k);
          return h.resolveResult.r;
        },
      };
      return {
        store,
        queue: { stats: async () => structuredClone(h.stats) },
        messenger,
        pager,
        audit: memoryAuditTrail(),
        logger: silentLogger(),
        clock: () => new Date(now.t),
        options: { heartbeatLateMs: 15 * MIN, queueAgeMs: 10 * MIN, drainFailures: 3 },
        ...over,
      };
    },
  };
  return h;
}

const watchdogAlerts = async (store: Store) =>
  [...(await store.listAlerts('OPEN')), ...(await store.listAlerts('RESOLVED'))].filter(
    (a) => a.kind === 'watchdog',
  );

describe('the watchdog', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await harness();
  });

  it('a late heartbeat: one paged alert however many runs see it, then one recovery (follow-up + resolve)', async () => {
    const w = createWatchdog(h.deps());
    await h.store.recordAccountActivity(
      ACCOUNT,
      { heartbeatAt: new Date(h.now.t), heartbeatRegion: 'us-east-1' },
      new Date(h.now.t),
    );
    assert.deepEqual((await w.run({ drain: drained() })).opened, []);
    h.now.t += 16 * MIN;
    const first = await w.run({ drain: drained() });
    assert.deepEqual(first.opened, [heartbeatKey(ACCOUNT)]);
    for (let i = 0; i < 3; i++) {
      h.now.t += MIN;
      assert.deepEqual((await w.run({ drain: drained() })).opened, []);
    }
    const alerts = await watchdogAlerts(h.store);
    assert.equal(alerts.length, 1, 'one alert');
    const alert = alerts[0] as AlertItem;
    assert.equal(alert.page, true, 'a missing heartbeat pages');
    assert.equal(alert.severity, 'error');
    assert.match(alert.summary, /No heartbeat from account 111122223333 for 16m/);

    // Back: a newer heartbeat.
    await h.store.recordAccountActivity(ACCOUNT, { heartbeatAt: new Date(h.now.t) }, new Date(h.now.t));
    await h.store.markPageSent(alert.id, new Date(h.now.t)); // what the sweep does once PagerDuty took it
    const back = await w.run({ drain: drained() });
    assert.deepEqual(back.recovered, [heartbeatKey(ACCOUNT)]);
    assert.deepEqual(back.closed, [heartbeatKey(ACCOUNT)]);
    assert.equal(h.followUps.length, 1);
    assert.match(
      h.followUps[0]?.text ?? '',
      /Recovered\* after 3m: Account 111122223333's heartbeat is back .*The page is resolved in PagerDuty/,
    );
    assert.deepEqual(h.resolves, [alert.id]);
    assert.equal((await h.store.getAlert(alert.id))?.state, 'RESOLVED');
    await w.run({ drain: drained() });
    assert.equal(h.followUps.length, 1, 'one follow-up');
    assert.equal((await h.store.getIncident(heartbeatKey(ACCOUNT)))?.state, 'CLOSED');

    // Late again later: a new incident with a new alert (a new dedup_key).
    h.now.t += 20 * MIN;
    assert.deepEqual((await w.run({ drain: drained() })).opened, [heartbeatKey(ACCOUNT)]);
    const again = await h.store.getIncident(heartbeatKey(ACCOUNT));
    assert.equal(again?.seq, 2);
    assert.notEqual(again?.alertId, alert.id);
  });

  it('heartbeats are not judged when the drain failed or left messages behind', async () => {
    const w = createWatchdog(h.deps());
    await h.store.recordAccountActivity(ACCOUNT, { heartbeatAt: new Date(h.now.t) }, new Date(h.now.t));
    h.now.t += 60 * MIN;
    assert.deepEqual((await w.run({ drain: drained({ stoppedBy: 'budget' }) })).opened, []);
    assert.deepEqual((await w.run({ drainError: new Error('table down') })).opened, []);
    assert.deepEqual((await w.run({ drain: drained() })).opened, [heartbeatKey(ACCOUNT)]);
  });

  it('accounts that never sent a heartbeat are never late', async () => {
    const w = createWatchdog(h.deps());
    await h.store.recordAccountActivity(ACCOUNT, { eventAt: new Date(h.now.t) }, new Date(h.now.t));
    h.now.t += 120 * MIN;
    assert.deepEqual((await w.run({ drain: drained() })).opened, []);
  });

  it('drains failing N times in a row: one channel alert (no page), cleared by a good run', async () => {
    const w = createWatchdog(h.deps());
    assert.deepEqual((await w.run({ drain: drained({ errors: 2 }) })).opened, []);
    assert.deepEqual((await w.run({ drainError: new Error('ResourceNotFoundException') })).opened, []);
    assert.deepEqual((await w.run({ drain: drained({ stoppedBy: 'error', errors: 1 }) })).opened, [
      'drain_failing',
    ]);
    assert.deepEqual((await w.run({ drain: drained({ errors: 1 }) })).opened, []);
    const [alert] = await watchdogAlerts(h.store);
    assert.equal(alert?.page, false);
    assert.match(alert?.summary ?? '', /failed 3 runs in a row/);
    const ok = await w.run({ drain: drained() });
    assert.deepEqual(ok.recovered, ['drain_failing']);
    assert.deepEqual(h.resolves, [], 'nothing to resolve in PagerDuty: it never paged');
  });

  it('the dead-letter queue and the queue age, each once, each cleared', async () => {
    const w = createWatchdog(h.deps());
    h.stats.deadLetter = { url: 'dlq', visible: 2 };
    const r1 = await w.run({ drain: drained({ oldestMessageAgeMs: 11 * MIN }) });
    assert.deepEqual(r1.opened.sort(), ['dead_letter', 'queue_age']);
    assert.deepEqual((await w.run({ drain: drained({ oldestMessageAgeMs: 12 * MIN }) })).opened, []);
    h.stats.deadLetter = { url: 'dlq', visible: 0 };
    const r2 = await w.run({ drain: drained({ oldestMessageAgeMs: 1000 }) });
    assert.deepEqual(r2.recovered.sort(), ['dead_letter', 'queue_age']);
    assert.equal(h.followUps.length, 2);
    // A queue that cannot be read is not judged.
    const broken = createWatchdog(
      h.deps({ queue: { stats: async () => Promise.reject(new Error('down')) } }),
    );
    assert.deepEqual((await broken.run({ drain: drained() })).opened, []);
  });

  it('a follow-up that fails is retried on the next run; a PagerDuty resolve that fails too', async () => {
    const w = createWatchdog(h.deps());
    await h.store.recordAccountActivity(ACCOUNT, { heartbeatAt: new Date(h.now.t) }, new Date(h.now.t));
    h.now.t += 20 * MIN;
    await w.run({ drain: drained() });
    const incident = await h.store.getIncident(heartbeatKey(ACCOUNT));
    await h.store.markPageSent(incident?.alertId ?? '', new Date(h.now.t));
    await h.store.recordAccountActivity(ACCOUNT, { heartbeatAt: new Date(h.now.t) }, new Date(h.now.t));
    h.failFollowUps.n = 1;
    h.resolveResult.r = { ok: false, retryable: true, reason: '503' };
    const r1 = await w.run({ drain: drained() });
    assert.deepEqual(r1.recovered, [heartbeatKey(ACCOUNT)]);
    assert.deepEqual(r1.closed, []);
    assert.equal(h.followUps.length, 0);
    const r2 = await w.run({ drain: drained() });
    assert.deepEqual(r2.closed, [], 'the follow-up is out, the resolve is not');
    assert.equal(h.followUps.length, 1);
    h.resolveResult.r = { ok: true, dedupKey: 'x' };
    const r3 = await w.run({ drain: drained() });
    assert.deepEqual(r3.closed, [heartbeatKey(ACCOUNT)]);
    assert.equal(h.followUps.length, 1, 'still one follow-up');
    assert.equal(h.resolves.length, 2);
  });

  it('two replicas seeing the same condition raise one alert and send one follow-up', async () => {
    const [a, b] = [createWatchdog(h.deps()), createWatchdog(h.deps())];
    h.stats.deadLetter = { url: 'dlq', visible: 1 };
    const opened = await Promise.all([a.run({ drain: drained() }), b.run({ drain: drained() })]);
    assert.equal(opened.flatMap((r) => r.opened).length, 1);
    assert.equal((await watchdogAlerts(h.store)).length, 1);
    h.stats.deadLetter = { url: 'dlq', visible: 0 };
    const cleared = await Promise.all([a.run({ drain: drained() }), b.run({ drain: drained() })]);
    assert.equal(cleared.flatMap((r) => r.recovered).length, 1);
    assert.equal(h.followUps.length, 1);
  });

  it('staff resolving the alert first does not stop the follow-up', async () => {
    const w = createWatchdog(h.deps());
    h.stats.deadLetter = { url: 'dlq', visible: 1 };
    await w.run({ drain: drained() });
    const [alert] = await watchdogAlerts(h.store);
    await h.store.resolveAlert(alert?.id ?? '', 'U0STAFF', new Date(h.now.t));
    h.stats.deadLetter = { url: 'dlq', visible: 0 };
    const r = await w.run({ drain: drained() });
    assert.deepEqual(r.closed, ['dead_letter']);
    assert.equal(h.followUps.length, 1);
  });
});
