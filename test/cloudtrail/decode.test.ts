import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  CLOUDTRAIL_DETAIL_TYPES,
  DEFAULT_LIMITS,
  decodeMessage,
  decodeValue,
  describeFailure,
  textDepthExceeds,
} from '../../cloudtrail/decode.js';
import type { DecodeFailure, DecodeResult, DecodeSuccess } from '../../cloudtrail/record.js';

const fixtures = new URL('../fixtures/cloudtrail/', import.meta.url);
const fixture = (name: string): string => readFileSync(new URL(name, fixtures), 'utf8');

/** A fresh, valid record (written for secbot's tests). */
function record(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    eventVersion: '1.09',
    userIdentity: {
      type: 'IAMUser',
      principalId: 'AIDATEST000000000001',
      arn: 'arn:aws:iam::123456789012:user/sam',
      accountId: '123456789012',
      userName: 'sam',
    },
    eventTime: '2024-05-01T12:00:00Z',
    eventSource: 'iam.amazonaws.com',
    eventName: 'CreateAccessKey',
    awsRegion: 'us-east-1',
    sourceIPAddress: '203.0.113.9',
    userAgent: 'aws-cli/2.15.0',
    requestParameters: { userName: 'sam' },
    responseElements: null,
    eventID: 'e0000000-0000-4000-8000-000000000001',
    eventType: 'AwsApiCall',
    recipientAccountId: '123456789012',
    ...overrides,
  };
}

function without(key: string): Record<string, unknown> {
  const r = record();
  delete r[key];
  return r;
}

function ok(r: DecodeResult): DecodeSuccess {
  if (!r.ok) assert.fail(`expected success, got ${describeFailure(r)}`);
  return r;
}

function bad(r: DecodeResult, reason: DecodeFailure['reason'], detail?: RegExp): DecodeFailure {
  if (r.ok) assert.fail(`expected ${reason}, got success (${r.envelope}, ${r.records.length} records)`);
  assert.equal(r.reason, reason, `reason for: ${r.detail}`);
  if (detail) assert.match(r.detail, detail);
  return r;
}

function eventBridge(detailType: string, detail: unknown): Record<string, unknown> {
  return {
    version: '0',
    id: 'f0000000-0000-4000-8000-000000000001',
    'detail-type': detailType,
    source: 'aws.iam',
    account: '123456789012',
    time: '2024-05-01T12:00:01Z',
    region: 'us-east-1',
    resources: [],
    detail,
  };
}

function sns(message: unknown): Record<string, unknown> {
  return {
    Type: 'Notification',
    MessageId: 'f0000000-0000-4000-8000-000000000002',
    TopicArn: 'arn:aws:sns:us-east-1:123456789012:secbot',
    Message: typeof message === 'string' ? message : JSON.stringify(message),
    Timestamp: '2024-05-01T12:00:02.000Z',
  };
}

