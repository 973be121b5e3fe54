/**
 * One-click remediation end to end: the real app with the bundled rules against the local Slack
 * (Socket Mode), the signature-checking local Duo, PagerDuty, SQS and dynalite. No emulator of EC2,
 * IAM or STS runs here, so the AWS calls are checked at the SDK client boundary (aws-sdk-client-mock
 * replaces `send` on every STSClient / EC2Client / IAMClient in this process).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { CloudTrailClient } from '@aws-sdk/client-cloudtrail';
import { EC2Client, RevokeSecurityGroupIngressCommand } from '@aws-sdk/client-ec2';
import { IAMClient } from '@aws-sdk/client-iam';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import type { CloudTrailRecord } from '../../cloudtrail/record.js';
import { BUNDLED_RULES_DIR } from '../../rules/loader.js';
import type { AlertRemediation } from '../../store/types.js';
import { ACTION_NO } from '../../views/question.js';
import { ACTION_REMEDIATE } from '../../views/remediation.js';
import { alertCall, alertIdOfMessage, iamUser, makeRecord } from '../helpers/events.js';
import { ALERT_CHANNEL, type RunningSecbot, STAFF, startWorld, type World } from '../helpers/world.js';

const sts = mockClient(STSClient);
const ec2 = mockClient(EC2Client);
const iam = mockClient(IAMClient);
const cloudtrail = mockClient(CloudTrailClient);

let world: World;
let bot: RunningSecbot;
before(async () => {
  sts.on(AssumeRoleCommand).resolves({
    Credentials: {
      AccessKeyId: 'ASIAREMEDIATION',
      SecretAccessKey: 'secret',
      SessionToken: 'token',
      Expiration: new Date(Date.now() + 900_000),
    },
  });
  ec2.on(RevokeSecurityGroupIngressCommand).callsFake((input: { SecurityGroupRuleIds?: string[] }) => ({
    Return: true,
    RevokedSecurityGroupRules: (input.SecurityGroupRuleIds ?? []).map((id) => ({ SecurityGroupRuleId: id })),
    $metadata: { requestId: 'ec2-request-1' },
  }));
  iam.onAnyCommand().resolves({});
  cloudtrail.onAnyCommand().resolves({});
  world = await startWorld();
  world.duo.user('staff@example.com', 'allow');
  bot = await world.startSecbot({
    SECBOT_RULES: BUNDLED_RULES_DIR,
    SECBOT_REMEDIATION_ROLE: 'secbot-remediation',
    SECBOT_DUO_TIMEOUT: '4s',
  });
});
after(async () => {
  await world?.stop();
  for (const m of [sts, ec2, iam, cloudtrail]) m.restore();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An engineer opens a port on a security group; the response names the rule it created. */
function ingressBy(name: string, group: string, ruleId: string): CloudTrailRecord {
  return makeRecord({
    eventSource: 'ec2.amazonaws.com',
    eventName: 'AuthorizeSecurityGroupIngress',
    awsRegion: 'eu-west-1',
    userIdentity: iamUser(name),
    requestParameters: {
      groupId: group,
      ipPermissions: {
        items: [
          {
            ipProtocol: 'tcp',
            fromPort: 5432,
            toPort: 5432,
            ipRanges: { items: [{ cidrIp: '198.51.100.7/32' }] },
          },
        ],
      },
    },
    responseElements: {
      _return: true,
      securityGroupRuleSet: {
        items: [
          {
            groupOwnerId: '111122223333',
            groupId: group,
            securityGroupRuleId: ruleId,
            isEgress: false,
            ipProtocol: 'tcp',
            fromPort: 5432,
            toPort: 5432,
            cidrIpv4: '198.51.100.7/32',
          },
        ],
      },
    },
  });
}

/** The engineer answers No: the verification escalates and its alert is posted in the channel. */
async function escalated(name: string, record: CloudTrailRecord) {
  const user = world.engineer(name, 'allow');
  await bot.enqueue(record);
  await bot.secbot.runOnce();
  const dmChannel = world.slack.dmChannelId(user);
  const dm = await world.slack.waitForMessage(dmChannel, (m) =>
    JSON.stringify(m.blocks ?? []).includes(ACTION_NO),
  );
  const v = await bot.secbot.store.findOpenVerification(user);
  assert.ok(v);
  await world.slack.sendBlockAction({ user, action_id: ACTION_NO, channel: dmChannel, message_ts: dm.ts });
  await bot.waitForState(v.id, 'ESCALATED');
  await bot.secbot.runOnce(); // the sweep posts the alert
  const alertId = `a_${v.id}`;
  const message = await world.slack.waitForMessage(ALERT_CHANNEL, (m) =>
    JSON.stringify(m.blocks).includes(alertId),
  );
  return { user, alertId, message };
}

