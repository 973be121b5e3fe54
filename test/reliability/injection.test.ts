/**
 * Hostile Slack input and hostile CloudTrail content, end to end against the real app:
 * - buttons with forged, stale, foreign and garbage values: only the engineer asked answers their question;
 * - every staff button and `/secbot` subcommand pressed or typed by someone else: refused and audited;
 * - oversized command text: answered, nothing changes;
 * - mrkdwn in every CloudTrail field that reaches a message (DM, its updates, channel alerts, escalations,
 *   `/secbot status`, the App Home): nothing reaches Slack unescaped — the only `<…>` tokens are our own
 *   mentions of resolved users and `<!date^…>` — and CloudTrail's formatting characters only inside code spans.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { parseCommand, requiresStaff, SUBCOMMANDS, type SubcommandName } from '../../handlers/commands.js';
import { STAFF_ONLY_MESSAGE } from '../../handlers/staff.js';
import { STAFF_ACTIONS } from '../../listeners/middleware/staff-only.js';
import { ACTION_ACKNOWLEDGE, ACTION_RESOLVE } from '../../views/alert.js';
import { cloudtrail, inert, truncateMrkdwn } from '../../views/format.js';
import { ACTION_NO, ACTION_YES } from '../../views/question.js';
import { alertIdOfMessage, iamUser, makeRecord } from '../helpers/events.js';
import type { JsonObject } from '../helpers/slack-server.js';
import { ALERT_CHANNEL, type RunningSecbot, STAFF, startWorld, type World } from '../helpers/world.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Everything mrkdwn would act on, with markers to find afterwards. */
const EVIL =
  '*EVILBOLD* <!channel> _EVILITALIC_ <!here> ~EVILSTRIKE~ <!subteam^S0EVIL> *EVILBOLD* <@U0INJECTED> <@W0EVIL|boss> _EVILITALIC_ <#C0ALERTS> <https://evil.example|click here> ~EVILSTRIKE~ `tick` &amp; & > <';
const evil = (tag: string) => `${tag}:${EVIL}`;
/** Entities triple a value's length once escaped: lists of these overflow Slack's 3,000 characters. */
const DENSE = `${'&<>'.repeat(8)} *EVILBOLD* ${'<>&'.repeat(8)} _EVILITALIC_ `.repeat(4);

/** Rules for this suite: notify or alert on a marker in the user agent, with a reason that quotes fields. */
function injectionRules(): string {
  const dir = mkdtempSync(join(tmpdir(), 'secbot-injection-rules-'));
  const rule = (id: string, action: string, marker: string) =>
    [
      `title: Injection ${action}`,
      `id: ${id}`,
      'level: high',
      'logsource: { product: aws, service: cloudtrail }',
      'detection:',
      '  selection:',
      `    userAgent|contains: ${marker}`,
      '  condition: selection',
      'secbot:',
      `  action: ${action}`,
      '  runbook: Fixture.',
      `  reason: "{eventName} on {requestParameters.userName} by {userIdentity.arn} from {sourceIPAddress} in {awsRegion} ({eventSource}, {recipientAccountId}, {eventID})"`,
      '  tests:',
      `    - { name: fires, fires: true, record: { userAgent: ${marker} } }`,
      '    - { name: quiet, fires: false, record: { userAgent: other } }',
      '',
    ].join('\n');
  writeFileSync(join(dir, 'inject-notify.yml'), rule('inject-notify', 'notify', 'INJECT-NOTIFY'));
  writeFileSync(join(dir, 'inject-alert.yml'), rule('inject-alert', 'alert', 'INJECT-ALERT'));
  return dir;
}

