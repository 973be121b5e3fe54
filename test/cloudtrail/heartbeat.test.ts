/** The collector's heartbeat through the decoder: the scheduled event, the explicit form, SNS-wrapped, and refusals. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeMessage, decodeValue } from '../../cloudtrail/decode.js';
import {
  HEARTBEAT_DETAIL_TYPE,
  HEARTBEAT_SOURCE,
  scheduledHeartbeatEvent,
} from '../../cloudtrail/heartbeat.js';

const ACCOUNT = '444455556666';
const TIME = '2026-03-02T12:05:00Z';
const sns = (message: unknown) =>
  JSON.stringify({
    Type: 'Notification',
    MessageId: 'm-1',
    TopicArn: 'arn:aws:sns:us-east-1:1:t',
    Message: JSON.stringify(message),
  });

describe('heartbeats', () => {
  it('the scheduled event of a …-heartbeat rule is a heartbeat: account and time from the envelope, no records', () => {
    const event = scheduledHeartbeatEvent({ account: ACCOUNT, time: TIME, region: 'eu-west-1' });
    const r = decodeMessage(JSON.stringify(event));
    assert.ok(r.ok, JSON.stringify(r));
    assert.deepEqual(r.records, []);
    assert.deepEqual(r.invalid, []);
    assert.equal(r.envelope, 'eventbridge');
    assert.deepEqual(r.heartbeats, [
      { account: ACCOUNT, sentAt: '2026-03-02T12:05:00.000Z', region: 'eu-west-1', id: event.id },
    ]);
  });

  it('SNS-wrapped, as the SNS delivery path brings it', () => {
    const r = decodeMessage(sns(scheduledHeartbeatEvent({ account: ACCOUNT, time: TIME })));
    assert.ok(r.ok && r.envelope === 'sns');
    assert.equal(r.heartbeats?.[0]?.account, ACCOUNT);
  });

  it('the explicit form, with account and time in the envelope or in detail', () => {
    const envelope = decodeValue({
      'detail-type': HEARTBEAT_DETAIL_TYPE,
      source: HEARTBEAT_SOURCE,
      account: ACCOUNT,
      time: TIME,
      detail: {},
    });
    assert.ok(envelope.ok);
    assert.equal(envelope.heartbeats?.[0]?.sentAt, '2026-03-02T12:05:00.000Z');
    const inDetail = decodeValue({
      'detail-type': HEARTBEAT_DETAIL_TYPE,
      source: HEARTBEAT_SOURCE,
      detail: { account: ACCOUNT, sentAt: TIME },
    });
    assert.ok(inDetail.ok);
    assert.equal(inDetail.heartbeats?.[0]?.account, ACCOUNT);
  });

  it('a CloudTrail record decodes as before: no heartbeats key', () => {
    const r = decodeValue({
      'detail-type': 'AWS API Call via CloudTrail',
      detail: {
        eventID: 'e1',
        eventName: 'CreateUser',
        eventSource: 'iam.amazonaws.com',
        eventTime: TIME,
        userIdentity: {},
      },
    });
    assert.ok(r.ok);
    assert.equal('heartbeats' in r, false);
  });

  it('refuses what is not a heartbeat, with a reason, never throwing', () => {
    const other = scheduledHeartbeatEvent({ account: ACCOUNT, time: TIME, ruleName: 'nightly-backup' });
    const cases: [unknown, string, RegExp][] = [
      [other, 'not_cloudtrail', /scheduled event of rule "nightly-backup", not a secbot heartbeat/],
      [{ ...other, resources: [] }, 'not_cloudtrail', /not a secbot heartbeat/],
      [
        { ...scheduledHeartbeatEvent({ account: ACCOUNT, time: TIME }), source: 'aws.ec2' },
        'not_cloudtrail',
        /from source/,
      ],
      [
        { 'detail-type': HEARTBEAT_DETAIL_TYPE, source: 'evil', account: ACCOUNT, time: TIME },
        'not_cloudtrail',
        /from source/,
      ],
      [
        { ...scheduledHeartbeatEvent({ account: ACCOUNT, time: TIME }), account: '12' },
        'wrong_type',
        /12-digit/,
      ],
      [
        { ...scheduledHeartbeatEvent({ account: ACCOUNT, time: TIME }), account: undefined },
        'missing_field',
        /missing account/,
      ],
      [
        { ...scheduledHeartbeatEvent({ account: ACCOUNT, time: TIME }), time: 'yesterday' },
        'wrong_type',
        /ISO-8601/,
      ],
      [
        { ...scheduledHeartbeatEvent({ account: ACCOUNT, time: TIME }), time: null },
        'missing_field',
        /missing time/,
      ],
    ];
    for (const [value, reason, detail] of cases) {
      const text = JSON.stringify(value);
      for (const r of [
        decodeMessage(text),
        decodeValue(JSON.parse(text)),
        decodeMessage(sns(JSON.parse(text))),
      ]) {
        assert.equal(r.ok, false, text);
        if (!r.ok) {
          assert.equal(r.reason, reason, text);
          assert.match(r.detail, detail);
        }
      }
    }
  });
});
