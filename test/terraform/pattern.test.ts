import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { buildEventBridgePattern } from '../../rules/eventbridge.js';
import {
  EVENT_PATTERN_MAX_CHARS,
  eventPatternLength,
  splitEventPattern,
} from '../../rules/eventbridge-split.js';
import { BUNDLED_RULES_DIR, loadRuleDirs } from '../../rules/loader.js';
import { blocks, loadModule, REPO, ref } from './hcl.js';

const EXAMPLE = 'terraform/examples/organization';
const PATTERN_FILE = `${EXAMPLE}/eventbridge-pattern.json`;

describe('the example organization', () => {
  it('deploys the EventBridge patterns that secbot eventbridge-pattern --split 2048 prints for the bundled rules', async () => {
    const onDisk: unknown = JSON.parse(readFileSync(join(REPO, PATTERN_FILE), 'utf8'));
    const { pattern } = buildEventBridgePattern(await loadRuleDirs([BUNDLED_RULES_DIR]));
    const expected = splitEventPattern(pattern, EVENT_PATTERN_MAX_CHARS);
    assert.deepEqual(
      onDisk,
      expected,
      `${PATTERN_FILE} no longer matches the bundled rules: regenerate it with \`npm run pattern:write\``,
    );
    for (const p of expected) assert.ok(eventPatternLength(p) <= EVENT_PATTERN_MAX_CHARS);
  });

  it('feeds the pattern file to both collectors, and wires them to the hub', async () => {
    const main = readFileSync(join(REPO, EXAMPLE, 'main.tf'), 'utf8');
    assert.match(main, /file\("\$\{path\.module\}\/eventbridge-pattern\.json"\)/);
    const hcl = await import('@cdktf/hcl2json');
    const parsed = (await hcl.parse('main.tf', main)) as {
      module: Record<string, Record<string, unknown>[]>;
    };
    const a = parsed.module.collector_workload_a?.[0];
    const b = parsed.module.collector_workload_b?.[0];
    assert.equal(a?.event_pattern, ref('local.event_pattern'));
    assert.equal(b?.event_pattern, ref('local.event_pattern'));
    assert.equal(a?.delivery, 'event_bus');
    assert.equal(a?.hub_event_bus_arn, ref('module.hub.event_bus_arn'));
    assert.equal(b?.delivery, 'sns');
    assert.equal(b?.hub_queue_arn, ref('module.hub.queue_arn'));
  });

  it('the collector makes one rule per pattern, refuses one over the limit, and takes read-only calls', async () => {
    const collector = await loadModule('terraform/modules/collector');
    const rule = collector.resource('aws_cloudwatch_event_rule', 'cloudtrail');
    assert.equal(rule?.for_each, ref('local.rules'));
    assert.equal(rule?.event_pattern, ref('each.value'));
    const preconditions = blocks(blocks(rule, 'lifecycle')[0], 'precondition');
    assert.ok(preconditions.some((p) => String(p.condition).includes('var.max_pattern_chars')));
    assert.ok(preconditions.some((p) => String(p.error_message).includes('npm run pattern:write')));
    assert.equal(collector.variable('max_pattern_chars')?.default, EVENT_PATTERN_MAX_CHARS);
    const raw = readFileSync(join(REPO, 'terraform/modules/collector/main.tf'), 'utf8');
    assert.match(raw, /ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS/);
  });
});
