/**
 * Watching the watcher, end to end: the real app against the local queue, table, Slack and PagerDuty,
 * with a controllable clock. A heartbeat that stops → one alert and one page; it comes back → one
 * recovery message and a PagerDuty resolve. The dead-letter queue and a queue that falls behind alert
 * once and clear. Status and the App Home show each account's last heartbeat and last call, and the lag.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { scheduledHeartbeatEvent } from '../../cloudtrail/heartbeat.js';
import { logCall } from '../helpers/events.js';
import type { StoredMessage } from '../helpers/slack-server.js';
import { openHome, slash } from '../helpers/staff-slack.js';
import { ALERT_CHANNEL, type RunningSecbot, STAFF, startWorld, type World } from '../helpers/world.js';

const ACCOUNT = '444455556666';
const MIN = 60_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let world: World;
before(async () => {
  world = await startWorld();
});
after(async () => {
  await world?.stop();
});

const channel = () => world.slack.messages(ALERT_CHANNEL);
const text = (m: StoredMessage) => JSON.stringify(m.blocks ?? []) + (m.text ?? '');
const watchdogAlerts = (what: RegExp) =>
  channel().filter((m) => !m.thread_ts && /secbot watchdog/.test(text(m)) && what.test(text(m)));
const recoveries = (what: RegExp) => channel().filter((m) => /Recovered/.test(text(m)) && what.test(text(m)));

describe('a heartbeat that stops', () => {
  let bot: RunningSecbot;
  let t = Math.floor(Date.now() / 1000) * 1000;
  const clock = () => new Date(t);
  const beat = async (account = ACCOUNT) => {
    const { failed } = await bot.queue.queue.sendBatch([
      JSON.stringify(scheduledHeartbeatEvent({ account, time: clock(), region: 'eu-west-1' })),
    ]);
    assert.deepEqual(failed, []);
  };
  before(async () => {
    bot = await world.startSecbot(
      { SECBOT_HEARTBEAT_LATE: '15m', SECBOT_ACCOUNT_ALIASES: `${ACCOUNT}=prod` },
      { clock },
    );
  });
  after(async () => {
    await bot?.stop();
  });

  it('is recorded while it beats: status and the App Home show the account, its last call and the lag', async () => {
    await beat();
    const call = logCall('carol');
    call.recipientAccountId = ACCOUNT;
    call.eventTime = new Date(t - 2 * MIN).toISOString();
    await bot.enqueue(call);
    await bot.secbot.runOnce();
    assert.equal((await bot.queue.queue.stats()).visible, 0, 'the heartbeat message was deleted');
    const [activity] = await bot.secbot.store.listAccounts();
    assert.equal(activity?.account, ACCOUNT);
    assert.equal(activity?.lastHeartbeatAt, new Date(Math.floor(t / 1000) * 1000).toISOString());
    assert.equal(activity?.lastEventAt, call.eventTime);

    t += 5 * MIN;
    await beat();
    await bot.secbot.runOnce();
    const status = await slash(world, STAFF, 'status');
    assert.match(status.raw, /\*Accounts:\* 1 \(lag = eventTime → decision/);
    assert.match(
      status.raw,
      /`444455556666` \(prod\) · heartbeat 0s ago \(eu-west-1\) · last call 7m ago · lag p50 ≈ 1m 30s, p95 ≈ 1m 57s \(1 calls\)/,
    );
    assert.match(status.raw, /\*Watchdog:\* :white_check_mark: no open incident/);
    const home = JSON.stringify(await openHome(world, STAFF));
    assert.match(home, /Accounts \(1\)/);
    assert.match(home, /`444455556666` \(prod\) · heartbeat 0s ago/);
    assert.equal(watchdogAlerts(/./).length, 0);
    assert.equal(world.pagerduty.events.length, 0);
  });

  it('stops: one alert in the channel and one page, however many runs see it', async () => {
    t += 16 * MIN;
    await bot.secbot.runOnce();
    const alerts = watchdogAlerts(/No heartbeat from account `?444455556666/);
    assert.equal(alerts.length, 1, 'one channel alert');
    assert.match(text(alerts[0] as StoredMessage), /for 16m/);
    const incident = await bot.secbot.store.getIncident(`heartbeat:${ACCOUNT}`);
    assert.equal(incident?.state, 'OPEN');
    const pages = world.pagerduty.eventsFor(incident?.alertId ?? '');
    assert.deepEqual(
      pages.map((p) => p.event_action),
      ['trigger'],
    );
    assert.match(String(pages[0]?.payload?.summary), /No heartbeat from account 444455556666 \(prod\)/);
    for (let i = 0; i < 3; i++) {
      t += MIN;
      await bot.secbot.runOnce();
    }
    assert.equal(watchdogAlerts(/No heartbeat/).length, 1, 'still one alert');
    assert.equal(world.pagerduty.eventsFor(incident?.alertId ?? '').length, 1, 'still one page');
    const status = await slash(world, STAFF, 'status');
    assert.match(status.raw, /\*Watchdog:\* 1 open incident\(s\)/);
    assert.match(status.raw, /heartbeat \d+m ago \(eu-west-1\) :warning: late/);
  });

  it('comes back: one recovery message in the thread and the page resolved, once', async () => {
    const incident = await bot.secbot.store.getIncident(`heartbeat:${ACCOUNT}`);
    await beat();
    await bot.secbot.runOnce();
    const back = recoveries(/heartbeat is back/);
    assert.equal(back.length, 1);
    const alert = watchdogAlerts(/No heartbeat/)[0];
    assert.equal(back[0]?.thread_ts, alert?.ts, 'a reply in the alert thread');
    assert.deepEqual(
      world.pagerduty.eventsFor(incident?.alertId ?? '').map((p) => p.event_action),
      ['trigger', 'resolve'],
    );
    assert.equal((await bot.secbot.store.getAlert(incident?.alertId ?? ''))?.state, 'RESOLVED');
    assert.match(text(alert as StoredMessage), /resolved by/, 'the channel alert shows it resolved');
    t += MIN;
    await beat();
    await bot.secbot.runOnce();
    assert.equal(recoveries(/heartbeat is back/).length, 1, 'one recovery message');
    assert.equal(world.pagerduty.eventsFor(incident?.alertId ?? '').length, 2);
    assert.equal((await bot.secbot.store.getIncident(`heartbeat:${ACCOUNT}`))?.state, 'CLOSED');
  });
});

describe('the queues', () => {
  it('a non-empty dead-letter queue alerts once (no page) and clears once emptied', async () => {
    const bot = await world.startSecbot();
    try {
      const pagesBefore = world.pagerduty.events.length;
      await bot.queue.deadLetter.sendBatch(['{"not": "cloudtrail"}']);
      await bot.secbot.runOnce();
      await bot.secbot.runOnce();
      assert.equal(watchdogAlerts(/1 message\(s\) in the dead-letter queue/).length, 1);
      assert.equal(world.pagerduty.events.length, pagesBefore, 'the channel only');
      const msgs = await bot.queue.deadLetter.receive({ max: 10, waitSeconds: 0 });
      await bot.queue.deadLetter.deleteBatch(msgs);
      await bot.secbot.runOnce();
      assert.equal(recoveries(/dead-letter queue is empty again/).length, 1);
    } finally {
      await bot.stop();
    }
  });

  it('a queue that falls behind (a message older than SECBOT_QUEUE_AGE_ALERT when drained) alerts once and clears', async () => {
    const bot = await world.startSecbot({ SECBOT_QUEUE_AGE_ALERT: '1s' });
    try {
      await bot.enqueue(logCall('dave'));
      await sleep(1500);
      await bot.secbot.runOnce();
      assert.equal(watchdogAlerts(/queue is behind: a message had waited/).length, 1);
      await bot.secbot.runOnce();
      assert.equal(recoveries(/queue keeps up again/).length, 1);
    } finally {
      await bot.stop();
    }
  });
});
