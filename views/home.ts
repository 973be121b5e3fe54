/**
 * The App Home tab. Staff: open alerts (Acknowledge), open verifications, active silences (Unsilence),
 * the figures for today and 7 days, the noisiest rules — most urgent first, within Slack's 100 blocks
 * a view. Everyone else: what secbot is, why it asks, and their own recent questions.
 */
import type { HomeView, KnownBlock } from '@slack/types';
import { ESCALATION_WORDS, type EscalationKind } from '../handlers/escalate.js';
import type { EngineerHome, HomeContent, StaffHome } from '../handlers/home.js';
import type { Figures, RuleNoise } from '../handlers/metrics.js';
import type { AlertItem, Verification } from '../store/types.js';
import { alertSummary } from './alert.js';
import { cloudtrail, inert, md, mention, plain, SLACK_LIMITS, slackDate } from './format.js';
import { silenceLine } from './silences.js';
import { accountLine, age, span } from './status.js';

export const ACTION_HOME_ACKNOWLEDGE = 'home_alert_acknowledge';
export const ACTION_HOME_UNSILENCE = 'home_silence_end';

/** Verification rows per section block (each row one line; a section holds 3000 characters). */
export const VERIFICATIONS_PER_BLOCK = 10;
/** At most this many blocks of verification rows. */
export const MAX_VERIFICATION_BLOCKS = 5;
/** At most this many silences with their own Unsilence button. */
export const MAX_SILENCES = 20;

export interface HomeViewOptions {
  ruleTitles?: ReadonlyMap<string, string>;
}

const SEVERITY_ICON: Record<AlertItem['severity'], string> = {
  critical: ':rotating_light:',
  error: ':red_circle:',
  warning: ':large_orange_circle:',
  info: ':large_blue_circle:',
};

const title = (text: string, blockId: string): KnownBlock => ({
  type: 'section',
  block_id: blockId,
  text: md(`*${text}*`),
});
const more = (n: number, what: string, blockId: string): KnownBlock[] =>
  n > 0 ? [{ type: 'context', block_id: blockId, elements: [md(`…and ${n} more ${what}`)] }] : [];

function alertBlock(a: AlertItem, now: Date, i: number): KnownBlock {
  const facts: string[] = [`raised ${age(a.createdAt, now)} ago`];
  if (a.engineerKey) facts.push(`engineer ${mention(a.engineerKey)}`);
  if (a.page) {
    facts.push(
      a.pageStatus === 'sent'
        ? 'paged'
        : a.pageAttempts > 0
          ? `paging failed ${a.pageAttempts}× (retrying)`
          : 'page pending',
    );
  } else facts.push('channel only');
  if (a.state === 'ACKNOWLEDGED') facts.push(`acknowledged by ${mention(a.acknowledgedBy ?? 'someone')}`);
  const text = `${SEVERITY_ICON[a.severity]} *${a.severity.toUpperCase()}* ${cloudtrail(alertSummary(a), 300)}\n${facts.join(' · ')}`;
  return {
    type: 'section',
    block_id: `home_alert_${i}`,
    text: md(text),
    ...(a.state === 'OPEN'
      ? {
          accessory: {
            type: 'button' as const,
            action_id: ACTION_HOME_ACKNOWLEDGE,
            text: plain('Acknowledge', SLACK_LIMITS.buttonText),
            value: a.id,
          },
        }
      : {}),
  };
}

function firstCall(v: Verification): string {
  const first = v.preview[0];
  const call = first ? cloudtrail(first.eventName, 80) : '`AWS calls`';
  return v.callCount > 1 ? `${call} +${v.callCount - 1} more` : call;
}

function verificationRow(v: Verification, now: Date): string {
  const state = v.state === 'DUO_PENDING' ? ' · :iphone: Duo push out' : '';
  const dm =
    v.dmStatus === 'failed' ? ' · :warning: DM failed' : v.dmStatus !== 'sent' ? ' · DM not sent yet' : '';
  return `• ${mention(v.engineerKey)} · ${firstCall(v)} · open ${age(v.createdAt, now)} · escalates ${slackDate(v.deadline, '{time}')}${state}${dm}`;
}

