import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decide, defaultDecideContext } from '../../handlers/decide.js';
import { completeRecord } from '../../rules/testing.js';
import { fakeRule, fakeRuleSet } from '../helpers/fake-rules.js';

const now = new Date('2026-06-01T12:00:00Z');
const at = (minutesAgo: number) => new Date(now.getTime() - minutesAgo * 60_000).toISOString();
const ctx = (policy = {}) => defaultDecideContext({ now, policy });

const rules = fakeRuleSet([
  fakeRule('iam-user-created', 'CreateUser', 'notify', {
    level: 'medium',
    reason: '{eventName} created {requestParameters.userName}',
  }),
  fakeRule('iam-group-created', 'CreateGroup', 'log', { level: 'low' }),
  fakeRule('iam-user-policy-put', 'PutUserPolicy', 'notify', {
    level: 'medium',
    reason: '{eventName} grants {requestParameters.policyDocument|grants} to {requestParameters.userName}',
  }),
  fakeRule('cloudtrail-stopped', 'StopLogging', 'alert', { level: 'high', onFailure: 'keep' }),
  fakeRule('iam-admin-policy-put', 'PutUserPolicy', 'alert', {
    level: 'high',
    when: (r) => String(r.requestParameters?.policyDocument).includes('"*"'),
  }),
]);

