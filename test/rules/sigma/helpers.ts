/** Builders for rule-engine tests: a rule from its detection block, a record from the fields that matter. */
import assert from 'node:assert/strict';
import type { CloudTrailRecord } from '../../../cloudtrail/record.js';
import { compileRule } from '../../../rules/loader.js';
import { formatRuleIssue, type Rule, type RuleIssue } from '../../../rules/types.js';

/** Removes the common indentation of a template literal and its first empty line. */
export function dedent(s: string): string {
  const lines = s
    .replace(/^\n/, '')
    .replace(/\n\s*$/, '')
    .split('\n');
  const indent = Math.min(...lines.filter((l) => l.trim() !== '').map((l) => /^ */.exec(l)?.[0].length ?? 0));
  return `${lines.map((l) => l.slice(indent)).join('\n')}\n`;
}

export interface Header {
  id?: string;
  level?: string | null;
  logsource?: string;
}

/** A whole rule file: a valid header (title, id, level, aws/cloudtrail logsource) plus `body`. */
export function ruleYaml(body: string, h: Header = {}): string {
  const lines = ['title: Test rule', `id: ${h.id ?? 'test-rule'}`];
  if (h.level !== null) lines.push(`level: ${h.level ?? 'high'}`);
  lines.push(
    'logsource:',
    ...(h.logsource ?? 'product: aws\nservice: cloudtrail').split('\n').map((l) => `  ${l}`),
  );
  return `${lines.join('\n')}\n${dedent(body)}`;
}

/** The header above takes this many lines; body line N is file line HEADER_LINES + N. */
export const HEADER_LINES = 6;

/** Compiles `body` (under the standard header) and fails the test on any error issue. */
export function compileOk(body: string, h: Header = {}): Rule {
  const { rule, issues } = compileRule('test.yml', ruleYaml(body, h));
  const errors = issues.filter((i) => i.severity === 'error');
  assert.deepEqual(errors.map(formatRuleIssue), [], 'rule should compile');
  assert.ok(rule);
  return rule;
}

/** Compiles `body` and returns its error issues (asserting there is at least one and no rule). */
export function errorsOf(body: string, h: Header = {}): RuleIssue[] {
  const { rule, issues } = compileRule('test.yml', ruleYaml(body, h));
  const errors = issues.filter((i) => i.severity === 'error');
  assert.ok(errors.length > 0, 'rule should be refused');
  assert.equal(rule, undefined);
  return errors;
}

/** All error messages of `body`, one per line, formatted as the loader reports them. */
export const errorText = (body: string, h: Header = {}): string =>
  errorsOf(body, h).map(formatRuleIssue).join('\n');

/** A record with the five required fields, overridden by `fields`. */
export function rec(fields: Record<string, unknown> = {}): CloudTrailRecord {
  return {
    eventID: '00000000-0000-0000-0000-000000000000',
    eventName: 'DescribeInstances',
    eventSource: 'ec2.amazonaws.com',
    eventTime: '2024-05-01T12:00:00Z',
    userIdentity: { type: 'IAMUser', arn: 'arn:aws:iam::111122223333:user/alice', userName: 'alice' },
    ...fields,
  } as CloudTrailRecord;
}

/** A one-selection rule on `field` with `value` (YAML flow text), e.g. `one('eventName|contains', "'Stop'")`. */
export function one(key: string, value: string): Rule {
  return compileOk(`
    detection:
      sel:
        ${key}: ${value}
      condition: sel
  `);
}