function median(f: Figures): string {
  const m = f.medianConfirm;
  if (!m) return '–';
  return m.atLeast ? `over ${span(m.ms)}` : `≈ ${span(m.ms)}`;
}

function figuresField(label: string, f: Figures) {
  return md(
    [
      `*${label}*`,
      `Calls: ${f.decided.log} log · ${f.decided.notify} notify · ${f.decided.alert} alert`,
      `Verifications: ${f.verifications.sent} sent · ${f.verifications.confirmed} confirmed · ${f.verifications.escalated} escalated`,
      `Median time to confirm: ${median(f)}`,
      `Pages sent: ${f.pagesSent}`,
    ].join('\n'),
  );
}

function escalationWhy(today: Figures, week: Figures): string {
  const kinds = Object.keys(week.escalations).sort(
    (a, b) => (week.escalations[b] ?? 0) - (week.escalations[a] ?? 0),
  );
  if (kinds.length === 0) return '*Escalations, and why:* none in 7 days';
  const lines = kinds.map((k) => {
    const words = ESCALATION_WORDS[k as EscalationKind] ?? k;
    return `• ${inert(words, 120)}: ${today.escalations[k] ?? 0} today, ${week.escalations[k] ?? 0} in 7 days`;
  });
  return `*Escalations, and why*\n${lines.join('\n')}`;
}

function ruleRow(r: RuleNoise, titles: HomeViewOptions['ruleTitles']): string {
  const name = titles?.get(r.ruleId);
  const label = name ? `${inert(name, 80)} (${cloudtrail(r.ruleId, 80)})` : cloudtrail(r.ruleId, 80);
  const closed = r.confirmed + r.escalated;
  const share =
    r.confirmedShare === undefined
      ? 'none closed yet'
      : `${Math.round(r.confirmedShare * 100)}% confirmed (of ${closed} closed)`;
  return `• ${label}: ${r.notify} asked · ${share}${r.candidateForLog ? ' · :bulb: candidate for `log`' : ''}`;
}

/** Count of blocks the fixed parts of the staff Home take (headers, figures, rules, dividers). */
const STAFF_FIXED_BLOCKS = 18;
/** Accounts listed in the Home (late heartbeats first), in sections of ACCOUNTS_PER_HOME_BLOCK. */
export const HOME_ACCOUNTS = 24;
const ACCOUNTS_PER_HOME_BLOCK = 12;

/** The accounts part of the staff Home: title, rows, "and N more", divider (none without accounts). */
function accountsBlocks(h: StaffHome, now: Date): KnownBlock[] {
  if (!h.accounts) return [];
  const all = h.accounts;
  const late = all.filter((a) => a.heartbeatLate).length;
  const blocks: KnownBlock[] = [
    title(
      `Accounts (${all.length})${late > 0 ? ` — ${late} with a late heartbeat :warning:` : ''}`,
      'home_accounts_title',
    ),
  ];
  if (all.length === 0)
    blocks.push({
      type: 'section',
      block_id: 'home_accounts_none',
      text: md('None heard from yet: no heartbeat and no call from any account.'),
    });
  const shown = all.slice(0, HOME_ACCOUNTS);
  for (let i = 0; i < shown.length; i += ACCOUNTS_PER_HOME_BLOCK) {
    blocks.push({
      type: 'section',
      block_id: `home_accounts_${i / ACCOUNTS_PER_HOME_BLOCK}`,
      text: md(
        shown
          .slice(i, i + ACCOUNTS_PER_HOME_BLOCK)
          .map((a) => accountLine(a, now))
          .join('\n'),
      ),
    });
  }
  blocks.push(
    ...more(all.length - shown.length, 'accounts (`/secbot status` lists more)', 'home_accounts_more'),
  );
  blocks.push({ type: 'divider', block_id: 'home_d_accounts' });
  return blocks;
}

