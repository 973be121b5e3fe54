/**
 * Security staff in Slack, end to end over a real Socket Mode connection: `/secbot` and its
 * subcommands by staff and by everyone else, bad input, a silence that absorbs a call and expires,
 * the App Home (staff with 200 open items, and engineers), its buttons and its debounced refresh,
 * and staff by user-group membership.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import type { EcsRecord } from '../../audit/ecs.js';
import { STAFF_ONLY_MESSAGE } from '../../handlers/staff.js';
import { ACTION_HOME_ACKNOWLEDGE, ACTION_HOME_UNSILENCE } from '../../views/home.js';
import { ACTION_YES } from '../../views/question.js';
import { alertCall, notifyCall } from '../helpers/events.js';
import type { JsonObject } from '../helpers/slack-server.js';
import { openHome as openHomeAs, slash as slashAs } from '../helpers/staff-slack.js';
import { type RunningSecbot, STAFF, startWorld, type World } from '../helpers/world.js';

const GROUP = 'S0SECTEAM';
const GROUPIE = 'U0GROUPIE';
const OUTSIDER = 'U0OUTSIDER';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let world: World;
let bot: RunningSecbot;
before(async () => {
  world = await startWorld();
  world.slack.addUser({ id: GROUPIE, name: 'groupie', email: 'groupie@example.com' });
  world.slack.addUser({ id: OUTSIDER, name: 'outsider', email: 'outsider@example.com' });
  world.slack.addUserGroup(GROUP, [GROUPIE], 'security-team');
  bot = await world.startSecbot({ SECBOT_STAFF: `${STAFF},${GROUP}` }, { home: { debounceMs: 800 } });
});
after(async () => {
  await world?.stop();
});

const slash = (user: string, text: string) => slashAs(world, user, text);

/** Audit records so far (the trail is written asynchronously: wait until `where` finds one). */
async function audited(where: (r: EcsRecord) => boolean, timeoutMs = 3000): Promise<EcsRecord[]> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const text = await readFile(bot.env.SECBOT_AUDIT_FILE ?? '', 'utf8').catch(() => '');
    const records = text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as EcsRecord);
    const found = records.filter(where);
    if (found.length > 0 || Date.now() > until) return found;
    await sleep(50);
  }
}
const actionOf = (r: EcsRecord) => (r.event as { action?: string }).action;
const actorOf = (r: EcsRecord) => (r.user as { id?: string } | undefined)?.id;

const activeSilences = () => bot.secbot.store.listActiveSilences(new Date());

const openHome = (user: string) => openHomeAs(world, user);

describe('/secbot help', () => {
  it('anyone gets every subcommand with examples, ephemeral', async () => {
    for (const user of [OUTSIDER, STAFF]) {
      for (const text of ['help', '']) {
        const a = await slash(user, text);
        for (const sub of [
          'status',
          'silence <selector> <duration> <reason…>',
          'silences',
          'unsilence <silence id>',
        ])
          assert.ok(a.raw.includes(`/secbot ${sub}`), `help lists ${sub}`);
        assert.match(a.raw, /silence event:CreateUser 30m onboarding batch/, 'with examples');
      }
    }
    assert.match((await slash(OUTSIDER, 'help silence')).raw, /rule:&lt;id or glob&gt;|rule:<id or glob>/);
  });
});

describe('staff-only subcommands refuse everyone else, change nothing, and are audited', () => {
  for (const text of [
    'status',
    'silence event:CreateUser 30m onboarding',
    'silences',
    'unsilence s_01JDX3M4K8ZQ7W2R9T5YB6C1DE',
    'silence nonsense',
  ]) {
    it(`non-staff: /secbot ${text}`, async () => {
      const before = (await activeSilences()).length;
      const a = await slash(OUTSIDER, text);
      assert.equal(a.text, STAFF_ONLY_MESSAGE);
      assert.equal((await activeSilences()).length, before, 'nothing changed');
      const sub = text.split(' ')[0];
      const refused = await audited(
        (r) =>
          actionOf(r) === 'staff.refused' &&
          actorOf(r) === OUTSIDER &&
          String(r.message).includes(`/secbot ${sub}`),
      );
      assert.ok(refused.length > 0, 'the refusal is audited with its actor');
    });
  }
});