describe('decide', () => {
  it('takes the highest action among matching rules and explains each in words', () => {
    const record = completeRecord(
      {
        eventName: 'PutUserPolicy',
        eventTime: at(1),
        requestParameters: {
          userName: 'bob',
          policyDocument:
            '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"*"}]}',
        },
      },
      now,
    );
    const d = decide(record, rules, ctx());
    assert.equal(d.action, 'alert');
    assert.deepEqual(
      d.matches.map((m) => m.ruleId),
      ['iam-admin-policy-put', 'iam-user-policy-put'],
    );
    assert.ok(d.reasons.includes('PutUserPolicy grants iam:* on * to bob'), d.reasons.join(' | '));
    assert.match(d.summary, /^alice called iam:PutUserPolicy in 111122223333\/us-east-1/);
    assert.equal(d.page, true);
    assert.equal(d.severity, 'error');
  });

  it('logs a call no rule matches', () => {
    const d = decide(completeRecord({ eventName: 'ListUsers', eventTime: at(1) }, now), rules, ctx());
    assert.equal(d.action, 'log');
    assert.equal(d.matches.length, 0);
  });

  it('notifies the engineer for a notify rule by a human IAM user', () => {
    const d = decide(
      completeRecord(
        { eventName: 'CreateUser', eventTime: at(2), requestParameters: { userName: 'x' } },
        now,
      ),
      rules,
      ctx(),
    );
    assert.equal(d.action, 'notify');
    assert.deepEqual(d.reasons, ['CreateUser created x']);
    assert.deepEqual(d.adjustments, []);
  });

  it('drops AWS service principals to log', () => {
    const record = completeRecord(
      {
        eventName: 'StopLogging',
        eventTime: at(1),
        userIdentity: { type: 'AWSService', invokedBy: 'cloudtrail.amazonaws.com' },
      },
      now,
    );
    const d = decide(record, rules, ctx());
    assert.equal(d.action, 'log');
    assert.equal(d.adjustments[0]?.kind, 'aws_service');
  });

  it('drops automation principals from notify to log but keeps their alerts', () => {
    const ci = {
      type: 'AssumedRole',
      principalId: 'AROAEXAMPLE:gha-123',
      arn: 'arn:aws:sts::111122223333:assumed-role/ci-deploy/gha-123',
      accountId: '111122223333',
      sessionContext: {
        sessionIssuer: {
          type: 'Role',
          arn: 'arn:aws:iam::111122223333:role/ci-deploy',
          userName: 'ci-deploy',
        },
      },
    };
    const policy = { automation: ['arn:aws:iam::*:role/ci-*'] };
    const n = decide(
      completeRecord({ eventName: 'CreateUser', eventTime: at(1), userIdentity: ci }, now),
      rules,
      ctx(policy),
    );
    assert.equal(n.action, 'log');
    assert.equal(n.adjustments[0]?.kind, 'automation');
    const a = decide(
      completeRecord({ eventName: 'StopLogging', eventTime: at(1), userIdentity: ci }, now),
      rules,
      ctx(policy),
    );
    assert.equal(a.action, 'alert');
  });

  it('raises any matched call by the root account to a critical alert', () => {
    const root = {
      type: 'Root',
      principalId: '111122223333',
      arn: 'arn:aws:iam::111122223333:root',
      accountId: '111122223333',
    };
    const d = decide(
      completeRecord({ eventName: 'CreateGroup', eventTime: at(1), userIdentity: root }, now),
      rules,
      ctx(),
    );
    assert.equal(d.action, 'alert');
    assert.equal(d.severity, 'critical');
    assert.equal(d.adjustments[0]?.kind, 'root');
    const unmatched = decide(
      completeRecord({ eventName: 'ListBuckets', eventTime: at(1), userIdentity: root }, now),
      rules,
      ctx(),
    );
    assert.equal(unmatched.action, 'alert', 'root use alerts even when no rule names the call');
    const serviceEvent = completeRecord(
      { eventName: 'ListBuckets', eventTime: at(1), userIdentity: root, eventType: 'AwsServiceEvent' },
      now,
    );
    assert.equal(decide(serviceEvent, rules, ctx()).action, 'log');
  });

  it('raises notify to alert when no engineer can be named', () => {
    const anon = { type: 'Unknown', principalId: 'Anonymous' };
    const d = decide(
      completeRecord({ eventName: 'CreateUser', eventTime: at(1), userIdentity: anon }, now),
      rules,
      ctx(),
    );
    assert.equal(d.action, 'alert');
    assert.equal(d.adjustments[0]?.kind, 'unattributable');
  });

  it('drops failed calls to log unless the rule keeps them', () => {
    const failed = completeRecord(
      { eventName: 'CreateUser', eventTime: at(1), errorCode: 'AccessDenied' },
      now,
    );
    const d = decide(failed, rules, ctx());
    assert.equal(d.action, 'log');
    assert.equal(d.adjustments[0]?.kind, 'failed_call');
    assert.equal(decide(failed, rules, ctx({ failedCalls: 'keep' })).action, 'notify');
    const tamper = completeRecord(
      { eventName: 'StopLogging', eventTime: at(1), errorCode: 'AccessDenied' },
      now,
    );
    assert.equal(decide(tamper, rules, ctx()).action, 'alert');
  });

  it('sends a call older than the maximum age to the security channel without paging', () => {
    const d = decide(completeRecord({ eventName: 'CreateUser', eventTime: at(90) }, now), rules, ctx());
    assert.equal(d.action, 'alert');
    assert.equal(d.page, false);
    assert.equal(d.adjustments[0]?.kind, 'too_old');
    assert.match(d.adjustments[0]?.reason ?? '', /90 min old/);
    // Tolerates the corpus' "YYYY-MM-DD hh:mm:ss" form as UTC.
    const spaced = completeRecord({ eventName: 'CreateUser', eventTime: '2026-06-01 11:58:00' }, now);
    assert.equal(decide(spaced, rules, ctx()).action, 'notify');
  });

  it('lowers a silenced match to log and names the silence', () => {
    const silences = {
      match: ({ ruleIds }: { ruleIds: readonly string[] }) =>
        ruleIds.includes('iam-user-created') ? { id: 's_1', reason: 'onboarding week' } : undefined,
    };
    const d = decide(
      completeRecord({ eventName: 'CreateUser', eventTime: at(1) }, now),
      rules,
      defaultDecideContext({ now, silences }),
    );
    assert.equal(d.action, 'log');
    assert.equal(d.silence?.id, 's_1');
    assert.ok(d.reasons.some((r) => r.includes('silenced by s_1: onboarding week')));
  });
});
