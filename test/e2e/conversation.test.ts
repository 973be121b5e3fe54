/**
 * The conversation end to end, over a real Socket Mode connection: the unmodified Bolt app talks to
 * the local Slack server; Duo is the real @duosecurity/duo_api client against a signature-checking
 * local Duo; pages go to a local PagerDuty Events endpoint.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ACTION_ACKNOWLEDGE, ACTION_RESOLVE } from '../../views/alert.js';
import { ACTION_NO, ACTION_YES } from '../../views/question.js';
import { alertCall, alertIdOfMessage, notifyCall } from '../helpers/events.js';
import { ALERT_CHANNEL, type RunningSecbot, STAFF, startWorld, type World } from '../helpers/world.js';

let world: World;
before(async () => {
  world = await startWorld();
});
after(async () => {
  await world?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Enqueue a call for `name`, drain, and return the DM secbot sent and the verification id. */
async function ask(bot: RunningSecbot, name: string, extra: Record<string, unknown> = {}) {
  const user = `U0${name.toUpperCase()}`;
  const record = notifyCall(name, extra);
  await bot.enqueue(record);
  await bot.secbot.runOnce();
  const channel = world.slack.dmChannelId(user);
  const dm = await world.slack.waitForMessage(channel, (m) =>
    JSON.stringify(m.blocks ?? []).includes(ACTION_YES),
  );
  const v = await bot.secbot.store.findOpenVerification(user);
  assert.ok(v, `an open verification for ${user}`);
  return { user, channel, dm, verificationId: v.id, record };
}

const click = (user: string, action_id: string, channel: string, message_ts: string) =>
  world.slack.sendBlockAction({ user, action_id, channel, message_ts });

const dmText = (channel: string, ts: string) =>
  JSON.stringify(world.slack.message(channel, ts)?.blocks ?? []);