/** A record with mrkdwn in every field a message can show; `keep` fields stay as given. */
function poisoned(kind: 'NOTIFY' | 'ALERT', keep: Record<string, unknown> = {}) {
  const long = evil('long').repeat(30); // past every truncation limit
  return makeRecord({
    eventID: `e-${randomUUID()}-${evil('id')}`,
    eventName: `Create${DENSE}${evil('name')}`,
    eventSource: `iam.amazonaws.com${evil('source')}`,
    awsRegion: evil('region'),
    sourceIPAddress: evil('ip'),
    userAgent: `INJECT-${kind} ${evil('agent')} ${long}`,
    recipientAccountId: evil('account'),
    requestParameters: {
      userName: `${DENSE}${evil('user')}`,
      groupName: evil('group'),
      bucketName: evil('bucket'),
      roleName: evil('role'),
      policyArn: evil('policy'),
      description: long,
    },
    userIdentity: {
      type: 'IAMUser',
      principalId: evil('principalId'),
      arn: `arn:aws:iam::111122223333:user/${evil('arn')}`,
      accountId: evil('accountId'),
      accessKeyId: evil('key'),
      userName: evil('userName'),
    },
    ...keep,
  });
}

/** Every mrkdwn text secbot sent to Slack: message texts, mrkdwn blocks, views, response_url posts. */
function mrkdwnTexts(world: World): { where: string; text: string }[] {
  const out: { where: string; text: string }[] = [];
  const walk = (v: unknown, where: string) => {
    if (Array.isArray(v)) {
      for (const [i, x] of v.entries()) walk(x, `${where}[${i}]`);
    } else if (v && typeof v === 'object') {
      const o = v as JsonObject;
      if (o.type === 'mrkdwn' && typeof o.text === 'string') out.push({ where, text: o.text });
      for (const [k, x] of Object.entries(o))
        if (k !== 'text' || o.type !== 'plain_text') walk(x, `${where}.${k}`);
    }
  };
  for (const c of world.slack.calls) {
    if (!['chat.postMessage', 'chat.update', 'chat.postEphemeral', 'views.publish'].includes(c.method))
      continue;
    if (typeof c.params.text === 'string') out.push({ where: `${c.method}.text`, text: c.params.text });
    walk(c.params.blocks, `${c.method}.blocks`);
    walk(c.params.view, `${c.method}.view`);
  }
  for (const r of world.slack.responses) {
    if (typeof r.body.text === 'string') out.push({ where: 'response_url.text', text: r.body.text });
    walk(r.body.blocks, 'response_url.blocks');
  }
  return out;
}

