/**
 * The collector's heartbeat: a scheduled rule in each account whose event takes the CloudTrail events'
 * path (hub bus or SNS topic), and which the hub rule and secbot's decoder both accept.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { decodeMessage } from '../../cloudtrail/decode.js';
import {
  HEARTBEAT_RULE_NAME,
  HEARTBEAT_SOURCE,
  scheduledHeartbeatEvent,
} from '../../cloudtrail/heartbeat.js';
import { matchesPattern } from '../../rules/eventbridge.js';
import { blocks, loadModule, REPO, ref } from './hcl.js';

const collector = await loadModule('terraform/modules/collector');

describe('the heartbeat', () => {
  it('is a scheduled rule every 5 minutes named …-heartbeat, on by default', () => {
    const rule = collector.resource('aws_cloudwatch_event_rule', 'heartbeat');
    assert.ok(rule);
    assert.equal(rule.schedule_expression, ref('var.heartbeat_schedule'));
    assert.equal(collector.variable('heartbeat_schedule')?.default, 'rate(5 minutes)');
    assert.equal(collector.variable('heartbeat')?.default, true);
    assert.equal(rule.name, `${ref('var.name')}-heartbeat`);
    assert.ok(HEARTBEAT_RULE_NAME.test(`${String(collector.variable('name')?.default)}-heartbeat`));
    assert.equal(rule.event_pattern, undefined, 'a schedule, not a pattern');
  });

  it('goes where the CloudTrail events go: the hub bus (with the put-events role) or the SNS topic', () => {
    const bus = collector.resource('aws_cloudwatch_event_target', 'heartbeat_bus');
    assert.equal(bus?.arn, ref('var.hub_event_bus_arn'));
    assert.equal(bus?.role_arn, ref('aws_iam_role.put_events[0].arn'));
    assert.equal(bus?.input_transformer, undefined, 'an event bus target forwards the event as it is');
    const topic = collector.resource('aws_cloudwatch_event_target', 'heartbeat_topic');
    assert.equal(topic?.arn, ref('aws_sns_topic.cloudtrail[0].arn'));
    // The topic policy lets the heartbeat rule publish too.
    const policy = collector.data('aws_iam_policy_document', 'topic');
    const publish = blocks(policy, 'statement').find((s) => s.sid === 'RulesPublish');
    assert.match(
      String(blocks(publish, 'condition')[0]?.values),
      /aws_cloudwatch_event_rule\.heartbeat\[\*\]\.arn/,
    );
  });

  it('is delivered by the hub rule and decoded by secbot as a heartbeat of the sending account', () => {
    const bus = readFileSync(join(REPO, 'terraform/modules/hub/bus.tf'), 'utf8');
    assert.match(
      bus,
      /event_pattern = jsonencode\(\{ source = \[\{ prefix = "aws\." \}, "secbot\.heartbeat"\] \}\)/,
    );
    const hubPattern = { source: [{ prefix: 'aws.' }, HEARTBEAT_SOURCE] };
    const event = scheduledHeartbeatEvent({
      account: '444455556666',
      time: new Date(),
      ruleName: 'secbot-heartbeat',
    });
    assert.ok(matchesPattern(hubPattern, event));
    const decoded = decodeMessage(JSON.stringify(event));
    assert.ok(decoded.ok);
    assert.equal(decoded.heartbeats?.[0]?.account, '444455556666');
  });
});