describe('the conversation', () => {
  let bot: RunningSecbot;
  before(async () => {
    bot = await world.startSecbot({ SECBOT_DUO_TIMEOUT: '4s' });
  });
  after(async () => {
    await bot?.stop();
  });

  it('Yes + Duo allow confirms the calls and says so in the DM', async () => {
    world.engineer('alice', 'allow');
    const { user, channel, dm, verificationId } = await ask(bot, 'alice');
    assert.match(dmText(channel, dm.ts), /matched to you by your IAM user name and the company email domain/);
    await click(user, ACTION_YES, channel, dm.ts);
    const v = await bot.waitForState(verificationId, 'CONFIRMED');
    assert.equal(v.history.at(-1)?.by, 'duo');
    const push = world.duo.pushes().at(-1);
    assert.equal(push?.params.username, 'alice@example.com');
    assert.equal(push?.params.factor, 'push');
    assert.equal(push?.pushinfo?.secbot, verificationId);
    await world.slack.waitForMessage(
      channel,
      (m) => m.ts === dm.ts && JSON.stringify(m.blocks).includes('Confirmed'),
    );
    assert.equal(world.pagerduty.eventsFor(`a_${verificationId}`).length, 0, 'nothing paged');
  });

  it('No escalates: PagerDuty is paged with the eventIDs, the channel gets an alert, the DM says so', async () => {
    world.engineer('bob', 'allow');
    const { user, channel, dm, verificationId, record } = await ask(bot, 'bob');
    await click(user, ACTION_NO, channel, dm.ts);
    const v = await bot.waitForState(verificationId, 'ESCALATED');
    assert.match(v.escalationReason ?? '', /No, this wasn't me/);
    await bot.secbot.runOnce(); // the sweep posts and pages
    const [trigger] = world.pagerduty.eventsFor(`a_${verificationId}`);
    assert.equal(trigger?.event_action, 'trigger');
    assert.deepEqual((trigger?.payload?.custom_details as { eventIDs?: string[] })?.eventIDs, [
      record.eventID,
    ]);
    assert.equal(trigger?.payload?.severity, 'critical');
    const alert = await world.slack.waitForMessage(ALERT_CHANNEL, (m) =>
      JSON.stringify(m.blocks).includes(verificationId),
    );
    assert.match(JSON.stringify(alert.blocks), new RegExp(ACTION_ACKNOWLEDGE));
    assert.match(dmText(channel, dm.ts), /Escalated to the security team/);
    assert.equal(
      world.duo.pushes().filter((p) => p.pushinfo?.secbot === verificationId).length,
      0,
      'no Duo push',
    );
  });

  it('no answer by the deadline escalates on the next sweep', async () => {
    const quick = await world.startSecbot({ SECBOT_VERIFY_TIMEOUT: '1s' });
    try {
      world.engineer('carol', 'allow');
      const { verificationId, channel, dm } = await ask(quick, 'carol');
      await sleep(1_200);
      await quick.secbot.runOnce();
      const v = await quick.waitForState(verificationId, 'ESCALATED');
      assert.match(v.escalationReason ?? '', /no answer by the deadline/);
      assert.equal(world.pagerduty.eventsFor(`a_${verificationId}`)[0]?.event_action, 'trigger');
      await world.slack.waitForMessage(
        channel,
        (m) => m.ts === dm.ts && JSON.stringify(m.blocks).includes('Escalated'),
      );
    } finally {
      await quick.stop();
    }
  });

  for (const [name, script, reason] of [
    ['dave', 'deny', /Duo push was denied/],
    ['erin', 'not_enrolled', /no Duo device/],
    ['frank', 'no_push', /no Duo device/],
  ] as const) {
    it(`Yes + Duo ${script} escalates`, async () => {
      world.engineer(name, script);
      const { user, channel, dm, verificationId } = await ask(bot, name);
      await click(user, ACTION_YES, channel, dm.ts);
      const v = await bot.waitForState(verificationId, 'ESCALATED');
      assert.match(v.escalationReason ?? '', reason);
      await bot.secbot.runOnce();
      assert.equal(world.pagerduty.eventsFor(`a_${verificationId}`)[0]?.event_action, 'trigger');
    });
  }

  it('Yes while Duo is down or answering garbage escalates (fail closed)', async () => {
    world.engineer('grace', 'allow');
    world.duo.fail({ kind: 'non_json' }, { times: 1, path: '/auth/v2/preauth' });
    const a = await ask(bot, 'grace');
    await click(a.user, ACTION_YES, a.channel, a.dm.ts);
    const v = await bot.waitForState(a.verificationId, 'ESCALATED');
    assert.match(v.escalationReason ?? '', /Duo could not be reached/);
    world.engineer('heidi', 'allow');
    world.duo.fail({ kind: '5xx', status: 503 }, { times: 1, path: '/auth/v2/auth' });
    const b = await ask(bot, 'heidi');
    await click(b.user, ACTION_YES, b.channel, b.dm.ts);
    await bot.waitForState(b.verificationId, 'ESCALATED');
  });

  it('a principal without a Slack user escalates as unattributed', async () => {
    await bot.enqueue(notifyCall('nobody-in-slack'));
    await bot.secbot.runOnce();
    const triggers = world.pagerduty
      .triggers()
      .filter((t) => JSON.stringify(t.payload).includes('nobody-in-slack'));
    assert.equal(triggers.length, 1);
    assert.match(JSON.stringify(triggers[0]?.payload?.custom_details), /unattributed/);
  });

  it('someone else clicking gets a refusal, is audited, and changes nothing', async () => {
    world.engineer('ivan', 'allow');
    const mallory = world.engineer('mallory', 'allow');
    const { channel, dm, verificationId } = await ask(bot, 'ivan');
    for (const action of [ACTION_YES, ACTION_NO]) await click(mallory, action, channel, dm.ts);
    const refusal = await world.slack.waitForResponse((r) => JSON.stringify(r).includes('Only the engineer'));
    assert.ok(refusal);
    await sleep(300);
    const v = await bot.secbot.store.getVerification(verificationId);
    assert.equal(v?.state, 'OPEN');
    assert.equal(world.duo.pushes().filter((p) => p.pushinfo?.secbot === verificationId).length, 0);
  });

  it('a double click sends one Duo push', async () => {
    world.duo.user('judy@example.com', 'allow', { answerAfterPolls: 2 });
    world.engineer('judy', 'allow');
    const { user, channel, dm, verificationId } = await ask(bot, 'judy');
    await Promise.all([click(user, ACTION_YES, channel, dm.ts), click(user, ACTION_YES, channel, dm.ts)]);
    await bot.waitForState(verificationId, 'CONFIRMED');
    assert.equal(world.duo.pushes().filter((p) => p.pushinfo?.secbot === verificationId).length, 1);
  });

  it('a restart while DUO_PENDING resumes polling the same push', async () => {
    const first = await world.startSecbot({ SECBOT_DUO_TIMEOUT: '20s' });
    world.engineer('karl', 'allow');
    // Approved at the 6th poll: the first process makes one or two, the restarted one the rest.
    world.duo.user('karl@example.com', 'allow', { answerAfterPolls: 6 });
    const { user, channel, dm, verificationId } = await ask(first, 'karl');
    await click(user, ACTION_YES, channel, dm.ts);
    const pending = await first.waitForState(verificationId, 'DUO_PENDING');
    for (let i = 0; i < 50 && !(await first.secbot.store.getVerification(verificationId))?.duoTxid; i++)
      await sleep(100);
    await first.stop(); // the process goes away mid-push
    const second = await world.startSecbot({ ...first.env, SECBOT_DUO_TIMEOUT: '20s' });
    try {
      const v = await second.waitForState(verificationId, 'CONFIRMED', 15_000);
      assert.equal(v.duoTxid, (await second.secbot.store.getVerification(pending.id))?.duoTxid);
      assert.equal(
        world.duo.pushes().filter((p) => p.pushinfo?.secbot === verificationId).length,
        1,
        'no second push',
      );
    } finally {
      await second.stop();
    }
  });

  it('new calls join the open question: the DM is updated, not sent again, and a Yes must cover them', async () => {
    world.engineer('pat', 'allow');
    const { user, channel, dm, verificationId } = await ask(bot, 'pat');
    const posts = world.slack.callsTo('chat.postMessage').filter((c) => c.params.channel === channel).length;
    await bot.enqueue(notifyCall('pat'), notifyCall('pat', { eventName: 'CreateAccessKey' }));
    await bot.secbot.runOnce();
    assert.equal(
      world.slack.callsTo('chat.postMessage').filter((c) => c.params.channel === channel).length,
      posts,
    );
    const updated = await world.slack.waitForMessage(
      channel,
      (m) => m.ts === dm.ts && JSON.stringify(m.blocks).includes('these 3 AWS changes'),
    );
    assert.match(JSON.stringify(updated.blocks), /All calls/);
    // A Yes pressed on the first rendering (1 call) does not confirm 3.
    await world.slack.sendBlockAction({
      user,
      action_id: ACTION_YES,
      channel,
      message: { ts: dm.ts, blocks: dm.versions[0]?.blocks ?? [] },
    });
    await world.slack.waitForResponse((r) => JSON.stringify(r).includes('New calls joined'));
    assert.equal((await bot.secbot.store.getVerification(verificationId))?.state, 'OPEN');
    await click(user, ACTION_YES, channel, dm.ts);
    const v = await bot.waitForState(verificationId, 'CONFIRMED');
    assert.equal(v.callCount, 3);
  });

  it('delivers the DM through a 429 with Retry-After', async () => {
    world.engineer('leo', 'allow');
    world.slack.failNext('chat.postMessage', { status: 429, retryAfterSeconds: 1 });
    const { dm } = await ask(bot, 'leo');
    assert.ok(dm.ts);
    const posts = world.slack.callsTo('chat.postMessage').filter((c) => c.status === 429);
    assert.ok(posts.length >= 1, 'the 429 was seen');
  });

  it('retries a page PagerDuty refuses twice until it lands, with the same dedup_key', async () => {
    world.pagerduty.failNext({ status: 500, times: 1 });
    world.pagerduty.failNext({ status: 429, times: 1, retryAfterSeconds: 0 });
    const record = alertCall('mike');
    await bot.enqueue(record);
    await bot.secbot.runOnce();
    for (let i = 0; i < 40 && !world.pagerduty.dedupKeyOfCall(record.eventID); i++) {
      await sleep(500);
      await bot.secbot.runOnce();
    }
    const id = world.pagerduty.dedupKeyOfCall(record.eventID) ?? assert.fail('no page names the call');
    assert.equal(world.pagerduty.eventsFor(id).length, 1);
    const failed = world.pagerduty.requests.filter((r) => r.body.includes(id) && r.outcome !== 'accepted');
    assert.equal(failed.length, 2);
    assert.equal((await bot.secbot.store.getAlert(id))?.pageStatus, 'sent');
  });

  it('escapes CloudTrail fields: <!channel> and links reach Slack inert', async () => {
    world.engineer('nina', 'allow');
    const evil = '<!channel> *urgent* <https://evil.example|click here> <@U0STAFF> `x` & more';
    const { channel, dm } = await ask(bot, 'nina', {
      userAgent: evil,
      requestParameters: { userName: evil },
      sourceIPAddress: '<!here>',
    });
    const text = JSON.stringify(world.slack.message(channel, dm.ts));
    for (const raw of ['<!channel>', '<!here>', '<https://evil.example', '<@U0STAFF>']) {
      assert.ok(!text.includes(raw), `${raw} reached Slack unescaped`);
    }
    assert.ok(text.includes('&lt;!channel&gt;'), 'shown escaped');
    assert.ok(!/\*urgent\*(?![^`]*`)/.test(text) || text.includes('`'), 'formatting is inside a code span');
  });

  it('staff acknowledge and resolve an alert; PagerDuty follows; others are refused', async () => {
    const record = alertCall('oscar');
    await bot.enqueue(record);
    await bot.secbot.runOnce();
    const msg = await world.slack.waitForMessage(ALERT_CHANNEL, (m) =>
      JSON.stringify(m.blocks).includes(record.eventID),
    );
    const id = alertIdOfMessage(msg);
    const outsider = world.engineer('oscar', 'allow');
    await click(outsider, ACTION_ACKNOWLEDGE, ALERT_CHANNEL, msg.ts);
    await world.slack.waitForResponse((r) => JSON.stringify(r).includes('security team only'));
    assert.equal((await bot.secbot.store.getAlert(id))?.state, 'OPEN');
    await click(STAFF, ACTION_ACKNOWLEDGE, ALERT_CHANNEL, msg.ts);
    for (let i = 0; i < 150 && (await bot.secbot.store.getAlert(id))?.state !== 'ACKNOWLEDGED'; i++)
      await sleep(100);
    await click(STAFF, ACTION_RESOLVE, ALERT_CHANNEL, msg.ts);
    for (let i = 0; i < 150 && (await bot.secbot.store.getAlert(id))?.state !== 'RESOLVED'; i++)
      await sleep(100);
    assert.equal((await bot.secbot.store.getAlert(id))?.state, 'RESOLVED');
    for (let i = 0; i < 150 && world.pagerduty.eventsFor(id).length < 3; i++) await sleep(100);
    assert.deepEqual(
      world.pagerduty.eventsFor(id).map((e) => e.event_action),
      ['trigger', 'acknowledge', 'resolve'],
    );
    await world.slack.waitForMessage(
      ALERT_CHANNEL,
      (m) => m.ts === msg.ts && /resolved by <@U0STAFF>/.test(JSON.stringify(m.blocks)),
      15_000,
    );
  });
});
