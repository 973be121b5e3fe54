/**
 * The rule engine's fast paths (issue 7) agree with the general ones they stand in for: a field check
 * with its own field walk, a string memo, a case-insensitive substring scan, a candidate judged as data
 * (a field check, a plan of checks), the index's filter on names and its table of names. Properties
 * over random values and over the corpus, so every route a record can take is compared.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { generateRecords, loadCorpus } from '../../../bench/inputs.js';
import { syntheticRuleSet } from '../../../bench/synthetic-rules.js';
import type { CloudTrailRecord } from '../../../cloudtrail/record.js';
import { BUNDLED_RULES_DIR, checkRuleSources, loadRuleDirs } from '../../../rules/loader.js';
import { checkPlanOf } from '../../../rules/sigma/detection.js';
import { FieldPath, internKey } from '../../../rules/sigma/fieldpath.js';
import { NameTable } from '../../../rules/sigma/ruleset.js';
import { containsFold, MEMO_MIN_LENGTH, memoized } from '../../../rules/sigma/strings.js';
import { fieldCheckOf } from '../../../rules/sigma/values.js';
import type { Rule, RuleSet } from '../../../rules/types.js';
import { compileOk, rec } from './helpers.js';

const corpus = loadCorpus();
const records = generateRecords(corpus, 2_000, { seed: 17, anchorMs: Date.parse('2025-06-02T12:00:00Z') });

/** Values a record's fields may hold, nested: what the direct route and the general walk must agree on. */
const leafValue = fc.oneof(
  fc.constantFrom(
    'Root',
    'root',
    'AssumedRole',
    'AccessDenied',
    'TruffleHog',
    'pacu',
    'kali-linux',
    '10.1.2.3',
  ),
  fc.string({ maxLength: 12 }),
  fc.integer({ min: -3, max: 3 }),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
);
const nested = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, leafValue, tie('array'), tie('object')),
  array: fc.array(tie('value'), { maxLength: 3 }),
  object: fc.dictionary(
    fc.constantFrom('a', 'b', 'c', 'a.b', 'b.c', 'a.b.c', '__proto__', 'constructor'),
    tie('value'),
    {
      maxKeys: 4,
    },
  ),
})).value;

/** Records: those keys at the top too, literal dotted ones included. */
const topLevel = fc.dictionary(fc.constantFrom('a', 'b', 'c', 'a.b', 'a.b.c', 'b.c', 'constructor'), nested, {
  maxKeys: 5,
});

/** Items of every kind a FieldCheck runs, on paths of one to four segments. */
const ITEMS: [string, string][] = [
  ['a', 'Root'],
  ['a|contains', "'oo'"],
  ['a|startswith', 'Ro'],
  ['a|endswith', "'ot'"],
  ['a.b', '[Root, AssumedRole]'],
  ['a.b|contains', '[TruffleHog, pacu, kali]'],
  ['a.b', "'*o?t*'"],
  ['a.b', '1'],
  ['a.b', 'true'],
  ['a.b', 'null'],
  ['a.b|cidr', '10.0.0.0/8'],
  ['a.b|re', "'^R.o'"],
  ['a.b|exists', 'true'],
  ['a.b|exists', 'false'],
  ['a.b|neq', 'Root'],
  ['a.b.c', '[Root, x]'],
  ['a.b.c|contains', 'o'],
  ['a.b.c.a', 'Root'],
  ['a.b.c.a|exists', 'true'],
];

