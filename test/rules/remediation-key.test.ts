/** `secbot.remediation` in rule files: known kinds only, one or a list, and only for calls the rule can match. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileRule } from '../../rules/loader.js';
import { formatRuleIssue } from '../../rules/types.js';
import { ruleYaml } from './sigma/helpers.js';

const rule = (names: string, remediation: string) =>
  compileRule(
    'r.yml',
    ruleYaml(`
      detection:
        sel:
          eventSource: iam.amazonaws.com
          eventName: [${names}]
        condition: sel
      secbot:
        remediation: ${remediation}
    `),
  );
const problems = (r: ReturnType<typeof compileRule>) => r.issues.map(formatRuleIssue).join('\n');

describe('secbot.remediation', () => {
  it('names one remediation, or a list, exposed as Rule.remediations', () => {
    assert.deepEqual(rule('CreateAccessKey', 'deactivate_access_key').rule?.remediations, [
      'deactivate_access_key',
    ]);
    assert.deepEqual(
      rule('CreateAccessKey, AttachUserPolicy', '[deactivate_access_key, detach_policy]').rule?.remediations,
      ['deactivate_access_key', 'detach_policy'],
    );
    assert.equal(rule('CreateAccessKey', 'deactivate_access_key').issues.length, 0);
  });

  it('refuses an unknown kind, saying which kinds there are', () => {
    const r = rule('CreateAccessKey', 'delete_everything');
    assert.equal(r.rule, undefined);
    assert.match(
      problems(r),
      /r\.yml:\d+:\d+: error: secbot.remediation: "delete_everything" is not a remediation \(expected one of revoke_security_group_ingress, .*restore_public_access_block\)/,
    );
  });

  it('refuses a remediation that undoes calls the rule never matches', () => {
    const r = rule('CreateUser', 'deactivate_access_key');
    assert.equal(r.rule, undefined);
    assert.match(problems(r), /deactivate_access_key undoes CreateAccessKey, which this rule never matches/);
  });

  it('is absent from rules that do not name one', () => {
    const r = compileRule(
      'r.yml',
      ruleYaml('detection:\n  sel:\n    eventName: CreateUser\n  condition: sel\n'),
    );
    assert.equal(r.rule?.remediations, undefined);
  });
});
