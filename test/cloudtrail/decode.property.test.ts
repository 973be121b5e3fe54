/** Property tests: the decoder never throws and keeps its promises, whatever it is fed. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeMessage, decodeValue } from '../../cloudtrail/decode.js';
import { principalOf } from '../../cloudtrail/principal.js';
import type { DecodeResult } from '../../cloudtrail/record.js';

const REASONS = new Set([
  'empty',
  'not_json',
  'too_large',
  'too_deep',
  'not_cloudtrail',
  'missing_field',
  'wrong_type',
]);

/** Invariants of every result: a known reason with a detail, or records that carry the required fields. */
function check(r: DecodeResult): void {
  if (!r.ok) {
    assert.ok(REASONS.has(r.reason), r.reason);
    assert.equal(typeof r.detail, 'string');
    return;
  }
  for (const rec of r.records) {
    for (const f of ['eventID', 'eventName', 'eventSource', 'eventTime'] as const) {
      assert.equal(typeof rec[f], 'string');
      assert.ok(rec[f].length > 0);
    }
    assert.equal(typeof rec.userIdentity, 'object');
    const p = principalOf(rec);
    assert.ok(p.name.length > 0 && p.key.length > 0);
  }
  for (const f of r.invalid) assert.ok(REASONS.has(f.reason));
}

const base = {
  eventVersion: '1.08',
  userIdentity: { type: 'IAMUser', arn: 'arn:aws:iam::123456789012:user/p', userName: 'p' },
  eventTime: '2024-05-01T12:00:00Z',
  eventSource: 'iam.amazonaws.com',
  eventName: 'CreateUser',
  eventID: 'e0000000-0000-4000-8000-000000000001',
};
const fields = [
  ...Object.keys(base),
  'requestParameters',
  'responseElements',
  'awsRegion',
  'sourceIPAddress',
];

/** A valid record with one field replaced by anything (or removed), possibly wrapped in an envelope. */
const mutatedMessage = fc
  .record({
    field: fc.constantFrom(...fields),
    value: fc.oneof(fc.jsonValue(), fc.constant(undefined)),
    identity: fc.dictionary(
      fc.constantFrom(
        'type',
        'arn',
        'principalId',
        'userName',
        'invokedBy',
        'accountId',
        'sessionContext',
        'onBehalfOf',
      ),
      fc.jsonValue({ maxDepth: 3 }),
    ),
    wrap: fc.constantFrom('none', 'eventbridge', 'sns', 'log'),
  })
  .map(({ field, value, identity, wrap }) => {
    const rec: Record<string, unknown> = { ...base, userIdentity: { ...base.userIdentity, ...identity } };
    if (value === undefined) delete rec[field];
    else rec[field] = value;
    if (wrap === 'eventbridge') return { 'detail-type': 'AWS API Call via CloudTrail', detail: rec };
    if (wrap === 'sns') return { Type: 'Notification', Message: JSON.stringify(rec) };
    if (wrap === 'log') return { Records: [rec, rec] };
    return rec;
  });

describe('decode properties', () => {
  it('never throws on arbitrary strings', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (s) => check(decodeMessage(s))),
      { numRuns: 500 },
    );
  });

  it('never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) => check(decodeMessage(b))),
      { numRuns: 300 },
    );
  });

  it('never throws on arbitrary JSON, as text or as a value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        check(decodeValue(v));
        check(decodeMessage(JSON.stringify(v) ?? 'null', { maxDepth: 5 }));
      }),
      { numRuns: 500 },
    );
  });

  it('never throws on near-miss records in every envelope, and decodes the same as text and as value', () => {
    fc.assert(
      fc.property(mutatedMessage, (m) => {
        const asValue = decodeValue(m);
        const asText = decodeMessage(JSON.stringify(m));
        check(asValue);
        check(asText);
        assert.equal(asValue.ok, asText.ok);
        if (!asValue.ok && !asText.ok) assert.equal(asValue.reason, asText.reason);
      }),
      { numRuns: 700 },
    );
  });
});