describe('field checks (the direct route of a field test)', () => {
  it('agree with the general walk of FieldPath on any nested value, dotted keys and arrays included', () => {
    for (const [key, value] of ITEMS) {
      const rule = compileOk(`
        detection:
          sel:
            ${key}: ${value}
          condition: sel
      `);
      const check = fieldCheckOf(rule.matchesCandidate);
      fc.assert(
        fc.property(topLevel, (fields) => {
          const record = fields as unknown as CloudTrailRecord;
          const fast = rule.matches(record);
          // The field test against the reference: the general walk over the same value test.
          if (check) assert.equal(fast, check.path.some(record, check.pred, undefined), `${key}: ${value}`);
          else if (key.endsWith('|exists')) {
            // exists: false — no branch of the path reaches a value.
            const path = new FieldPath(key.split('|')[0] as string);
            assert.equal(fast, !path.some(record, (x) => x !== undefined, undefined), `${key}: ${value}`);
          } else {
            // neq: present, not null, and no value equal (case-insensitively) to the one given.
            const path = new FieldPath(key.split('|')[0] as string);
            const present = path.some(record, (x) => x !== undefined && x !== null, undefined);
            const isRoot = (x: unknown): boolean =>
              typeof x === 'string'
                ? x.toLowerCase() === 'root'
                : typeof x === 'object' && x !== null && Object.values(x).some(isRoot);
            const equal = path.some(record, (x) => x === undefined || x === null || isRoot(x), undefined);
            assert.equal(fast, present && !equal, `${key}: ${value}`);
          }
          return true;
        }),
        { numRuns: 600, seed: 7 },
      );
    }
  });

  it('never read inherited properties, whatever the prototype holds', () => {
    const rule = compileOk(`
      detection:
        sel:
          polluted.deep: yes
        condition: sel
    `);
    const proto = { polluted: { deep: 'yes' }, 'polluted.deep': 'yes' };
    const record = Object.create(proto) as CloudTrailRecord;
    assert.equal(rule.matches(record), false);
    const own = Object.assign(Object.create(proto), { polluted: Object.create({ deep: 'yes' }) });
    assert.equal(rule.matches(own), false);
    assert.equal(rule.matches({ polluted: { deep: 'YES' } } as unknown as CloudTrailRecord), true);
    const flat = compileOk(`
      detection:
        sel:
          polluted: yes
        condition: sel
    `);
    assert.equal(flat.matches(Object.create({ polluted: 'yes' })), false);
    assert.equal(flat.matches(Object.assign(Object.create({ polluted: 'no' }), { polluted: 'yes' })), true);
    const deeper = compileOk(`
      detection:
        sel:
          a.b.c: yes
        condition: sel
    `);
    assert.equal(
      deeper.matches({ a: { b: Object.create({ c: 'yes' }) } } as unknown as CloudTrailRecord),
      false,
    );
    assert.equal(deeper.matches({ a: { b: { c: 'yes' } } } as unknown as CloudTrailRecord), true);
    // A string whose test passes is checked to be the record's own only then: long (memoized) and
    // short values, one and two segments, own and inherited at either level.
    const long = `Mozilla/5.0 ${'x'.repeat(80)} pacu/1.0`;
    const contains = compileOk(`
      detection:
        sel:
          userAgent|contains: pacu
        condition: sel
    `);
    const nested = compileOk(`
      detection:
        sel:
          userIdentity.arn|contains: pacu
        condition: sel
    `);
    const rec = (o: object) => o as unknown as CloudTrailRecord;
    for (const ua of [long, 'pacu/1.0']) {
      assert.equal(contains.matches(rec({ userAgent: ua })), true, ua);
      assert.equal(contains.matches(rec(Object.create({ userAgent: ua }))), false, ua);
      assert.equal(nested.matches(rec({ userIdentity: { arn: ua } })), true, ua);
      assert.equal(nested.matches(rec({ userIdentity: Object.create({ arn: ua }) })), false, ua);
      assert.equal(nested.matches(rec(Object.create({ userIdentity: { arn: ua } }))), false, ua);
    }
    // Where a missing field passes (null), an inherited value is the field missing.
    const absent = compileOk(`
      detection:
        sel:
          userAgent: null
        condition: sel
    `);
    assert.equal(absent.matches(rec(Object.create({ userAgent: long }))), true);
    assert.equal(absent.matches(rec({ userAgent: long })), false);
  });

  it('an own key holding undefined, and a literal dotted key, count as the general walk has them', () => {
    const missingMatches = compileOk(`
      detection:
        sel:
          a.b: null
        condition: sel
    `);
    const check = fieldCheckOf(missingMatches.matchesCandidate);
    assert.ok(check);
    for (const record of [
      { a: { b: 'x' }, 'a.b': undefined },
      { a: { b: undefined } },
      { a: undefined },
      { 'a.b': null, a: { b: 'x' } },
      { a: [{ b: 'x' }, {}] },
    ]) {
      assert.equal(
        check.check(record, undefined),
        check.path.some(record, check.pred, undefined),
        JSON.stringify(record),
      );
    }
  });

  it('every field test the bundled rules compile has its check, and candidates use them', async () => {
    const ruleSet = await loadRuleDirs([BUNDLED_RULES_DIR]);
    const kinds = new Map<string, number>();
    for (const r of records) {
      for (const c of ruleSet.candidateTests?.(r) ?? []) {
        kinds.set(c.constructor.name, (kinds.get(c.constructor.name) ?? 0) + 1);
      }
    }
    // Most candidates are judged as data (a field check, or a plan of checks).
    const data = (kinds.get('CheckedCandidate') ?? 0) + (kinds.get('PlannedCandidate') ?? 0);
    const all = [...kinds.values()].reduce((a, b) => a + b, 0);
    assert.ok(data / all > 0.8, JSON.stringify([...kinds]));
  });
});

