/**
 * decide(record) → Decision: which rules match, the highest action among them, and the policy that
 * adjusts it by context (who called, whether it failed, how old it is, silences).
 */

import { principalOf } from '../cloudtrail/principal.js';
import type { Principal } from '../cloudtrail/principal-types.js';
import type { CloudTrailRecord } from '../cloudtrail/record.js';
import { renderReason } from '../rules/reason.js';
import type { Action, CandidateTest, Rule, RuleSet, RuleStage, SigmaLevel } from '../rules/types.js';

/** The policy knobs; every one configurable from the environment (see config/). */
export interface PolicyConfig {
  /** ARN globs of automation principals (CI roles, service accounts): never asked, notify drops to log. */
  automation: readonly string[];
  /** A call older than this cannot be "did you just do this?": it goes to the security channel. */
  maxAgeMs: number;
  /** `log`: a failed call drops to log unless its rule says `on_failure: keep`; `keep`: failures are judged like successes. */
  failedCalls: 'log' | 'keep';
}

export const DEFAULT_POLICY: PolicyConfig = { automation: [], maxAgeMs: 3_600_000, failedCalls: 'log' };

/** A silence that covers a decision, as the store reports it. */
export interface SilenceRef {
  id: string;
  reason: string;
  createdBy?: string;
}

/** Where silences come from; the store implements it (decide() only asks). */
export interface SilenceLookup {
  match(input: {
    record: CloudTrailRecord;
    principal: Principal;
    ruleIds: readonly string[];
  }): SilenceRef | undefined;
}

export interface DecideContext {
  now: Date;
  policy: PolicyConfig;
  silences?: SilenceLookup;
  /**
   * A rule's effective stage (the drain applies staff overrides kept in DynamoDB); default its file's
   * `stage`. A `shadow` (staged) rule is judged for what it would have done, and does not act.
   */
  stageOf?: (rule: Rule) => RuleStage;
}

export function defaultDecideContext(
  overrides: Partial<Omit<DecideContext, 'policy'>> & {
    policy?: Partial<PolicyConfig>;
  } = {},
): DecideContext {
  return {
    now: overrides.now ?? new Date(),
    policy: { ...DEFAULT_POLICY, ...overrides.policy },
    silences: overrides.silences,
    stageOf: overrides.stageOf,
  };
}

export interface RuleMatch {
  ruleId: string;
  title: string;
  /** The rule's own action, after its failure handling. */
  action: Action;
  level?: SigmaLevel;
  reason: string;
  runbook?: string;
}

export type AdjustmentKind =
  | 'failed_call'
  | 'aws_service'
  | 'automation'
  | 'root'
  | 'unattributable'
  | 'too_old'
  | 'silenced';

export interface PolicyAdjustment {
  kind: AdjustmentKind;
  from: Action;
  to: Action;
  reason: string;
}

export type Severity = 'info' | 'warning' | 'error' | 'critical';

export interface Decision {
  action: Action;
  /** The highest action among matching rules, before policy. */
  ruleAction: Action;
  matches: RuleMatch[];
  /** Plain-words reasons: one per match, then one per policy adjustment. */
  reasons: string[];
  adjustments: PolicyAdjustment[];
  principal: Principal;
  /** One line: who did what where, and why it matters. */
  summary: string;
  /** For alert decisions: whether to page (false: channel only, e.g. a stale call). */
  page: boolean;
  severity: Severity;
  silence?: SilenceRef;
  record: CloudTrailRecord;
  /**
   * Staged rules that matched (README "Staged rules"): nothing is sent for them; each says what the
   * call would have become had that rule been live. Absent when none matched.
   */
  staged?: StagedMatch[];
}

/** A staged (shadow) rule's match and what it would have done live. */
export interface StagedMatch {
  ruleId: string;
  title: string;
  /** The rule's own action, after its failure handling. */
  action: Action;
  /** The call's action with this rule live (live matches plus this one, same policy). */
  wouldBe: Action;
  /** With this rule live, the alert would page. */
  wouldPage: boolean;
  reason: string;
}

const LEVEL_SEVERITY: Record<SigmaLevel, Severity> = {
  informational: 'info',
  low: 'info',
  medium: 'warning',
  high: 'error',
  critical: 'critical',
};
const SEVERITY_RANK: Record<Severity, number> = { info: 0, warning: 1, error: 2, critical: 3 };
const ACTION_RANK: Record<Action, number> = { log: 0, notify: 1, alert: 2 };

