/**
 * Each inverse from real recorded requests (the shared corpus, skipped where ../shared is absent) and
 * from the bundled rules' own test records: the exact SDK command class and input each plan sends.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { StartEventDataStoreIngestionCommand, StartLoggingCommand } from '@aws-sdk/client-cloudtrail';
import { RevokeSecurityGroupIngressCommand } from '@aws-sdk/client-ec2';
import {
  AttachRolePolicyCommand,
  AttachUserPolicyCommand,
  DeleteGroupPolicyCommand,
  DeleteLoginProfileCommand,
  DeleteRolePolicyCommand,
  DeleteUserPolicyCommand,
  DetachGroupPolicyCommand,
  DetachRolePolicyCommand,
  DetachUserPolicyCommand,
  UpdateAccessKeyCommand,
} from '@aws-sdk/client-iam';
import { PutPublicAccessBlockCommand as PutBucketPublicAccessBlock } from '@aws-sdk/client-s3';
import { PutPublicAccessBlockCommand as PutAccountPublicAccessBlock } from '@aws-sdk/client-s3-control';
import type { CloudTrailRecord } from '../../cloudtrail/record.js';
import { SDK_COMMANDS } from '../../integrations/aws-remediation.js';
import { inverseOf, kindUndoing } from '../../remediation/inverses.js';
import { MAX_REMEDIATIONS, merge, remediationsFor } from '../../remediation/plans.js';
import { quarantineOf } from '../../remediation/quarantine.js';
import {
  commandKey,
  type PlanResult,
  type RemediationPlan,
  RULE_REMEDIATIONS,
  type RuleRemediationKind,
} from '../../remediation/types.js';
import { BUNDLED_RULES_DIR, loadRuleDirs } from '../../rules/loader.js';
import { completeRecord } from '../../rules/testing.js';

const corpusFile = new URL('../../../shared/corpus/public.jsonl', import.meta.url);
const present = existsSync(fileURLToPath(corpusFile));
const corpus: { label: { rule: string }; event: CloudTrailRecord }[] = present
  ? readFileSync(corpusFile, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l))
  : [];

/** One corpus record by its rule label, eventID and whether it failed; skips the test without ../shared. */
function recorded(
  t: TestContext,
  rule: string,
  eventID: string,
  opts: { failed?: boolean } = {},
): CloudTrailRecord | undefined {
  if (!present) {
    t.skip(`../shared not present: ${fileURLToPath(corpusFile)}`);
    return undefined;
  }
  const row = corpus.find(
    (r) => r.label.rule === rule && r.event.eventID === eventID && !!r.event.errorCode === !!opts.failed,
  );
  assert.ok(row, `corpus record ${rule} ${eventID} not found`);
  return row.event;
}

/** The plan, asserted to exist, with its SDK command class checked and the input it constructs. */
function expectPlan(
  r: PlanResult,
  Command: new (input: never) => { input: unknown },
  input: Record<string, unknown>,
  where?: { account: string; region: string },
): RemediationPlan {
  assert.ok(r.ok, `expected a plan, got: ${r.ok ? '' : r.reason}`);
  const plan = r.plan;
  const Sdk = SDK_COMMANDS[commandKey(plan) as keyof typeof SDK_COMMANDS];
  assert.equal(Sdk, Command, `${commandKey(plan)} maps to ${Command.name}`);
  assert.deepEqual(plan.input, input);
  assert.deepEqual(new (Sdk as unknown as new (i: unknown) => { input: unknown })(plan.input).input, input);
  if (where) assert.deepEqual({ account: plan.account, region: plan.region }, where);
  // Plans are data: they survive JSON (the store, the audit trail, shadow printing) unchanged.
  assert.deepEqual(JSON.parse(JSON.stringify(plan)), plan);
  return plan;
}

const ALL_ON = {
  BlockPublicAcls: true,
  IgnorePublicAcls: true,
  BlockPublicPolicy: true,
  RestrictPublicBuckets: true,
};

const ruleSet = await loadRuleDirs([BUNDLED_RULES_DIR]);
/** A bundled rule's own test record (completed as `secbot rules test` completes it). */
function ruleTestRecord(
  ruleId: string,
  testName: string,
  extra: Record<string, unknown> = {},
): CloudTrailRecord {
  const rule = ruleSet.rules.find((r) => r.id === ruleId);
  const t = rule?.tests.find((c) => c.name === testName);
  assert.ok(t, `${ruleId} test ${testName}`);
  return completeRecord({ ...t.record, ...extra });
}