describe('candidates judged as data', () => {
  it('a plan of checks (and, and not, all of) agrees with the compiled condition', () => {
    const rule = compileOk(`
      detection:
        sel:
          eventSource: iam.amazonaws.com
          a.b: Root
          c|contains: oo
        sel_also:
          b: [x, Root]
        filter:
          a.b|exists: true
          b: Root
        condition: all of sel* and not filter
    `);
    const plan = checkPlanOf(rule.matchesCandidate);
    assert.ok(plan);
    assert.equal(plan.none.length, 1);
    fc.assert(
      fc.property(nested, nested, nested, (a, b, c) => {
        const record = { eventSource: 'iam.amazonaws.com', a, b, c } as unknown as CloudTrailRecord;
        let expected = true;
        for (const check of plan.all) expected &&= check.check(record, undefined);
        for (const group of plan.none)
          if (group.every((check) => check.check(record, undefined))) expected = false;
        assert.equal(rule.matchesCandidate?.(record), expected);
        return true;
      }),
      { numRuns: 500, seed: 3 },
    );
  });

  it('conditions with or, lists of maps, keywords or within are not planned', () => {
    const bodies = [
      'detection:\n  a:\n    b: x\n  c:\n    d: y\n  condition: a or c\n',
      'detection:\n  a:\n    - b: x\n    - d: y\n  condition: a\n',
      'detection:\n  k:\n    - TruffleHog\n  condition: k\n',
      'detection:\n  s:\n    items.name: x\n    items.value: y\n  condition: s\nsecbot:\n  within:\n    s: items\n',
    ];
    for (const body of bodies) {
      const rule = compileOk(body);
      assert.equal(checkPlanOf(rule.matchesCandidate), undefined, body);
      assert.equal(fieldCheckOf(rule.matchesCandidate), undefined, body);
    }
  });

  it('on the corpus, every candidate of the bundled and 1,000 synthetic rules agrees with matches', async () => {
    const sets: RuleSet[] = [
      await loadRuleDirs([BUNDLED_RULES_DIR]),
      syntheticRuleSet(corpus, 1_000, 9).ruleSet,
    ];
    for (const ruleSet of sets) {
      for (const record of records) {
        for (const c of ruleSet.candidateTests?.(record) ?? []) {
          assert.equal(c.test(record), c.rule.matches(record), `${c.rule.id} on ${record.eventName}`);
        }
      }
    }
  });
});

describe('string memo', () => {
  it('answers as the test does, for strings that repeat, collide or differ in one character', () => {
    let calls = 0;
    const test = (s: string) => {
      calls++;
      return /kali|pacu/i.test(s);
    };
    const memo = memoized(test);
    const base = `aws-cli/2.15.0 Python/3.11.6 Linux/6.1.0 exe/x86_64.${'x'.repeat(40)}`;
    const variants = [base];
    for (let i = 0; i < base.length; i += 3) {
      variants.push(`${base.slice(0, i)}K${base.slice(i + 1)}`);
      variants.push(`${base.slice(0, i)}${'kali'}${base.slice(i + 4)}`);
    }
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...variants), { minLength: 50, maxLength: 400 }), (seq) => {
        for (const s of seq) assert.equal(memo(`${s}`), test(s));
        return true;
      }),
      { numRuns: 50, seed: 11 },
    );
    // Repeated strings are answered from the memo.
    calls = 0;
    for (let k = 0; k < 100; k++) memo(String(base));
    assert.ok(calls <= 1, `${calls} calls`);
  });

  it('tests short strings directly, and stops remembering values that do not repeat', () => {
    let calls = 0;
    const memo = memoized((s) => {
      calls++;
      return s.includes('z');
    });
    memo('short');
    memo('short');
    assert.equal(calls, 2);
    calls = 0;
    for (let k = 0; k < 5_000; k++) memo(`${'u'.repeat(MEMO_MIN_LENGTH)}-${k}`);
    assert.equal(calls, 5_000);
    // Switched off: a repeated long value is now tested each time.
    calls = 0;
    const again = `${'u'.repeat(MEMO_MIN_LENGTH)}-again`;
    memo(again);
    memo(again);
    assert.equal(calls, 2);
  });

  it('user-agent rules fire exactly as their expression says on corpus user agents and their variants', async () => {
    const ruleSet = await loadRuleDirs([BUNDLED_RULES_DIR]);
    const rule = ruleSet.rules.find((r) => r.id === 'offensive-tool-user-agent') as Rule;
    const re = /TruffleHog|Pacu|S3 Browser|kali|parrot|pentoo/i;
    const agents = [...new Set(corpus.records.map((r) => r.userAgent).filter((u) => typeof u === 'string'))];
    for (let round = 0; round < 3; round++) {
      for (const ua of agents as string[]) {
        for (const u of [ua, `${ua} KALI`, ua.replace(/a/g, 'A'), `${ua.slice(0, -1)}`]) {
          assert.equal(rule.matches(rec({ userAgent: u })), re.test(u), u);
        }
      }
    }
  });
});