function staffBlocks(h: StaffHome, opts: HomeViewOptions): KnownBlock[] {
  const now = new Date(h.at);
  const silenceCount = Math.min(h.silences.length, MAX_SILENCES);
  const verificationBlocks = Math.min(
    Math.ceil(h.verifications.length / VERIFICATIONS_PER_BLOCK),
    MAX_VERIFICATION_BLOCKS,
  );
  const accounts = accountsBlocks(h, now);
  const alertCount = Math.min(
    h.alerts.length,
    SLACK_LIMITS.blocksPerView - STAFF_FIXED_BLOCKS - silenceCount - verificationBlocks - accounts.length,
  );
  const unacked = h.alerts.filter((a) => a.state === 'OPEN').length;
  const blocks: KnownBlock[] = [
    { type: 'header', block_id: 'home_header', text: plain('secbot — security staff', SLACK_LIMITS.header) },
    {
      type: 'context',
      block_id: 'home_summary',
      elements: [
        md(
          `${unacked} unacknowledged alert(s) · ${h.verifications.length} open verification(s) · ${h.silences.length} active silence(s) · updated ${slackDate(h.at, '{time_secs}')}`,
        ),
      ],
    },
  ];

  // 1. Alerts: someone has to look at these.
  blocks.push(title(`Open alerts (${h.alerts.length})`, 'home_alerts_title'));
  if (h.alerts.length === 0)
    blocks.push({ type: 'section', block_id: 'home_alerts_none', text: md('None.') });
  h.alerts.slice(0, alertCount).forEach((a, i) => {
    blocks.push(alertBlock(a, now, i));
  });
  blocks.push(
    ...more(h.alerts.length - alertCount, 'alerts (least urgent; see the alert channel)', 'home_alerts_more'),
  );
  blocks.push({ type: 'divider', block_id: 'home_d1' });

  // 2. Verifications, nearest deadline first.
  blocks.push(title(`Open verifications (${h.verifications.length})`, 'home_verifications_title'));
  if (h.verifications.length === 0)
    blocks.push({ type: 'section', block_id: 'home_verifications_none', text: md('None.') });
  const shown = h.verifications.slice(0, verificationBlocks * VERIFICATIONS_PER_BLOCK);
  for (let b = 0; b < verificationBlocks; b++) {
    const rows = shown.slice(b * VERIFICATIONS_PER_BLOCK, (b + 1) * VERIFICATIONS_PER_BLOCK);
    blocks.push({
      type: 'section',
      block_id: `home_verifications_${b}`,
      text: md(rows.map((v) => verificationRow(v, now)).join('\n')),
    });
  }
  blocks.push(
    ...more(
      h.verifications.length - shown.length,
      'verifications (later deadlines)',
      'home_verifications_more',
    ),
  );
  blocks.push({ type: 'divider', block_id: 'home_d2' });

  // 3. Silences: what is being let through as log.
  blocks.push(title(`Active silences (${h.silences.length})`, 'home_silences_title'));
  if (h.silences.length === 0)
    blocks.push({ type: 'section', block_id: 'home_silences_none', text: md('None.') });
  h.silences.slice(0, silenceCount).forEach((s, i) => {
    blocks.push({
      type: 'section',
      block_id: `home_silence_${i}`,
      text: md(silenceLine(s, now)),
      accessory: {
        type: 'button',
        action_id: ACTION_HOME_UNSILENCE,
        text: plain('Unsilence', SLACK_LIMITS.buttonText),
        value: s.id,
        confirm: {
          title: plain('End this silence?'),
          text: md('Matching calls will be decided as written again from the next drain run.'),
          confirm: plain('Unsilence'),
          deny: plain('Keep it'),
        },
      },
    });
  });
  blocks.push(
    ...more(
      h.silences.length - silenceCount,
      'silences (`/secbot silences` lists them all)',
      'home_silences_more',
    ),
  );
  blocks.push({ type: 'divider', block_id: 'home_d3' });

  // 4. Accounts: whether every account still reaches secbot.
  blocks.push(...accounts);

  // 5. Figures.
  blocks.push(title('Figures', 'home_figures_title'));
  blocks.push({
    type: 'section',
    block_id: 'home_figures',
    fields: [figuresField('Today (UTC)', h.today), figuresField('Last 7 days', h.week)],
  });
  blocks.push({ type: 'section', block_id: 'home_escalations', text: md(escalationWhy(h.today, h.week)) });
  blocks.push({ type: 'divider', block_id: 'home_d4' });

  // 6. Noisiest rules.
  blocks.push(title('Noisiest rules (7 days)', 'home_rules_title'));
  blocks.push({
    type: 'section',
    block_id: 'home_rules',
    text: md(
      h.rules.length === 0
        ? 'No rule asked an engineer in 7 days.'
        : h.rules.map((r) => ruleRow(r, opts.ruleTitles)).join('\n'),
    ),
  });
  blocks.push({
    type: 'context',
    block_id: 'home_rules_note',
    elements: [
      md(
        'A rule whose calls are nearly always confirmed (95% of at least 10) is a candidate for `action: log`. Figures come from per-day UTC counters shared by every replica; the median is estimated from a histogram.',
      ),
    ],
  });
  return blocks;
}

