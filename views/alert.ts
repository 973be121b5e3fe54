/** The alert posted in the security channel, with Acknowledge / Resolve for staff. */
import type { KnownBlock } from '@slack/types';
import type { AlertItem } from '../store/types.js';
import { cloudtrail, inert, md, mention, plain, SLACK_LIMITS, slackDate } from './format.js';
import type { SlackMessage } from './question.js';
import { type RemediationViewOptions, remediationBlocks } from './remediation.js';

export const ACTION_ACKNOWLEDGE = 'alert_acknowledge';
export const ACTION_RESOLVE = 'alert_resolve';

const SEVERITY_ICON: Record<AlertItem['severity'], string> = {
  critical: ':rotating_light:',
  error: ':red_circle:',
  warning: ':large_orange_circle:',
  info: ':large_blue_circle:',
};

export interface AlertViewInput {
  alert: AlertItem;
  ruleTitles?: ReadonlyMap<string, string>;
  /** How remediations are offered (views/remediation.ts); without it they are listed, not pressable. */
  remediation?: RemediationViewOptions;
}

/**
 * The channel alert. Summary and reasons carry CloudTrail values and are shown inert.
 *
 * @example const { text, blocks } = alertMessage({ alert });
 */
export function alertMessage({ alert: a, ruleTitles, remediation }: AlertViewInput): SlackMessage {
  const title =
    a.kind === 'escalation'
      ? 'Escalated: an engineer could not confirm AWS calls'
      : a.kind === 'watchdog'
        ? 'secbot watchdog: calls may not be reaching secbot'
        : `Security alert: ${ruleTitles?.get(a.ruleIds[0] ?? '') ?? a.ruleIds[0] ?? 'AWS call'}`;
  const blocks: KnownBlock[] = [
    { type: 'header', text: plain(truncateTitle(title), SLACK_LIMITS.header) },
    {
      type: 'section',
      text: md(
        `${SEVERITY_ICON[a.severity]} *${a.severity.toUpperCase()}* ${cloudtrail(alertSummary(a), 600)}`,
      ),
    },
  ];
  const facts: string[] = [];
  if (a.engineerKey) facts.push(`*Engineer:* ${mention(a.engineerKey)}`);
  if (a.verificationId) facts.push(`*Verification:* \`${inert(a.verificationId, 60)}\``);
  // A watchdog alert is about secbot's own health: it names no calls.
  if (a.kind !== 'watchdog' || a.eventIds.length > 0)
    facts.push(
      `*Calls:* ${a.eventIds.length} (${a.eventIds
        .slice(0, 3)
        .map((id) => cloudtrail(id, 60))
        .join(', ')}${a.eventIds.length > 3 ? ', …' : ''})`,
    );
  if (a.ruleIds.length > 0)
    facts.push(`*Rules:* ${a.ruleIds.map((id) => inert(ruleTitles?.get(id) ?? id, 100)).join(', ')}`);
  if (facts.length > 0) blocks.push({ type: 'section', text: md(facts.join('\n')) });
  if (a.reasons.length > 0) {
    blocks.push({
      type: 'section',
      text: md(
        `*Why*\n${a.reasons
          .slice(0, 10)
          .map((r) => `• ${cloudtrail(r, 280)}`)
          .join('\n')}`,
      ),
    });
  }
  const status: string[] = [`Raised ${slackDate(a.createdAt)}`];
  if (a.pageStatus === 'sent') status.push(`paged ${a.pageSentAt ? slackDate(a.pageSentAt) : ''}`.trim());
  else if (a.pageAttempts > 0) status.push(`paging failed ${a.pageAttempts}× (retrying)`);
  if (a.acknowledgedBy) status.push(`acknowledged by ${mention(a.acknowledgedBy)}`);
  if (a.resolvedBy) status.push(`resolved by ${mention(a.resolvedBy)}`);
  blocks.push({ type: 'context', elements: [md(status.join(' · '))] });
  if (a.state !== 'RESOLVED') {
    blocks.push({
      type: 'actions',
      block_id: `alert:${a.id}`,
      elements: [
        ...(a.state === 'OPEN'
          ? [
              {
                type: 'button' as const,
                action_id: ACTION_ACKNOWLEDGE,
                text: plain('Acknowledge'),
                value: a.id,
              },
            ]
          : []),
        {
          type: 'button' as const,
          action_id: ACTION_RESOLVE,
          style: 'primary' as const,
          text: plain('Resolve'),
          value: a.id,
        },
      ],
    });
  }
  blocks.push(...remediationBlocks(a, remediation));
  blocks.push({ type: 'context', elements: [md(`secbot alert \`${inert(a.id, 80)}\``)] });
  return { text: `secbot ${a.severity} alert: ${inert(title, 150)}`, blocks };
}

/**
 * The alert's one-line summary: a burst's names its first call and how many more there are (the page's
 * summary too).
 */
export function alertSummary(a: AlertItem): string {
  const more = a.burst ? a.eventIds.length - 1 : 0;
  if (more <= 0) return a.summary;
  return `${a.summary} (+${more} more alert call${more === 1 ? '' : 's'} by the same principal)`;
}

function truncateTitle(t: string): string {
  return t.length > SLACK_LIMITS.header ? `${t.slice(0, SLACK_LIMITS.header - 1)}…` : t;
}
