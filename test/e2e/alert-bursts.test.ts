/**
 * Alert bursts end to end (handlers/alert-bursts.ts): the alert calls of one principal close in time are
 * one channel alert and one page that name every call; redeliveries add nothing; calls after the alert
 * went out open the burst's next alert; SECBOT_ALERT_BURST=off gives every call its own alert.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { CloudTrailRecord } from '../../cloudtrail/record.js';
import { iamUser, makeRecord } from '../helpers/events.js';
import { ALERT_CHANNEL, type RunningSecbot, startWorld, type World } from '../helpers/world.js';

let world: World;
before(async () => {
  world = await startWorld();
});
after(async () => {
  await world?.stop();
});

const WINDOW_MS = 5 * 60_000;
/** A time early in the current 5-minute window, at least a minute ago (so never in the future). */
function windowTime(offsetMs: number): Date {
  const start = Math.floor((Date.now() - 60_000) / WINDOW_MS) * WINDOW_MS;
  return new Date(start + offsetMs);
}

/** An alert call (StopLogging) by `user` at `at`. */
const stopLogging = (user: string, at: Date): CloudTrailRecord =>
  makeRecord(
    {
      eventSource: 'cloudtrail.amazonaws.com',
      eventName: 'StopLogging',
      userIdentity: iamUser(user),
      requestParameters: { name: `trail-${user}` },
    },
    at,
  );

function calls(user: string, n: number, fromMs = 1_000): CloudTrailRecord[] {
  return Array.from({ length: n }, (_, i) => stopLogging(user, windowTime(fromMs + i * 10)));
}

interface Trigger {
  dedupKey: string;
  eventIds: string[];
  summary: string;
}

/** The page triggers that name any of `records`. */
function triggersFor(records: readonly CloudTrailRecord[]): Trigger[] {
  const ids = new Set(records.map((r) => r.eventID));
  return world.pagerduty
    .triggers()
    .map((t) => ({
      dedupKey: t.dedup_key ?? '',
      eventIds: (t.payload?.custom_details?.eventIDs as string[] | undefined) ?? [],
      summary: t.payload?.summary ?? '',
    }))
    .filter((t) => t.eventIds.some((e) => ids.has(e)));
}

/** The channel alert messages that name any of `records`' calls (by the alert ids of their pages). */
function channelAlertsFor(records: readonly CloudTrailRecord[]) {
  const keys = new Set(triggersFor(records).map((t) => t.dedupKey));
  return world.slack.messages(ALERT_CHANNEL).filter((m) => {
    const blocks = JSON.stringify(m.blocks ?? []);
    return [...keys].some((k) => blocks.includes(k));
  });
}

/** Run until every one of `records` is named by a page (or fail). */
async function untilPaged(bot: RunningSecbot, records: readonly CloudTrailRecord[]) {
  for (let i = 0; i < 40; i++) {
    await bot.secbot.runOnce();
    const named = new Set(triggersFor(records).flatMap((t) => t.eventIds));
    if (records.every((r) => named.has(r.eventID))) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.fail('not every alert call was paged');
}

describe('alert bursts', () => {
  let bot: RunningSecbot;
  before(async () => {
    bot = await world.startSecbot();
  });
  after(async () => {
    await bot?.stop();
  });

  it("an attacker's 30 alert calls are one channel alert and one page naming all 30; another principal's are apart", async () => {
    const mallory = calls('mallory', 30);
    const trent = calls('trent', 2);
    await bot.enqueue(...mallory, ...trent);
    await untilPaged(bot, [...mallory, ...trent]);

    const [page, ...more] = triggersFor(mallory);
    assert.equal(more.length, 0, 'one page for mallory');
    assert.ok(page);
    assert.deepEqual(new Set(page.eventIds), new Set(mallory.map((r) => r.eventID)));
    assert.equal(page.eventIds.length, 30);
    assert.match(page.summary, /\(\+29 more alert calls by the same principal\)/);
    assert.match(page.dedupKey, /^a_\d{8}T\d{4}_[0-9a-f]{20}_0$/);

    const posts = channelAlertsFor(mallory);
    assert.equal(posts.length, 1, 'one channel alert for mallory');
    assert.match(JSON.stringify(posts[0]?.blocks), /Calls:\* 30 /);

    const trentPages = triggersFor(trent);
    assert.equal(trentPages.length, 1, 'one page for trent');
    assert.notEqual(trentPages[0]?.dedupKey, page.dedupKey);
    assert.equal(trentPages[0]?.eventIds.length, 2);

    const alert = await bot.secbot.store.getAlert(page.dedupKey);
    assert.equal(alert?.burst, true);
    assert.ok(alert?.sealed, 'sealed when it was sent');
    assert.equal(alert?.pageStatus, 'sent');
    assert.equal(alert?.channelStatus, 'sent');
    assert.deepEqual(alert?.ruleIds, ['test-logging-stopped']);
    assert.equal(alert?.reasons.length, 30);
  });

  it('a redelivery of the burst adds nothing; calls after the alert went out open the next one', async () => {
    const mallory = calls('mallory2', 6);
    await bot.enqueue(...mallory);
    await untilPaged(bot, mallory);
    const [first] = triggersFor(mallory);
    assert.ok(first);

    // The same calls delivered again (a collector resend): decided already, nothing more is sent.
    const before = {
      pages: world.pagerduty.triggers().length,
      posts: world.slack.messages(ALERT_CHANNEL).length,
    };
    await bot.enqueue(...mallory);
    await bot.secbot.runOnce();
    await bot.secbot.runOnce();
    assert.equal(world.pagerduty.triggers().length, before.pages, 'no page for a redelivery');
    assert.equal(world.slack.messages(ALERT_CHANNEL).length, before.posts, 'no post for a redelivery');

    // Three more calls in the same window, after the alert was sealed and sent: the burst's next alert.
    const later = calls('mallory2', 3, 5_000);
    await bot.enqueue(...later);
    await untilPaged(bot, later);
    const [next, ...others] = triggersFor(later);
    assert.equal(others.length, 0);
    assert.ok(next);
    assert.equal(next.dedupKey, first.dedupKey.replace(/_0$/, '_1'));
    assert.deepEqual(new Set(next.eventIds), new Set(later.map((r) => r.eventID)));
    assert.equal(
      (await bot.secbot.store.getAlert(first.dedupKey))?.eventIds.length,
      6,
      'the first is unchanged',
    );
  });
});

describe('SECBOT_ALERT_BURST=off', () => {
  let bot: RunningSecbot;
  before(async () => {
    bot = await world.startSecbot({ SECBOT_ALERT_BURST: 'off' });
  });
  after(async () => {
    await bot?.stop();
  });

  it('every alert call has its own alert, page and channel post', async () => {
    const victor = calls('victor', 3);
    await bot.enqueue(...victor);
    await untilPaged(bot, victor);
    const pages = triggersFor(victor);
    assert.deepEqual(pages.map((p) => p.dedupKey).sort(), victor.map((r) => `a_${r.eventID}`).sort());
    assert.equal(channelAlertsFor(victor).length, 3);
  });
});
