/**
 * Mutated and malicious rule files: catastrophic regular expressions, enormous lists, YAML alias bombs and
 * nesting, huge files, unsupported modifiers. Each is refused with a message naming the file (and the line
 * where there is one), or loads and runs in bounded time. And no rule a file can express — nor any value a
 * CloudTrail record can carry — makes one evaluation slow.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { CloudTrailRecord } from '../../cloudtrail/record.js';
import { BUNDLED_RULES_DIR, checkRuleDirs, loadRuleDirs, RuleLoadError } from '../../rules/loader.js';
import { compileRuleFile } from '../../rules/sigma/compiler.js';
import { LINEAR_TIME_REGEX, linearSource, MAX_REGEX_INPUT } from '../../rules/sigma/regex.js';
import { formatRuleIssue, type Rule } from '../../rules/types.js';

const HEAD =
  'title: Malicious\nid: malicious\nlevel: high\nlogsource: { product: aws, service: cloudtrail }\n';
const FILE = '/rules/malicious.yml';

/** A rule whose one selection is `field: value` (YAML written as given). */
const ruleWith = (item: string) => `${HEAD}detection:\n  sel:\n    ${item}\n  condition: sel\n`;

function compile(text: string, file = FILE) {
  const t0 = performance.now();
  const r = compileRuleFile(file, text);
  return { ...r, ms: performance.now() - t0, messages: r.issues.map(formatRuleIssue) };
}

function refused(text: string, message: RegExp, opts: { line?: boolean } = {}) {
  const r = compile(text);
  assert.equal(r.rule, undefined, 'the rule must not load');
  const errors = r.issues.filter((i) => i.severity === 'error');
  assert.ok(errors.length > 0, 'an error issue');
  const hit = errors.find((i) => message.test(i.message));
  assert.ok(hit, `expected ${message}, got ${r.messages.join(' | ')}`);
  assert.equal(hit.file, FILE);
  if (opts.line !== false) assert.ok(hit.line && hit.line > 0, `a line number in ${formatRuleIssue(hit)}`);
  return r;
}

function loaded(text: string): Rule {
  const r = compile(text);
  assert.deepEqual(
    r.messages.filter((m) => m.includes(': error:')),
    [],
  );
  assert.ok(r.rule);
  return r.rule;
}

const record = (over: Record<string, unknown>): CloudTrailRecord =>
  ({
    eventID: 'e',
    eventName: 'PutUserPolicy',
    eventSource: 'iam.amazonaws.com',
    eventTime: '2024-05-01T12:00:00Z',
    userIdentity: { type: 'IAMUser', arn: 'arn:aws:iam::1:user/p' },
    ...over,
  }) as CloudTrailRecord;

/** ms for one `matches` call. */
function timeMatch(rule: Rule, rec: CloudTrailRecord): number {
  const t0 = performance.now();
  rule.matches(rec);
  return performance.now() - t0;
}

const crafted = (unit: string, length = MAX_REGEX_INPUT) =>
  unit.repeat(Math.ceil(length / unit.length)).slice(0, length);