describe('containsFold', () => {
  it('finds what a case-insensitive literal RegExp finds', () => {
    const text = fc.string({
      unit: fc.constantFrom('a', 'A', 'b', 'K', 'k', '\u212a', 'ſ', 'S', 's', 'İ', 'i', '-', ' '),
      maxLength: 20,
    });
    fc.assert(
      fc.property(text, fc.constantFrom('ak', 'sk', 'a-b', 'kis', 'a'), (s, lit) => {
        const re = new RegExp(lit.replace(/[-]/g, '\\$&'), 'i');
        return containsFold(s, lit.toLowerCase()) === re.test(s);
      }),
      { numRuns: 2_000, seed: 5 },
    );
  });
});

describe('the index', () => {
  it('filters rules that test the name beyond equality (eventName|startswith) by the name, soundly', () => {
    const { ruleSet } = checkRuleSources([
      {
        file: 'p.yml',
        text: 'title: p\nid: p\nlevel: low\nlogsource: { product: aws, service: cloudtrail }\ndetection:\n  s:\n    eventSource: s3.amazonaws.com\n    eventName|startswith: Delete\n  condition: s\n',
      },
      {
        file: 'q.yml',
        text: 'title: q\nid: q\nlevel: low\nlogsource: { product: aws, service: cloudtrail }\ndetection:\n  s:\n    eventName|endswith: Bucket\n  f:\n    eventName: DeleteBucket\n  condition: s and not f\n',
      },
    ]);
    const ids = (eventName: string, eventSource = 's3.amazonaws.com') =>
      (ruleSet.candidates(rec({ eventName, eventSource })) ?? []).map((r) => r.id);
    assert.deepEqual(ids('DeleteBucket'), ['p', 'q']);
    assert.deepEqual(ids('deleteBUCKET'), ['p', 'q']);
    assert.deepEqual(ids('CreateBucket'), ['q']);
    assert.deepEqual(ids('PutObject'), []);
    assert.deepEqual(ids('DeleteObject', 'ec2.amazonaws.com'), []);
    for (const eventName of [
      'DeleteBucket',
      'deletebucket',
      'CreateBucket',
      'Delete',
      'PutObject',
      'Bucket',
    ]) {
      for (const eventSource of ['s3.amazonaws.com', 'S3.amazonaws.com', 'ec2.amazonaws.com']) {
        const record = rec({ eventName, eventSource });
        const cands = ruleSet.candidates(record);
        for (const r of ruleSet.rules)
          assert.ok(!r.matches(record) || cands.includes(r), `${r.id} ${eventName}`);
      }
    }
  });

  it('shares one candidate list among the names that have the same rules', async () => {
    const ruleSet = await loadRuleDirs([BUNDLED_RULES_DIR]);
    const a = ruleSet.candidateTests?.(
      rec({ eventName: 'DescribeInstances', eventSource: 'ec2.amazonaws.com' }),
    );
    const b = ruleSet.candidateTests?.(rec({ eventName: 'ListBuckets', eventSource: 's3.amazonaws.com' }));
    assert.ok(a && a.length > 0);
    assert.equal(a, b);
  });

  it('NameTable finds what was set, through collisions and growth', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.string({ maxLength: 6 }), { maxLength: 300 }), (names) => {
        const table = new NameTable<number>();
        names.forEach((n, i) => {
          table.set(n, i);
        });
        names.forEach((n, i) => {
          assert.equal(table.get(n), i);
        });
        assert.equal(table.size, names.length);
        assert.equal(table.get('\u0000not there'), undefined);
        return true;
      }),
      { numRuns: 100, seed: 1 },
    );
  });

  it('internKey keeps the key as it is', () => {
    for (const k of ['a', 'requestParameters.bucketName', '__proto__', '0', ''])
      assert.equal(internKey(k), k);
    assert.deepEqual(new FieldPath('a.b.c').values({ a: { b: { c: 1 } }, 'a.b': { c: 2 } }), [1, 2]);
  });
});