describe('/secbot status', () => {
  it('staff see queue, drain, verifications, alerts, silences, rules, integrations, mode and version', async () => {
    await bot.enqueue(alertCall('victor'));
    await bot.secbot.runOnce();
    const a = await slash(STAFF, 'status');
    for (const part of [
      /\*Queue:\* \d+ waiting · \d+ in flight · \d+ delayed/,
      /age of the oldest message unknown/,
      /\*Last drain:\*.*received 1, decided 1, no errors/,
      /\*Open verifications:\*/,
      /\*Open alerts:\* 1 unacknowledged, 0 acknowledged/,
      /\*Silences:\*/,
      /\*Rules:\* 3 loaded, no warnings/,
      /Slack: :white_check_mark: connected as @/,
      /Duo: :white_check_mark: Duo reachable, keys accepted/,
      /PagerDuty: :white_check_mark: routing key configured/,
      /\*Mode:\* live/,
      /version 0\.1\.0/,
    ])
      assert.match(a.raw, part);
    assert.ok((await audited((r) => actionOf(r) === 'status.viewed' && actorOf(r) === STAFF)).length > 0);
  });
});

describe('bad input gets the usage for that subcommand, ephemeral, and changes nothing', () => {
  const cases: [string, RegExp, RegExp][] = [
    ['frobnicate', /there is no subcommand `frobnicate`/, /\/secbot status/],
    ['help frobnicate', /there is no subcommand `frobnicate`/, /\/secbot silences/],
    ['silence', /a selector is required/, /silence &lt;selector&gt;|silence <selector>/],
    ['silence team:security 4h x', /`team:security` is not a selector/, /\/secbot silence/],
    ['silence rule:* 4h everything', /would silence every rule/, /\/secbot silence/],
    ['silence principal:arn:aws:*:*:* 4h everything', /would silence every principal/, /\/secbot silence/],
    ['silence account:12345 4h short id', /12-digit AWS account id/, /\/secbot silence/],
    ['silence user:alice 4h not a mention', /a user selector is a Slack mention/, /\/secbot silence/],
    ['silence event:CreateUser', /a duration is required/, /\/secbot silence/],
    ['silence event:CreateUser 4 hours please', /`4` is not a duration/, /\/secbot silence/],
    ['silence event:CreateUser 0m zero', /`0m` is not a duration/, /\/secbot silence/],
    ['silence event:CreateUser 31d too long', /at most 30 days/, /\/secbot silence/],
    ['silence event:CreateUser 4h', /a reason is required/, /\/secbot silence/],
    ['unsilence', /which silence/, /\/secbot unsilence/],
    ['unsilence 42', /`42` is not a silence id/, /\/secbot unsilence/],
    ['status now', /takes no arguments/, /\/secbot status/],
    ['silences all', /takes no arguments/, /\/secbot silences/],
  ];
  for (const [text, problem, usage] of cases) {
    it(`/secbot ${text}`, async () => {
      const before = (await activeSilences()).length;
      const a = await slash(STAFF, text);
      assert.match(a.raw, problem);
      assert.match(a.raw, usage);
      assert.match(a.raw, /Nothing was changed/);
      assert.equal((await activeSilences()).length, before);
    });
  }
  it('an unknown silence id is answered as such, and changes nothing', async () => {
    const a = await slash(STAFF, 'unsilence s_01JDX3M4K8ZQ7W2R9T5YB6C1DE');
    assert.match(a.raw, /no active silence `s_01JDX3M4K8ZQ7W2R9T5YB6C1DE`/);
  });
  it('bad input is audited with its actor', async () => {
    assert.ok((await audited((r) => actionOf(r) === 'command.invalid' && actorOf(r) === STAFF)).length > 0);
  });
});

