/**
 * decide(record) → Decision: which rules match, the highest action among them, and the policy that
 * adjusts it by context (who called, whether it failed, how old it is, silences).
 */

import { type Caller, callerOf, principalFrom, principalOf } from '../cloudtrail/principal.js';
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
  return new Match(rule, record, dropped ? 'log' : rule.action);
}

/**
 * A RuleMatch whose reason (the rule's template filled from the record) is rendered when first read:
 * no policy decision reads it, and a call is decided long before anyone shows why. It reads as a plain
 * RuleMatch, JSON included (`toJSON`: the same fields in the same order). Assigning the reason sets it.
 */
class Match implements RuleMatch {
  readonly ruleId: string;
  readonly title: string;
  action: Action;
  level: SigmaLevel | undefined;
  #reason: string | undefined = undefined;
  runbook: string | undefined;
  readonly #rule: Rule;
  readonly #record: CloudTrailRecord;

  constructor(rule: Rule, record: CloudTrailRecord, action: Action) {
    this.ruleId = rule.id;
    this.title = rule.title;
    this.action = action;
    this.level = rule.level;
    this.runbook = rule.runbook;
    this.#rule = rule;
    this.#record = record;
  }

  get reason(): string {
    if (this.#reason === undefined) {
      const rule = this.#rule;
      this.#reason = rule.reason
        ? renderReason(rule.reason, this.#record)
        : `${this.#record.eventName}: ${rule.title}`;
    }
    return this.#reason;
  }
  set reason(r: string) {
    this.#reason = r;
  }

  toJSON(): RuleMatch {
    return {
      ruleId: this.ruleId,
      title: this.title,
      action: this.action,
      level: this.level,
      reason: this.reason,
      runbook: this.runbook,
    };
  }
}

/**
 * The reasons of a decision with matches, as decided (its matches and its adjustments' reasons then):
 * rendered when the decision's reasons are first read.
 */
class PendingReasons {
  constructor(
    readonly matches: readonly RuleMatch[],
    readonly adjustments: readonly string[],
  ) {}
  render(): string[] {
    const out: string[] = [];
    for (let i = 0; i < this.matches.length; i++) out.push((this.matches[i] as RuleMatch).reason);
    for (let i = 0; i < this.adjustments.length; i++) out.push(this.adjustments[i] as string);
    return out;
  }
}

const ZONED = /[zZ]|[+-]\d\d:?\d\d$/;

/** The value of the two ASCII digits of `t` at `i`, or -1. */
function twoDigits(t: string, i: number): number {
  const a = t.charCodeAt(i) - 48;
  const b = t.charCodeAt(i + 1) - 48;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1;
}

/**
 * CloudTrail's own form, `2025-06-02T11:59:00Z`, read without Date.parse (what Date.parse gives for
 * it, property-tested); NaN for anything else, which the caller then parses the general way.
 */
export function cloudTrailTimeMs(t: string): number {
  if (t.length !== 20 || t.charCodeAt(19) !== 90 /* Z */) return Number.NaN;
  if (t.charCodeAt(4) !== 45 || t.charCodeAt(7) !== 45 || t.charCodeAt(10) !== 84) return Number.NaN;
  if (t.charCodeAt(13) !== 58 || t.charCodeAt(16) !== 58) return Number.NaN;
  const hi = twoDigits(t, 0);
  const lo = twoDigits(t, 2);
  const month = twoDigits(t, 5);
  const day = twoDigits(t, 8);
  const hour = twoDigits(t, 11);
  const minute = twoDigits(t, 14);
  const second = twoDigits(t, 17);
  if (hi < 10 || lo < 0 || month < 1 || month > 12 || day < 1 || day > 31) return Number.NaN;
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) return Number.NaN;
  return Date.UTC(hi * 100 + lo, month - 1, day, hour, minute, second);
}

