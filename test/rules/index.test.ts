/**
 * The compiled rule index (issue 7): a candidate's test may leave out the eventSource / eventName
 * equalities its pins imply, so it must agree with the full `matches` on every record the index hands
 * it, and the index must never leave out a rule that matches. Checked on the bundled rules, SigmaHQ's,
 * and synthetic ones over the corpus (with case variants of the names); and the literal prefilter of
 * `re` patterns never turns away a value the pattern matches.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { generateRecords, loadCorpus } from '../../bench/inputs.js';
import { syntheticRuleSet } from '../../bench/synthetic-rules.js';
import type { CloudTrailRecord } from '../../cloudtrail/record.js';
import { BUNDLED_RULES_DIR, checkRuleSources, loadRuleDirs } from '../../rules/loader.js';
import { requiredLiterals } from '../../rules/sigma/values.js';
import type { RuleSet } from '../../rules/types.js';
import { rec } from './sigma/helpers.js';

const SIGMAHQ = fileURLToPath(new URL('../../../shared/sigma-aws-cloudtrail/', import.meta.url));

/**
 * The records, and each with its name and source in other cases (the index folds A–Z), and with its
 * caller's identity type in other cases, absent, or in shapes the index does not narrow by.
 */
function variants(records: CloudTrailRecord[]): CloudTrailRecord[] {
  return records.flatMap((r): CloudTrailRecord[] => {
    const ui = r.userIdentity as Record<string, unknown>;
    const type = typeof ui.type === 'string' ? ui.type : 'Root';
    const { type: _, ...untyped } = ui;
    return [
      r,
      { ...r, eventName: r.eventName.toLowerCase() },
      { ...r, eventName: r.eventName.toUpperCase(), eventSource: r.eventSource.toUpperCase() },
      { ...r, userIdentity: { ...ui, type: type.toUpperCase() } } as CloudTrailRecord,
      { ...r, userIdentity: { ...ui, type: type.toLowerCase() } } as CloudTrailRecord,
      { ...r, userIdentity: untyped } as CloudTrailRecord,
      { ...r, userIdentity: { ...ui, type: [type] } } as unknown as CloudTrailRecord,
      { ...r, userIdentity: untyped, 'userIdentity.type': type } as unknown as CloudTrailRecord,
    ];
  });
}

function agreeOnEveryRecord(ruleSet: RuleSet, records: CloudTrailRecord[]): number {
  let checked = 0;
  for (const record of records) {
    const candidates = ruleSet.candidateTests?.(record) ?? [];
    const offered = new Set(candidates.map((c) => c.rule));
    for (const c of candidates) {
      assert.equal(
        c.test(record),
        c.rule.matches(record),
        `${c.rule.id} on ${record.eventName}/${record.eventSource}`,
      );
      checked++;
    }
    for (const rule of ruleSet.rules) {
      if (rule.matches(record))
        assert.ok(offered.has(rule), `${rule.id} matches ${record.eventName} but is no candidate`);
    }
  }
  return checked;
}

describe('the rule index and its candidate tests', () => {
  const corpus = loadCorpus();
  const records = variants(
    generateRecords(corpus, 1_500, { seed: 11, anchorMs: Date.parse('2025-06-02T12:00:00Z') }),
  );

  it('the bundled rules: candidate tests agree with matches, and no matching rule is left out', async () => {
    const ruleSet = await loadRuleDirs([BUNDLED_RULES_DIR]);
    assert.ok(agreeOnEveryRecord(ruleSet, records) > 1_000);
  });

  it('SigmaHQ rules', { skip: existsSync(SIGMAHQ) ? false : '../shared not present' }, async () => {
    const ruleSet = await loadRuleDirs([SIGMAHQ]);
    agreeOnEveryRecord(ruleSet, records);
  });

  it('1,000 synthetic rules (lists, wildcards, CIDRs, filters, names pinned by source only)', () => {
    const { ruleSet } = syntheticRuleSet(corpus, 1_000, 5);
    assert.ok(agreeOnEveryRecord(ruleSet, records) > 5_000);
  });

  it('equalities under or / not, and names in several selections', () => {
    const text = (id: string, detection: string) =>
      `title: ${id}\nid: ${id}\nlevel: medium\nlogsource: { product: aws, service: cloudtrail }\ndetection:\n${detection}`;
    const { ruleSet, issues } = checkRuleSources([
      {
        file: 'a.yml',
        text: text(
          'or-names',
          '  a:\n    eventName: CreateUser\n  b:\n    eventName: DeleteUser\n  condition: a or b\n',
        ),
      },
      {
        file: 'b.yml',
        text: text(
          'not-name',
          '  s:\n    eventSource: iam.amazonaws.com\n    eventName: [CreateUser, DeleteUser]\n  f:\n    eventName: DeleteUser\n  condition: s and not f\n',
        ),
      },
      {
        file: 'c.yml',
        text: text(
          'list',
          '  s:\n    - eventName: CreateUser\n      userIdentity.type: Root\n    - eventName: CreateUser\n  condition: s\n',
        ),
      },
    ]);
    assert.deepEqual(
      issues.filter((i) => i.severity === 'error'),
      [],
    );
    const names = ['CreateUser', 'createuser', 'DeleteUser', 'DELETEUSER', 'UpdateUser'];
    const sources = ['iam.amazonaws.com', 'IAM.amazonaws.com', 's3.amazonaws.com'];
    const rs = names.flatMap((eventName) =>
      sources.flatMap((eventSource) =>
        ['Root', 'root', 'IAMUser', undefined].map(
          (type) => rec({ eventName, eventSource, userIdentity: { type } }) as CloudTrailRecord,
        ),
      ),
    );
    agreeOnEveryRecord(ruleSet, rs);
  });
});

describe('the required literals of a re pattern', () => {
  const atom = fc.oneof(
    fc.constantFrom('a', 'b', 'ab', ':', '/', '-', 'x'),
    fc.constantFrom('.', '\\d', '\\w', '[ab]', '[^/]', '\\.', '\\/', '\\x61', '\\u0062'),
    fc.constantFrom('(a|b)', '(?:ab)', '(ba)'),
  );
  const quant = fc.constantFrom('', '', '', '?', '*', '+', '{2}', '{0,3}');
  const pattern = fc
    .array(fc.tuple(atom, quant), { minLength: 1, maxLength: 6 })
    .map((parts) => parts.map(([a, q]) => a + q).join(''));

  it('every match contains them all (so looking for them first never loses a match)', () => {
    fc.assert(
      fc.property(pattern, fc.stringMatching(/^[ab:/.x1-]{0,14}$/), (p, s) => {
        const re = new RegExp(p);
        if (!re.test(s)) return true;
        return requiredLiterals(p).every((lit) => s.includes(lit));
      }),
      { numRuns: 5_000 },
    );
  });

  it('finds the literals of real patterns, and none past a top-level alternative', () => {
    assert.deepEqual(requiredLiterals(':assumed-role/[^/]+/i-[0-9a-fA-F]{8,17}$'), [':assumed-role/', '/i-']);
    assert.deepEqual(requiredLiterals('ab|cd'), []);
    assert.deepEqual(requiredLiterals('\\u0041bc'), []);
  });
});
