import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { auditEvent, decisionToEcs, redactSecrets } from '../../audit/ecs.js';
import { decide, defaultDecideContext } from '../../handlers/decide.js';
import { completeRecord } from '../../rules/testing.js';
import { fakeRule, fakeRuleSet } from '../helpers/fake-rules.js';

describe('ECS audit records', () => {
  const now = new Date('2026-06-01T12:00:00Z');
  const rules = fakeRuleSet([
    fakeRule('iam-access-key-created', 'CreateAccessKey', 'notify', {
      level: 'medium',
      title: 'Access key created',
    }),
  ]);
  const record = completeRecord(
    {
      eventName: 'CreateAccessKey',
      eventTime: '2026-06-01T11:59:00Z',
      sourceIPAddress: 'AWS Internal',
      requestParameters: { userName: 'bob', password: 'hunter2', nested: { SecretString: 's3cr3t' } },
    },
    now,
  );
  const d = decide(record, rules, defaultDecideContext({ now }));

  it('carries the ECS fields a consumer expects', () => {
    const ecs = decisionToEcs(d, { verificationId: 'v_1', at: now });
    assert.equal(ecs['@timestamp'], '2026-06-01T12:00:00.000Z');
    const e = ecs as Record<string, any>;
    assert.equal(e.ecs.version, '8.11.0');
    assert.equal(e.event.kind, 'alert');
    assert.equal(e.event.action, 'CreateAccessKey');
    assert.equal(e.event.outcome, 'success');
    assert.deepEqual(e.event.type, ['creation', 'change']);
    assert.deepEqual(e.event.category, ['iam']);
    assert.equal(e.rule.id, 'iam-access-key-created');
    assert.equal(e.rule.name, 'Access key created');
    assert.equal(e.cloud.provider, 'aws');
    assert.equal(e.cloud.account.id, '111122223333');
    assert.equal(e.cloud.region, 'us-east-1');
    assert.equal(e.user.name, 'alice');
    assert.equal(e.user_agent.original, record.userAgent);
    assert.equal(e.secbot.action, 'notify');
    assert.equal(e.secbot.verification_id, 'v_1');
    // "AWS Internal" is not an IP: it stays out of source.ip, which ECS types as ip.
    assert.equal(e.source.address, 'AWS Internal');
    assert.equal(e.source.ip, undefined);
  });

  it('redacts secret-looking fields', () => {
    const text = JSON.stringify(decisionToEcs(d));
    assert.ok(!text.includes('hunter2'));
    assert.ok(!text.includes('s3cr3t'));
    assert.ok(text.includes('[redacted]'));
    assert.deepEqual(redactSecrets({ __proto__: { x: 1 }, token: 'abc', ok: 1 }), {
      token: '[redacted]',
      ok: 1,
    });
  });

  it('copies a __proto__ key from JSON as data: the copy keeps Object.prototype and the key', () => {
    const parsed = JSON.parse('{"__proto__": {"isAdmin": true, "token": "abc"}, "a": {"__proto__": 1}}');
    const copy = redactSecrets(parsed) as Record<string, any>;
    assert.equal(Object.getPrototypeOf(copy), Object.prototype);
    assert.equal(copy.isAdmin, undefined);
    assert.ok(Object.hasOwn(copy, '__proto__'));
    assert.equal(
      JSON.stringify(copy),
      '{"__proto__":{"isAdmin":true,"token":"[redacted]"},"a":{"__proto__":1}}',
    );
  });

  it('records staff actions with their actor', () => {
    const e = auditEvent({
      action: 'silence.create',
      outcome: 'success',
      message: 'silenced',
      actor: 'U1',
    }) as Record<string, any>;
    assert.equal(e.user.id, 'U1');
    assert.equal(e.event.action, 'silence.create');
  });
});
