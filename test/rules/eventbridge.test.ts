import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toEventBridgeEvent } from '../../integrations/enqueue.js';
import { buildEventBridgePattern, matchesPattern } from '../../rules/eventbridge.js';
import { BUNDLED_RULES_DIR, checkRuleSources, loadRuleDirs } from '../../rules/loader.js';
import { completeRecord } from '../../rules/testing.js';

const rule = (id: string, detection: string, extra = '') => ({
  file: `${id}.yml`,
  text: `title: ${id}\nid: ${id}\nlevel: medium\nlogsource: { product: aws, service: cloudtrail }\ndetection:\n${detection}\n${extra}`,
});

describe('buildEventBridgePattern', () => {
  it('groups event names by source and adds hand-written patterns for unpinned rules', () => {
    const { ruleSet, issues } = checkRuleSources([
      rule(
        'a',
        '  sel: { eventSource: iam.amazonaws.com, eventName: [CreateUser, PutUserPolicy] }\n  condition: sel',
      ),
      rule('b', '  sel: { eventSource: iam.amazonaws.com, eventName: CreateAccessKey }\n  condition: sel'),
      rule('c', '  sel: { eventSource: s3.amazonaws.com }\n  condition: sel'),
      rule(
        'd',
        '  sel: { userIdentity.type: Root }\n  condition: sel',
        'secbot:\n  eventbridge:\n    userIdentity: { type: [Root] }',
      ),
    ]);
    assert.deepEqual(
      issues.filter((i) => i.severity === 'error'),
      [],
    );
    const { pattern, broadRules } = buildEventBridgePattern(ruleSet);
    assert.deepEqual(pattern.detail, {
      $or: [
        { eventSource: ['iam.amazonaws.com'], eventName: ['CreateAccessKey', 'CreateUser', 'PutUserPolicy'] },
        { eventSource: ['s3.amazonaws.com'] },
        { userIdentity: { type: ['Root'] } },
      ],
    });
    assert.deepEqual(
      broadRules.map((b) => b.ruleId),
      ['c'],
    );
  });

  it('flags a rule that pins nothing and delivers everything', () => {
    const { ruleSet } = checkRuleSources([
      rule('ua', '  sel: { userAgent|contains: evil }\n  condition: sel'),
    ]);
    const { pattern, broadRules } = buildEventBridgePattern(ruleSet);
    assert.equal(pattern.detail, undefined);
    assert.equal(broadRules[0]?.scope, 'any event source and any event name');
  });

  it('matches EventBridge content filters as EventBridge does', () => {
    const event = {
      'detail-type': 'AWS API Call via CloudTrail',
      detail: { userAgent: 'x TruffleHog y', tags: ['a', 'b'] },
    };
    assert.ok(matchesPattern({ detail: { userAgent: [{ wildcard: '*TruffleHog*' }] } }, event));
    assert.ok(!matchesPattern({ detail: { userAgent: [{ wildcard: '*trufflehog*' }] } }, event));
    assert.ok(matchesPattern({ detail: { tags: ['b'] } }, event));
    assert.ok(matchesPattern({ detail: { missing: [{ exists: false }] } }, event));
    assert.ok(!matchesPattern({ detail: { userAgent: [{ exists: false }] } }, event));
    assert.ok(matchesPattern({ detail: { $or: [{ a: ['1'] }, { userAgent: [{ prefix: 'x ' }] }] } }, event));
    assert.ok(!matchesPattern({ 'detail-type': ['AWS Service Event via CloudTrail'] }, event));
  });

  it('delivers every positive test record of every bundled rule, and the rules pin the pattern', async () => {
    const ruleSet = await loadRuleDirs([BUNDLED_RULES_DIR]);
    const { pattern, broadRules } = buildEventBridgePattern(ruleSet);
    assert.deepEqual(broadRules, [], 'no bundled rule forces delivery of every event');
    const undelivered: string[] = [];
    let positives = 0;
    for (const r of ruleSet.rules) {
      for (const t of r.tests.filter((t) => t.fires)) {
        positives++;
        const event = toEventBridgeEvent(completeRecord(t.record));
        if (!matchesPattern(pattern, event)) undelivered.push(`${r.id}: ${t.name}`);
      }
    }
    assert.deepEqual(undelivered, [], 'the pattern drops calls a rule would match');
    assert.ok(positives > 100);
  });
});
