/**
 * The executor at the AWS SDK boundary (aws-sdk-client-mock; no EC2/IAM/CloudTrail emulator runs
 * here): the role it assumes, the credentials it uses, and the one command each plan sends.
 */
import assert from 'node:assert/strict';
import { after, beforeEach, describe, it } from 'node:test';
import { CloudTrailClient } from '@aws-sdk/client-cloudtrail';
import { EC2Client, RevokeSecurityGroupIngressCommand } from '@aws-sdk/client-ec2';
import { IAMClient } from '@aws-sdk/client-iam';
import { S3Client } from '@aws-sdk/client-s3';
import { S3ControlClient } from '@aws-sdk/client-s3-control';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import {
  createRemediationExecutor,
  SDK_COMMANDS,
  sessionNameFor,
  shadowRemediationExecutor,
} from '../../integrations/aws-remediation.js';
import { shadowMessenger } from '../../integrations/shadow.js';
import { silentLogger } from '../../logging/logger.js';
import {
  commandKey,
  REMEDIATION_COMMANDS,
  type RemediationPlan,
  type RemediationService,
} from '../../remediation/types.js';

const sts = mockClient(STSClient);
const clients = {
  ec2: mockClient(EC2Client),
  iam: mockClient(IAMClient),
  cloudtrail: mockClient(CloudTrailClient),
  s3: mockClient(S3Client),
  s3control: mockClient(S3ControlClient),
} satisfies Record<RemediationService, unknown>;
after(() => {
  sts.restore();
  for (const c of Object.values(clients)) c.restore();
});

const EXPIRATION = new Date('2030-01-01T00:00:00Z');
beforeEach(() => {
  sts.reset();
  for (const c of Object.values(clients)) c.reset();
  sts.on(AssumeRoleCommand).resolves({
    Credentials: {
      AccessKeyId: 'ASIAASSUMED',
      SecretAccessKey: 'secret',
      SessionToken: 'token',
      Expiration: EXPIRATION,
    },
  });
});

const revoke: RemediationPlan = {
  kind: 'revoke_security_group_ingress',
  service: 'ec2',
  command: 'RevokeSecurityGroupIngress',
  input: { GroupId: 'sg-1', SecurityGroupRuleIds: ['sgr-0123456789abcdef0'] },
  account: '111122223333',
  region: 'eu-west-1',
  label: 'Revoke ingress on sg-1',
  description: 'ec2:RevokeSecurityGroupIngress on sg-1 rules sgr-0123456789abcdef0 in 111122223333/eu-west-1',
};
const run = { alertId: 'a_v_01J0ABC', remediationId: 'r1', actor: 'U0STAFF' };
const executor = () =>
  createRemediationExecutor({ roleName: 'secbot-remediation', sts: new STSClient({ region: 'us-east-1' }) });

