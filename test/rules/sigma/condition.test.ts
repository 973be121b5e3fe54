import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCondition } from '../../../rules/sigma/condition.js';
import { compileOk, errorText, HEADER_LINES, rec } from './helpers.js';

/** A rule with three one-field selections a, b, c on userAgent (contains 'a', 'b', 'c'), plus `extra`. */
function abc(condition: string, extra = '') {
  return compileOk(`
    detection:
      sel_a:
        userAgent|contains: 'A'
      sel_b:
        userAgent|contains: 'B'
      sel_c:
        userAgent|contains: 'C'
      ${extra}
      condition: ${condition}
  `);
}
const ua = (s: string) => rec({ userAgent: s });

describe('condition', () => {
  it('an identifier, and, or, not', () => {
    assert.equal(abc('sel_a').matches(ua('A')), true);
    assert.equal(abc('sel_a and sel_b').matches(ua('A')), false);
    assert.equal(abc('sel_a and sel_b').matches(ua('AB')), true);
    assert.equal(abc('sel_a or sel_b').matches(ua('B')), true);
    assert.equal(abc('sel_a or sel_b').matches(ua('C')), false);
    assert.equal(abc('not sel_a').matches(ua('B')), true);
    assert.equal(abc('not sel_a').matches(ua('A')), false);
    assert.equal(abc('not not sel_a').matches(ua('A')), true);
    assert.equal(abc('sel_a AND NOT sel_b').matches(ua('A')), true, 'keywords are case-insensitive');
  });

  it('precedence is not > and > or', () => {
    // a or b and c  ==  a or (b and c)
    const r = abc('sel_a or sel_b and sel_c');
    assert.equal(r.matches(ua('A')), true);
    assert.equal(r.matches(ua('B')), false);
    assert.equal(r.matches(ua('BC')), true);
    // not a and b  ==  (not a) and b
    const n = abc('not sel_a and sel_b');
    assert.equal(n.matches(ua('B')), true);
    assert.equal(n.matches(ua('AB')), false);
    assert.equal(n.matches(ua('C')), false);
    // not a or b == (not a) or b
    assert.equal(abc('not sel_a or sel_b').matches(ua('AB')), true);
  });

  it('parentheses override precedence', () => {
    const r = abc('(sel_a or sel_b) and sel_c');
    assert.equal(r.matches(ua('A')), false);
    assert.equal(r.matches(ua('AC')), true);
    assert.equal(abc('not (sel_a or sel_b)').matches(ua('C')), true);
    assert.equal(abc('not (sel_a or sel_b)').matches(ua('B')), false);
    assert.equal(abc('((sel_a))').matches(ua('A')), true);
  });

  it('1 of / any of / all of a pattern', () => {
    assert.equal(abc('1 of sel_*').matches(ua('C')), true);
    assert.equal(abc('1 of sel_*').matches(ua('x')), false);
    assert.equal(abc('any of sel_*').matches(ua('B')), true);
    assert.equal(abc('all of sel_*').matches(ua('AB')), false);
    assert.equal(abc('all of sel_*').matches(ua('ABC')), true);
  });

  it('1 of them / all of them skip identifiers starting with _', () => {
    const extra = `_helper:
        userAgent|contains: 'Z'`;
    assert.equal(abc('1 of them', extra).matches(ua('Z')), false);
    assert.equal(abc('1 of them', extra).matches(ua('A')), true);
    assert.equal(abc('all of them', extra).matches(ua('ABC')), true);
    assert.equal(abc('all of them or _helper', extra).matches(ua('Z')), true);
  });

  it('a list of conditions is an OR', () => {
    const r = compileOk(`
      detection:
        sel_a:
          userAgent|contains: 'A'
        sel_b:
          userAgent|contains: 'B'
        condition:
          - sel_a
          - sel_b
    `);
    assert.equal(r.matches(ua('B')), true);
    assert.equal(r.matches(ua('C')), false);
  });

  it('is parsed into closures once (no tree walk per record)', () => {
    const tree = parseCondition('a and not (b or 1 of c*)');
    assert.deepEqual(tree, {
      t: 'and',
      xs: [
        { t: 'id', name: 'a' },
        {
          t: 'not',
          x: {
            t: 'or',
            xs: [
              { t: 'id', name: 'b' },
              { t: 'of', quant: 'one', pattern: 'c*', names: [] },
            ],
          },
        },
      ],
    });
  });
});

describe('condition errors', () => {
  const condErr = (condition: string, pattern: RegExp) => {
    const text = errorText(`
      detection:
        sel_a:
          userAgent: x
        condition: ${condition}
    `);
    assert.match(text, pattern);
    assert.match(text, new RegExp(`^test\\.yml:${HEADER_LINES + 4}:\\d+: error: condition`, 'm'));
  };

  it('an undefined identifier', () =>
    condErr('sel_a and sel_zz', /search identifier 'sel_zz' is not defined/));
  it('a pattern matching no identifier', () =>
    condErr('1 of filter_*', /pattern 'filter_\*' matches no search identifier/));
  it('aggregations', () =>
    condErr('sel_a | count() by userIdentity.arn > 5', /aggregations are not supported/));
  it('unbalanced parentheses', () => condErr('(sel_a', /expected \) but found the end/));
  it('a stray token', () => condErr('sel_a sel_a', /unexpected 'sel_a' at column 7/));
  it('dangling operator', () => condErr('sel_a and', /condition ends where an identifier/));
  it('N of other than 1/all', () => condErr('2 of sel_*', /'2 of' is not supported/));
  it('a bare wildcard', () => condErr('sel_*', /needs '1 of' or 'all of'/));
  it('an empty condition', () => condErr("''", /condition is empty/));

  it('timeframe is refused', () => {
    assert.match(
      errorText(`
        detection:
          sel_a:
            userAgent: x
          timeframe: 5m
          condition: sel_a
      `),
      /'timeframe' \(aggregation over time\) is not supported/,
    );
  });

  it('no condition, no identifiers, mixed list', () => {
    assert.match(errorText('detection:\n  sel: {userAgent: x}\n'), /'detection' has no condition/);
    assert.match(errorText('detection:\n  condition: sel\n'), /defines no search identifier/);
    assert.match(
      errorText('detection:\n  sel: [{userAgent: x}, y]\n  condition: sel\n'),
      /mixes maps and plain values/,
    );
  });
});
