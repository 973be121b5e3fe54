import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { loadCorpus } from '../../bench/inputs.js';
import { BUNDLED_RULES_DIR, loadRuleDirs } from '../../rules/loader.js';
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

  it('renders as the general collection of values does, on any nested value (the one-value route)', () => {
    const value = fc.letrec((tie) => ({
      v: fc.oneof(
        { depthSize: 'small' },
        fc.constantFrom('', 'x', 'AccessDenied', '%7B%22Statement%22%3A%5B%5D%7D'),
        fc.integer({ min: -2, max: 2 }),
        fc.boolean(),
        fc.constant(null),
        fc.constant(undefined),
        fc.array(tie('v'), { maxLength: 3 }),
        fc.dictionary(fc.constantFrom('a', 'b', 'a.b', '__proto__'), tie('v'), { maxKeys: 3 }),
      ),
    })).v;
    const paths = ['a', 'a.b', 'b.a.b', 'a.b|count', 'a|first', 'a.b|grants', 'b|shout', 'a.__proto__'];
    fc.assert(
      fc.property(value, fc.constantFrom(...paths), (v, path) => {
        const record = { a: v, b: { a: v } };
        assert.equal(renderReason(`{${path}}`, record), referenceRender(path, record), path);
        return true;
      }),
      { numRuns: 2_000, seed: 13 },
    );
  });

  it('renders every bundled rule reason as the general collection does, over the corpus', async () => {
    const ruleSet = await loadRuleDirs([BUNDLED_RULES_DIR]);
    const templates = ruleSet.rules.flatMap((r) => (r.reason ? [r.reason] : []));
    const records = loadCorpus().records.slice(0, 1_500);
    for (const template of templates) {
      for (const r of records) {
        const expected = template.replace(
          /\{([A-Za-z0-9_.$@-]+)(?:\|([a-z_]+))?\}/g,
          (_, p: string, f?: string) => referenceRender(f ? `${p}|${f}` : p, r),
        );
        assert.equal(renderReason(template, r), expected, template);
      }
    }
  });
});

/** The reason renderer as it was before its one-value route: every value collected, then rendered. */
function referenceRender(placeholder: string, record: unknown): string {
  const [path = '', filter] = placeholder.split('|');
  const segs = path.split('.');
  const out: unknown[] = [];
  const collect = (v: unknown, i: number): void => {
    if (i === segs.length) {
      if (Array.isArray(v)) {
        for (const el of v) if (el !== null && el !== undefined && el !== '') out.push(el);
      } else if (v !== null && v !== undefined && v !== '') out.push(v);
      return;
    }
    const key = segs[i] as string;
    if (Array.isArray(v)) {
      for (const el of v) {
        if (el !== null && typeof el === 'object' && !Array.isArray(el) && Object.hasOwn(el, key)) {
          collect((el as Record<string, unknown>)[key], i + 1);
        }
      }
      return;
    }
    if (v !== null && typeof v === 'object' && Object.hasOwn(v, key)) {
      collect((v as Record<string, unknown>)[key], i + 1);
    }
  };
  collect(record, 0);
  const show = (v: unknown): string => {
    const s = typeof v === 'string' ? v : JSON.stringify(v);
    return s.length > 120 ? `${s.slice(0, 119)}…` : s;
  };
  if (filter === 'count') return String(out.length);
  if (out.length === 0) return '?';
  if (filter === 'grants') return summarizeGrants(out[0]) ?? show(out[0]);
  if (filter === 'first' || out.length === 1) return show(out[0]);
  const distinct = [...new Set(out.map(show))];
  return distinct.length > 3
    ? `${distinct.slice(0, 3).join(', ')} and ${distinct.length - 3} more`
    : distinct.join(', ');
}

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