describe('the remediation executor', () => {
  it("assumes the remediation role in the plan's account, then sends the command once with those credentials", async () => {
    clients.ec2.on(RevokeSecurityGroupIngressCommand).resolves({
      Return: true,
      RevokedSecurityGroupRules: [{ SecurityGroupRuleId: 'sgr-0123456789abcdef0' }],
      $metadata: { requestId: 'req-1' },
    });
    const r = await executor().execute(revoke, run);
    assert.deepEqual(r, { ok: true, outcome: 'revoked sgr-0123456789abcdef0', requestId: 'req-1' });
    const assumed = sts.commandCalls(AssumeRoleCommand);
    assert.equal(assumed.length, 1);
    assert.deepEqual(assumed[0]?.args[0].input, {
      RoleArn: 'arn:aws:iam::111122223333:role/secbot-remediation',
      RoleSessionName: 'secbot-remediation-a_v_01J0ABC',
      DurationSeconds: 900,
    });
    const sent = clients.ec2.commandCalls(RevokeSecurityGroupIngressCommand);
    assert.equal(sent.length, 1);
    assert.deepEqual(sent[0]?.args[0].input, revoke.input);
    const client = sent[0]?.thisValue as EC2Client;
    assert.equal(await client.config.region(), 'eu-west-1');
    const creds = await client.config.credentials();
    assert.equal(creds.accessKeyId, 'ASIAASSUMED');
    assert.equal(creds.sessionToken, 'token');
  });

  it('sends every command a plan can name to the right client, as exactly that SDK command', async () => {
    assert.deepEqual(Object.keys(SDK_COMMANDS).sort(), Object.keys(REMEDIATION_COMMANDS).sort());
    for (const [key, Command] of Object.entries(SDK_COMMANDS)) {
      const [service, command] = key.split(':') as [RemediationService, string];
      const input = { Marker: key };
      for (const c of Object.values(clients)) c.reset();
      (clients[service] as ReturnType<typeof mockClient>).onAnyCommand().resolves({});
      const r = await executor().execute({ ...revoke, service, command, input }, run);
      assert.equal(r.ok, true, key);
      for (const [name, c] of Object.entries(clients)) {
        const calls = c.calls();
        assert.equal(calls.length, name === service ? 1 : 0, `${key}: ${name} got ${calls.length} call(s)`);
      }
      const sent = clients[service].calls()[0]?.args[0];
      assert.ok(sent instanceof Command, `${key} is sent as ${Command.name}`);
      assert.deepEqual(sent.input, input);
    }
  });

  it('names the role in the partition of the region (GovCloud)', async () => {
    clients.iam.onAnyCommand().resolves({});
    await executor().execute(
      {
        ...revoke,
        service: 'iam',
        command: 'DeleteLoginProfile',
        input: { UserName: 'x' },
        region: 'us-gov-west-1',
      },
      run,
    );
    assert.equal(
      sts.commandCalls(AssumeRoleCommand)[0]?.args[0].input.RoleArn,
      'arn:aws-us-gov:iam::111122223333:role/secbot-remediation',
    );
  });

  it('a role that cannot be assumed: nothing is sent, and it says so (sent: false)', async () => {
    sts.reset();
    sts.on(AssumeRoleCommand).rejects(Object.assign(new Error('not authorized'), { name: 'AccessDenied' }));
    const r = await executor().execute(revoke, run);
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.sent, false);
    assert.match(
      !r.ok ? r.error : '',
      /cannot assume arn:aws:iam::111122223333:role\/secbot-remediation: AccessDenied/,
    );
    assert.equal(clients.ec2.calls().length, 0);
  });

  it('a command AWS refuses is reported as sent and failed (never retried from Slack)', async () => {
    clients.ec2
      .on(RevokeSecurityGroupIngressCommand)
      .rejects(Object.assign(new Error('rule not found'), { name: 'InvalidSecurityGroupRuleId.NotFound' }));
    const r = await executor().execute(revoke, run);
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.sent, true);
    assert.match(!r.ok ? r.error : '', /InvalidSecurityGroupRuleId\.NotFound/);
    assert.equal(clients.ec2.commandCalls(RevokeSecurityGroupIngressCommand).length, 1);
  });

  it('an EC2 revoke that matched nothing is not a success', async () => {
    clients.ec2.on(RevokeSecurityGroupIngressCommand).resolves({ Return: false });
    const r = await executor().execute(revoke, run);
    assert.deepEqual(r, { ok: false, sent: true, error: 'EC2 revoked nothing', requestId: undefined });
  });

  it('refuses to touch its own role and unknown commands, without assuming anything', async () => {
    const self = await executor().execute(
      {
        ...revoke,
        kind: 'quarantine',
        service: 'iam',
        command: 'AttachRolePolicy',
        input: { RoleName: 'secbot-remediation', PolicyArn: 'arn:aws:iam::aws:policy/AWSDenyAll' },
      },
      run,
    );
    assert.equal(self.ok, false);
    const unknown = await executor().execute({ ...revoke, command: 'TerminateInstances' }, run);
    assert.equal(unknown.ok, false);
    assert.equal(sts.calls().length, 0);
    assert.equal(clients.iam.calls().length + clients.ec2.calls().length, 0);
  });

  it('keeps session names within what STS accepts', () => {
    const name = sessionNameFor(`a_${'x'.repeat(100)}:/weird`);
    assert.ok(name.length <= 64);
    assert.match(name, /^[\w+=,.@-]+$/);
  });
});

describe('the shadow executor', () => {
  it('prints the exact call (role, command, input, account, region) and calls nothing', async () => {
    const printed: string[] = [];
    const r = await shadowRemediationExecutor({ print: (l) => printed.push(l), why: 'test' }).execute(
      revoke,
      run,
    );
    assert.equal(r.ok && r.shadow, true);
    assert.equal(printed.length, 1);
    assert.ok(
      printed[0]?.includes(`${commandKey(revoke)} ${JSON.stringify(revoke.input)} in 111122223333/eu-west-1`),
    );
    assert.match(printed[0] ?? '', /arn:aws:iam::111122223333:role\/<SECBOT_REMEDIATION_ROLE>/);
    assert.equal(sts.calls().length, 0);
    assert.equal(clients.ec2.calls().length, 0);
  });

  it('in shadow mode (no Slack), an alert prints the exact call of each remediation it offers', async () => {
    const printed: string[] = [];
    await shadowMessenger(silentLogger(), (l) => printed.push(l)).postAlert({
      id: 'a_ev-1',
      kind: 'call',
      severity: 'critical',
      summary: 's',
      eventIds: ['ev-1'],
      ruleIds: [],
      reasons: [],
      page: true,
      state: 'OPEN',
      createdAt: '2026-11-20T10:00:00.000Z',
      updatedAt: '2026-11-20T10:00:00.000Z',
      pageStatus: 'pending',
      pageAttempts: 0,
      channelStatus: 'pending',
      history: [],
      remediations: [{ id: 'r1', plan: revoke, status: 'available', attempts: 0 }],
    });
    assert.ok(
      printed.includes(
        '[shadow] remediation r1 offered on a_ev-1: would call ec2:RevokeSecurityGroupIngress ' +
          '{"GroupId":"sg-1","SecurityGroupRuleIds":["sgr-0123456789abcdef0"]} in 111122223333/eu-west-1',
      ),
      printed.join('\n'),
    );
    assert.equal(clients.ec2.calls().length, 0);
  });
});