const STATE_WORDS: Record<Verification['state'], string> = {
  OPEN: ':speech_balloon: Waiting for your answer',
  DUO_PENDING: ':iphone: Waiting for your Duo approval',
  CONFIRMED: ':white_check_mark: Confirmed',
  ESCALATED: ':rotating_light: Escalated to the security team',
};

function engineerRow(v: Verification): string {
  const when = slackDate(v.createdAt);
  let tail = '';
  if (v.state === 'OPEN') tail = ` — answer in your DM with secbot by ${slackDate(v.deadline, '{time}')}`;
  else if (v.state === 'CONFIRMED') tail = v.closedAt ? ` ${slackDate(v.closedAt)}` : '';
  else if (v.state === 'ESCALATED') tail = `: ${inert(v.escalationReason ?? 'no reason recorded', 200)}`;
  return `${firstCall(v)} · asked ${when}\n${STATE_WORDS[v.state]}${tail}`;
}

/** Their own recent verifications, at most this many (each one block). */
export const ENGINEER_ROWS = 10;

function engineerBlocks(h: EngineerHome): KnownBlock[] {
  const blocks: KnownBlock[] = [
    { type: 'header', block_id: 'home_header', text: plain('secbot', SLACK_LIMITS.header) },
    {
      type: 'section',
      block_id: 'home_about',
      text: md(
        "secbot is the security team's watch on our AWS accounts. It looks at security-relevant AWS API calls — creating users and access keys, changing policies, opening network access — and when one is made with credentials that point to you, it asks you in a DM: *did you do this?*",
      ),
    },
    {
      type: 'section',
      block_id: 'home_why',
      text: md(
        '*Why it asks:* most such changes are legitimate, and you are the best person to say so. Answering *Yes* sends a Duo push to your phone; approving it closes the question. Answering *No*, or not answering in time, alerts the security team — that is how a stolen credential gets caught, since an attacker would need both your Slack session and your phone.',
      ),
    },
    { type: 'divider', block_id: 'home_d1' },
    { type: 'section', block_id: 'home_mine_title', text: md('*Your recent questions*') },
  ];
  if (h.verifications.length === 0) {
    blocks.push({
      type: 'section',
      block_id: 'home_mine_none',
      text: md('None so far. secbot has not needed to ask you anything.'),
    });
  }
  h.verifications.slice(0, ENGINEER_ROWS).forEach((v, i) => {
    blocks.push({ type: 'section', block_id: `home_mine_${i}`, text: md(engineerRow(v)) });
  });
  blocks.push({
    type: 'context',
    block_id: 'home_footer',
    elements: [md('Questions about a call secbot asked about? Reply to the security team, not to secbot.')],
  });
  return blocks;
}

/**
 * The Home view for `views.publish`.
 *
 * @example await client.views.publish({ user_id, view: homeView(content, { ruleTitles }) });
 */
export function homeView(content: HomeContent, opts: HomeViewOptions = {}): HomeView {
  const blocks = content.kind === 'staff' ? staffBlocks(content, opts) : engineerBlocks(content);
  return { type: 'home', callback_id: `secbot_home_${content.kind}`, blocks };
}
