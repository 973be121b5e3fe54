/**
 * Alert bursts. An attacker scripting IAM calls, or one bad Terraform apply, makes many alert calls by one
 * principal in a few minutes: they are one incident. secbot gives them one alert — one channel post and
 * one page, listing every call — instead of one each (Slack posts about one message a second to a
 * channel; a page per call buries the first under the rest).
 *
 * Calls share an alert when they have the same principal, account, severity and paging, and their event
 * times fall in the same window (SECBOT_ALERT_BURST, 5 minutes by default; `off` turns bursts off). The
 * key is made from the record alone, so a redelivered call finds the alert it joined. An alert takes
 * calls until the outbox seals it just before sending, or until it holds MAX_BURST_CALLS; later calls of
 * the burst open its next alert. Each call's one-click remediations are offered on the burst's alert (a
 * plan two calls share, once).
 */
import type { RemediationGap, RemediationPlan } from '../remediation/types.js';
import type { AlertBurst, BurstCall } from '../store/types.js';
import type { Decision } from './decide.js';

/** The burst a decided alert call belongs to. */
export function alertBurstOf(d: Decision, windowMs: number, engineerKey?: string): AlertBurst {
  const p = d.principal;
  const who = p.arn ?? `${p.type}:${p.name}`;
  const account = d.record.recipientAccountId ?? p.accountId ?? '';
  const t = Date.parse(d.record.eventTime);
  const start = Number.isFinite(t) ? Math.floor(t / windowMs) * windowMs : 0;
  const windowStart = new Date(start).toISOString();
  return {
    key: [who, account, d.severity, d.page ? 'page' : 'channel', windowStart].join('|'),
    windowStart,
    severity: d.severity,
    page: d.page,
    engineerKey,
  };
}

export function burstCallOf(
  d: Decision,
  fixes: { plans: RemediationPlan[]; gaps: RemediationGap[] },
): BurstCall {
  return {
    remediations: fixes.plans.length > 0 ? fixes.plans : undefined,
    remediationGaps: fixes.gaps.length > 0 ? fixes.gaps : undefined,
    eventId: d.record.eventID,
    eventTime: d.record.eventTime,
    summary: d.summary,
    ruleIds: d.matches.map((m) => m.ruleId),
    reasons: d.reasons,
  };
}
