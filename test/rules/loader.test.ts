import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import {
  BUNDLED_RULES_DIR,
  checkRuleDirs,
  checkRuleSources,
  compileRule,
  loadRuleDirs,
  RuleLoadError,
} from '../../rules/loader.js';
import { formatRuleIssue } from '../../rules/types.js';
import { rec, ruleYaml } from './sigma/helpers.js';

const named = (id: string, eventName: string | null, level = 'high') =>
  ruleYaml(
    eventName === null
      ? `
        detection:
          sel:
            userIdentity.type: Root
          condition: sel
      `
      : `
        detection:
          sel:
            eventName: ${eventName}
          condition: sel
      `,
    { id, level },
  );

describe('compileRule', () => {
  it('returns the rule and no issues for a good file', () => {
    const { rule, issues } = compileRule('a.yml', named('a', 'StopLogging'));
    assert.deepEqual(issues, []);
    assert.equal(rule?.id, 'a');
    assert.equal(rule?.matches(rec({ eventName: 'StopLogging' })), true);
  });
});

describe('checkRuleSources', () => {
  it('reports a duplicate id naming both files and keeps the first rule', () => {
    const { ruleSet, issues } = checkRuleSources([
      { file: 'one.yml', text: named('dup', 'StopLogging') },
      { file: 'two.yml', text: named('DUP', 'DeleteTrail') },
    ]);
    assert.deepEqual(issues.map(formatRuleIssue), [
      "two.yml:2:1: error: duplicate rule id 'DUP': also used by one.yml",
    ]);
    assert.deepEqual(
      ruleSet.rules.map((r) => r.file),
      ['one.yml'],
    );
  });

  it('keeps only the rules that compiled, and lists errors and warnings', () => {
    const warn = ruleYaml(
      `
      detection:
        sel:
          eventName: CreateUser
        unused:
          eventName: x
        condition: sel
    `,
      { id: 'w' },
    );
    const { ruleSet, issues } = checkRuleSources([
      { file: 'good.yml', text: named('good', 'StopLogging') },
      { file: 'bad.yml', text: named('bad', 'StopLogging').replace('aws', 'gcp') },
      { file: 'warn.yml', text: warn },
    ]);
    assert.deepEqual(
      ruleSet.rules.map((r) => r.id),
      ['good', 'w'],
    );
    assert.deepEqual(
      issues.map((i) => `${i.file} ${i.severity}`),
      ['bad.yml error', 'warn.yml warning'],
    );
    assert.deepEqual(
      ruleSet.warnings.map((i) => i.file),
      ['warn.yml'],
    );
    assert.equal(issues[0]?.ruleId, 'bad');
  });
});

describe('rule folders', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'secbot-rules-'));
    await mkdir(join(dir, 'b', 'nested'), { recursive: true });
    await writeFile(join(dir, 'b', 'nested', 'z.yaml'), named('z', 'DeleteTrail'));
    await writeFile(join(dir, 'b', 'a.yml'), named('ba', 'CreateUser'));
    await writeFile(join(dir, 'a.yml'), named('a', 'StopLogging'));
    await writeFile(join(dir, 'README.md'), 'not a rule');
    await mkdir(join(dir, 'bad'));
    await writeFile(join(dir, 'bad', 'broken.yml'), 'title: [\n');
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('checkRuleDirs reads every *.yml / *.yaml recursively, in sorted order', async () => {
    const { ruleSet, issues } = await checkRuleDirs([join(dir, 'b'), dir]);
    // The first folder's rules, then the second's (whose b/ files repeat ids: duplicates).
    assert.deepEqual(
      ruleSet.rules.map((r) => r.id),
      ['ba', 'z', 'a'],
    );
    const text = issues.map(formatRuleIssue).join('\n');
    assert.match(text, /bad\/broken\.yml:\d+:\d+: error: YAML/);
    assert.match(text, /b\/a\.yml:2:1: error: duplicate rule id 'ba': also used by .*b\/a\.yml/);
  });

  it('loadRuleDirs throws RuleLoadError listing every issue, one per line', async () => {
    await assert.rejects(loadRuleDirs([dir]), (err: unknown) => {
      assert.ok(err instanceof RuleLoadError);
      assert.equal(err.code, 'rules_invalid');
      assert.equal(err.name, 'RuleLoadError');
      assert.equal(err.message, err.issues.map(formatRuleIssue).join('\n'));
      assert.ok(err.issues.length >= 1);
      return true;
    });
  });

  it('loadRuleDirs returns the rule set of a clean folder', async () => {
    const rs = await loadRuleDirs([join(dir, 'b')]);
    assert.deepEqual(
      rs.rules.map((r) => r.id),
      ['ba', 'z'],
    );
  });

  it('a missing folder is an error issue', async () => {
    const { issues } = await checkRuleDirs([join(dir, 'nope')]);
    assert.equal(issues.length, 1);
    assert.match(formatRuleIssue(issues[0] as never), /nope: error: cannot read rules folder/);
  });

  it('a file over 1 MB is refused unread', async () => {
    const big = await mkdtemp(join(tmpdir(), 'secbot-big-'));
    try {
      await writeFile(join(big, 'big.yml'), `${named('big', 'X')}# ${'x'.repeat(1024 * 1024)}\n`);
      const { issues, ruleSet } = await checkRuleDirs([big]);
      assert.equal(ruleSet.rules.length, 0);
      assert.match(issues[0]?.message ?? '', /rule files are limited to 1048576 bytes/);
    } finally {
      await rm(big, { recursive: true, force: true });
    }
  });

  it('BUNDLED_RULES_DIR is the absolute rules/default folder', () => {
    assert.ok(BUNDLED_RULES_DIR.startsWith('/'));
    assert.match(BUNDLED_RULES_DIR, /rules[/\\]default$/);
  });
});

