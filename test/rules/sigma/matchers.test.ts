import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { cidrMatcher, parseCidr } from '../../../rules/sigma/cidr.js';
import { FieldPath } from '../../../rules/sigma/fieldpath.js';
import { regexHazard } from '../../../rules/sigma/regex.js';
import { compileStringTest, parseSigmaString } from '../../../rules/sigma/strings.js';
import { base64Offsets } from '../../../rules/sigma/values.js';

describe('cidr', () => {
  const m = (nets: string[]) => cidrMatcher(nets.map(parseCidr));

  it('IPv4 prefixes of every length', () => {
    assert.equal(m(['0.0.0.0/0'])('255.255.255.255'), true);
    assert.equal(m(['172.16.0.0/12'])('172.31.255.255'), true);
    assert.equal(m(['172.16.0.0/12'])('172.32.0.0'), false);
    assert.equal(m(['192.168.1.128/25'])('192.168.1.200'), true);
    assert.equal(m(['192.168.1.128/25'])('192.168.1.127'), false);
    assert.equal(m(['1.2.3.4/32'])('1.2.3.4'), true);
    assert.equal(m(['1.2.3.4'])('1.2.3.5'), false);
  });

  it('IPv6, with :: anywhere and an embedded IPv4 tail', () => {
    assert.equal(m(['::/0'])('2600:1f18::1'), true);
    assert.equal(m(['::/0'])('10.0.0.1'), false, 'families do not mix');
    assert.equal(m(['0.0.0.0/0'])('::1'), false);
    assert.equal(m(['fe80::/10'])('fe80::1%eth0'), false, 'zone ids are not addresses here');
    assert.equal(m(['fe80::/10'])('FEBF:0:0:0:0:0:0:1'), true);
    assert.equal(m(['fe80::/10'])('fec0::1'), false);
    assert.equal(m(['::ffff:0:0/96'])('::ffff:10.1.2.3'), true);
    assert.equal(m(['2001:db8::/48'])('2001:db8:0:ffff::'), true);
    assert.equal(m(['2001:db8::/48'])('2001:db8:1::'), false);
    assert.equal(m(['::1/128'])('0:0:0:0:0:0:0:1'), true);
  });

  it('CIDR values match when the whole network is inside', () => {
    assert.equal(m(['10.0.0.0/8'])('10.1.0.0/16'), true);
    assert.equal(m(['10.0.0.0/8'])('0.0.0.0/0'), false);
    assert.equal(m(['::/0'])('::/0'), true);
    assert.equal(m(['10.0.0.0/8'])('10.1.0.0/33'), false);
    assert.equal(m(['10.0.0.0/8'])('10.1.0.0/'), false);
  });

  it('rejects what is not an address', () => {
    for (const bad of [
      '',
      'AWS Internal',
      '08.1.250.216',
      '1.2.3',
      '1.2.3.4.5',
      '256.1.1.1',
      '1..2.3',
      ':::',
      '1:2:3:4:5:6:7:8:9',
      '1::2::3',
      '12345::',
      'g::1',
      '1.2.3.4:80',
    ]) {
      assert.equal(m(['0.0.0.0/0', '::/0'])(bad), false, bad);
    }
    assert.throws(() => parseCidr('10.0.0.0/33'), /invalid prefix length/);
    assert.throws(() => parseCidr('fe80::/129'), /invalid prefix length/);
    assert.throws(() => parseCidr('10.0.0/8'), /not an IPv4 or IPv6 network/);
  });

  it('agrees with a reference on random IPv4 addresses and networks', () => {
    const toInt = (o: number[]) => o.reduce((a, b) => a * 256 + b, 0);
    const octets = fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 });
    fc.assert(
      fc.property(octets, octets, fc.integer({ min: 0, max: 32 }), (addr, net, prefix) => {
        const size = 2 ** (32 - prefix);
        const expected = Math.floor(toInt(addr) / size) === Math.floor(toInt(net) / size);
        return m([`${net.join('.')}/${prefix}`])(addr.join('.')) === expected;
      }),
    );
  });
});

describe('sigma strings', () => {
  /** Reference: the wildcard pattern as an anchored case-insensitive RegExp. */
  const reference = (pattern: string, s: string) => {
    let src = '';
    for (const p of parseSigmaString(pattern)) {
      src +=
        typeof p === 'string' ? p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') : p.wildcard === '*' ? '.*' : '.';
    }
    return new RegExp(`^${src}$`, 'is').test(s);
  };

  it('wildcard matching agrees with a regular-expression reference', () => {
    const alphabet = fc.constantFrom('a', 'B', 'b', '*', '?', '\\', '.', 'Z');
    fc.assert(
      fc.property(
        fc.string({ unit: alphabet, maxLength: 8 }),
        fc.string({ unit: alphabet, maxLength: 12 }),
        (pattern, s) => {
          const test = compileStringTest(parseSigmaString(pattern), 'exact', false);
          return test(s) === reference(pattern, s);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('contains / startswith / endswith agree with plain string functions', () => {
    const word = fc.string({ unit: fc.constantFrom('a', 'b', 'A', 'x'), maxLength: 6 });
    fc.assert(
      fc.property(word, word, (needle, s) => {
        const low = s.toLowerCase();
        const n = needle.toLowerCase();
        return (
          compileStringTest([needle].filter(Boolean), 'contains', false)(s) === low.includes(n) &&
          compileStringTest([needle].filter(Boolean), 'startswith', false)(s) === low.startsWith(n) &&
          compileStringTest([needle].filter(Boolean), 'endswith', false)(s) === low.endsWith(n) &&
          compileStringTest([needle].filter(Boolean), 'exact', true)(s) === (s === needle)
        );
      }),
    );
  });
});

describe('regex hazards', () => {
  it('flags nested quantifiers and back-references', () => {
    for (const bad of [
      '(a+)+',
      '(a*)*',
      '(.*)*',
      '(?:a|b+)*',
      '((ab)+c)+',
      '(\\w+\\s?)*$',
      '(a{2,})+',
      '(a+){2,5}',
      '(a)\\1',
    ]) {
      assert.ok(regexHazard(bad), bad);
    }
  });

  it('accepts ordinary patterns', () => {
    for (const ok of [
      '.+:assumed-role/aws:.+',
      '^arn:aws:iam::\\d{12}:root$',
      '(ab)+',
      '(a|b)?c+',
      '[(+*)]+',
      '\\(a+\\)+',
      'x{2}(y{1})+',
      '(?<n>a)b*',
    ]) {
      assert.equal(regexHazard(ok), undefined, ok);
    }
  });
});

describe('field paths', () => {
  it('values() lists every value along arrays, in order', () => {
    const p = new FieldPath('a.b.c');
    assert.deepEqual(p.values({ a: [{ b: { c: 1 } }, { b: [{ c: [2, 3] }, { d: 4 }] }] }), [1, 2, 3]);
    assert.deepEqual(p.values({ 'a.b': { c: 'dotted' }, a: { 'b.c': 'mixed' } }), ['mixed', 'dotted']);
  });
});

describe('base64offset', () => {
  it('produces the three variants pySigma produces', () => {
    // base64(" foobar") = IGZvb2Jhcg==, base64("  foobar") = ICBmb29iYXI=; the unstable edges are cut.
    assert.deepEqual(base64Offsets('foobar'), ['Zm9vYmFy', 'Zvb2Jhc', 'mb29iYX']);
  });
});