describe('AuthorizeSecurityGroupIngress → RevokeSecurityGroupIngress', () => {
  it('revokes the same permissions when the response names no rule ids (corpus: SSH opened to the world)', (t) => {
    const r = recorded(
      t,
      'panther:AWS.EC2.ManualSecurityGroupChange',
      '42155429-7e8e-43b5-9b5e-6953f80d51d5',
    );
    if (!r) return;
    const plan = expectPlan(
      inverseOf('revoke_security_group_ingress', r),
      RevokeSecurityGroupIngressCommand,
      {
        GroupId: 'sg-0d921df5d84f7270a',
        IpPermissions: [{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }],
      },
      { account: '112233445566', region: 'us-east-1' },
    );
    assert.equal(
      plan.description,
      'ec2:RevokeSecurityGroupIngress on sg-0d921df5d84f7270a: tcp 22 from 0.0.0.0/0 in 112233445566/us-east-1',
    );
    assert.equal(plan.eventId, r.eventID);
  });

  it('turns ports logged as strings into numbers (corpus: 443 from 0.0.0.0/16)', (t) => {
    const r = recorded(
      t,
      'panther:AWS.EC2.ManualSecurityGroupChange',
      '504b492f-7832-406b-a4fd-45a13e48adc4',
    );
    if (!r) return;
    expectPlan(inverseOf('revoke_security_group_ingress', r), RevokeSecurityGroupIngressCommand, {
      GroupId: 'sg-04f0b44316f7d2471',
      IpPermissions: [
        { IpProtocol: 'tcp', FromPort: 443, ToPort: 443, IpRanges: [{ CidrIp: '0.0.0.0/16' }] },
      ],
    });
  });

  it('offers nothing for a call that failed (corpus: UnauthorizedOperation)', (t) => {
    const r = recorded(
      t,
      'panther:AWS.EC2.ManualSecurityGroupChange',
      '504b492f-7832-406b-a4fd-45a13e48adc4',
      {
        failed: true,
      },
    );
    if (!r) return;
    const res = inverseOf('revoke_security_group_ingress', r);
    assert.equal(res.ok, false);
    assert.match(res.ok ? '' : res.reason, /failed \(UnauthorizedOperation\)/);
  });

  it('revokes exactly the rule ids the response names (rule test record, with the securityGroupRuleSet AWS logs)', () => {
    const r = ruleTestRecord('ec2-security-group-opened-to-internet', 'port 22 to 0.0.0.0/0', {
      responseElements: {
        requestId: '2be70b99-4937-4a76-b7d9-390b6d0eda73',
        _return: true,
        securityGroupRuleSet: {
          items: [
            {
              groupOwnerId: '111122223333',
              groupId: 'sg-1',
              securityGroupRuleId: 'sgr-0123456789abcdef0',
              isEgress: false,
              ipProtocol: 'tcp',
              fromPort: 22,
              toPort: 22,
              cidrIpv4: '0.0.0.0/0',
            },
          ],
        },
      },
    });
    const plan = expectPlan(
      inverseOf('revoke_security_group_ingress', r),
      RevokeSecurityGroupIngressCommand,
      { GroupId: 'sg-1', SecurityGroupRuleIds: ['sgr-0123456789abcdef0'] },
      { account: '111122223333', region: 'us-east-1' },
    );
    assert.equal(
      plan.description,
      'ec2:RevokeSecurityGroupIngress on sg-1 rules sgr-0123456789abcdef0 in 111122223333/us-east-1',
    );
  });

  it("reads the SDK's wrapped request shape and IPv6 ranges (rule test records)", () => {
    expectPlan(
      inverseOf(
        'revoke_security_group_ingress',
        ruleTestRecord('ec2-security-group-opened-to-internet', "request logged in the SDK's wrapped shape"),
      ),
      RevokeSecurityGroupIngressCommand,
      {
        GroupId: 'sg-1',
        IpPermissions: [{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }],
      },
    );
    expectPlan(
      inverseOf(
        'revoke_security_group_ingress',
        ruleTestRecord('ec2-security-group-opened-to-internet', 'all traffic to ::/0'),
      ),
      RevokeSecurityGroupIngressCommand,
      { GroupId: 'sg-1', IpPermissions: [{ IpProtocol: '-1', Ipv6Ranges: [{ CidrIpv6: '::/0' }] }] },
    );
  });

  it('keeps source security groups and ignores descriptions', () => {
    const r = completeRecord({
      eventSource: 'ec2.amazonaws.com',
      eventName: 'AuthorizeSecurityGroupIngress',
      awsRegion: 'eu-west-1',
      requestParameters: {
        groupId: 'sg-app',
        ipPermissions: {
          items: [
            {
              ipProtocol: 'tcp',
              fromPort: 5432,
              toPort: 5432,
              groups: { items: [{ groupId: 'sg-bastion', userId: '111122223333', description: 'db' }] },
              ipRanges: {},
            },
          ],
        },
      },
    });
    expectPlan(inverseOf('revoke_security_group_ingress', r), RevokeSecurityGroupIngressCommand, {
      GroupId: 'sg-app',
      IpPermissions: [
        {
          IpProtocol: 'tcp',
          FromPort: 5432,
          ToPort: 5432,
          UserIdGroupPairs: [{ GroupId: 'sg-bastion', UserId: '111122223333' }],
        },
      ],
    });
  });

  it('has no inverse for ModifySecurityGroupRules (the previous rule is not in the record)', () => {
    const r = completeRecord({ eventSource: 'ec2.amazonaws.com', eventName: 'ModifySecurityGroupRules' });
    const res = inverseOf('revoke_security_group_ingress', r);
    assert.equal(res.ok, false);
  });
});