/** Whether the call failed (an errorCode): such calls drop to log unless the rule keeps them. */
function failedCall(record: CloudTrailRecord): boolean {
  return typeof record.errorCode === 'string' && record.errorCode !== '';
}

function matchOf(rule: Rule, record: CloudTrailRecord, policy: PolicyConfig): RuleMatch {
  const dropped = rule.onFailure === 'log' && policy.failedCalls === 'log' && failedCall(record);
  return {
    ruleId: rule.id,
    title: rule.title,
    action: dropped ? 'log' : rule.action,
    level: rule.level,
    reason: rule.reason ? renderReason(rule.reason, record) : `${record.eventName}: ${rule.title}`,
    runbook: rule.runbook,
  };
}

const ZONED = /[zZ]|[+-]\d\d:?\d\d$/;

function parseEventTime(t: string): number {
  const ms = Date.parse(t);
  // CloudTrail's own form ("2025-06-02T11:59:00Z") at once.
  if (t.charCodeAt(t.length - 1) === 90 /* Z */ && !Number.isNaN(ms)) return ms;
  // Tolerate "2023-01-10 21:04:02" (no T, no zone) as UTC, as some exports write it.
  if (!Number.isNaN(ms) && ZONED.test(t)) return ms;
  const iso = Date.parse(`${t.replace(' ', 'T')}${/[zZ]$/.test(t) ? '' : 'Z'}`);
  return Number.isNaN(iso) ? ms : iso;
}

function adjustment(kind: AdjustmentKind, from: Action, to: Action, reason: string): PolicyAdjustment {
  return { kind, from, to, reason };
}

/**
 * Decide what to do with one CloudTrail record. Never throws for a decoded record.
 *
 * The hot path of the drain and of `secbot triage`: the rule index narrows the rules to those that
 * can match the record's event source and name, and nothing is allocated beyond the Decision itself
 * (and a RuleMatch per matching rule).
 *
 * @example
 * const d = decide(record, ruleSet, defaultDecideContext());
 * d.action // 'notify'
 * d.reasons // ['PutUserPolicy grants iam:* on * to alice']
 */
export function decide(record: CloudTrailRecord, ruleSet: RuleSet, ctx: DecideContext): Decision {
  const policy = ctx.policy;
  let matches = NO_MATCHES as RuleMatch[];
  let unadjusted: Action = 'log';
  let stagedRules: Rule[] | undefined;
  const stageOf = ctx.stageOf;
  const candidates = ruleSet.candidateTests
    ? ruleSet.candidateTests(record)
    : ruleSet.candidates(record).map(asCandidateTest);
  for (let i = 0; i < candidates.length; i++) {
    const candidate = candidates[i] as CandidateTest;
    let hit: boolean;
    try {
      hit = candidate.test(record);
    } catch {
      hit = false; // compiled tests do not throw on JSON data; this only guards the contract
    }
    if (!hit) continue;
    const rule = candidate.rule;
    if ((stageOf ? stageOf(rule) : rule.stage) === 'shadow') {
      // Staged: judged below for what it would have done; it does not act.
      if (stagedRules) stagedRules.push(rule);
      else stagedRules = [rule];
      continue;
    }
    if (matches === NO_MATCHES) matches = [];
    matches.push(matchOf(rule, record, policy));
    if (ACTION_RANK[rule.action] > ACTION_RANK[unadjusted]) unadjusted = rule.action;
  }
  if (matches.length === 0 && stagedRules === undefined && !maybeRoot(record)) {
    // No rule matched and the caller is not root: the policy has nothing to adjust, so the principal
    // (and the summary) are worked out only if someone reads them.
    return new LazyDecision(
      record,
      policy,
      'log',
      'log',
      matches,
      undefined,
      undefined,
      false,
      'info',
      undefined,
    );
  }
  const principal = principalOf(record, policy);
  const j = judge(record, principal, matches, unadjusted, ctx);
  const reasons: string[] = [];
  for (let i = 0; i < matches.length; i++) reasons.push((matches[i] as RuleMatch).reason);
  for (let i = 0; i < j.adjustments.length; i++) reasons.push((j.adjustments[i] as PolicyAdjustment).reason);
  const decision = new LazyDecision(
    record,
    policy,
    j.action,
    j.ruleAction,
    matches,
    reasons,
    j.adjustments,
    j.action === 'alert' && j.page,
    j.severity,
    j.silence,
  );
  decision.principal = principal;
  if (stagedRules) {
    // What each staged rule would have done live: the same policy over the live matches plus it.
    decision.staged = stagedRules.map((rule) => {
      const m = matchOf(rule, record, policy);
      const un = ACTION_RANK[rule.action] > ACTION_RANK[unadjusted] ? rule.action : unadjusted;
      const w = judge(record, principal, [...matches, m], un, ctx);
      return {
        ruleId: rule.id,
        title: rule.title,
        action: m.action,
        wouldBe: w.action,
        wouldPage: w.action === 'alert' && w.page,
        reason: m.reason,
      };
    });
  }
  return decision;
}

