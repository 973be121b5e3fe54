/**
 * decide(record) → Decision: which rules match, the highest action among them, and the policy that
 * adjusts it by context (who called, whether it failed, how old it is, silences).
 */

import { principalOf } from '../cloudtrail/principal.js';
import type { Principal } from '../cloudtrail/principal-types.js';
import type { CloudTrailRecord } from '../cloudtrail/record.js';
import { renderReason } from '../rules/reason.js';
import {
  type Action,
  actionRank,
  maxAction,
  type Rule,
  type RuleSet,
  type SigmaLevel,
} from '../rules/types.js';

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
}

const LEVEL_SEVERITY: Record<SigmaLevel, Severity> = {
  informational: 'info',
  low: 'info',
  medium: 'warning',
  high: 'error',
  critical: 'critical',
};
const SEVERITY_RANK: Severity[] = ['info', 'warning', 'error', 'critical'];

function matchOf(rule: Rule, record: CloudTrailRecord, failed: boolean, policy: PolicyConfig): RuleMatch {
  const dropped = failed && policy.failedCalls === 'log' && rule.onFailure === 'log';
  return {
    ruleId: rule.id,
    title: rule.title,
    action: dropped ? 'log' : rule.action,
    level: rule.level,
    reason: rule.reason ? renderReason(rule.reason, record) : `${record.eventName}: ${rule.title}`,
    runbook: rule.runbook,
  };
}

function parseEventTime(t: string): number {
  // Tolerate "2023-01-10 21:04:02" (no T, no zone) as UTC, as some exports write it.
  const ms = Date.parse(t);
  if (!Number.isNaN(ms) && /[zZ]|[+-]\d\d:?\d\d$/.test(t)) return ms;
  const iso = Date.parse(`${t.replace(' ', 'T')}${/[zZ]$/.test(t) ? '' : 'Z'}`);
  return Number.isNaN(iso) ? ms : iso;
}

/**
 * Decide what to do with one CloudTrail record. Never throws for a decoded record.
 *
 * @example
 * const d = decide(record, ruleSet, defaultDecideContext());
 * d.action // 'notify'
 * d.reasons // ['PutUserPolicy grants iam:* on * to alice']
 */
export function decide(record: CloudTrailRecord, ruleSet: RuleSet, ctx: DecideContext): Decision {
  const principal = principalOf(record, { automation: ctx.policy.automation });
  const failed = typeof record.errorCode === 'string' && record.errorCode !== '';
  const matches: RuleMatch[] = [];
  let unadjusted: Action = 'log';
  for (const rule of ruleSet.candidates(record)) {
    if (!rule.matches(record)) continue;
    matches.push(matchOf(rule, record, failed, ctx.policy));
    unadjusted = maxAction(unadjusted, rule.action);
  }
  // Most serious first, so the summary and the DM lead with what matters.
  matches.sort((a, b) => actionRank(b.action) - actionRank(a.action));

  const ruleAction = matches.reduce<Action>((acc, m) => maxAction(acc, m.action), 'log');
  const adjustments: PolicyAdjustment[] = [];
  if (ruleAction !== unadjusted) {
    adjustments.push({
      kind: 'failed_call',
      from: unadjusted,
      to: ruleAction,
      reason: `the call failed (${record.errorCode}): failed calls are logged unless the rule keeps them`,
    });
  }
  let action = ruleAction;
  const adjust = (kind: AdjustmentKind, to: Action, reason: string) => {
    if (to !== action) adjustments.push({ kind, from: action, to, reason });
    action = to;
  };

  let severity: Severity = matches.reduce<Severity>((acc, m) => {
    const s = m.level ? LEVEL_SEVERITY[m.level] : m.action === 'alert' ? 'error' : 'info';
    return SEVERITY_RANK.indexOf(s) > SEVERITY_RANK.indexOf(acc) ? s : acc;
  }, 'info');
  let page = true;

  if (principal.isAwsService) {
    adjust('aws_service', 'log', `${principal.name} is an AWS service acting on its own`);
  } else if (principal.type === 'Root' && record.eventType !== 'AwsServiceEvent') {
    // Any use of the root account is an alert, whether or not a rule names the call.
    adjust('root', 'alert', 'the root account was used');
    severity = 'critical';
  } else if (matches.length > 0) {
    if (principal.isAutomation && action === 'notify') {
      adjust(
        'automation',
        'log',
        `${principal.name} is a configured automation principal: there is no one to ask`,
      );
    } else if (principal.isUnattributable && action === 'notify') {
      adjust('unattributable', 'alert', 'no engineer can be named for this call, so no one can confirm it');
    }
    if (action === 'notify') {
      const ageMs = ctx.now.getTime() - parseEventTime(record.eventTime);
      if (ageMs > ctx.policy.maxAgeMs) {
        adjust(
          'too_old',
          'alert',
          `the call is ${Math.round(ageMs / 60_000)} min old: too old to ask "did you just do this?"`,
        );
        page = false;
      }
    }
  }

  let silence: SilenceRef | undefined;
  if (action !== 'log' && ctx.silences) {
    silence = ctx.silences.match({ record, principal, ruleIds: matches.map((m) => m.ruleId) });
    if (silence) adjust('silenced', 'log', `silenced by ${silence.id}: ${silence.reason}`);
  }
  if (action === 'alert' && severity === 'info') severity = 'warning';

  const reasons = [...matches.map((m) => m.reason), ...adjustments.map((a) => a.reason)];
  return {
    action,
    ruleAction,
    matches,
    reasons,
    adjustments,
    principal,
    summary: summarize(record, principal, matches),
    page: action === 'alert' && page,
    severity,
    silence,
    record,
  };
}

function summarize(record: CloudTrailRecord, principal: Principal, matches: RuleMatch[]): string {
  const service = record.eventSource.replace(/\.amazonaws\.com$/, '');
  const where = [record.recipientAccountId ?? principal.accountId, record.awsRegion]
    .filter(Boolean)
    .join('/');
  const failed = record.errorCode ? ` (failed: ${record.errorCode})` : '';
  const why = matches[0] ? ` — ${matches[0].reason}` : '';
  return `${principal.name} called ${service}:${record.eventName}${where ? ` in ${where}` : ''}${failed}${why}`;
}
