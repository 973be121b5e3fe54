/** The DM that asks an engineer "did you do this?", in each state of its verification. */
import type { KnownBlock } from '@slack/types';
import type { Verification, VerificationCall } from '../store/types.js';
import { cloudtrail, inert, md, plain, SLACK_LIMITS, slackDate } from './format.js';

export const ACTION_YES = 'verification_yes';
export const ACTION_NO = 'verification_no';

/** How many coalesced calls are listed before "and N more". */
export const LISTED_CALLS = 8;

export interface QuestionViewInput {
  verification: Verification;
  calls: VerificationCall[];
  /** How the engineer was matched to the AWS principal. */
  via?: 'map' | 'email' | 'domain' | 'principal';
  /** Rule id → title, for "why it matters". */
  ruleTitles?: ReadonlyMap<string, string>;
  accountAliases?: Readonly<Record<string, string>>;
}

export interface SlackMessage {
  text: string;
  blocks: KnownBlock[];
}

const VIA_WORDS: Record<NonNullable<QuestionViewInput['via']>, string> = {
  map: "secbot's identity map",
  email: 'the email address on the AWS session',
  domain: 'your IAM user name and the company email domain',
  principal: 'the AWS principal',
};

const service = (source: string) => source.replace(/\.amazonaws\.com$/, '');

function account(id: string | undefined, aliases: QuestionViewInput['accountAliases']): string {
  if (!id) return cloudtrail(undefined);
  const alias = aliases?.[id];
  return alias ? `${cloudtrail(id)} (${cloudtrail(alias)})` : cloudtrail(id);
}

function callLine(c: VerificationCall): string {
  return `• ${slackDate(c.eventTime, '{time}')} ${cloudtrail(`${service(c.eventSource)}:${c.eventName}`, 80)} ${c.reason ? cloudtrail(c.reason, 160) : ''}`;
}

function stateLine(v: Verification): string | undefined {
  switch (v.state) {
    case 'DUO_PENDING':
      return ':iphone: *A Duo push is on its way to your phone.* Approve it to confirm these calls were you.';
    case 'CONFIRMED':
      return `:white_check_mark: *Confirmed* with Duo ${slackDate(v.closedAt ?? v.updatedAt)}. Thank you.`;
    case 'ESCALATED':
      return `:rotating_light: *Escalated to the security team* ${slackDate(v.closedAt ?? v.updatedAt)}: ${inert(v.escalationReason ?? 'no reason recorded')}. They will be in touch.`;
    default:
      return undefined;
  }
}

/**
 * The question DM.
 *
 * @example const { text, blocks } = questionMessage({ verification, calls, via: 'email' });
 */
export function questionMessage(input: QuestionViewInput): SlackMessage {
  const { verification: v, calls } = input;
  const first = calls[0] ?? v.preview[0];
  const n = v.callCount;
  const blocks: KnownBlock[] = [];
  blocks.push({
    type: 'header',
    text: plain(
      n === 1 ? 'Did you make this AWS change?' : `Did you make these ${n} AWS changes?`,
      SLACK_LIMITS.header,
    ),
  });
  const via = input.via ?? first?.matchedBy;
  const who = via ? ` (matched to you by ${VIA_WORDS[via]})` : '';
  blocks.push({
    type: 'section',
    text: md(
      `secbot watches security-relevant AWS calls. ${n === 1 ? 'This call was' : 'These calls were'} made with credentials that point to you${who}. If it was you, confirm with Duo; if not, the security team is paged.`,
    ),
  });
  if (first) {
    const rules = first.ruleIds.map((id) => input.ruleTitles?.get(id) ?? id);
    blocks.push({
      type: 'section',
      fields: [
        md(`*Call*\n${cloudtrail(`${service(first.eventSource)}:${first.eventName}`, 120)}`),
        md(`*Resource*\n${cloudtrail(first.resource, 150)}`),
        md(`*Account*\n${account(first.account, input.accountAliases)}`),
        md(`*Region*\n${cloudtrail(first.region, 60)}`),
        md(`*Source IP*\n${cloudtrail(first.sourceIp, 80)}`),
        md(`*When*\n${slackDate(first.eventTime)}`),
        md(`*User agent*\n${cloudtrail(first.userAgent, 150)}`),
        md(`*As*\n${cloudtrail(first.principal, 150)}`),
      ],
    });
    blocks.push({
      type: 'section',
      text: md(
        `*Why secbot asks:* ${rules.map((r) => inert(r, 120)).join(', ') || 'a rule matched'}\n${cloudtrail(first.reason, 400)}`,
      ),
    });
  }
  if (n > 1) {
    const listed = calls.slice(0, LISTED_CALLS);
    const more = n - listed.length;
    blocks.push({
      type: 'section',
      text: md(`*All calls*\n${listed.map(callLine).join('\n')}${more > 0 ? `\n…and ${more} more` : ''}`),
    });
  }
  const state = stateLine(v);
  if (state) {
    blocks.push({ type: 'section', text: md(state) });
  } else {
    blocks.push({
      type: 'context',
      elements: [md(`Please answer by ${slackDate(v.deadline)}. No answer by then escalates.`)],
    });
    blocks.push({
      type: 'actions',
      block_id: `verification:${v.id}`,
      elements: [
        {
          type: 'button',
          action_id: ACTION_YES,
          style: 'primary',
          text: plain('Yes, this was me', SLACK_LIMITS.buttonText),
          value: `${v.id}:${v.callCount}`,
        },
        {
          type: 'button',
          action_id: ACTION_NO,
          style: 'danger',
          text: plain("No, this wasn't me", SLACK_LIMITS.buttonText),
          value: `${v.id}:${v.callCount}`,
          confirm: {
            title: plain('Report these calls?'),
            text: md('The security team will be paged and will treat your credentials as compromised.'),
            confirm: plain("It wasn't me"),
            deny: plain('Go back'),
            style: 'danger',
          },
        },
      ],
    });
  }
  blocks.push({ type: 'context', elements: [md(`secbot verification \`${v.id}\``)] });
  const what = first ? inert(`${service(first.eventSource)}:${first.eventName}`, 80) : 'an AWS change';
  const text =
    v.state === 'OPEN'
      ? `secbot: did you make ${n === 1 ? what : `${n} AWS changes (${what}, …)`}? Answer by the deadline.`
      : `secbot: verification ${v.state.toLowerCase().replace('_', ' ')} (${what})`;
  return { text, blocks: blocks.slice(0, SLACK_LIMITS.blocksPerMessage) };
}