describe('IAM inverses', () => {
  it('CreateAccessKey → UpdateAccessKey Inactive for that key (corpus: Stratus admin user)', (t) => {
    const r = recorded(
      t,
      'stratus:aws.persistence.iam-create-admin-user',
      '8c282c0b-00d1-4369-95b7-cb50b6eee620',
    );
    if (!r) return;
    expectPlan(
      inverseOf('deactivate_access_key', r),
      UpdateAccessKeyCommand,
      { UserName: 'malicious-iam-user', AccessKeyId: 'AKIATFQR7NSCQLA2F4OD', Status: 'Inactive' },
      { account: '123837392027', region: 'us-east-1' },
    );
  });

  it('CreateAccessKey by the root user for itself has no inverse IAM can make; for another user it does (corpus)', (t) => {
    if (!present) return t.skip('../shared not present');
    const rows = corpus.filter(
      (c) =>
        c.label.rule === 'panther-scenario:compromised-root-creds' && c.event.eventName === 'CreateAccessKey',
    );
    const own = rows.find((c) => !c.event.requestParameters)?.event;
    const other = rows.find((c) => c.event.requestParameters)?.event;
    assert.ok(own && other);
    const res = inverseOf('deactivate_access_key', own);
    assert.equal(res.ok, false);
    assert.match(res.ok ? '' : res.reason, /root/);
    expectPlan(inverseOf('deactivate_access_key', other), UpdateAccessKeyCommand, {
      UserName: 'tracy_stone',
      AccessKeyId: 'AKIASWJJJ66ZZZII4IYY',
      Status: 'Inactive',
    });
  });

  it('CreateAccessKey (rule test record)', () => {
    expectPlan(
      inverseOf(
        'deactivate_access_key',
        ruleTestRecord('iam-access-key-created', 'key created for another user'),
      ),
      UpdateAccessKeyCommand,
      { UserName: 'bob', AccessKeyId: 'AKIAEXAMPLEBOB00001', Status: 'Inactive' },
    );
  });

  it('CreateLoginProfile → DeleteLoginProfile (corpus: Stratus login profile)', (t) => {
    const r = recorded(
      t,
      'stratus:aws.persistence.iam-create-user-login-profile',
      'f0d7bb15-75c8-4770-a500-92d1f71b948c',
    );
    if (!r) return;
    expectPlan(inverseOf('delete_login_profile', r), DeleteLoginProfileCommand, {
      UserName: 'stratus-red-team-login-profile-user',
    });
  });

  it('AttachUserPolicy → DetachUserPolicy of exactly that ARN (corpus)', (t) => {
    const r = recorded(
      t,
      'stratus:aws.persistence.iam-create-admin-user',
      'f4923a37-92d5-4dfd-9786-6caef2b5f33c',
    );
    if (!r) return;
    expectPlan(inverseOf('detach_policy', r), DetachUserPolicyCommand, {
      UserName: 'malicious-iam-user',
      PolicyArn: 'arn:aws:iam::aws:policy/AdministratorAccess',
    });
  });

  it('AttachRolePolicy → DetachRolePolicy (corpus)', (t) => {
    const r = recorded(
      t,
      'stratus:aws.discovery.ec2-enumerate-from-instance',
      'a5e60006-b436-4702-a61d-d9c7eb7df61f',
    );
    if (!r) return;
    expectPlan(inverseOf('detach_policy', r), DetachRolePolicyCommand, {
      RoleName: 'stratus-red-team-ec2-enumerate-role',
      PolicyArn: 'arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore',
    });
  });

  it('PutUserPolicy → DeleteUserPolicy of exactly that name (corpus)', (t) => {
    const r = recorded(
      t,
      'panther:AWS.CloudTrail.IAMCompromisedKeyQuarantine',
      '7ee6ba6e-1943-417a-a6a3-3a2b0292cdac',
    );
    if (!r) return;
    expectPlan(inverseOf('delete_inline_policy', r), DeleteUserPolicyCommand, {
      UserName: 'test-user',
      PolicyName: 'TestUserDenyAll',
    });
  });

  it('PutRolePolicy → DeleteRolePolicy (corpus)', (t) => {
    const r = recorded(
      t,
      'stratus:aws.discovery.ec2-download-user-data',
      '42ee083a-7081-4c13-a7b8-6553a966588a',
    );
    if (!r) return;
    expectPlan(inverseOf('delete_inline_policy', r), DeleteRolePolicyCommand, {
      RoleName: 'stratus-red-team-get-usr-data-role',
      PolicyName: 'inline-policy',
    });
  });

  it('group policies: AttachGroupPolicy → DetachGroupPolicy, PutGroupPolicy → DeleteGroupPolicy', () => {
    expectPlan(
      inverseOf(
        'detach_policy',
        completeRecord({
          eventName: 'AttachGroupPolicy',
          requestParameters: { groupName: 'devs', policyArn: 'arn:aws:iam::aws:policy/AdministratorAccess' },
        }),
      ),
      DetachGroupPolicyCommand,
      { GroupName: 'devs', PolicyArn: 'arn:aws:iam::aws:policy/AdministratorAccess' },
    );
    expectPlan(
      inverseOf(
        'delete_inline_policy',
        ruleTestRecord('iam-admin-policy-written', 'inline admin policy, compact JSON', {
          eventName: 'PutGroupPolicy',
          requestParameters: { groupName: 'devs', policyName: 'x', policyDocument: '{}' },
        }),
      ),
      DeleteGroupPolicyCommand,
      { GroupName: 'devs', PolicyName: 'x' },
    );
  });

  it('has no inverse for CreatePolicyVersion (the earlier default version is not in the record)', () => {
    const res = inverseOf(
      'delete_inline_policy',
      ruleTestRecord(
        'iam-admin-policy-written',
        'policy version with Action list and pretty JSON, Action first',
      ),
    );
    assert.equal(res.ok, false);
  });
});