describe('silences', () => {
  it('a silence absorbs a following call as log (audited, naming it), then expires', async () => {
    world.engineer('sam', 'allow');
    const created = await slash(STAFF, 'silence event:CreateUser 3s onboarding <@U0SAM|sam> & co');
    const id = /`(s_[0-9A-Z]{26})`/.exec(created.raw)?.[1];
    assert.ok(id, `the answer names the silence: ${created.raw}`);
    assert.match(created.raw, /for 3s, until <!date\^\d+\^/, 'and its expiry');
    const silence = (await activeSilences()).find((s) => s.id === id);
    assert.deepEqual(silence?.selector, { kind: 'event', value: 'CreateUser' });
    assert.equal(silence?.reason, 'onboarding @sam & co');
    assert.equal(silence?.createdBy, STAFF);

    const first = notifyCall('sam');
    await bot.enqueue(first);
    await bot.secbot.runOnce();
    assert.equal(await bot.secbot.store.findOpenVerification('U0SAM'), undefined, 'nobody was asked');
    const claim = await bot.secbot.store.getEventClaim(first.eventID);
    assert.equal(claim?.decision?.action, 'log');
    assert.deepEqual(claim?.decision?.silenceIds, [id]);
    const decided = await audited(
      (r) => (r.secbot as { silence_id?: string }).silence_id === id && actionOf(r) === 'CreateUser',
    );
    assert.equal(decided.length, 1, 'the call is in the audit trail, naming the silence');

    const listed = await slash(STAFF, 'silences');
    assert.ok(listed.raw.includes(id));
    assert.match(listed.raw, /`event:CreateUser` by <@U0STAFF>/);
    assert.match(listed.raw, /1 call absorbed/);
    assert.match(listed.raw, /onboarding @sam &amp; co/);

    await sleep(Math.max(0, Date.parse(silence?.expiresAt ?? '') - Date.now()) + 100);
    const second = notifyCall('sam');
    await bot.enqueue(second);
    await bot.secbot.runOnce();
    assert.ok(await bot.secbot.store.findOpenVerification('U0SAM'), 'after expiry sam is asked again');
    assert.equal((await bot.secbot.store.getEventClaim(second.eventID))?.decision?.action, 'notify');
    assert.ok(!(await slash(STAFF, 'silences')).raw.includes(id), 'gone from the list');
    assert.ok((await audited((r) => actionOf(r) === 'silence.created' && actorOf(r) === STAFF)).length > 0);
  });

  it('every selector kind is accepted, and unsilence ends one (audited)', async () => {
    const ids: string[] = [];
    for (const selector of [
      'rule:test-user-*',
      'event:CreateAccessKey',
      'principal:arn:aws:iam::*:user/ci-*',
      'user:<@U0SAM|sam>',
      'account:111122223333',
    ]) {
      const a = await slash(STAFF, `silence ${selector} 2d migration`);
      const id = /`(s_[0-9A-Z]{26})`/.exec(a.raw)?.[1];
      assert.ok(id, `${selector}: ${a.raw}`);
      ids.push(id);
    }
    const user = (await activeSilences()).find((s) => s.id === ids[3]);
    assert.deepEqual(user?.selector, { kind: 'user', value: 'U0SAM' });
    for (const id of ids) {
      const a = await slash(STAFF, `unsilence ${id.toLowerCase()}`);
      assert.match(a.raw, /is over/);
    }
    const active = (await activeSilences()).map((s) => s.id);
    for (const id of ids) assert.ok(!active.includes(id));
    const ended = await audited((r) => actionOf(r) === 'silence.deleted' && actorOf(r) === STAFF);
    assert.ok(ended.length >= ids.length);
  });
});

describe('staff by user-group membership', () => {
  it('a member of a SECBOT_STAFF user group is staff; others are not; membership is cached', async () => {
    const listsBefore = world.slack.callsTo('usergroups.users.list').length;
    assert.match((await slash(GROUPIE, 'status')).raw, /secbot status/);
    assert.match((await slash(GROUPIE, 'silences')).raw, /silence/);
    assert.equal((await slash(OUTSIDER, 'status')).text, STAFF_ONLY_MESSAGE);
    const lists = world.slack.callsTo('usergroups.users.list');
    assert.ok(lists.length >= 1, 'the group was resolved with usergroups.users.list');
    assert.ok(lists.every((c) => c.params.usergroup === GROUP));
    assert.ok(lists.length - listsBefore <= 1, 'the membership is cached, not listed on every command');
  });
});