describe('catastrophic regular expressions', () => {
  it('a repeated group containing a repetition is refused, naming file, line and the pattern', () => {
    refused(ruleWith("userAgent|re: '(a+)+$'"), /nested quantifier near '\(a\+\)\+'/);
    refused(ruleWith("userAgent|re: '(.*a){20}'"), /nested quantifier/);
    refused(ruleWith("userAgent|re: '^(\\w+\\s?)*$'"), /nested quantifier/);
  });

  it('back-references, lookarounds and absurd counts are refused', () => {
    refused(ruleWith("userAgent|re: '(a)\\1'"), /back-references are not supported/);
    refused(ruleWith("userAgent|re: 'x(?=y)'"), /cannot run in linear time: lookarounds/);
    refused(ruleWith("userAgent|re: 'x(?<!y)'"), /cannot run in linear time: lookarounds/);
    refused(ruleWith("userAgent|re: 'a{5000}'"), /count above 1000/);
  });

  it('patterns that backtrack without a nested quantifier load, and run in linear time on 64 KB', {
    skip: LINEAR_TIME_REGEX ? false : 'V8 linear-time engine unavailable',
  }, () => {
    // Exponential or polynomial on a backtracking engine (minutes on 64 KB, or never finishing).
    for (const [pattern, unit] of [
      ['(a|aa)+$', 'a'],
      ['(a|a)*$', 'a'],
      ['(x|xy|xyz)*z$', 'xy'],
      ['a*a*a*a*a*a*a*b', 'a'],
      ['.+:assumed-role/aws:.+', ':assumed-role/aws'],
      [
        '"Effect"\\s*:\\s*"Allow"[^{}]*"Action"\\s*:\\s*(\\[[^\\]]*)?"\\*"',
        '"Effect" : "Allow" "Action": [a',
      ],
    ] as const) {
      for (const flags of ['', '|i']) {
        const rule = loaded(ruleWith(`userAgent|re${flags}: '${pattern.replace(/'/g, "''")}'`));
        const ms = timeMatch(rule, record({ userAgent: `${crafted(unit)}!` }));
        assert.ok(ms < 2_000, `/${pattern}/${flags} took ${ms.toFixed(0)} ms on 64 KB`);
      }
    }
  });

  it('|i is rewritten to explicit case classes that match exactly what /i matches', () => {
    const patterns = [
      'Admin',
      '[a-f0-9]{8,17}$',
      '[^a-z]x',
      '\\x41\\u0062',
      'é|ß|K',
      '(?<n>ab){2}',
      '\\bRoot\\b',
    ];
    fc.assert(
      fc.property(
        fc.constantFrom(...patterns),
        fc.string({
          unit: fc.constantFrom(...'aAbBdDmMiInNxXrRoOtTé É ß K K k0 9 f F-'.split('')),
          maxLength: 24,
        }),
        (p, s) => new RegExp(p, 'i').test(s) === new RegExp(linearSource(p, true)).test(s),
      ),
      { numRuns: 5_000, seed: 6 },
    );
  });

  it('the bundled policy-document rules stay fast on a crafted 64 KB policy (was minutes)', async () => {
    const set = await loadRuleDirs([BUNDLED_RULES_DIR]);
    const byId = new Map(set.rules.map((r) => [r.id, r]));
    const hostile = [
      '"Effect" : "Allow" "Action": [a',
      '"Action":["',
      '"Principal":{"AWS":["',
      '"Effect":"Allow" "Principal" : ',
    ];
    let checked = 0;
    for (const rule of set.rules) {
      const text = readFileSync(rule.file, 'utf8');
      if (!/\|re\b/.test(text)) continue;
      for (const unit of hostile) {
        for (const field of ['policyDocument', 'assumeRolePolicyDocument', 'policy', 'key', 'instanceType']) {
          const rec = record({
            eventName: rule.eventNames?.[0] ?? 'PutUserPolicy',
            eventSource: rule.eventSources?.[0] ?? 'iam.amazonaws.com',
            requestParameters: { [field]: crafted(unit) },
            userIdentity: { type: 'AssumedRole', arn: crafted(':assumed-role/x/i-') },
          });
          const ms = timeMatch(rule, rec);
          assert.ok(ms < 2_000, `${rule.id} took ${ms.toFixed(0)} ms on a 64 KB ${field}`);
          checked++;
        }
      }
    }
    assert.ok(byId.has('iam-admin-policy-written'), 'the rule that took 188 s is still there');
    assert.ok(checked >= 20);
  });

  it('a non-ASCII case-insensitive wildcard pattern stays linear (was polynomial: minutes on 2,000 characters)', () => {
    const rule = loaded(ruleWith(`userAgent: '${'*é'.repeat(7)}*z'`));
    assert.equal(rule.matches(record({ userAgent: 'xÉyéé-é…éééz' })), true);
    assert.equal(rule.matches(record({ userAgent: 'ÉÉÉÉÉÉ' })), false);
    const ms = timeMatch(rule, record({ userAgent: crafted('é') }));
    assert.ok(ms < 1_000, `${ms.toFixed(0)} ms on 64 KB`);
    const many = loaded(ruleWith(`userAgent: '${'*a'.repeat(2_000)}*b'`));
    assert.ok(timeMatch(many, record({ userAgent: crafted('a') })) < 2_000);
  });
});