describe('CloudTrail inverses', () => {
  it('StopLogging → StartLogging in the trail’s home region and account (corpus)', (t) => {
    const r = recorded(t, 'panther:AWS.CloudTrail.Stopped', '1');
    if (!r) return;
    const plan = expectPlan(
      inverseOf('start_logging', r),
      StartLoggingCommand,
      { Name: 'arn:aws:cloudtrail:us-west-2:123456789012:trail/example-trail' },
      { account: '123456789012', region: 'us-west-2' },
    );
    assert.equal(plan.label, 'Start logging on example-trail');
  });

  it('a StopLogging that failed has nothing to undo (corpus)', (t) => {
    const r = recorded(t, 'panther:AWS.CloudTrail.Stopped', '1', { failed: true });
    if (!r) return;
    assert.equal(inverseOf('start_logging', r).ok, false);
  });

  it('StopLogging by name (rule test record) and StopEventDataStoreIngestion', () => {
    expectPlan(
      inverseOf('start_logging', ruleTestRecord('cloudtrail-logging-stopped', 'trail stopped')),
      StartLoggingCommand,
      { Name: 'arn:aws:cloudtrail:us-east-1:111122223333:trail/org-trail' },
    );
    const store = 'arn:aws:cloudtrail:eu-west-1:111122223333:eventdatastore/abc-123';
    expectPlan(
      inverseOf(
        'start_logging',
        completeRecord({
          eventSource: 'cloudtrail.amazonaws.com',
          eventName: 'StopEventDataStoreIngestion',
          requestParameters: { eventDataStore: store },
        }),
      ),
      StartEventDataStoreIngestionCommand,
      { EventDataStore: store },
      { account: '111122223333', region: 'eu-west-1' },
    );
  });
});

