/** Hand-built rules for unit tests of decide() and the views, independent of the Sigma engine. */
import type { CloudTrailRecord } from '../../cloudtrail/record.js';
import type { Action, Rule, RuleSet, SigmaLevel } from '../../rules/types.js';

export function fakeRule(
  id: string,
  eventName: string,
  action: Action,
  extra: Partial<Rule> & { level?: SigmaLevel; when?: (r: CloudTrailRecord) => boolean } = {},
): Rule {
  const { when, ...rest } = extra;
  return {
    id,
    title: `${eventName} rule`,
    action,
    onFailure: 'log',
    tags: [],
    falsepositives: [],
    file: `${id}.yml`,
    eventNames: [eventName],
    tests: [],
    matches: (r) => r.eventName === eventName && (when ? when(r) : true),
    ...rest,
  };
}

export function fakeRuleSet(rules: Rule[]): RuleSet {
  return { rules, warnings: [], candidates: () => rules };
}