/**
 * A Decision whose principal and summary are worked out on first read (then kept): deciding a call no
 * rule matched does not need them, and most calls match none. Assigning either sets it.
 */
class LazyDecision implements Decision {
  declare staged?: StagedMatch[];
  #principal: Principal | undefined;
  #summary: string | undefined;
  #reasons: string[] | undefined;
  #adjustments: PolicyAdjustment[] | undefined;
  readonly #policy: PolicyConfig;

  constructor(
    readonly record: CloudTrailRecord,
    policy: PolicyConfig,
    public action: Action,
    public ruleAction: Action,
    /** Frozen and shared when empty (nobody adds to a decision's matches). */
    public matches: RuleMatch[],
    reasons: string[] | undefined,
    adjustments: PolicyAdjustment[] | undefined,
    public page: boolean,
    public severity: Severity,
    public silence: SilenceRef | undefined,
  ) {
    this.#policy = policy;
    this.#reasons = reasons;
    this.#adjustments = adjustments;
  }

  // Made on first read when there are none (callers may add to them, as the drain does).
  get reasons(): string[] {
    this.#reasons ??= [];
    return this.#reasons;
  }
  set reasons(r: string[]) {
    this.#reasons = r;
  }
  get adjustments(): PolicyAdjustment[] {
    this.#adjustments ??= [];
    return this.#adjustments;
  }
  set adjustments(a: PolicyAdjustment[]) {
    this.#adjustments = a;
  }

  get principal(): Principal {
    this.#principal ??= principalOf(this.record, this.#policy);
    return this.#principal;
  }
  set principal(p: Principal) {
    this.#principal = p;
  }
  get summary(): string {
    this.#summary ??= summarize(this.record, this.principal, this.matches);
    return this.#summary;
  }
  set summary(s: string) {
    this.#summary = s;
  }
  /** What a plain Decision would show (JSON, logs): the lazy fields included. */
  toJSON(): Record<string, unknown> {
    return {
      action: this.action,
      ruleAction: this.ruleAction,
      matches: this.matches,
      reasons: this.reasons,
      adjustments: this.adjustments,
      principal: this.principal,
      summary: this.summary,
      page: this.page,
      severity: this.severity,
      silence: this.silence,
      record: this.record,
      staged: this.staged,
    };
  }
}

/** A rule from a RuleSet without candidate tests (hand-built sets), judged by `matches`. */
function asCandidateTest(rule: Rule): CandidateTest {
  return { rule, test: (r) => rule.matches(r) };
}

/** The matches of a decision no rule matched: one shared, frozen empty list. */
const NO_MATCHES: readonly RuleMatch[] = Object.freeze([]);

/** Whether the caller may be the root account (then the policy raises the call to alert). */
function maybeRoot(record: CloudTrailRecord): boolean {
  const ui = (record as { userIdentity?: unknown }).userIdentity;
  if (typeof ui !== 'object' || ui === null) return false;
  // principalOf reads `type` (its lowercase form is the same key): Root only when it says so.
  return (ui as { type?: unknown }).type === 'Root' && Object.hasOwn(ui, 'type');
}

