import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parsePolicyDocument, summarizeGrants } from '../../rules/policy-document.js';
import { renderReason, unknownReasonFilters } from '../../rules/reason.js';

describe('renderReason', () => {
  const record = {
    eventName: 'AuthorizeSecurityGroupIngress',
    requestParameters: {
      groupId: 'sg-1',
      ipPermissions: {
        items: [{ ipRanges: { items: [{ cidrIp: '0.0.0.0/0' }, { cidrIp: '10.0.0.0/8' }] } }],
      },
      policyDocument:
        '%7B%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22s3%3A*%22%2C%22Resource%22%3A%22*%22%7D%5D%7D',
    },
  };
  it('fills dotted paths through arrays with distinct values', () => {
    assert.equal(
      renderReason(
        '{eventName} opens {requestParameters.groupId} to {requestParameters.ipPermissions.items.ipRanges.items.cidrIp}',
        record,
      ),
      'AuthorizeSecurityGroupIngress opens sg-1 to 0.0.0.0/0, 10.0.0.0/8',
    );
  });
  it('shows ? for a missing value and counts with |count', () => {
    assert.equal(
      renderReason(
        '{requestParameters.nope} / {requestParameters.ipPermissions.items.ipRanges.items|count}',
        record,
      ),
      '? / 2',
    );
  });
  it('summarises URL-encoded policy documents with |grants', () => {
    assert.equal(
      renderReason('grants {requestParameters.policyDocument|grants}', record),
      'grants s3:* on *',
    );
  });
  it('never resolves inherited properties', () => {
    assert.equal(renderReason('{constructor} {__proto__.polluted}', {}), '? ?');
  });
  it('reports unknown filters', () => {
    assert.deepEqual(unknownReasonFilters('{a|grants} {b|shout}'), ['shout']);
  });
});

describe('policy documents', () => {
  it('reads single statements, lists, NotAction and principals', () => {
    const doc = JSON.stringify({
      Statement: [
        { Effect: 'Allow', NotAction: 'iam:*', Resource: '*' },
        { Effect: 'Allow', Principal: { AWS: '*' }, Action: ['s3:GetObject'], Resource: 'arn:aws:s3:::b/*' },
        { Effect: 'Deny', Action: '*', Resource: '*' },
      ],
    });
    assert.equal(summarizeGrants(doc), 'everything except iam:* on *; s3:GetObject on arn:aws:s3:::b/* to *');
    assert.equal(parsePolicyDocument('not json'), undefined);
    assert.equal(summarizeGrants({ Statement: { Effect: 'Deny', Action: '*' } }), 'nothing (deny only)');
  });
});
