/**
 * Staged rules end to end, over Socket Mode against the local Slack and PagerDuty: a staged rule's calls
 * send nothing and appear in its figures; `/secbot promote` makes the next call ask the engineer;
 * `/secbot demote` reverses it; only staff may do either, and both are audited.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { EcsRecord } from '../../audit/ecs.js';
import { STAFF_ONLY_MESSAGE } from '../../handlers/staff.js';
import { ACTION_YES } from '../../views/question.js';
import { iamUser, makeRecord, notifyCall } from '../helpers/events.js';
import { FIXTURE_RULES } from '../helpers/pipeline.js';
import { slash } from '../helpers/staff-slack.js';
import { type RunningSecbot, STAFF, startWorld, type World } from '../helpers/world.js';

const STAGED_RULES = fileURLToPath(new URL('../fixtures/staged-rules/', import.meta.url));
const RULE = 'test-login-profile-staged';
const OUTSIDER = 'U0OUTSIDER';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let world: World;
let bot: RunningSecbot;
before(async () => {
  world = await startWorld();
  world.slack.addUser({ id: OUTSIDER, name: 'outsider', email: 'outsider@example.com' });
  for (const name of ['erin', 'frank', 'gina']) world.engineer(name, 'allow');
  bot = await world.startSecbot({ SECBOT_RULES: `${FIXTURE_RULES},${STAGED_RULES}` });
});
after(async () => {
  await world?.stop();
});

const loginProfile = (user: string) =>
  makeRecord({
    eventName: 'CreateLoginProfile',
    userIdentity: iamUser(user),
    requestParameters: { userName: `made-by-${user}` },
  });
const dms = (user: string) => world.slack.messages(world.slack.dmChannelId(user));

async function audited(where: (r: EcsRecord) => boolean, timeoutMs = 3000): Promise<EcsRecord[]> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const text = await readFile(bot.env.SECBOT_AUDIT_FILE ?? '', 'utf8').catch(() => '');
    const found = text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as EcsRecord)
      .filter(where);
    if (found.length > 0 || Date.now() > until) return found;
    await sleep(50);
  }
}
const actionOf = (r: EcsRecord) => (r.event as { action?: string }).action;
const actorOf = (r: EcsRecord) => (r.user as { id?: string } | undefined)?.id;

describe('staged rules', () => {
  it("a staged rule's calls produce no DM and no page, and appear in its figures", async () => {
    const calls = [loginProfile('erin'), loginProfile('frank'), loginProfile('erin')];
    await bot.enqueue(...calls);
    await bot.secbot.runOnce();
    for (const c of calls)
      assert.equal((await bot.secbot.store.getEventClaim(c.eventID))?.decision?.action, 'log');
    assert.equal(dms('U0ERIN').length + dms('U0FRANK').length, 0, 'nobody was asked');
    assert.equal(await bot.secbot.store.findOpenVerification('U0ERIN'), undefined);
    const decided = await audited((r) => (r.event as { id?: string }).id === calls[0]?.eventID);
    assert.deepEqual((decided[0]?.secbot as { staged?: unknown } | undefined)?.staged, [
      { id: RULE, action: 'notify', would_be: 'notify', would_page: false },
    ]);

    const rules = await slash(world, STAFF, 'rules');
    assert.match(rules.raw, /\*Staged rules\*/);
    assert.match(
      rules.raw,
      /`test-login-profile-staged`\) · notify · :ghost: staged \(by its file\)\\n {4}staged: 3 match\(es\) · would have asked 2 engineer\(s\) \(3 question\(s\)\) · would have alerted 0 \(0 paged\)/,
    );
    assert.match(rules.raw, /5 rules · 2 staged/);
    assert.match(
      rules.raw,
      /3 live rule\(s\) matched nothing in 7 days/,
      'quiet live rules are counted, not listed',
    );
    assert.ok((await audited((r) => actionOf(r) === 'rules.viewed' && actorOf(r) === STAFF)).length > 0);
  });

  it('a live rule and a staged alert rule on the same call: the DM goes out, nothing is paged, the alert is counted', async () => {
    const pages = world.pagerduty.events.length;
    await bot.enqueue(notifyCall('gina'));
    await bot.secbot.runOnce();
    await world.slack.waitForMessage(world.slack.dmChannelId('U0GINA'), (m) =>
      JSON.stringify(m.blocks ?? []).includes(ACTION_YES),
    );
    assert.equal(world.pagerduty.events.length, pages, 'no page');
    const rules = await slash(world, STAFF, 'rules');
    assert.match(
      rules.raw,
      /`test-user-created-staged-alert`\) · alert · :ghost: staged \(by its file\)\\n {4}staged: 1 match\(es\) · would have asked 0 engineer\(s\) \(0 question\(s\)\) · would have alerted 1 \(1 paged\)/,
    );
    assert.match(
      rules.raw,
      /`test-user-created`\) · notify · live\\n {4}live: 1 match\(es\) · asked 1 engineer\(s\) \(1 question\(s\)\) · no question closed yet/,
    );
  });

  it('only staff may list, promote or demote; everyone else is refused, audited, and nothing changes', async () => {
    for (const text of ['rules', `promote ${RULE}`, `demote ${RULE}`]) {
      const a = await slash(world, OUTSIDER, text);
      assert.equal(a.text, STAFF_ONLY_MESSAGE, text);
      const refused = await audited(
        (r) =>
          actionOf(r) === 'staff.refused' &&
          actorOf(r) === OUTSIDER &&
          String(r.message).includes(`/secbot ${text.split(' ')[0]}`),
      );
      assert.ok(refused.length > 0, `${text}: the refusal is audited`);
    }
    assert.deepEqual(await bot.secbot.store.listRuleStages(), []);
  });

  it('an unknown or missing rule id gets the usage and changes nothing', async () => {
    const unknown = await slash(world, STAFF, 'promote no-such-rule');
    assert.match(unknown.raw, /there is no rule `no-such-rule`/);
    assert.match(unknown.raw, /\/secbot promote &lt;rule id&gt;|\/secbot promote <rule id>/);
    assert.match(unknown.raw, /Nothing was changed/);
    const missing = await slash(world, STAFF, 'demote');
    assert.match(missing.raw, /which rule\?/);
    assert.match(missing.raw, /Nothing was changed/);
    assert.deepEqual(await bot.secbot.store.listRuleStages(), []);
    assert.ok(
      (await audited((r) => actionOf(r) === 'command.invalid' && String(r.message).includes('no-such-rule')))
        .length > 0,
    );
  });

  it('promote → the next call asks the engineer; demote → the next one does not again', async () => {
    const promoted = await slash(world, STAFF, `promote ${RULE}`);
    assert.match(promoted.raw, /is \*live\* from the next drain run/);
    const [override] = await bot.secbot.store.listRuleStages();
    assert.deepEqual([override?.ruleId, override?.stage, override?.by], [RULE, 'live', STAFF]);
    assert.ok((await audited((r) => actionOf(r) === 'rule.promoted' && actorOf(r) === STAFF)).length > 0);
    assert.match((await slash(world, STAFF, `promote ${RULE}`)).raw, /already live. Nothing was changed/);

    const call = loginProfile('erin');
    await bot.enqueue(call);
    await bot.secbot.runOnce();
    assert.equal((await bot.secbot.store.getEventClaim(call.eventID))?.decision?.action, 'notify');
    await world.slack.waitForMessage(world.slack.dmChannelId('U0ERIN'), (m) =>
      JSON.stringify(m.blocks ?? []).includes(ACTION_YES),
    );
    assert.ok(await bot.secbot.store.findOpenVerification('U0ERIN'), 'erin is asked');

    const demoted = await slash(world, STAFF, `demote ${RULE}`);
    assert.match(demoted.raw, /is \*staged\* from the next drain run/);
    assert.ok((await audited((r) => actionOf(r) === 'rule.demoted' && actorOf(r) === STAFF)).length > 0);
    const next = loginProfile('frank');
    await bot.enqueue(next);
    await bot.secbot.runOnce();
    assert.equal((await bot.secbot.store.getEventClaim(next.eventID))?.decision?.action, 'log');
    assert.equal(dms('U0FRANK').length, 0, 'frank is not asked');

    const rules = await slash(world, STAFF, 'rules');
    assert.match(
      rules.raw,
      /:ghost: staged \(set by <@U0STAFF> <!date\^\d+\^[^|]+\|[^>]+>; the file says shadow\)/,
    );
    assert.match(rules.raw, /staged: 4 match\(es\) · would have asked 2 engineer\(s\) \(4 question\(s\)\)/);
    assert.match(rules.raw, /live: 1 match\(es\) · asked 1 engineer\(s\) \(1 question\(s\)\)/);
  });
});
