/**
 * Runs the test cases rules carry (`secbot.tests`): each partial record is completed from a base
 * record, then the rule must fire or not, and, where the case says so, decide() must reach an action.
 */
import { randomUUID } from 'node:crypto';
import type { CloudTrailRecord } from '../cloudtrail/record.js';
import { decide, defaultDecideContext } from '../handlers/decide.js';
import type { RuleSet } from './types.js';

/** The base every partial test record is merged over: an IAM user in a test account, a minute ago. */
export function baseRecord(now = new Date()): CloudTrailRecord {
  return {
    eventVersion: '1.09',
    eventID: randomUUID(),
    eventTime: new Date(now.getTime() - 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    eventSource: 'iam.amazonaws.com',
    eventName: 'GetUser',
    eventType: 'AwsApiCall',
    awsRegion: 'us-east-1',
    sourceIPAddress: '203.0.113.10',
    userAgent: 'aws-cli/2.15.0 Python/3.11.6 Linux/6.5 exe/x86_64',
    userIdentity: {
      type: 'IAMUser',
      principalId: 'AIDAEXAMPLEALICE0001',
      arn: 'arn:aws:iam::111122223333:user/alice',
      accountId: '111122223333',
      accessKeyId: 'AKIAEXAMPLEALICE0001',
      userName: 'alice',
    },
    requestParameters: null,
    responseElements: null,
    readOnly: false,
    managementEvent: true,
    recipientAccountId: '111122223333',
    eventCategory: 'Management',
  };
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

/** Deep merge of `over` onto `base` (objects merge, everything else replaces). Own keys only. */
export function mergeRecord<T extends Record<string, unknown>>(base: T, over: Record<string, unknown>): T {
  const out: Record<string, unknown> = { ...base };
  for (const key of Object.keys(over)) {
    const b = out[key];
    const o = over[key];
    const merged = isPlainObject(b) && isPlainObject(o) ? mergeRecord(b, o) : o;
    Object.defineProperty(out, key, { value: merged, enumerable: true, writable: true, configurable: true });
  }
  return out as T;
}

/** A complete record from a partial one. A test that sets `userIdentity` replaces the base identity whole. */
export function completeRecord(partial: Record<string, unknown>, now = new Date()): CloudTrailRecord {
  const base = baseRecord(now);
  if (isPlainObject(partial.userIdentity)) base.userIdentity = {};
  return mergeRecord(base as unknown as Record<string, unknown>, partial) as unknown as CloudTrailRecord;
}

export interface RuleTestFailure {
  ruleId: string;
  file: string;
  test: string;
  message: string;
}

export interface RuleTestReport {
  rules: number;
  cases: number;
  passed: number;
  failures: RuleTestFailure[];
  /** Rules without at least one positive and one negative case. */
  untested: { ruleId: string; file: string; missing: string }[];
}

/** Run every rule's own test cases. */
export function runRuleTests(ruleSet: RuleSet, opts: { requireBoth?: boolean } = {}): RuleTestReport {
  const report: RuleTestReport = {
    rules: ruleSet.rules.length,
    cases: 0,
    passed: 0,
    failures: [],
    untested: [],
  };
  const now = new Date();
  // A rule's own tests judge it as if live, staged or not: the stage decides what is sent, not what matches.
  const ctx = defaultDecideContext({ now, stageOf: () => 'live' });
  for (const rule of ruleSet.rules) {
    if (opts.requireBoth !== false) {
      const pos = rule.tests.some((t) => t.fires);
      const neg = rule.tests.some((t) => !t.fires);
      if (!pos || !neg) {
        report.untested.push({
          ruleId: rule.id,
          file: rule.file,
          missing: !pos && !neg ? 'tests' : !pos ? 'a positive test' : 'a negative test',
        });
      }
    }
    for (const t of rule.tests) {
      report.cases++;
      const record = completeRecord(t.record, now);
      const fail = (message: string) =>
        report.failures.push({ ruleId: rule.id, file: rule.file, test: t.name, message });
      let fired: boolean;
      try {
        fired = rule.matches(record);
      } catch (err) {
        fail(`threw: ${(err as Error).message}`);
        continue;
      }
      if (fired !== t.fires) {
        fail(t.fires ? 'expected the rule to fire; it did not' : 'expected the rule not to fire; it did');
        continue;
      }
      if (t.fires && t.action) {
        const d = decide(record, ruleSet, ctx);
        if (d.action !== t.action) {
          fail(`expected decide() → ${t.action}, got ${d.action} (${d.reasons.join('; ')})`);
          continue;
        }
      }
      report.passed++;
    }
  }
  return report;
}
