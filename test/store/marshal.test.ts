import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { newId } from '../../store/ids.js';
import { Expr, fromItem, toAttr, toItem, Update } from '../../store/marshal.js';

describe('marshalling', () => {
  test('plain values round-trip; undefined properties are left out; dates become ISO strings', () => {
    const value = {
      s: 'x',
      empty: '',
      n: 1.5,
      zero: 0,
      b: false,
      nil: null,
      list: [1, 'two', { three: 3 }, []],
      map: { nested: { deep: true } },
      skip: undefined,
    };
    const item = toItem(value);
    assert.equal('skip' in item, false);
    const { skip: _skip, ...rest } = value;
    assert.deepEqual(fromItem(item), rest);
    assert.deepEqual(toAttr(new Date('2026-11-20T10:00:00Z')), { S: '2026-11-20T10:00:00.000Z' });
  });

  test('values DynamoDB cannot hold are refused', () => {
    assert.throws(() => toAttr(Number.NaN), TypeError);
    assert.throws(() => toAttr(Number.POSITIVE_INFINITY), TypeError);
    assert.throws(() => toAttr(() => 1), TypeError);
  });

  test('expressions use placeholders for every name and value', () => {
    const x = new Expr();
    const u = new Update(x).assign({ state: 'OPEN', gone: null, skipped: undefined });
    u.add.push(`${x.name('callCount')} ${x.value(1)}`);
    assert.equal(u.toString(), 'SET #n0 = :v0 ADD #n2 :v1 REMOVE #n1');
    assert.equal(x.path('joined', 'state'), '#n3.#n0');
    assert.equal(x.oneOf('state', ['OPEN', 'DUO_PENDING']), '#n0 IN (:v2, :v3)');
    assert.deepEqual(x.params().ExpressionAttributeNames, {
      '#n0': 'state',
      '#n1': 'gone',
      '#n2': 'callCount',
      '#n3': 'joined',
    });
  });
});

describe('ids', () => {
  test('ids carry the prefix and sort by creation time', () => {
    const a = newId('v_', new Date('2026-01-01T00:00:00Z'));
    const b = newId('v_', new Date('2026-01-01T00:00:00.001Z'));
    const c = newId('v_', new Date('2030-01-01T00:00:00Z'));
    assert.match(a, /^v_[0-9A-HJKMNP-TV-Z]{26}$/);
    assert.ok(a < b && b < c);
    assert.notEqual(newId('v_'), newId('v_'));
  });
});