const press = (user: string, alertId: string, remediationId: string, ts: string) =>
  world.slack.sendBlockAction({
    user,
    action_id: ACTION_REMEDIATE,
    block_id: `remediation:${remediationId}`,
    value: `${alertId}:${remediationId}`,
    channel: ALERT_CHANNEL,
    message_ts: ts,
  });

async function remediation(alertId: string, id: string): Promise<AlertRemediation | undefined> {
  return (await bot.secbot.store.getAlert(alertId))?.remediations?.find((r) => r.id === id);
}

async function waitForRemediation(
  alertId: string,
  id: string,
  done: (r: AlertRemediation | undefined) => boolean,
  timeoutMs = 10_000,
) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const r = await remediation(alertId, id);
    if (done(r)) return r;
    if (Date.now() > until) throw new Error(`remediation ${alertId}/${id} is ${JSON.stringify(r)}`);
    await sleep(100);
  }
}

const revokes = (group: string) =>
  ec2.commandCalls(RevokeSecurityGroupIngressCommand).filter((c) => c.args[0].input.GroupId === group);

describe('one-click remediation', () => {
  it('No → escalation → staff press Revoke → Duo allow → one RevokeSecurityGroupIngress → the alert says who, what, when', async () => {
    const { user, alertId, message } = await escalated(
      'rita',
      ingressBy('rita', 'sg-0e2e0000000000a01', 'sgr-0e2e0000000000a01'),
    );
    const shown = JSON.stringify(message.blocks);
    assert.match(shown, new RegExp(ACTION_REMEDIATE));
    assert.ok(shown.includes(`${alertId}:r1`), 'a Revoke button for the call');
    assert.ok(shown.includes(`${alertId}:r2`), 'a Quarantine button for the engineer’s IAM user');
    assert.match(shown, /ec2:RevokeSecurityGroupIngress/);
    assert.match(
      shown,
      /in account `111122223333` \(`eu-west-1`\)/,
      'the confirm names the call and the account',
    );

    // The engineer whose call it was is not staff: refused, nothing changes.
    await press(user, alertId, 'r1', message.ts);
    await world.slack.waitForResponse(
      (r) => r.user === user && JSON.stringify(r.body).includes('security team only'),
    );
    assert.equal((await remediation(alertId, 'r1'))?.status, 'available');
    assert.equal(sts.commandCalls(AssumeRoleCommand).length, 0);

    await press(STAFF, alertId, 'r1', message.ts);
    const r1 = await waitForRemediation(alertId, 'r1', (r) => r?.status === 'done');
    assert.equal(r1?.by, STAFF);
    assert.ok(r1?.finishedAt);
    assert.equal(r1?.outcome, 'revoked sgr-0e2e0000000000a01');

    const sent = revokes('sg-0e2e0000000000a01');
    assert.equal(sent.length, 1, 'exactly one revoke');
    assert.deepEqual(sent[0]?.args[0].input, {
      GroupId: 'sg-0e2e0000000000a01',
      SecurityGroupRuleIds: ['sgr-0e2e0000000000a01'],
    });
    const assumed = sts.commandCalls(AssumeRoleCommand).at(-1)?.args[0].input;
    assert.equal(assumed?.RoleArn, 'arn:aws:iam::111122223333:role/secbot-remediation');
    assert.equal(assumed?.RoleSessionName, `secbot-remediation-${alertId}`.slice(0, 64));
    const push = world.duo.pushes().find((p) => p.pushinfo?.secbot === alertId);
    assert.equal(push?.params.username, 'staff@example.com');
    assert.equal(push?.pushinfo?.remediation, 'ec2:RevokeSecurityGroupIngress');

    const updated = await world.slack.waitForMessage(
      ALERT_CHANNEL,
      (m) => m.ts === message.ts && JSON.stringify(m.blocks).includes('Done'),
    );
    const text = JSON.stringify(updated.blocks);
    assert.match(text, /\*Done\* by <@U0STAFF> <!date\^\d+\^/, 'who and when');
    assert.match(text, /revoked sgr-0e2e0000000000a01/, 'what');
    assert.ok(!text.includes(`${alertId}:r1`), 'no Revoke button once done');
    await world.slack.waitForResponse(
      (r) => r.user === STAFF && JSON.stringify(r.body).includes('Done: ec2:RevokeSecurityGroupIngress'),
    );

    // Every attempt is in the audit trail, with the actor.
    const auditFile = bot.env.SECBOT_AUDIT_FILE ?? '';
    let lines: string[] = [];
    for (let i = 0; i < 50 && !lines.some((l) => l.includes('remediation.executed')); i++) {
      await sleep(100);
      lines = readFileSync(auditFile, 'utf8').split('\n');
    }
    const executed = lines
      .map((l) => (l ? JSON.parse(l) : {}))
      .find((r) => r.event?.action === 'remediation.executed');
    assert.equal(executed?.user?.id, STAFF);
    assert.equal(executed?.secbot?.call, 'ec2:RevokeSecurityGroupIngress');
    assert.ok(
      lines.some((l) => l.includes('"staff.refused"') && l.includes(user)),
      'the refusal is audited',
    );
  });

  it('a press with Duo denied calls nothing and leaves the remediation available', async () => {
    const { alertId, message } = await escalated(
      'sam',
      ingressBy('sam', 'sg-0e2e0000000000b01', 'sgr-0e2e0000000000b01'),
    );
    const before = { sts: sts.calls().length, iam: iam.calls().length, ec2: ec2.calls().length };
    world.duo.user('staff@example.com', 'deny');
    try {
      await press(STAFF, alertId, 'r2', message.ts); // quarantine of sam
      await world.slack.waitForResponse(
        (r) => r.user === STAFF && JSON.stringify(r.body).includes('Duo did not confirm you'),
      );
      const r2 = await waitForRemediation(alertId, 'r2', (r) => r?.status === 'available' && !!r.lastAttempt);
      assert.match(r2?.lastAttempt?.result ?? '', /Duo/);
      assert.deepEqual({ sts: sts.calls().length, iam: iam.calls().length, ec2: ec2.calls().length }, before);
    } finally {
      world.duo.user('staff@example.com', 'allow');
    }
  });

  it('a double press runs it once: one Duo push, one call', async () => {
    const { alertId, message } = await escalated(
      'tina',
      ingressBy('tina', 'sg-0e2e0000000000c01', 'sgr-0e2e0000000000c01'),
    );
    world.duo.user('staff@example.com', 'allow', { answerAfterPolls: 2 });
    await Promise.all([press(STAFF, alertId, 'r1', message.ts), press(STAFF, alertId, 'r1', message.ts)]);
    await waitForRemediation(alertId, 'r1', (r) => r?.status === 'done');
    await sleep(300);
    assert.equal(revokes('sg-0e2e0000000000c01').length, 1);
    assert.equal(world.duo.pushes().filter((p) => p.pushinfo?.secbot === alertId).length, 1);
    assert.equal((await remediation(alertId, 'r1'))?.attempts, 1);
  });

  it('an alert decided in the drain offers its rule’s inverse too (StopLogging → StartLogging)', async () => {
    const record = { ...alertCall('uma'), requestParameters: { name: 'org-trail' } };
    await bot.enqueue(record);
    await bot.secbot.runOnce();
    // Its alert is its burst's (handlers/alert-bursts.ts): found by the call it names.
    const msg = await world.slack.waitForMessage(ALERT_CHANNEL, (m) =>
      JSON.stringify(m.blocks).includes(record.eventID),
    );
    const id = alertIdOfMessage(msg);
    const a = await bot.secbot.store.getAlert(id);
    assert.deepEqual(
      a?.remediations?.map((r) => `${r.plan.service}:${r.plan.command}`),
      ['cloudtrail:StartLogging', 'iam:AttachUserPolicy'],
    );
    assert.ok(JSON.stringify(msg.blocks).includes(`${id}:${a?.remediations?.[0]?.id}`));
  });
});
