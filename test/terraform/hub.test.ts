import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_DRAIN_OPTIONS } from '../../handlers/drain.js';
import { TABLE_SCHEMA } from '../../store/schema.js';
import { blocks, type Json, loadModule, ref } from './hcl.js';

const hub = await loadModule('terraform/modules/hub');

describe('the hub module', () => {
  it("defines the table with the store's schema: keys, attribute types, index, TTL, billing", () => {
    const table = hub.resource('aws_dynamodb_table', 'secbot');
    assert.ok(table, 'aws_dynamodb_table.secbot');
    const s = TABLE_SCHEMA;
    assert.equal(table.hash_key, s.partitionKey.name);
    assert.equal(table.range_key, s.sortKey.name);
    assert.equal(table.billing_mode, s.billingMode);

    const expectedAttributes = new Map<string, string>([
      [s.partitionKey.name, s.partitionKey.type],
      [s.sortKey.name, s.sortKey.type],
      ...s.globalSecondaryIndexes.flatMap((g) => [
        [g.partitionKey.name, g.partitionKey.type] as [string, string],
        [g.sortKey.name, g.sortKey.type] as [string, string],
      ]),
    ]);
    const attributes = new Map(blocks(table, 'attribute').map((a) => [String(a.name), String(a.type)]));
    // DynamoDB refuses attribute definitions that no key uses, so the two sets must be equal.
    assert.deepEqual(attributes, expectedAttributes);

    const indexes = blocks(table, 'global_secondary_index').map((g) => ({
      name: g.name,
      hash: g.hash_key,
      range: g.range_key,
      projection: g.projection_type,
    }));
    assert.deepEqual(
      indexes,
      s.globalSecondaryIndexes.map((g) => ({
        name: g.name,
        hash: g.partitionKey.name,
        range: g.sortKey.name,
        projection: g.projection,
      })),
    );
    assert.deepEqual(blocks(table, 'ttl'), [{ attribute_name: s.ttlAttribute, enabled: true }]);
  });

  it('protects the table: point-in-time recovery, encryption block, deletion protection variable', () => {
    const table = hub.resource('aws_dynamodb_table', 'secbot');
    assert.deepEqual(blocks(table, 'point_in_time_recovery'), [{ enabled: true }]);
    assert.equal(blocks(table, 'server_side_encryption').length, 1);
    assert.equal(table?.deletion_protection_enabled, ref('var.deletion_protection'));
    assert.equal(hub.variable('deletion_protection')?.default, true);
  });

  it('gives the queue a dead-letter queue after 3 receives, encryption, and a visibility above secbot’s receive', () => {
    const queue = hub.resource('aws_sqs_queue', 'events');
    const dlq = hub.resource('aws_sqs_queue', 'dead_letter');
    assert.ok(queue && dlq);
    assert.match(String(queue.redrive_policy), /deadLetterTargetArn\s*=\s*aws_sqs_queue\.dead_letter\.arn/);
    assert.match(String(queue.redrive_policy), /maxReceiveCount\s*=\s*var\.max_receive_count/);
    assert.equal(hub.variable('max_receive_count')?.default, 3);
    for (const q of [queue, dlq]) {
      assert.match(String(q.sqs_managed_sse_enabled), /customer_key \? null : true/);
      assert.equal(q.kms_master_key_id, ref('var.kms_key_arn'));
    }
    const visibility = Number(hub.variable('visibility_timeout_seconds')?.default);
    assert.ok(visibility >= DEFAULT_DRAIN_OPTIONS.visibilityTimeoutSeconds, `${visibility} s`);
    const wait = Number(hub.variable('receive_wait_time_seconds')?.default);
    assert.ok(wait >= 1 && wait <= 20, 'long polling on');
    assert.ok(
      Number(dlq.message_retention_seconds) >= Number(hub.variable('message_retention_seconds')?.default),
    );
  });

  it('admits only the hub bus rule and the named SNS topics to the queue, and the organization to the bus', () => {
    const doc = hub.data('aws_iam_policy_document', 'events_queue');
    // hcl2json gives `dynamic "statement" { content { … } }` as { dynamic: { statement: [{ content: [ … ] }] } }.
    const dynamic = blocks(doc?.dynamic as Json, 'statement').flatMap((d) => blocks(d, 'content'));
    const bySid = new Map(dynamic.map((st) => [String(st.sid), st]));
    const bus = bySid.get('HubEventBusRule');
    assert.deepEqual(blocks(bus, 'condition')[0], {
      test: 'ArnEquals',
      variable: 'aws:SourceArn',
      values: [ref('aws_cloudwatch_event_rule.to_queue[0].arn')],
    });
    const sns = bySid.get('CollectorTopics');
    const snsCondition = blocks(sns, 'condition')[0];
    assert.equal(snsCondition?.variable, 'aws:SourceArn');
    assert.match(String(snsCondition?.values), /var\.sns_collector_account_ids/);
    const busPolicy = hub.data('aws_iam_policy_document', 'bus');
    const orgCondition = blocks(blocks(busPolicy, 'statement')[0], 'condition')[0];
    assert.deepEqual(orgCondition, {
      test: 'StringEquals',
      variable: 'aws:PrincipalOrgID',
      values: [ref('var.organization_id')],
    });
  });
});

describe('the shadow deployment of the example', () => {
  it('gets a copy of every event in its own queue and table, admitted by the main hub rule only', async () => {
    const mirror = hub.resource('aws_cloudwatch_event_target', 'mirror');
    assert.equal(mirror?.arn, ref('var.mirror_queue_arns[count.index]'));
    assert.equal(mirror?.rule, ref('aws_cloudwatch_event_rule.to_queue[0].name'));
    const { readFileSync } = await import('node:fs');
    const { parse } = await import('@cdktf/hcl2json');
    const main = (await parse(
      'main.tf',
      readFileSync(new URL('../../terraform/examples/organization/main.tf', import.meta.url), 'utf8'),
    )) as { module: Record<string, Json[]> };
    const shadow = main.module.hub_shadow?.[0];
    const primary = main.module.hub?.[0];
    assert.equal(shadow?.event_bus_delivery, false);
    assert.notEqual(
      shadow?.table_name,
      primary?.table_name ?? 'secbot',
      'its claims must not touch the live table',
    );
    assert.deepEqual(shadow?.sender_rule_arns, [ref('module.hub.queue_rule_arn')]);
    assert.match(String(primary?.mirror_queue_arns), /module\.hub_shadow\[0\]\.queue_arn/);
  });
});