describe('S3 inverses: restore the public access block', () => {
  it('DeleteBucketPublicAccessBlock → PutPublicAccessBlock, all four on, for the bucket owner only (corpus)', (t) => {
    const r = recorded(t, 'panther:AWS.S3.DeletePublicAccessBlock', '12345678-1234-1234-1234-111111111111');
    if (!r) return;
    expectPlan(
      inverseOf('restore_public_access_block', r),
      PutBucketPublicAccessBlock,
      {
        Bucket: 'corporate-documents',
        ExpectedBucketOwner: '111111111111',
        PublicAccessBlockConfiguration: ALL_ON,
      },
      { account: '111111111111', region: 'us-east-1' },
    );
  });

  it('a public PutBucketPolicy → the same (corpus: Stratus backdoor bucket policy)', (t) => {
    const r = recorded(
      t,
      'stratus:aws.exfiltration.s3-backdoor-bucket-policy',
      'd58cf935-0194-41d0-baa0-9efc030ce2e6',
    );
    if (!r) return;
    expectPlan(inverseOf('restore_public_access_block', r), PutBucketPublicAccessBlock, {
      Bucket: 'stratus-red-team-bdbp-lhfzvgcamn',
      ExpectedBucketOwner: '123837392027',
      PublicAccessBlockConfiguration: ALL_ON,
    });
  });

  it('a request without a bucket name has no inverse (corpus)', (t) => {
    const r = recorded(t, 'panther:AWS.S3.DeletePublicAccessBlock', '12345678-1234-1234-1234-123456789012');
    if (!r) return;
    const res = inverseOf('restore_public_access_block', r);
    assert.equal(res.ok, false);
    assert.match(res.ok ? '' : res.reason, /no bucket/);
  });

  it('a weakened block (rule test record) and the account-level block (S3 Control)', () => {
    expectPlan(
      inverseOf(
        'restore_public_access_block',
        ruleTestRecord('s3-public-access-block-removed', 'policy block turned off'),
      ),
      PutBucketPublicAccessBlock,
      { Bucket: 'b', ExpectedBucketOwner: '111122223333', PublicAccessBlockConfiguration: ALL_ON },
    );
    expectPlan(
      inverseOf(
        'restore_public_access_block',
        completeRecord({ eventSource: 's3.amazonaws.com', eventName: 'DeleteAccountPublicAccessBlock' }),
      ),
      PutAccountPublicAccessBlock,
      { AccountId: '111122223333', PublicAccessBlockConfiguration: ALL_ON },
    );
  });
});

describe('quarantine of the principal', () => {
  const DENY_ALL = 'arn:aws:iam::aws:policy/AWSDenyAll';

  it('an IAM user → AttachUserPolicy AWSDenyAll in the user’s account (corpus)', (t) => {
    const r = recorded(
      t,
      'stratus:aws.persistence.iam-create-admin-user',
      '8c282c0b-00d1-4369-95b7-cb50b6eee620',
    );
    if (!r) return;
    const plan = expectPlan(
      quarantineOf(r),
      AttachUserPolicyCommand,
      { UserName: 'bert-jan', PolicyArn: DENY_ALL },
      { account: '123837392027', region: 'us-east-1' },
    );
    assert.equal(plan.kind, 'quarantine');
    assert.equal(plan.label, 'Quarantine user bert-jan');
  });

  it('an assumed-role session → AttachRolePolicy on the role behind it (corpus)', (t) => {
    const r = recorded(
      t,
      'panther:AWS.EC2.ManualSecurityGroupChange',
      '42155429-7e8e-43b5-9b5e-6953f80d51d5',
    );
    if (!r) return;
    expectPlan(
      quarantineOf(r),
      AttachRolePolicyCommand,
      { RoleName: 'Operator', PolicyArn: DENY_ALL },
      {
        account: '112233445566',
        region: 'us-east-1',
      },
    );
  });

  it('not an IAM Identity Center role (corpus), the root user, or an AWS service', (t) => {
    if (present) {
      const sso = corpus.find((c) => c.label.rule === 'panther:AWS.SSM.MultipleSessions')?.event;
      assert.ok(sso);
      const res = quarantineOf(sso);
      assert.equal(res.ok, false);
      assert.match(res.ok ? '' : res.reason, /Identity Center/);
    } else t.diagnostic('corpus part skipped: ../shared not present');
    const root = quarantineOf(
      completeRecord({
        userIdentity: { type: 'Root', arn: 'arn:aws:iam::111122223333:root', accountId: '111122223333' },
      }),
    );
    assert.equal(root.ok, false);
    const service = quarantineOf(
      completeRecord({
        userIdentity: {
          type: 'AssumedRole',
          arn: 'arn:aws:sts::111122223333:assumed-role/AWSServiceRoleForConfig/x',
          accountId: '111122223333',
          sessionContext: {
            sessionIssuer: {
              type: 'Role',
              arn: 'arn:aws:iam::111122223333:role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig',
            },
          },
        },
      }),
    );
    assert.equal(service.ok, false);
  });

  it('a federated user → its IAM user; GovCloud → the aws-us-gov policy ARN', () => {
    expectPlan(
      quarantineOf(
        completeRecord({
          awsRegion: 'us-gov-west-1',
          userIdentity: {
            type: 'FederatedUser',
            arn: 'arn:aws-us-gov:sts::111122223333:federated-user/alice',
            accountId: '111122223333',
            sessionContext: {
              sessionIssuer: { type: 'IAMUser', arn: 'arn:aws-us-gov:iam::111122223333:user/ops/broker' },
            },
          },
        }),
      ),
      AttachUserPolicyCommand,
      { UserName: 'broker', PolicyArn: 'arn:aws-us-gov:iam::aws:policy/AWSDenyAll' },
    );
  });
});