describe('enormous lists and files', () => {
  it('a list of 100,000 values is refused (the file is over 1 MB), naming the file', () => {
    const values = Array.from({ length: 100_000 }, (_, i) => `      - value-${i}`).join('\n');
    refused(
      `${HEAD}detection:\n  sel:\n    userAgent:\n${values}\n  condition: sel\n`,
      /limited to 1048576 bytes/,
      {
        line: false,
      },
    );
  });

  it('a flow list of 200,000 tiny values (under 1 MB) is refused as too large a document', () => {
    const values = Array.from({ length: 200_000 }, () => '1').join(',');
    const r = refused(
      `${HEAD}detection:\n  sel:\n    userAgent: [${values}]\n  condition: sel\n`,
      /too large/,
      {
        line: false,
      },
    );
    assert.ok(r.ms < 20_000, `refusal took ${r.ms.toFixed(0)} ms`);
  });

  it('the largest list that fits (50,000 values) loads in bounded time and matches in microseconds', () => {
    const values = Array.from({ length: 50_000 }, (_, i) => `      - agent-${i}`).join('\n');
    const t0 = performance.now();
    const rule = loaded(`${HEAD}detection:\n  sel:\n    userAgent:\n${values}\n  condition: sel\n`);
    const loadMs = performance.now() - t0;
    assert.ok(loadMs < 20_000, `load took ${loadMs.toFixed(0)} ms`);
    assert.equal(rule.matches(record({ userAgent: 'AGENT-49999' })), true);
    const t1 = performance.now();
    for (let i = 0; i < 1_000; i++) rule.matches(record({ userAgent: `nope-${i}` }));
    assert.ok(performance.now() - t1 < 1_000, 'a thousand misses in under a second');
  });

  it('a 10 MB file is refused unread; every other file in the folder is still checked', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'secbot-malicious-'));
    writeFileSync(join(dir, 'huge.yml'), `${HEAD}#${'x'.repeat(10 * 1024 * 1024)}\n`);
    writeFileSync(
      join(dir, 'windash.yml'),
      ruleWith("userAgent|windash|contains: ' -enc'").replace('id: malicious', 'id: w'),
    );
    const t0 = performance.now();
    const { issues } = await checkRuleDirs([dir]);
    assert.ok(performance.now() - t0 < 2_000);
    const lines = issues.map(formatRuleIssue);
    assert.ok(
      lines.some((l) =>
        /huge\.yml: error: file is 10485\d+ bytes; rule files are limited to 1048576 bytes/.test(l),
      ),
      lines.join('\n'),
    );
    assert.ok(
      lines.some((l) => /windash\.yml:7:\d+: error: modifier 'windash' is not supported/.test(l)),
      lines.join('\n'),
    );
    await assert.rejects(
      loadRuleDirs([dir]),
      (err: unknown) => err instanceof RuleLoadError && /huge\.yml/.test(err.message),
    );
  });
});