function parseEventTime(t: string): number {
  const fast = cloudTrailTimeMs(t);
  if (!Number.isNaN(fast)) return fast;
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
 * (and, when a rule matches, a RuleMatch per matching rule and what the policy read of the caller).
 * What the action does not depend on — the matches' reasons, the decision's reasons, principal and
 * summary — is worked out when first read, from the record as it was decided.
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
  // The policy reads the caller's type and flags; the whole principal (its name, email, MFA…) only
  // when an adjustment names it or silences are asked, else when the decision's principal is read.
  const who = new Who(record, callerOf(record, policy));
  const j = judge(record, who, matches, unadjusted, ctx);
  // One reason per match, then one per adjustment: the matches' are rendered when first read.
  const adjusted: string[] = [];
  for (let i = 0; i < j.adjustments.length; i++) adjusted.push((j.adjustments[i] as PolicyAdjustment).reason);
  const reasons = new PendingReasons(matches.slice(), adjusted);
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
  if (who.principal !== undefined) decision.principal = who.principal;
  else decision.fromCaller(who.caller);
  if (stagedRules) {
    // What each staged rule would have done live: the same policy over the live matches plus it.
    decision.staged = stagedRules.map((rule) => {
      const m = matchOf(rule, record, policy);
      const un = ACTION_RANK[rule.action] > ACTION_RANK[unadjusted] ? rule.action : unadjusted;
      const w = judge(record, who, [...matches, m], un, ctx);
      return {
        ruleId: rule.id,
        title: rule.title,
        action: m.action,
        wouldBe: w.action,
        wouldPage: w.action === 'alert' && w.page,
        reason: m.reason,
      };
    });
    if (who.principal !== undefined) decision.principal = who.principal;
  }
  return decision;
}

/** A record's caller for the policy, and its whole principal once something needs it. */
class Who {
  principal: Principal | undefined = undefined;
  constructor(
    readonly record: CloudTrailRecord,
    readonly caller: Caller,
  ) {}
  full(): Principal {
    this.principal ??= principalFrom(this.record, this.caller);
    return this.principal;
  }
}

/**
 * A Decision whose principal, summary and reasons are worked out on first read (then kept): the action
 * does not depend on them, and most calls match no rule. Assigning any of them sets it.
 */
class LazyDecision implements Decision {
  declare staged?: StagedMatch[];
  #principal: Principal | undefined;
  /** The caller the policy judged (callerOf), when the principal is still to be worked out from it. */
  #caller: Caller | undefined;
  #summary: string | undefined;
  #reasons: string[] | PendingReasons | undefined;
  #adjustments: PolicyAdjustment[] | undefined;
  readonly #policy: PolicyConfig;

  constructor(
    readonly record: CloudTrailRecord,
    policy: PolicyConfig,
    public action: Action,
    public ruleAction: Action,
    /** Frozen and shared when empty (nobody adds to a decision's matches). */
    public matches: RuleMatch[],
    reasons: PendingReasons | undefined,
    adjustments: PolicyAdjustment[] | undefined,
    public page: boolean,
    public severity: Severity,
    public silence: SilenceRef | undefined,
  ) {
    this.#policy = policy;
    this.#reasons = reasons;
    this.#adjustments = adjustments;
  }

  // Made on first read (callers may add to them, as the drain does).
  get reasons(): string[] {
    const r = this.#reasons;
    if (r === undefined || r instanceof PendingReasons) {
      const made = r === undefined ? [] : r.render();
      this.#reasons = made;
      return made;
    }
    return r;
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
    if (this.#principal === undefined) {
      this.#principal =
        this.#caller !== undefined
          ? principalFrom(this.record, this.#caller)
          : principalOf(this.record, this.#policy);
      this.#caller = undefined;
    }
    return this.#principal;
  }
  set principal(p: Principal) {
    this.#principal = p;
    this.#caller = undefined;
  }
  /** The caller judged, from which the principal is worked out on first read. */
  fromCaller(c: Caller): void {
    this.#caller = c;
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
  who: Who,
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

  const caller = who.caller;
  if (caller.isAwsService) {
    if (action !== 'log') {
      adjustments.push(
        adjustment('aws_service', action, 'log', `${who.full().name} is an AWS service acting on its own`),
      );
      action = 'log';
    }
  } else if (caller.type === 'Root' && record.eventType !== 'AwsServiceEvent') {
    // Any use of the root account is an alert, whether or not a rule names the call.
    if (action !== 'alert') {
      adjustments.push(adjustment('root', action, 'alert', 'the root account was used'));
      action = 'alert';
    }
    severity = 'critical';
  } else if (matches.length > 0) {
    if (caller.isAutomation && action === 'notify') {
      adjustments.push(
        adjustment(
          'automation',
          'notify',
          'log',
          `${who.full().name} is a configured automation principal: there is no one to ask`,
        ),
      );
      action = 'log';
    } else if (caller.isUnattributable && action === 'notify') {
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
    silence = ctx.silences.match({
      record,
      principal: who.full(),
      ruleIds: matches.map((m) => m.ruleId),
    });
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