describe("an alert's remediations", () => {
  it('the inverse each rule names, then quarantine; a failed call gives reasons instead', () => {
    const r = ruleTestRecord('iam-access-key-created', 'key created for another user');
    const { plans, gaps } = remediationsFor(r, ['deactivate_access_key']);
    assert.deepEqual(
      plans.map((p) => commandKey(p)),
      ['iam:UpdateAccessKey', 'iam:AttachUserPolicy'],
    );
    assert.deepEqual(gaps, []);
    const failed = remediationsFor({ ...r, errorCode: 'AccessDenied' }, ['deactivate_access_key'], {
      quarantine: false,
    });
    assert.deepEqual(failed.plans, []);
    assert.equal(failed.gaps[0]?.kind, 'deactivate_access_key');
  });

  it('merging several calls offers each remediation once, inverses first, at most MAX_REMEDIATIONS', () => {
    const calls = Array.from({ length: MAX_REMEDIATIONS + 3 }, (_, i) =>
      remediationsFor(
        completeRecord({
          eventName: 'AttachUserPolicy',
          requestParameters: { userName: `u${i}`, policyArn: 'arn:aws:iam::aws:policy/AdministratorAccess' },
        }),
        ['detach_policy'],
      ),
    );
    const merged = merge(calls);
    assert.equal(merged.plans.length, MAX_REMEDIATIONS);
    assert.ok(merged.plans.every((p) => p.kind === 'detach_policy'));
    // The same caller's quarantine repeats on every call but is offered (or listed) once.
    assert.equal(merge([calls[0]!, calls[1]!]).plans.filter((p) => p.kind === 'quarantine').length, 1);
    assert.match(merged.gaps.at(-1)?.reason ?? '', /more remediation/);
  });

  it('every bundled rule that names a remediation yields its plan (or says why) for each of its positive tests', () => {
    const named = ruleSet.rules.filter((r) => (r.remediations ?? []).length > 0);
    assert.ok(named.length >= 11, `${named.length} rules name a remediation`);
    let plans = 0;
    for (const rule of named) {
      for (const kind of rule.remediations ?? []) {
        for (const test of rule.tests.filter((c) => c.fires)) {
          const record = completeRecord(test.record);
          const res = inverseOf(kind, record);
          if (res.ok) {
            plans++;
            assert.equal(res.plan.kind, kind);
            assert.ok(SDK_COMMANDS[commandKey(res.plan) as keyof typeof SDK_COMMANDS], commandKey(res.plan));
          } else {
            // Only a call the kind does not undo, or one that failed, goes without its inverse.
            const undoes = (RULE_REMEDIATIONS[kind] as readonly string[]).includes(record.eventName);
            assert.ok(!undoes || record.errorCode, `${rule.id} '${test.name}': ${res.reason}`);
          }
        }
      }
    }
    assert.ok(plans >= 14, `${plans} plans from the rules' own tests`);
  });

  it('each kind names the calls it undoes, and kindUndoing finds the kind back', () => {
    for (const [kind, events] of Object.entries(RULE_REMEDIATIONS)) {
      for (const e of events) assert.equal(kindUndoing(e), kind as RuleRemediationKind);
    }
  });
});
