/** The decision engine's vocabulary: actions, compiled rules, rule sets and the problems found loading them. */
import type { CloudTrailRecord } from '../cloudtrail/record.js';
import type { RuleRemediationKind } from '../remediation/types.js';

export type Action = 'log' | 'notify' | 'alert';
export const ACTIONS: readonly Action[] = ['log', 'notify', 'alert'];
export const actionRank = (a: Action): number => ACTIONS.indexOf(a);
export const maxAction = (a: Action, b: Action): Action => (actionRank(a) >= actionRank(b) ? a : b);

export type SigmaLevel = 'informational' | 'low' | 'medium' | 'high' | 'critical';
export type SigmaStatus = 'stable' | 'test' | 'experimental' | 'deprecated' | 'unsupported';

/**
 * `live`: a match acts (DM, page). `shadow` (staged): a match is decided and recorded, its would-be DMs
 * and pages counted, and nothing is sent for it — see README "Staged rules".
 */
export type RuleStage = 'live' | 'shadow';
export const RULE_STAGES: readonly RuleStage[] = ['live', 'shadow'];

/** What to do when the call failed (`errorCode` present). Default policy drops failed calls to log. */
export type OnFailure = 'log' | 'keep';

/** One test case carried by a rule: a (partial) record and whether the rule must fire on it. */
export interface RuleTestCase {
  name: string;
  /** true: the rule must match; false: it must not. */
  fires: boolean;
  /**
   * The record. Partial records are completed from a base record (see rules/testing.ts) so a test
   * can state only what matters to the rule.
   */
  record: Record<string, unknown>;
  /** For fires:true cases, optionally the action decide() must reach with the default policy. */
  action?: Action;
}

/** A compiled rule, ready to evaluate. */
export interface Rule {
  id: string;
  title: string;
  description?: string;
  status?: SigmaStatus;
  level?: SigmaLevel;
  /** From `secbot.action`, else mapped from `level`. */
  action: Action;
  runbook?: string;
  /** `secbot.reason`: a template with `{dotted.field}` placeholders, rendered against the record. */
  reason?: string;
  onFailure: OnFailure;
  tags: string[];
  falsepositives: string[];
  /** File the rule came from and the line of its `title`/`id`. */
  file: string;
  line?: number;
  /**
   * The eventSource / eventName values this rule can match, for indexing and the EventBridge pattern.
   * `undefined` means "any" (the rule does not pin the field with a plain equality in every branch).
   */
  eventSources?: string[];
  eventNames?: string[];
  /**
   * The `userIdentity.type` values every match carries (a plain equality in every branch), for the
   * index only: it skips the rule for callers of another type. `undefined`: any.
   */
  identityTypes?: string[];
  /**
   * For the index only: false when no record whose own eventName and eventSource are these strings (as
   * spelled) can match, from the rule's tests of those two fields that are not plain equalities
   * (`eventName|startswith: Delete`). The index runs it once per pair it meets. Absent: no such test.
   */
  indexFilter?(eventName: string, eventSource: string): boolean;
  /**
   * `secbot.eventbridge`: a hand-written EventBridge pattern for `detail` that delivers every call the
   * rule can match, for rules that pin no event source or name (e.g. root use, a user agent).
   */
  eventbridge?: Record<string, unknown>;
  /**
   * The file's stage: `secbot.stage`, else `shadow` for Sigma `status: test | experimental`, else `live`.
   * Staff can override it at run time (`/secbot promote|demote`, kept in DynamoDB). Absent: live.
   */
  stage?: RuleStage;
  /** `secbot.remediation`: the one-click inverses offered on this rule's alerts (remediation/). */
  remediations?: readonly RuleRemediationKind[];
  tests: RuleTestCase[];
  /** True when the record matches the rule's detection. Never throws. */
  matches(record: CloudTrailRecord): boolean;
  /**
   * `matches` for a record whose eventName and eventSource are among the rule's pins (compared with
   * A–Z folded): what an indexed RuleSet guarantees for its candidates. Leaves out the equality tests
   * the pins imply. Unlike `matches`, it is the compiled test itself: a caller guards it against
   * throwing (which it does not on JSON data). Compiled rules have it; hand-built ones may not.
   */
  matchesCandidate?(record: CloudTrailRecord): boolean;
}

export type RuleIssueSeverity = 'error' | 'warning';

/** A problem in a rule file: where, and what. */
export interface RuleIssue {
  severity: RuleIssueSeverity;
  file: string;
  line?: number;
  column?: number;
  ruleId?: string;
  message: string;
}

export const formatRuleIssue = (i: RuleIssue): string =>
  `${i.file}${i.line ? `:${i.line}${i.column ? `:${i.column}` : ''}` : ''}: ${i.severity}: ${i.message}`;

/** A candidate rule and the test it is judged by (call it as a method: `candidate.test(record)`). */
export interface CandidateTest {
  readonly rule: Rule;
  test(record: CloudTrailRecord): boolean;
}

/** A loaded rule set: every rule, an index by event name, and the warnings found while loading. */
export interface RuleSet {
  rules: Rule[];
  warnings: RuleIssue[];
  /** Rules that may match this record (by the event-source/name index), in load order. */
  candidates(record: CloudTrailRecord): readonly Rule[];
  /**
   * True when `candidates` only returns rules whose eventName and eventSource pins hold for the record
   * (A–Z folded), so `Rule.matchesCandidate` may stand in for `Rule.matches` (buildRuleSet's index).
   */
  readonly indexed?: boolean;
  /**
   * `candidates` with the test each is judged by (`matchesCandidate` where the rule has one): what the
   * decision loop runs, one precomputed list per event source and name. Tests may throw on non-JSON
   * input; callers guard them.
   */
  candidateTests?(record: CloudTrailRecord): readonly CandidateTest[];
}