describe('App Home', () => {
  it('an engineer sees what secbot is, why it asks, and their own questions — nothing of staff', async () => {
    world.engineer('tina', 'allow');
    await bot.enqueue(notifyCall('tina'));
    await bot.secbot.runOnce();
    const view = await openHome('U0TINA');
    const text = JSON.stringify(view.blocks);
    assert.match(text, /Why it asks/);
    assert.match(text, /Your recent questions/);
    assert.match(text, /`CreateUser`/);
    assert.match(text, /Waiting for your answer/);
    assert.ok(!text.includes(ACTION_HOME_ACKNOWLEDGE) && !text.includes('Open alerts'), 'no staff content');
  });

  it('staff see alerts, verifications, silences, figures and noisy rules; buttons act and refresh', async () => {
    world.engineer('uma', 'allow');
    await bot.enqueue(notifyCall('uma'), alertCall('uma'));
    await bot.secbot.runOnce();
    const dm = await world.slack.waitForMessage(world.slack.dmChannelId('U0UMA'), (m) =>
      JSON.stringify(m.blocks ?? []).includes(ACTION_YES),
    );
    const v = await bot.secbot.store.findOpenVerification('U0UMA');
    await world.slack.sendBlockAction({
      user: 'U0UMA',
      action_id: ACTION_YES,
      channel: dm.channel,
      message_ts: dm.ts,
    });
    await bot.waitForState(v?.id ?? '', 'CONFIRMED');
    await bot.secbot.runOnce(); // pages the alert
    await slash(STAFF, 'silence rule:test-logging-* 1h drill');

    const view = await openHome(STAFF);
    const blocks = view.blocks as JsonObject[];
    const text = JSON.stringify(blocks);
    assert.ok(blocks.length <= 100);
    assert.match(text, /Open alerts \(\d+\)/);
    assert.match(text, /Open verifications \(\d+\)/);
    assert.match(text, /Active silences \(1\)/);
    assert.match(text, /Today \(UTC\)/);
    assert.match(text, /Verifications: \d+ sent · [1-9]\d* confirmed/);
    assert.match(text, /Median time to confirm: ≈ \d+s/);
    assert.match(text, /Pages sent: [1-9]/);
    assert.match(text, /Test user created/, 'the noisiest rules by title');
    assert.match(text, /100% confirmed \(of 1 closed\)|% confirmed/);
    const order = ['Open alerts', 'Open verifications', 'Active silences', 'Figures', 'Noisiest rules'].map(
      (t) => text.indexOf(t),
    );
    assert.deepEqual(
      [...order].sort((a, b) => a - b),
      order,
      'most urgent first',
    );

    // Acknowledge from the Home.
    const openAlert = (await bot.secbot.store.listAlerts('OPEN'))[0];
    assert.ok(openAlert);

    // Someone who is not staff (a stale view, a removed member) presses it: refused, audited, nothing changes.
    const publishesBefore = world.slack.callsTo('views.publish').length;
    await world.slack.sendBlockAction({
      user: STAFF,
      action_id: ACTION_HOME_ACKNOWLEDGE,
      value: openAlert.id,
      home: true,
      overrides: { user: { id: OUTSIDER, username: 'outsider', name: 'outsider', team_id: 'T0SECBOT' } },
    });
    const refused = await audited(
      (r) =>
        actionOf(r) === 'staff.refused' &&
        actorOf(r) === OUTSIDER &&
        String(r.message).includes('home_alert'),
    );
    assert.equal(refused.length, 1);
    await world.slack.waitForCall(
      'views.publish',
      (c) =>
        world.slack.callsTo('views.publish').indexOf(c) >= publishesBefore && c.params.user_id === OUTSIDER,
    );
    assert.match(
      JSON.stringify(world.slack.homeView(OUTSIDER)?.blocks),
      /Your recent questions/,
      'shown their own Home',
    );
    assert.equal((await bot.secbot.store.getAlert(openAlert.id))?.state, 'OPEN');
    await world.slack.sendBlockAction({
      user: STAFF,
      action_id: ACTION_HOME_ACKNOWLEDGE,
      value: openAlert.id,
      home: true,
    });
    for (let i = 0; i < 40 && (await bot.secbot.store.getAlert(openAlert.id))?.state !== 'ACKNOWLEDGED'; i++)
      await sleep(50);
    assert.equal((await bot.secbot.store.getAlert(openAlert.id))?.acknowledgedBy, STAFF);
    assert.ok((await audited((r) => actionOf(r) === 'alert.acknowledge' && actorOf(r) === STAFF)).length > 0);

    // Unsilence from the Home.
    const silence = (await activeSilences())[0];
    assert.ok(silence);
    await world.slack.sendBlockAction({
      user: STAFF,
      action_id: ACTION_HOME_UNSILENCE,
      value: silence.id,
      home: true,
    });
    for (let i = 0; i < 40 && (await activeSilences()).length > 0; i++) await sleep(50);
    assert.equal((await activeSilences()).length, 0);
    const refreshed = await (async () => {
      for (let i = 0; i < 40; i++) {
        const t = JSON.stringify(world.slack.homeView(STAFF)?.blocks);
        if (t.includes('Active silences (0)')) return t;
        await sleep(50);
      }
      return JSON.stringify(world.slack.homeView(STAFF)?.blocks);
    })();
    assert.match(refreshed, /Active silences \(0\)/, 'the Home was republished after the click');
  });

  it('viewers are refreshed when what they see changes, debounced: many changes, one publish', async () => {
    await openHome(STAFF);
    await sleep(1000); // let any refresh the earlier clicks scheduled go by
    const before = world.slack.callsTo('views.publish').filter((c) => c.params.user_id === STAFF).length;
    for (const e of ['CreateGroup', 'DeleteGroup', 'CreateRole'])
      await slash(STAFF, `silence event:${e} 1h debounce test`);
    await sleep(1500);
    const publishes = world.slack
      .callsTo('views.publish')
      .filter((c) => c.params.user_id === STAFF)
      .slice(before);
    assert.equal(publishes.length, 1, 'three silences, one refresh');
    assert.match(JSON.stringify(world.slack.homeView(STAFF)?.blocks), /Active silences \(3\)/);
    for (const s of await activeSilences()) await bot.secbot.store.deleteSilence(s.id, STAFF);
  });

  it('with 200 open verifications, 200 alerts and 30 silences the staff Home stays within 100 blocks, most urgent first', async () => {
    // Socket Mode spreads envelopes over every connected app: leave this one alone on the line.
    await bot.stop();
    const big = await world.startSecbot({ SECBOT_STAFF: STAFF });
    try {
      const store = big.secbot.store;
      const now = new Date();
      await Promise.all(
        Array.from({ length: 200 }, async (_, i) => {
          const call = notifyCall(`load${i}`);
          await store.addNotifyCall(
            `U0LOAD${String(i).padStart(3, '0')}`,
            {
              eventId: call.eventID,
              eventName: '<!channel> CreateUser',
              eventSource: 'iam.amazonaws.com',
              eventTime: call.eventTime,
              ruleIds: ['test-user-created'],
              action: 'notify',
            },
            { now, deadline: new Date(now.getTime() + (i + 1) * 60_000) },
          );
          await store.createAlert({
            kind: 'call',
            eventId: `evt-${i}`,
            severity: i === 150 ? 'critical' : 'warning',
            summary: `<!here> alert ${i}`,
            reasons: ['because'],
            at: new Date(now.getTime() - i * 1000),
          });
        }),
      );
      for (let i = 0; i < 30; i++)
        await store.createSilence({
          selector: { kind: 'event', value: `Event${i}` },
          reason: `load ${i}`,
          createdBy: STAFF,
          expiresAt: new Date(now.getTime() + (i + 1) * 3_600_000),
        });
      const view = await openHome(STAFF);
      const blocks = view.blocks as JsonObject[];
      assert.equal(blocks.length, 100, 'uses the whole budget and no more');
      const text = JSON.stringify(blocks);
      assert.match(text, /Open alerts \(200\)/);
      assert.match(text, /Open verifications \(200\)/);
      assert.match(text, /Active silences \(30\)/);
      assert.match(text, /…and \d+ more alerts/);
      assert.match(text, /…and 150 more verifications/);
      assert.match(text, /…and 10 more silences/);
      assert.ok(!text.includes('<!here>') && !text.includes('<!channel>'), 'CloudTrail text is inert');
      const firstAlert = blocks.find((b) => String(b.block_id) === 'home_alert_0');
      assert.match(JSON.stringify(firstAlert), /CRITICAL/, 'the critical alert comes first');
      const firstRows = JSON.stringify(blocks.find((b) => String(b.block_id) === 'home_verifications_0'));
      assert.match(firstRows, /U0LOAD000/, 'nearest deadline first');
      assert.match(text, /Noisiest rules/);
    } finally {
      await big.stop();
    }
  });
});