/** What in one mrkdwn text Slack would act on that secbot did not mean to send. */
function unsafeParts(text: string, ourMentions: Set<string>): string[] {
  const bad: string[] = [];
  for (const m of text.matchAll(/<[^>]*>?/g)) {
    const token = m[0];
    const user = /^<@([UW][A-Z0-9]+)>$/.exec(token)?.[1];
    if (user && ourMentions.has(user)) continue;
    if (/^<!date\^\d+\^[^|<>]*\|[^<>]*>$/.test(token)) continue;
    bad.push(token);
  }
  // Inside a code span: an odd number of backticks before it on its line, and a closing one after it
  // (Slack shows an unclosed backtick as a backtick, and formats what follows).
  for (const line of text.split('\n')) {
    for (const marker of ['*EVILBOLD*', '_EVILITALIC_', '~EVILSTRIKE~']) {
      for (let i = line.indexOf(marker); i >= 0; i = line.indexOf(marker, i + 1)) {
        const opened = (line.slice(0, i).match(/`/g) ?? []).length % 2 === 1;
        const closed = line.indexOf('`', i + marker.length) >= 0;
        if (!opened || !closed) bad.push(`${marker} outside a code span`);
      }
    }
  }
  return bad;
}

let world: World;
let bot: RunningSecbot;
/** Slack users secbot may legitimately mention (it mentions only users it resolved itself). */
const realUsers = new Set<string>([STAFF]);
const engineer = (name: string, duo: Parameters<World['engineer']>[1] = 'allow') => {
  const id = world.engineer(name, duo);
  realUsers.add(id);
  return id;
};

before(async () => {
  world = await startWorld();
  bot = await world.startSecbot({ SECBOT_RULES: injectionRules() }, { home: { debounceMs: 50 } });
});
after(async () => {
  await world?.stop();
});

/** A clean notify call for `name` (the marker is all the rule needs), and its DM. */
async function ask(name: string) {
  const user = engineer(name, 'allow');
  const record = makeRecord({ userAgent: 'INJECT-NOTIFY aws-cli', userIdentity: iamUser(name) });
  await bot.enqueue(record);
  await bot.secbot.runOnce();
  const channel = world.slack.dmChannelId(user);
  const dm = await world.slack.waitForMessage(channel, (m) =>
    JSON.stringify(m.blocks ?? []).includes(ACTION_YES),
  );
  const v = await bot.secbot.store.findOpenVerification(user);
  assert.ok(v);
  return { user, channel, dm, verificationId: v.id };
}

/** The audit records written so far (the trail is flushed after each drain; give it a moment). */
async function audit(where: (line: Record<string, unknown>) => boolean, min = 1) {
  for (let i = 0; i < 40; i++) {
    const lines = readFileSync(bot.env.SECBOT_AUDIT_FILE as string, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter(where);
    if (lines.length >= min) return lines;
    await sleep(100);
  }
  assert.fail('audit records not found');
}
const action = (name: string) => (l: Record<string, unknown>) =>
  (l.event as { action?: string } | undefined)?.action === name;

const ephemeralTo = (user: string, text: RegExp) =>
  world.slack.waitForResponse((r) => r.user === user && text.test(JSON.stringify(r.body)));

describe('buttons with forged, stale and garbage values', () => {
  it('someone else answering, directly or with a forged value, is refused, audited, and changes nothing', async () => {
    const ivy = await ask('ivy');
    const mallory = await ask('mallory');
    // Pressing Ivy's buttons; and pressing Mallory's own buttons carrying Ivy's verification id.
    for (const id of [ACTION_YES, ACTION_NO]) {
      await world.slack.sendBlockAction({
        user: mallory.user,
        action_id: id,
        channel: ivy.channel,
        message_ts: ivy.dm.ts,
      });
      await world.slack.sendBlockAction({
        user: mallory.user,
        action_id: id,
        channel: mallory.channel,
        message_ts: mallory.dm.ts,
        value: `${ivy.verificationId}:1`,
      });
    }
    await ephemeralTo(mallory.user, /Only the engineer this question was sent to can answer it/);
    const refusals = await audit(
      (l) => action('verification.answer_refused')(l) && (l.user as { id?: string })?.id === mallory.user,
      4,
    );
    assert.equal(refusals.length, 4);
    await sleep(300);
    assert.equal((await bot.secbot.store.getVerification(ivy.verificationId))?.state, 'OPEN');
    assert.equal(world.duo.pushes().filter((p) => p.pushinfo?.secbot === ivy.verificationId).length, 0);
  });

  it('stale, foreign and garbage verification ids are told apart from real ones; nothing changes', async () => {
    const judy = await ask('judy');
    const cases: [string, RegExp][] = [
      ['v_doesnotexist', /no longer exists/],
      ['v_01JDX3M4K8ZQ7W2R9T5YB6C1DE:1', /no longer exists/],
      ['a_x', /not a secbot question/],
      ['__proto__', /not a secbot question/],
      ['constructor', /not a secbot question/],
      ['', /not a secbot question/],
      [`v_${'A'.repeat(10_000)}`, /not a secbot question/],
      [`${judy.verificationId}:1:extra`, /not a secbot question/],
      [`${judy.verificationId}:99999999999`, /not a secbot question/],
      [`${judy.verificationId}<!channel>`, /not a secbot question/],
    ];
    for (const [value, answer] of cases) {
      for (const id of [ACTION_YES, ACTION_NO]) {
        const before = world.slack.responses.length;
        await world.slack.sendBlockAction({
          user: judy.user,
          action_id: id,
          channel: judy.channel,
          message_ts: judy.dm.ts,
          value,
        });
        await world.slack.waitForResponse(
          (r) =>
            world.slack.responses.indexOf(r) >= before &&
            r.user === judy.user &&
            answer.test(JSON.stringify(r.body)),
        );
      }
    }
    assert.equal((await bot.secbot.store.getVerification(judy.verificationId))?.state, 'OPEN');
    // The real button still works, once; pressed again (stale) it does nothing.
    await world.slack.sendBlockAction({
      user: judy.user,
      action_id: ACTION_YES,
      channel: judy.channel,
      message_ts: judy.dm.ts,
    });
    await bot.waitForState(judy.verificationId, 'CONFIRMED');
    await world.slack.sendBlockAction({
      user: judy.user,
      action_id: ACTION_NO,
      channel: judy.channel,
      message: { ts: judy.dm.ts, blocks: judy.dm.versions[0]?.blocks ?? [] },
    });
    await sleep(300);
    assert.equal((await bot.secbot.store.getVerification(judy.verificationId))?.state, 'CONFIRMED');
    assert.equal(world.duo.pushes().filter((p) => p.pushinfo?.secbot === judy.verificationId).length, 1);
  });
});

describe('staff-only buttons and commands', () => {
  it('every staff button pressed by someone else is refused and audited; the alert does not change', async () => {
    const outsider = engineer('oscar');
    const record = makeRecord({ userAgent: 'INJECT-ALERT x', userIdentity: iamUser('oscar') });
    await bot.enqueue(record);
    await bot.secbot.runOnce();
    const msg = await world.slack.waitForMessage(ALERT_CHANNEL, (m) =>
      JSON.stringify(m.blocks).includes(record.eventID),
    );
    const alertId = alertIdOfMessage(msg);
    for (const actionId of [ACTION_ACKNOWLEDGE, ACTION_RESOLVE])
      await world.slack.sendBlockAction({
        user: outsider,
        action_id: actionId,
        channel: ALERT_CHANNEL,
        message_ts: msg.ts,
      });
    // Buttons this message does not carry (App Home, remediation): pressed from a crafted message.
    for (const actionId of STAFF_ACTIONS) {
      await world.slack.sendBlockAction({
        user: outsider,
        action_id: actionId,
        channel: ALERT_CHANNEL,
        message: {
          ts: msg.ts,
          blocks: [
            {
              type: 'actions',
              block_id: 'forged',
              elements: [
                {
                  type: 'button',
                  action_id: actionId,
                  text: { type: 'plain_text', text: 'x' },
                  value: alertId,
                },
              ],
            },
          ],
        },
      });
    }
    await ephemeralTo(outsider, /security team only/);
    const refused = await audit(
      (l) => action('staff.refused')(l) && (l.user as { id?: string })?.id === outsider,
      STAFF_ACTIONS.size + 2,
    );
    assert.ok(refused.length >= STAFF_ACTIONS.size + 2);
    for (const a of STAFF_ACTIONS)
      assert.ok(
        refused.some((l) => String(l.message).includes(a)),
        `${a} refusal audited`,
      );
    await sleep(200);
    const alert = await bot.secbot.store.getAlert(alertId);
    assert.equal(alert?.state, 'OPEN');
    assert.deepEqual(
      world.pagerduty.eventsFor(alertId).map((e) => e.event_action),
      ['trigger'],
      'no acknowledge or resolve reached PagerDuty',
    );
  });

  it('staff pressing alert buttons with garbage values are told so; nothing breaks', async () => {
    const record = makeRecord({ userAgent: 'INJECT-ALERT y', userIdentity: iamUser('pia') });
    await bot.enqueue(record);
    await bot.secbot.runOnce();
    const msg = await world.slack.waitForMessage(ALERT_CHANNEL, (m) =>
      JSON.stringify(m.blocks).includes(record.eventID),
    );
    const alertId = alertIdOfMessage(msg);
    for (const value of [
      'a_doesnotexist',
      '__proto__',
      `a_${'x'.repeat(10_000)}`,
      'a_<!channel>',
      '',
      'v_x',
    ]) {
      const before = world.slack.responses.length;
      await world.slack.sendBlockAction({
        user: STAFF,
        action_id: ACTION_ACKNOWLEDGE,
        channel: ALERT_CHANNEL,
        message_ts: msg.ts,
        value,
      });
      await world.slack.waitForResponse(
        (r) =>
          world.slack.responses.indexOf(r) >= before &&
          r.user === STAFF &&
          /not a secbot alert|already|no longer|gone|not found/i.test(JSON.stringify(r.body)),
      );
    }
    assert.equal((await bot.secbot.store.getAlert(alertId))?.state, 'OPEN');
    await world.slack.sendBlockAction({
      user: STAFF,
      action_id: ACTION_ACKNOWLEDGE,
      channel: ALERT_CHANNEL,
      message_ts: msg.ts,
    });
    for (let i = 0; i < 30 && (await bot.secbot.store.getAlert(alertId))?.state !== 'ACKNOWLEDGED'; i++)
      await sleep(100);
    assert.equal((await bot.secbot.store.getAlert(alertId))?.state, 'ACKNOWLEDGED');
  });

  it('every staff subcommand typed by someone else is refused and audited', async () => {
    const outsider = engineer('quentin');
    const staffOnly = (Object.keys(SUBCOMMANDS) as SubcommandName[]).filter((s) => SUBCOMMANDS[s].staff);
    assert.ok(staffOnly.includes('silence') && staffOnly.includes('status'));
    for (const sub of staffOnly) {
      const text = `${sub === 'silence' ? 'silence user:<@U0QUENTIN> 1h testing' : sub} `;
      for (const variant of [text, text.toUpperCase(), `  ${text}\t`]) {
        const ack = await world.slack.sendSlashCommand({ command: '/secbot', user: outsider, text: variant });
        assert.match(String(ack.payload?.text), new RegExp(STAFF_ONLY_MESSAGE.slice(0, 30)), `${variant}`);
      }
    }
    await audit(
      (l) => action('staff.refused')(l) && (l.user as { id?: string })?.id === outsider,
      staffOnly.length * 3,
    );
    assert.deepEqual(await bot.secbot.store.listActiveSilences(new Date()), [], 'no silence was created');
  });

  it('no command text makes a staff subcommand run without the staff gate (property, 20,000 texts)', () => {
    const words = [...Object.keys(SUBCOMMANDS), 'STATUS', 'Silence', 'ѕilence', 'status\u200b', 'help'];
    const glue = [
      ' ',
      '\t',
      '\n',
      '\u00a0',
      '\u2003',
      '\u200b',
      '\ufeff',
      '',
      '<',
      '>',
      '<@U0X>',
      '"',
      "'",
      '*',
      '`',
      '|',
    ];
    const text = fc
      .array(fc.oneof(fc.constantFrom(...words), fc.constantFrom(...glue), fc.string({ maxLength: 4 })), {
        maxLength: 8,
      })
      .map((parts) => parts.join(''));
    fc.assert(
      fc.property(text, (t) => {
        const cmd = parseCommand(t);
        if (cmd.kind === 'help' || cmd.kind === 'invalid') return;
        assert.ok(SUBCOMMANDS[cmd.kind as SubcommandName]?.staff, `${cmd.kind} runs for anyone`);
        assert.equal(requiresStaff(t), true, `${JSON.stringify(t)} runs ${cmd.kind} without the staff gate`);
      }),
      { numRuns: 20_000, seed: 606 },
    );
  });

  it('oversized command text (40 KB) is answered and changes nothing, for staff and others', async () => {
    const huge = `silence user:<@U0QUENTIN> 1h ${EVIL} ${'x'.repeat(40_000)}`;
    const outsider = engineer('rita');
    const refused = await world.slack.sendSlashCommand({ command: '/secbot', user: outsider, text: huge });
    assert.match(String(refused.payload?.text), /security team only/);
    const staff = await world.slack.sendSlashCommand({ command: '/secbot', user: STAFF, text: huge });
    assert.match(JSON.stringify(staff.payload), /reason is \d+ characters/);
    const junk = await world.slack.sendSlashCommand({
      command: '/secbot',
      user: STAFF,
      text: `${EVIL}${'y'.repeat(40_000)}`,
    });
    assert.match(JSON.stringify(junk.payload), /there is no subcommand/);
    assert.deepEqual(await bot.secbot.store.listActiveSilences(new Date()), []);
  });
});

describe('mrkdwn in every CloudTrail field', () => {
  it('nothing CloudTrail wrote reaches Slack unescaped: DMs, updates, alerts, escalations, status, Home', async () => {
    // 1. A DM (the engineer resolves; every other field is hostile), then "No" → escalation alert + DM update.
    const sam = engineer('sam', 'allow');
    const dmRecord = poisoned('NOTIFY', {
      userIdentity: { ...iamUser('sam'), principalId: evil('principalId'), accessKeyId: evil('key') },
    });
    await bot.enqueue(dmRecord);
    await bot.secbot.runOnce();
    const channel = world.slack.dmChannelId(sam);
    const dm = await world.slack.waitForMessage(channel, (m) =>
      JSON.stringify(m.blocks ?? []).includes(ACTION_YES),
    );
    // More calls join: the "All calls" list, past its length limit.
    await bot.enqueue(
      ...Array.from({ length: 9 }, () =>
        poisoned('NOTIFY', { userIdentity: { ...iamUser('sam'), principalId: evil('p') } }),
      ),
    );
    await bot.secbot.runOnce();
    await world.slack.waitForMessage(channel, (m) => m.ts === dm.ts && m.versions.length > 1);
    const v = await bot.secbot.store.findOpenVerification(sam);
    assert.ok(v);
    await world.slack.sendBlockAction({ user: sam, action_id: ACTION_NO, channel, message_ts: dm.ts });
    await bot.waitForState(v.id, 'ESCALATED');
    // 2. An alert, with a hostile eventTime too; 3. an unattributed principal (escalates from notify).
    await bot.enqueue(poisoned('ALERT', { eventTime: evil('time') }), poisoned('ALERT'), poisoned('NOTIFY'));
    await bot.secbot.runOnce();
    await bot.secbot.runOnce();
    await world.slack.waitForMessage(ALERT_CHANNEL, (m) => JSON.stringify(m.blocks).includes(v.id));
    // 4. Staff surfaces that list alerts and verifications.
    await world.slack.sendSlashCommand({ command: '/secbot', user: STAFF, text: 'status' });
    await world.slack.waitForResponse(
      (r) => r.user === STAFF && JSON.stringify(r.body).includes('secbot status'),
    );
    await world.slack.sendEvent({ type: 'app_home_opened', user: STAFF, tab: 'home', channel: 'D0STAFF' });
    await world.slack.sendEvent({
      type: 'app_home_opened',
      user: sam,
      tab: 'home',
      channel: world.slack.dmChannelId(sam),
    });
    for (let i = 0; i < 50 && (!world.slack.homeView(STAFF) || !world.slack.homeView(sam)); i++)
      await sleep(100);

    const texts = mrkdwnTexts(world);
    const hostile = texts.filter((t) => t.text.includes('EVILBOLD') || t.text.includes('&lt;!channel'));
    assert.ok(hostile.length >= 10, `hostile values reached ${hostile.length} texts`);
    // (status shows counts only; the App Home lists alerts with their summaries)
    for (const where of ['chat.postMessage', 'chat.update', 'views.publish'])
      assert.ok(
        hostile.some((t) => t.where.startsWith(where)),
        `hostile values shown through ${where}`,
      );
    const problems = texts.flatMap((t) =>
      unsafeParts(t.text, realUsers).map((p) => `${t.where}: ${p}\n  in ${t.text.slice(0, 300)}`),
    );
    assert.deepEqual(problems, []);
    // The escaped forms are what Slack shows.
    assert.ok(hostile.some((t) => t.text.includes('&lt;!channel&gt;')));
    // Pages carry the raw values (PagerDuty is not mrkdwn) but are pages all the same.
    assert.ok(world.pagerduty.triggers().some((t) => JSON.stringify(t.payload).includes('<!channel>')));
  });
});

describe('format helpers', () => {
  it('a cut inside a code span closes it; half entities and half tokens are dropped', () => {
    const text = `a ${cloudtrail(`${'<'.repeat(50)} *EVILBOLD*`, 200)}`;
    for (let max = 5; max < text.length; max++) {
      const cut = truncateMrkdwn(text, max);
      assert.ok(cut.length <= max, `${cut.length} > ${max}`);
      assert.equal((cut.match(/`/g) ?? []).length % 2, 0, `unbalanced at ${max}: ${cut}`);
      assert.ok(!/&[a-z]{0,4}…`?$/.test(cut), `half entity at ${max}: ${cut}`);
    }
    assert.equal(truncateMrkdwn('x <!date^1^{time}|now> y', 12), 'x …');
  });

  it('inert keeps identifiers readable and formatting inert', () => {
    assert.equal(inert('channel_not_found'), 'channel_not_found');
    assert.equal(inert('SECBOT_ALERT_CHANNEL is not set'), 'SECBOT_ALERT_CHANNEL is not set');
    assert.equal(inert('_x_ *b* ~s~ `c` <!here>'), 'x b s c &lt;!here&gt;');
  });
});