describe('decodeMessage: envelopes', () => {
  it('accepts a bare record, returning the parsed object unchanged', () => {
    const text = fixture('record-iam-user.json');
    const r = ok(decodeMessage(text));
    assert.equal(r.envelope, 'record');
    assert.equal(r.records.length, 1);
    assert.deepEqual(r.invalid, []);
    assert.equal(r.records[0]?.eventID, '5f0e6a8e-0000-4000-8000-000000000001');
    assert.deepEqual(r.records[0], JSON.parse(text), 'nothing added, nothing normalised');
  });

  it('decodeValue returns the very object it was given (no copy)', () => {
    const rec = record();
    const r = ok(decodeValue(rec));
    assert.equal(r.records[0], rec);
  });

  it('accepts an EventBridge event for every CloudTrail detail-type', () => {
    assert.ok(CLOUDTRAIL_DETAIL_TYPES.size >= 5);
    for (const dt of [
      'AWS API Call via CloudTrail',
      'AWS Console Sign In via CloudTrail',
      'AWS Console Signin via CloudTrail',
      'AWS Service Event via CloudTrail',
      'AWS Console Action via CloudTrail',
      'AWS Insight via CloudTrail',
    ]) {
      const rec = record();
      const r = ok(decodeMessage(JSON.stringify(eventBridge(dt, rec))));
      assert.equal(r.envelope, 'eventbridge', dt);
      assert.deepEqual(r.records, [rec], dt);
    }
  });

  it('accepts the EventBridge fixture', () => {
    const r = ok(decodeMessage(fixture('eventbridge-api-call.json')));
    assert.equal(r.envelope, 'eventbridge');
    assert.equal(r.records[0]?.eventName, 'CreateUser');
  });

  it('rejects other EventBridge detail-types as not_cloudtrail, naming the detail-type', () => {
    const r = bad(
      decodeMessage(
        JSON.stringify(eventBridge('EC2 Instance State-change Notification', { state: 'running' })),
      ),
      'not_cloudtrail',
    );
    assert.match(r.detail, /detail-type "EC2 Instance State-change Notification"/);
  });

  it('judges the EventBridge detail as a record', () => {
    bad(decodeValue(eventBridge('AWS API Call via CloudTrail', undefined)), 'missing_field', /detail/);
    bad(decodeValue(eventBridge('AWS API Call via CloudTrail', 'text')), 'wrong_type', /detail is a string/);
    bad(
      decodeValue(eventBridge('AWS API Call via CloudTrail', without('eventName'))),
      'missing_field',
      /eventName/,
    );
    bad(decodeValue({ 'detail-type': 7, detail: record() }), 'wrong_type', /detail-type/);
  });

  it('accepts SNS → EventBridge → record (fixture), reporting the outer envelope', () => {
    const r = ok(decodeMessage(fixture('sns-eventbridge.json')));
    assert.equal(r.envelope, 'sns');
    assert.equal(r.records.length, 1);
    assert.equal(r.records[0]?.eventID, '5f0e6a8e-0000-4000-8000-000000000102');
  });

  it('accepts SNS around a bare record and around a log file', () => {
    const a = ok(decodeMessage(JSON.stringify(sns(record()))));
    assert.equal(a.envelope, 'sns');
    assert.equal(a.records.length, 1);
    const b = ok(decodeMessage(JSON.stringify(sns({ Records: [record(), without('eventID')] }))));
    assert.equal(b.envelope, 'sns');
    assert.equal(b.records.length, 1);
    assert.equal(b.invalid.length, 1);
  });

  it('reports SNS failures with where they happened', () => {
    bad(decodeMessage(JSON.stringify(sns('not json at all'))), 'not_json', /^SNS Message: /);
    bad(decodeMessage(JSON.stringify(sns(''))), 'empty', /^SNS Message: /);
    bad(decodeValue({ Type: 'Notification', Message: 42 }), 'wrong_type', /SNS Message is a number/);
    bad(decodeMessage(JSON.stringify(sns({ hello: 'world' }))), 'not_cloudtrail', /^SNS Message: /);
  });

  it('allows three envelope levels and refuses a fourth', () => {
    const three = sns(sns(eventBridge('AWS API Call via CloudTrail', record())));
    assert.equal(ok(decodeMessage(JSON.stringify(three))).records.length, 1);
    const four = sns(sns(sns(eventBridge('AWS API Call via CloudTrail', record()))));
    bad(decodeMessage(JSON.stringify(four)), 'not_cloudtrail', /envelope levels/);
  });

  it('accepts a log file, judging each record on its own', () => {
    const good = record();
    const r = ok(
      decodeValue({ Records: [good, without('eventID'), 'text', record({ eventName: 5 })], extra: true }),
    );
    assert.equal(r.envelope, 'log_file');
    assert.deepEqual(r.records, [good]);
    assert.equal(r.invalid.length, 3);
    assert.deepEqual(
      r.invalid.map((f) => f.reason),
      ['missing_field', 'wrong_type', 'wrong_type'],
    );
    assert.match(r.invalid[0]?.detail ?? '', /^Records\[1\]: missing eventID/);
    assert.match(r.invalid[1]?.detail ?? '', /^Records\[2\] is a string/);
  });

  it('accepts an empty log file with zero records', () => {
    const r = ok(decodeMessage('{"Records":[]}'));
    assert.equal(r.envelope, 'log_file');
    assert.deepEqual(r.records, []);
    assert.deepEqual(r.invalid, []);
  });

  it('rejects Records that is not an array', () => {
    bad(decodeMessage('{"Records":{"eventID":"x"}}'), 'wrong_type', /Records is an object/);
    bad(decodeMessage('{"Records":null}'), 'wrong_type', /Records is null/);
  });

  it('accepts the pretty-printed log file fixture: two good records, one bad', () => {
    const r = ok(decodeMessage(fixture('log-file-pretty.json')));
    assert.equal(r.envelope, 'log_file');
    assert.equal(r.records.length, 2);
    assert.equal(r.invalid.length, 1);
    assert.match(r.invalid[0]?.detail ?? '', /Records\[2\]: missing eventID/);
  });

  it('accepts a Uint8Array body, with or without a byte-order mark', () => {
    const text = JSON.stringify(record());
    assert.equal(ok(decodeMessage(new TextEncoder().encode(text))).records.length, 1);
    assert.equal(ok(decodeMessage(`\uFEFF${text}`)).records.length, 1);
    const buf = Buffer.concat([Buffer.from('xx'), Buffer.from(text)]).subarray(2);
    assert.equal(ok(decodeMessage(buf)).records.length, 1, 'a view into a larger buffer');
  });
});

