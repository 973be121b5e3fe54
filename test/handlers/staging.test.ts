/** Staged rules in the decision engine: a staged match sends nothing but says what it would have done. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decisionToEcs } from '../../audit/ecs.js';
import { decide, defaultDecideContext } from '../../handlers/decide.js';
import { stageResolver } from '../../handlers/run-activity.js';
import { BUNDLED_RULES_DIR, checkRuleSources, loadRuleDirs } from '../../rules/loader.js';
import { completeRecord, runRuleTests } from '../../rules/testing.js';
import { fakeRule, fakeRuleSet } from '../helpers/fake-rules.js';

const now = new Date('2026-06-01T12:00:00Z');
const call = (eventName: string, extra: Record<string, unknown> = {}) =>
  completeRecord({ eventName, eventTime: new Date(now.getTime() - 60_000).toISOString(), ...extra }, now);

const rules = fakeRuleSet([
  fakeRule('user-created', 'CreateUser', 'notify', { level: 'medium' }),
  fakeRule('user-created-staged-alert', 'CreateUser', 'alert', { level: 'high', stage: 'shadow' }),
  fakeRule('key-created-staged', 'CreateAccessKey', 'notify', { level: 'medium', stage: 'shadow' }),
  fakeRule('group-created', 'CreateGroup', 'log', { level: 'low' }),
]);

describe('staged rules in decide()', () => {
  it('a call only a staged rule matches is logged; the decision says it would have asked', () => {
    const d = decide(call('CreateAccessKey'), rules, defaultDecideContext({ now }));
    assert.equal(d.action, 'log');
    assert.deepEqual(d.matches, []);
    assert.equal(d.page, false);
    assert.deepEqual(
      d.staged?.map((s) => [s.ruleId, s.action, s.wouldBe, s.wouldPage]),
      [['key-created-staged', 'notify', 'notify', false]],
    );
  });

  it('a live notify rule and a staged alert rule: the live action applies, the staged one is counted as an alert', () => {
    const d = decide(call('CreateUser'), rules, defaultDecideContext({ now }));
    assert.equal(d.action, 'notify');
    assert.deepEqual(
      d.matches.map((m) => m.ruleId),
      ['user-created'],
    );
    assert.deepEqual(
      d.staged?.map((s) => [s.ruleId, s.wouldBe, s.wouldPage]),
      [['user-created-staged-alert', 'alert', true]],
    );
  });

  it('the would-be action goes through the same policy: automation principals, silences, age', () => {
    const automation = decide(
      call('CreateAccessKey', {
        userIdentity: { type: 'IAMUser', arn: 'arn:aws:iam::111122223333:user/ci-bot', userName: 'ci-bot' },
      }),
      rules,
      defaultDecideContext({ now, policy: { automation: ['arn:aws:iam::*:user/ci-*'] } }),
    );
    assert.equal(automation.staged?.[0]?.wouldBe, 'log');
    const old = decide(
      call('CreateAccessKey', { eventTime: new Date(now.getTime() - 3 * 3_600_000).toISOString() }),
      rules,
      defaultDecideContext({ now }),
    );
    assert.equal(old.staged?.[0]?.wouldBe, 'alert');
    assert.equal(old.staged?.[0]?.wouldPage, false, 'a stale call goes to the channel, unpaged');
    const silenced = decide(
      call('CreateAccessKey'),
      rules,
      defaultDecideContext({
        now,
        silences: {
          match: ({ ruleIds }) =>
            ruleIds.includes('key-created-staged') ? { id: 's_1', reason: 'x' } : undefined,
        },
      }),
    );
    assert.equal(silenced.staged?.[0]?.wouldBe, 'log');
    assert.equal(silenced.silence, undefined, 'the live decision was not silenced: nothing matched live');
  });

  it('no staged match: no staged key (the hot path allocates nothing more)', () => {
    assert.equal('staged' in decide(call('CreateGroup'), rules, defaultDecideContext({ now })), false);
  });

  it('staff overrides win over the file: promoted acts, demoted is staged', () => {
    const stageOf = stageResolver([
      { ruleId: 'key-created-staged', stage: 'live', by: 'U0STAFF', at: now.toISOString() },
      { ruleId: 'user-created', stage: 'shadow', by: 'U0STAFF', at: now.toISOString() },
    ]);
    const promoted = decide(call('CreateAccessKey'), rules, defaultDecideContext({ now, stageOf }));
    assert.equal(promoted.action, 'notify');
    assert.equal(promoted.staged, undefined);
    const demoted = decide(call('CreateUser'), rules, defaultDecideContext({ now, stageOf }));
    assert.equal(demoted.action, 'log');
    assert.deepEqual(
      demoted.staged?.map((s) => [s.ruleId, s.wouldBe]),
      [
        ['user-created', 'notify'],
        ['user-created-staged-alert', 'alert'],
      ],
    );
  });

  it('the audit record shows the staged rules and what they would have done', () => {
    const ecs = decisionToEcs(decide(call('CreateUser'), rules, defaultDecideContext({ now })));
    assert.deepEqual((ecs.secbot as { staged?: unknown }).staged, [
      { id: 'user-created-staged-alert', action: 'alert', would_be: 'alert', would_page: true },
    ]);
  });
});

const ruleFile = (status: string, extra = '') => `title: Staged key rule
id: staged-key
status: ${status}
level: medium
logsource: { product: aws, service: cloudtrail }
detection:
  selection:
    eventSource: iam.amazonaws.com
    eventName: CreateAccessKey
  condition: selection
secbot:
  action: notify
${extra}  tests:
    - { name: key, fires: true, action: notify, record: { eventName: CreateAccessKey } }
    - { name: user, fires: false, record: { eventName: CreateUser } }
`;

describe("a rule file's stage", () => {
  it('Sigma status test / experimental is staged; stable is live; secbot.stage says so explicitly', () => {
    const stage = (status: string, extra = '') =>
      checkRuleSources([{ file: 'x.yml', text: ruleFile(status, extra) }]).ruleSet.rules[0]?.stage;
    assert.equal(stage('test'), 'shadow');
    assert.equal(stage('experimental'), 'shadow');
    assert.equal(stage('stable'), 'live');
    assert.equal(stage('test', '  stage: live\n'), 'live');
    assert.equal(stage('stable', '  stage: shadow\n'), 'shadow');
    const bad = checkRuleSources([{ file: 'x.yml', text: ruleFile('stable', '  stage: maybe\n') }]);
    assert.match(bad.issues.map((i) => i.message).join('\n'), /secbot.stage must be one of live, shadow/);
  });

  it("a staged rule's own tests judge it as if live (secbot rules test stays meaningful)", () => {
    const { ruleSet } = checkRuleSources([{ file: 'x.yml', text: ruleFile('experimental') }]);
    const report = runRuleTests(ruleSet);
    assert.deepEqual(report.failures, []);
    assert.equal(report.passed, 2);
  });

  it('every bundled rule is live by default', async () => {
    const staged = (await loadRuleDirs([BUNDLED_RULES_DIR])).rules.filter((r) => r.stage !== 'live');
    assert.deepEqual(
      staged.map((r) => r.id),
      [],
    );
  });
});