/** The policy over a set of matches (sorted in place, most serious first): the action and why. */
function judge(
  record: CloudTrailRecord,
  principal: Principal,
  matches: RuleMatch[],
  unadjusted: Action,
  ctx: DecideContext,
): {
  action: Action;
  ruleAction: Action;
  adjustments: PolicyAdjustment[];
  severity: Severity;
  page: boolean;
  silence?: SilenceRef;
} {
  const policy = ctx.policy;
  // Most serious first, so the summary and the DM lead with what matters (a stable sort).
  if (matches.length > 1) matches.sort((a, b) => ACTION_RANK[b.action] - ACTION_RANK[a.action]);

  let ruleAction: Action = 'log';
  let severity: Severity = 'info';
  for (let i = 0; i < matches.length; i++) {
    const m = matches[i] as RuleMatch;
    if (ACTION_RANK[m.action] > ACTION_RANK[ruleAction]) ruleAction = m.action;
    const s = m.level ? LEVEL_SEVERITY[m.level] : m.action === 'alert' ? 'error' : 'info';
    if (SEVERITY_RANK[s] > SEVERITY_RANK[severity]) severity = s;
  }
  const adjustments: PolicyAdjustment[] = [];
  if (ruleAction !== unadjusted) {
    adjustments.push(
      adjustment(
        'failed_call',
        unadjusted,
        ruleAction,
        `the call failed (${record.errorCode}): failed calls are logged unless the rule keeps them`,
      ),
    );
  }
  let action = ruleAction;
  let page = true;

  if (principal.isAwsService) {
    if (action !== 'log') {
      adjustments.push(
        adjustment('aws_service', action, 'log', `${principal.name} is an AWS service acting on its own`),
      );
      action = 'log';
    }
  } else if (principal.type === 'Root' && record.eventType !== 'AwsServiceEvent') {
    // Any use of the root account is an alert, whether or not a rule names the call.
    if (action !== 'alert') {
      adjustments.push(adjustment('root', action, 'alert', 'the root account was used'));
      action = 'alert';
    }
    severity = 'critical';
  } else if (matches.length > 0) {
    if (principal.isAutomation && action === 'notify') {
      adjustments.push(
        adjustment(
          'automation',
          'notify',
          'log',
          `${principal.name} is a configured automation principal: there is no one to ask`,
        ),
      );
      action = 'log';
    } else if (principal.isUnattributable && action === 'notify') {
      adjustments.push(
        adjustment(
          'unattributable',
          'notify',
          'alert',
          'no engineer can be named for this call, so no one can confirm it',
        ),
      );
      action = 'alert';
    }
    if (action === 'notify') {
      const ageMs = ctx.now.getTime() - parseEventTime(record.eventTime);
      if (ageMs > policy.maxAgeMs) {
        adjustments.push(
          adjustment(
            'too_old',
            'notify',
            'alert',
            `the call is ${Math.round(ageMs / 60_000)} min old: too old to ask "did you just do this?"`,
          ),
        );
        action = 'alert';
        page = false;
      }
    }
  }

  let silence: SilenceRef | undefined;
  if (action !== 'log' && ctx.silences) {
    silence = ctx.silences.match({ record, principal, ruleIds: matches.map((m) => m.ruleId) });
    if (silence) {
      adjustments.push(adjustment('silenced', action, 'log', `silenced by ${silence.id}: ${silence.reason}`));
      action = 'log';
    }
  }
  if (action === 'alert' && severity === 'info') severity = 'warning';
  return { action, ruleAction, adjustments, severity, page, silence };
}

/** `iam.amazonaws.com` → `iam`, remembered per event source (a few hundred of them). */
const serviceNames = new Map<string, string>();
export function serviceOf(eventSource: string): string {
  let name = serviceNames.get(eventSource);
  if (name === undefined) {
    name = eventSource.replace(/\.amazonaws\.com$/, '');
    if (serviceNames.size < 10_000) serviceNames.set(eventSource, name);
  }
  return name;
}

function summarize(record: CloudTrailRecord, principal: Principal, matches: RuleMatch[]): string {
  const account = record.recipientAccountId ?? principal.accountId;
  const region = record.awsRegion;
  const where = account ? (region ? `${account}/${region}` : account) : (region ?? '');
  const failed = record.errorCode ? ` (failed: ${record.errorCode})` : '';
  const why = matches.length > 0 ? ` — ${(matches[0] as RuleMatch).reason}` : '';
  return `${principal.name} called ${serviceOf(record.eventSource)}:${record.eventName}${where ? ` in ${where}` : ''}${failed}${why}`;
}