describe('RuleSet.candidates', () => {
  const { ruleSet } = checkRuleSources([
    { file: '1.yml', text: named('stop', 'StopLogging') },
    { file: '2.yml', text: named('root', null) },
    { file: '3.yml', text: named('stop-or-delete', '[StopLogging, DeleteTrail]') },
    { file: '4.yml', text: named('user', 'CreateUser') },
  ]);
  // A Root caller: the 'root' rule pins userIdentity.type, so only a Root caller's calls list it.
  const ids = (eventName: unknown, userIdentity: unknown = { type: 'Root' }) =>
    ruleSet.candidates(rec({ eventName, userIdentity })).map((r) => r.id);

  it('returns the rules pinned to the event name plus the unpinned ones, in load order', () => {
    assert.deepEqual(ids('StopLogging'), ['stop', 'root', 'stop-or-delete']);
    assert.deepEqual(ids('DeleteTrail'), ['root', 'stop-or-delete']);
    assert.deepEqual(ids('CreateUser'), ['root', 'user']);
    assert.deepEqual(ids('ListBuckets'), ['root']);
    assert.deepEqual(ids(42), ['root']);
  });

  it('is case-insensitive like the matching itself', () => {
    assert.deepEqual(ids('stoplogging'), ['stop', 'root', 'stop-or-delete']);
    assert.deepEqual(ids('stoplogging', { type: 'ROOT' }), ['stop', 'root', 'stop-or-delete']);
  });

  it("leaves out a rule pinned to another caller type, unless the record's shape is unusual", () => {
    assert.deepEqual(ruleSet.rules.find((r) => r.id === 'root')?.identityTypes, ['Root']);
    assert.equal(ruleSet.rules.find((r) => r.id === 'stop')?.identityTypes, undefined);
    assert.deepEqual(ids('StopLogging', { type: 'IAMUser' }), ['stop', 'stop-or-delete']);
    assert.deepEqual(ids('ListBuckets', {}), []);
    // Shapes the prefilter does not read (an array, a non-string type, a literal dotted key) keep it.
    assert.deepEqual(ids('ListBuckets', [{ type: 'Root' }]), ['root']);
    assert.deepEqual(ids('ListBuckets', { type: ['Root'] }), ['root']);
    const dotted = rec({ eventName: 'ListBuckets', 'userIdentity.type': 'Root' });
    assert.deepEqual(
      ruleSet.candidates(dotted).map((r) => r.id),
      ['root'],
    );
    for (const record of [dotted, rec({ userIdentity: { type: ['Root'] } })]) {
      assert.equal(ruleSet.rules.find((r) => r.id === 'root')?.matches(record), true);
    }
  });

  it('returns the same precomputed list on every call', () => {
    const a = ruleSet.candidates(rec({ eventName: 'StopLogging' }));
    const b = ruleSet.candidates(rec({ eventName: 'StopLogging' }));
    assert.equal(a, b);
    const c = ruleSet.candidates(rec({ eventName: 'SomethingNew' }));
    assert.equal(ruleSet.candidates(rec({ eventName: 'SomethingNew' })), c);
  });

  it('never leaves out a rule that matches (index soundness)', () => {
    const name = fc.constantFrom('StopLogging', 'stoplogging', 'DeleteTrail', 'CreateUser', 'Other');
    const type = fc.constantFrom('Root', 'IAMUser');
    fc.assert(
      fc.property(name, type, (eventName, t) => {
        const record = rec({ eventName, userIdentity: { type: t } });
        const cands = ruleSet.candidates(record);
        return ruleSet.rules.every((r) => !r.matches(record) || cands.includes(r));
      }),
    );
  });
});
