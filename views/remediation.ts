/**
 * The remediation part of a channel alert: each remediation's exact call and where it stands, a
 * button for staff while it is available (with a confirm dialog naming the call and the account),
 * and the remediations these calls cannot have.
 */
import type { Button, ConfirmationDialog, KnownBlock } from '@slack/types';
import { commandKey, type RemediationPlan } from '../remediation/types.js';
import type { AlertItem, AlertRemediation } from '../store/types.js';
import { cloudtrail, inert, md, mention, plain, SLACK_LIMITS, slackDate } from './format.js';

export const ACTION_REMEDIATE = 'alert_remediate';

/** Slack's limits for a confirm dialog. */
const CONFIRM = { title: 100, text: 300, button: 30 } as const;

export interface RemediationViewOptions {
  /** Staff can press (secbot runs remediations here, live or in shadow). */
  enabled: boolean;
  /** `shadow`: a press prints the exact call instead of making it. */
  mode?: 'live' | 'shadow';
  /** A press needs the staff member's Duo push. */
  duo?: boolean;
}

/** The button value: `<alertId>:<remediationId>`. */
export function remediationValue(alertId: string, remediationId: string): string {
  return `${alertId}:${remediationId}`;
}

/** Parses a button value; undefined for anything that is not one. */
export function parseRemediationValue(
  value: string | undefined,
): { alertId: string; remediationId: string } | undefined {
  const m = value && value.length <= 250 ? /^(a_[A-Za-z0-9_-]{1,200}):(r\d{1,3})$/.exec(value) : null;
  return m?.[1] && m[2] ? { alertId: m[1], remediationId: m[2] } : undefined;
}

/**
 * The confirm dialog's text (at most 300 characters): the exact command, its input, the account and
 * region. The input is shortened first when it does not fit; the alert itself shows it whole.
 */
export function confirmText(
  plan: RemediationPlan,
  opts: Pick<RemediationViewOptions, 'duo' | 'mode'>,
): string {
  const head = `Calls ${cloudtrail(commandKey(plan), 70)} in account ${cloudtrail(plan.account, 20)} (${cloudtrail(plan.region, 20)})`;
  const tail =
    (opts.mode === 'shadow' ? ' Shadow mode: the call is printed, not made.' : '') +
    (opts.duo ? ' A Duo push to your phone comes first.' : '');
  const input = JSON.stringify(plan.input);
  for (let max = 240; max >= 10; max -= 10) {
    const text = `${head} with ${cloudtrail(input, max)}.${tail}`;
    if (text.length <= CONFIRM.text) return text;
  }
  return `${head}.${tail}`.slice(0, CONFIRM.text);
}

function confirmDialog(r: AlertRemediation, opts: RemediationViewOptions): ConfirmationDialog {
  return {
    title: plain('Run this remediation?', CONFIRM.title),
    text: md(confirmText(r.plan, opts)),
    confirm: plain(opts.mode === 'shadow' ? 'Print the call' : 'Run it', CONFIRM.button),
    deny: plain('Cancel', CONFIRM.button),
    style: 'danger',
  };
}

function statusLine(r: AlertRemediation): string {
  const when = (iso: string | undefined) => (iso ? ` ${slackDate(iso)}` : '');
  const by = r.by ? mention(r.by) : 'someone';
  switch (r.status) {
    case 'available':
      return r.lastAttempt
        ? `_Last press by ${mention(r.lastAttempt.by)}${when(r.lastAttempt.at)} changed nothing:_ ${cloudtrail(r.lastAttempt.result, 300)}`
        : '';
    case 'running':
      return r.phase === 'duo'
        ? `:hourglass_flowing_sand: Waiting for ${by} to approve the Duo push (pressed${when(r.startedAt)})`
        : `:gear: Running, pressed by ${by}${when(r.startedAt)}`;
    case 'done':
      return `:white_check_mark: *Done* by ${by}${when(r.finishedAt)}: ${cloudtrail(r.outcome, 300)}${r.requestId ? ` (request ${cloudtrail(r.requestId, 60)})` : ''}`;
    case 'failed':
      return `:x: *Failed*, pressed by ${by}${when(r.finishedAt)}: ${cloudtrail(r.outcome, 400)}${r.requestId ? ` (request ${cloudtrail(r.requestId, 60)})` : ''}`;
  }
}

/**
 * The blocks for an alert's remediations (none when it has none). Every plan value came from
 * CloudTrail and is shown inert.
 *
 * @example blocks.push(...remediationBlocks(alert, { enabled: true, mode: 'live', duo: true }));
 */
/** Remediations shown on one alert message (with the alert's own blocks, under Slack's 50). */
export const MAX_SHOWN_REMEDIATIONS = 20;

export function remediationBlocks(
  a: AlertItem,
  opts: RemediationViewOptions = { enabled: false },
): KnownBlock[] {
  const list = a.remediations ?? [];
  const gaps = a.remediationGaps ?? [];
  if (list.length === 0 && gaps.length === 0) return [];
  const blocks: KnownBlock[] = [];
  if (list.length > 0) {
    const note = !opts.enabled
      ? ' _(not runnable from here)_'
      : opts.mode === 'shadow'
        ? ' _(shadow: SECBOT_REMEDIATION_ROLE is not set, so a press prints the exact call and changes nothing)_'
        : '';
    blocks.push({ type: 'section', text: md(`*Remediation*${note}`) });
  }
  // A message holds at most 50 blocks; an alert for a burst of calls can offer more remediations.
  for (const r of list.slice(0, MAX_SHOWN_REMEDIATIONS)) {
    const lines = [
      `${cloudtrail(r.plan.description, 400)}`,
      `${cloudtrail(JSON.stringify(r.plan.input), 1200)}`,
      statusLine(r),
    ].filter((l) => l !== '');
    const pressable = opts.enabled && r.status === 'available' && a.state !== 'RESOLVED';
    const button: Button | undefined = pressable
      ? {
          type: 'button',
          action_id: ACTION_REMEDIATE,
          text: plain(inert(r.plan.label, SLACK_LIMITS.buttonText), SLACK_LIMITS.buttonText),
          value: remediationValue(a.id, r.id),
          style: 'danger',
          confirm: confirmDialog(r, opts),
        }
      : undefined;
    blocks.push({
      type: 'section',
      block_id: `remediation:${r.id}`,
      text: md(lines.join('\n')),
      ...(button ? { accessory: button } : {}),
    });
  }
  if (list.length > MAX_SHOWN_REMEDIATIONS) {
    const rest = list.length - MAX_SHOWN_REMEDIATIONS;
    blocks.push({
      type: 'context',
      elements: [
        md(
          `…and ${rest} more remediation${rest === 1 ? '' : 's'} for this alert's other calls, not shown: a Slack message holds only so many blocks`,
        ),
      ],
    });
  }
  if (gaps.length > 0) {
    const shown = gaps
      .slice(0, 5)
      .map((g) => `${cloudtrail(g.eventName ?? g.kind, 60)}: ${cloudtrail(g.reason, 200)}`)
      .join(' · ');
    blocks.push({
      type: 'context',
      elements: [
        md(`No one-click remediation for ${shown}${gaps.length > 5 ? ` (and ${gaps.length - 5} more)` : ''}`),
      ],
    });
  }
  return blocks;
}