describe('decodeMessage: bad input, one reason each', () => {
  it('empty', () => {
    bad(decodeMessage(''), 'empty');
    bad(decodeMessage('  \n\t '), 'empty');
    bad(decodeMessage(new Uint8Array(0)), 'empty');
    bad(decodeMessage('\uFEFF'), 'empty');
  });

  it('not_json', () => {
    bad(decodeMessage('{"eventID": '), 'not_json');
    bad(decodeMessage('hello'), 'not_json');
    bad(decodeMessage("{'single': 'quotes'}"), 'not_json');
    bad(decodeMessage(new Uint8Array([0xff, 0xfe, 0x00])), 'not_json');
    bad(decodeMessage(42 as unknown as string), 'not_json', /not text/);
  });

  it('too_large, checked on bytes before parsing', () => {
    bad(decodeMessage(`{${' '.repeat(DEFAULT_LIMITS.maxBytes)}`), 'too_large');
    // Not even JSON: the size is judged first.
    bad(decodeMessage('x'.repeat(2000), { maxBytes: 1000 }), 'too_large', /limit 1000/);
    // 600 characters but 1200 bytes of UTF-8.
    bad(decodeMessage(`"${'é'.repeat(600)}"`, { maxBytes: 1000 }), 'too_large', /1202 bytes/);
    bad(decodeMessage(new Uint8Array(2000), { maxBytes: 1000 }), 'too_large');
    // Exactly at the limit is fine.
    const text = JSON.stringify(record());
    ok(decodeMessage(text, { maxBytes: Buffer.byteLength(text) }));
  });

  it('too_deep, checked before parsing without recursion', () => {
    bad(decodeMessage('['.repeat(200_000)), 'too_deep');
    bad(decodeMessage(`${'['.repeat(100)}${']'.repeat(100)}`), 'too_deep');
    let nested: unknown = 'leaf';
    for (let i = 0; i < 70; i++) nested = { n: nested };
    bad(decodeMessage(JSON.stringify(record({ requestParameters: nested }))), 'too_deep', /64 levels/);
    let shallow: unknown = 'leaf';
    for (let i = 0; i < 50; i++) shallow = [shallow];
    ok(decodeMessage(JSON.stringify(record({ requestParameters: { a: shallow } }))));
    bad(
      decodeMessage(JSON.stringify(record({ requestParameters: { a: shallow } })), { maxDepth: 20 }),
      'too_deep',
    );
  });

  it('too_deep counts brackets only outside strings', () => {
    const text = JSON.stringify(record({ errorMessage: '{[{['.repeat(500), userAgent: 'a\\"{{{{{{' }));
    ok(decodeMessage(text));
    assert.equal(textDepthExceeds('{"a":"\\\\"}', 1), false);
    assert.equal(textDepthExceeds('{"a":"\\"{{"}', 1), false);
    assert.equal(textDepthExceeds('{"a":"x\\\\",{"b":[1]}}', 2), true);
    assert.equal(textDepthExceeds('[[', 1), true);
    assert.equal(textDepthExceeds('"unterminated {{{{', 1), false);
  });

  it('too_deep for already-parsed values, including cycles, without recursion', () => {
    let deep: Record<string, unknown> = {};
    const root = deep;
    for (let i = 0; i < 100_000; i++) {
      const next = {};
      deep.x = next;
      deep = next;
    }
    bad(decodeValue(record({ requestParameters: root })), 'too_deep');
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    bad(decodeValue(record({ requestParameters: cyclic })), 'too_deep', /cyclic/);
    const shared = { s: 1 };
    ok(decodeValue(record({ requestParameters: { a: shared, b: shared } })));
  });

  it('not_cloudtrail for valid JSON of another shape', () => {
    bad(decodeMessage('[]'), 'not_cloudtrail', /array/);
    bad(decodeMessage(JSON.stringify([record()])), 'not_cloudtrail', /array/);
    bad(decodeMessage('42'), 'not_cloudtrail', /number/);
    bad(decodeMessage('"text"'), 'not_cloudtrail', /string/);
    bad(decodeMessage('true'), 'not_cloudtrail', /boolean/);
    bad(decodeMessage('null'), 'not_cloudtrail', /null/);
    bad(decodeMessage('{}'), 'not_cloudtrail', /empty object/);
    bad(decodeMessage('{"hello":"world","s3Bucket":"b"}'), 'not_cloudtrail', /"hello"/);
    bad(decodeValue(undefined), 'not_cloudtrail');
    bad(decodeValue(new Date()), 'not_cloudtrail');
  });

  it('missing_field names the field', () => {
    for (const f of ['eventID', 'eventName', 'eventSource', 'eventTime', 'userIdentity']) {
      bad(decodeValue(without(f)), 'missing_field', new RegExp(`missing ${f}`));
      bad(decodeValue(record({ [f]: null })), 'missing_field', new RegExp(`missing ${f}`));
    }
    bad(decodeValue(record({ eventID: '' })), 'missing_field', /missing eventID \(empty/);
    bad(
      decodeMessage('{"eventName":"ConsoleLogin","responseElements":{"ConsoleLogin":"Success"}}'),
      'missing_field',
    );
  });

  it('wrong_type names the field and what it was', () => {
    bad(decodeValue(record({ eventName: 12 })), 'wrong_type', /eventName is a number/);
    bad(decodeValue(record({ eventID: { id: 1 } })), 'wrong_type', /eventID is an object/);
    bad(decodeValue(record({ eventTime: 1714564800 })), 'wrong_type', /eventTime/);
    bad(decodeValue(record({ eventSource: ['iam'] })), 'wrong_type', /eventSource is an array/);
    bad(decodeValue(record({ userIdentity: 'root' })), 'wrong_type', /userIdentity is a string/);
    bad(decodeValue(record({ userIdentity: [] })), 'wrong_type', /userIdentity is an array/);
    bad(decodeValue(record({ requestParameters: [] })), 'wrong_type', /requestParameters is an array/);
    bad(decodeValue(record({ requestParameters: '{"a":1}' })), 'wrong_type', /requestParameters is a string/);
    bad(decodeValue(record({ responseElements: 5 })), 'wrong_type', /responseElements/);
    bad(decodeValue(record({ additionalEventData: true })), 'wrong_type', /additionalEventData/);
    bad(decodeValue(record({ awsRegion: 1 })), 'wrong_type', /awsRegion/);
    bad(decodeValue(record({ sourceIPAddress: {} })), 'wrong_type', /sourceIPAddress/);
  });

  it('describeFailure gives "reason: detail"', () => {
    const r = bad(decodeValue(without('eventID')), 'missing_field');
    assert.equal(describeFailure(r), 'missing_field: missing eventID');
  });
});

describe('decodeMessage: real-world oddities', () => {
  it('tolerates odd but harmless values', () => {
    for (const overrides of [
      { eventTime: '2023-01-10 21:04:02' },
      { eventTime: '2023-01-10 21:04:02.123456789' },
      { eventTime: 'redacted' },
      { awsRegion: 'megov-westwest-1r' },
      { sourceIPAddress: '08.1.250.216' },
      { sourceIPAddress: 'AWS Internal' },
      { sourceIPAddress: 'cloudformation.amazonaws.com' },
      { eventVersion: '1.05' },
      { eventVersion: '1.10' },
      { responseElements: null, requestParameters: null, additionalEventData: null },
      { readOnly: 'True', managementEvent: 'True' },
      { serviceEventDetails: 'a string', tlsDetails: {}, sharedEventID: 'x', resources: null },
      { errorCode: null, userAgent: null },
      { userIdentity: { type: 'AssumedRole', invokedBy: null, accesKeyId: '1111', principalid: 'AROA:x' } },
      { userIdentity: {} },
      { brandNewField: { nested: [1, 2, 3] } },
    ]) {
      const rec = record(overrides);
      const r = ok(decodeValue(rec));
      assert.equal(r.records[0], rec, JSON.stringify(overrides));
      ok(decodeMessage(JSON.stringify(rec)));
    }
  });

  it('does not let __proto__ keys pollute anything', () => {
    const text = JSON.stringify(record()).replace(
      '"eventVersion"',
      '"__proto__":{"polluted":"yes","eventID":"fake"},"constructor":{"prototype":{"polluted":"yes"}},"eventVersion"',
    );
    const r = ok(decodeMessage(text));
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(Object.getPrototypeOf(r.records[0]), Object.prototype);
    // A record whose only eventID sits under __proto__ is still missing it.
    const sneaky = JSON.stringify(without('eventID')).replace('{', '{"__proto__":{"eventID":"fake"},');
    bad(decodeMessage(sneaky), 'missing_field', /eventID/);
  });

  it('reads only own properties, even if Object.prototype was polluted elsewhere', () => {
    const proto = Object.prototype as Record<string, unknown>;
    proto.eventID = 'inherited';
    proto.Records = [];
    try {
      bad(decodeValue(without('eventID')), 'missing_field', /eventID/);
      bad(decodeMessage('{"hello":1}'), 'not_cloudtrail');
    } finally {
      delete proto.eventID;
      delete proto.Records;
    }
  });

  it('never throws, even on hostile objects', () => {
    const hostile = new Proxy(
      {},
      {
        get() {
          throw new Error('boom');
        },
        ownKeys() {
          throw new Error('boom');
        },
        has() {
          throw new Error('boom');
        },
        getOwnPropertyDescriptor() {
          throw new Error('boom');
        },
      },
    );
    const r = decodeValue(hostile);
    assert.equal(r.ok, false);
    const getter = record();
    Object.defineProperty(getter, 'eventName', {
      enumerable: true,
      get() {
        throw new Error('getter');
      },
    });
    assert.equal(decodeValue(getter).ok, false);
    assert.equal(decodeValue({ Records: [hostile] }).ok, false);
    assert.equal(decodeMessage(null as unknown as string).ok, false);
    assert.equal(decodeMessage('{}', { maxBytes: Number.NaN, maxDepth: -1 }).ok, false);
  });
});