describe('YAML bombs and nesting', () => {
  it('a billion-laughs alias bomb is refused before it expands', () => {
    const levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (const [prev, name] of [...'abcdefgh'].map((c, i) => [c, 'bcdefghi'[i]])) {
      levels.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(',')}]`);
    }
    const r = refused(
      `${HEAD}${levels.join('\n')}\ndetection:\n  sel:\n    userAgent: *i\n  condition: sel\n`,
      /aliases expand too much/,
      {
        line: false,
      },
    );
    assert.ok(r.ms < 1_000, `refused in ${r.ms.toFixed(0)} ms`);
  });

  it('deep nesting — flow, block, and 100,000 levels — is refused with a message saying so', () => {
    refused(ruleWith(`userAgent: ${'['.repeat(100)}x${']'.repeat(100)}`), /nesting is too deep/);
    const r = refused(
      ruleWith(`userAgent: ${'['.repeat(100_000)}${']'.repeat(100_000)}`),
      /nesting is too deep/,
    );
    assert.ok(r.ms < 10_000, `refused in ${r.ms.toFixed(0)} ms`);
    const block = Array.from({ length: 200 }, (_, i) => `${'  '.repeat(i + 1)}k${i}:`).join('\n');
    refused(`${HEAD}detection:\n${block} x\n`, /nesting is too deep/);
  });

  it('unknown modifiers, windash, expand and aggregations are refused with their names', () => {
    refused(ruleWith("userAgent|base65: 'x'"), /unknown modifier 'base65'/);
    refused(ruleWith("userAgent|windash|contains: ' -enc'"), /modifier 'windash' is not supported/);
    refused(ruleWith("userAgent|expand: '%x%'"), /modifier 'expand' is not supported/);
    refused(`${HEAD}detection:\n  sel:\n    userAgent: x\n  condition: sel | count() > 5\n`, /aggregat/i);
  });
});

describe('mutated rule files', () => {
  const files = readdirSync(BUNDLED_RULES_DIR)
    .filter((f) => f.endsWith('.yml'))
    .sort()
    .map((f) => ({
      file: join(BUNDLED_RULES_DIR, f),
      text: readFileSync(join(BUNDLED_RULES_DIR, f), 'utf8'),
    }));

  it('2,000 random mutations of the bundled rules: compile never throws; every issue names the file and what is wrong', () => {
    const edit = fc.oneof(
      fc.record({ op: fc.constant('delete-line' as const), at: fc.nat() }),
      fc.record({ op: fc.constant('duplicate-line' as const), at: fc.nat() }),
      fc.record({
        op: fc.constant('insert' as const),
        at: fc.nat(),
        s: fc.string({ unit: 'binary', maxLength: 6 }),
      }),
      fc.record({
        op: fc.constant('insert' as const),
        at: fc.nat(),
        s: fc.constantFrom(
          '&a ',
          '*a',
          '|re',
          '|contains|all',
          ': [',
          '{',
          '- ',
          '\t',
          '(a+)+',
          "'",
          '"',
          '*',
          '__proto__: 1\n',
          '<<: *a\n',
          '!!js/function x',
        ),
      }),
      fc.record({ op: fc.constant('indent' as const), at: fc.nat() }),
    );
    const before = JSON.stringify(Object.getOwnPropertyNames(Object.prototype).sort());
    fc.assert(
      fc.property(
        fc.nat(files.length - 1),
        fc.array(edit, { minLength: 1, maxLength: 4 }),
        (index, edits) => {
          const src = files[index] as { file: string; text: string };
          let lines = src.text.split('\n');
          for (const e of edits) {
            const at = e.at % Math.max(1, lines.length);
            if (e.op === 'delete-line') lines.splice(at, 1);
            else if (e.op === 'duplicate-line') lines.splice(at, 0, lines[at] ?? '');
            else if (e.op === 'indent') lines[at] = `  ${lines[at] ?? ''}`;
            else {
              const line = lines[at] ?? '';
              const col = e.at % (line.length + 1);
              lines[at] = line.slice(0, col) + e.s + line.slice(col);
              lines = lines.join('\n').split('\n');
            }
          }
          const r = compileRuleFile(src.file, lines.join('\n'));
          for (const i of r.issues) {
            assert.equal(i.file, src.file);
            assert.ok(i.message.length > 0);
          }
          if (!r.rule) {
            assert.ok(
              r.issues.some((i) => i.severity === 'error'),
              'a refusal says why',
            );
          } else {
            // What loads must evaluate without throwing.
            r.rule.matches(record({ requestParameters: { a: '__proto__' } }));
          }
        },
      ),
      { numRuns: 2_000, seed: 66 },
    );
    assert.equal(JSON.stringify(Object.getOwnPropertyNames(Object.prototype).sort()), before);
  });
});
