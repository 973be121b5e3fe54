/** `/secbot status` as an ephemeral message: one short section per part, problems called out. */
import type { KnownBlock } from '@slack/types';
import type { AccountRow } from '../handlers/accounts.js';
import type { QuantileEstimate } from '../handlers/lag.js';
import type { Health, Part, StatusReport } from '../handlers/status.js';
import { formatRuleIssue } from '../rules/types.js';
import type { Incident } from '../store/types.js';
import { cloudtrail, inert, md, mention, plain, SLACK_LIMITS, slackDate } from './format.js';
import type { SlackMessage } from './question.js';
import { remaining } from './silences.js';

/** Rule warnings listed before "and N more". */
export const LISTED_WARNINGS = 5;

/** A span of time in words: "42s", "3m 10s", "25m", "2h 5m", "4d 1h". */
export function span(ms: number): string {
  const t = Math.max(0, ms);
  if (t < 60_000) return `${Math.round(t / 1000)}s`;
  if (t < 600_000) {
    const sec = Math.round((t % 60_000) / 1000);
    return `${Math.floor(t / 60_000)}m${sec > 0 ? ` ${sec}s` : ''}`;
  }
  if (t < 3_600_000) return `${Math.floor(t / 60_000)}m`;
  if (t < 86_400_000) return `${Math.floor(t / 3_600_000)}h ${Math.floor((t % 3_600_000) / 60_000)}m`;
  return `${Math.floor(t / 86_400_000)}d ${Math.floor((t % 86_400_000) / 3_600_000)}h`;
}

/** How long ago `fromIso` was, as of `now`. */
export const age = (fromIso: string, now: Date): string => span(now.getTime() - Date.parse(fromIso));

const unreadable = (what: string, p: { error: string }) =>
  `:warning: *${what}:* could not be read (${inert(p.error, 200)})`;

function healthText(h: Part<Health>): string {
  if (!h.ok) return `:warning: ${inert(h.error, 200)}`;
  const icon =
    h.value.state === 'ok'
      ? ':white_check_mark:'
      : h.value.state === 'not_configured'
        ? ':heavy_minus_sign:'
        : ':warning:';
  return `${icon} ${inert(h.value.detail, 300)}`;
}

function queueText(r: StatusReport): string {
  if (!r.queue.ok) return unreadable('Queue', r.queue);
  const q = r.queue.value;
  const oldest =
    q.oldestAgeSeconds !== undefined
      ? `oldest message ${span(q.oldestAgeSeconds * 1000)} old`
      : 'age of the oldest message unknown (SQS does not report it; CloudWatch `ApproximateAgeOfOldestMessage` does)';
  const dlq = q.deadLetter
    ? `dead-letter queue: ${q.deadLetter.visible}${q.deadLetter.visible > 0 ? ' :warning:' : ''}`
    : 'no dead-letter queue configured :warning:';
  return `*Queue:* ${q.visible} waiting · ${q.inFlight} in flight · ${q.delayed} delayed · ${dlq}\n${oldest}`;
}

function drainText(r: StatusReport, now: Date): string {
  if (!r.lastDrain.ok) return unreadable('Last drain', r.lastDrain);
  const d = r.lastDrain.value;
  if (!d) return '*Last drain:* none yet';
  const errors = d.errors > 0 ? `${d.errors} errors :warning:` : 'no errors';
  return `*Last drain:* ${slackDate(d.at)} (${age(d.at, now)} ago) · received ${d.received}, decided ${d.decided}, ${errors}, took ${(d.durationMs / 1000).toFixed(1)} s`;
}

function verificationsText(r: StatusReport, now: Date): string {
  if (!r.verifications.ok) return unreadable('Open verifications', r.verifications);
  const v = r.verifications.value;
  if (v.open === 0) return '*Open verifications:* none';
  const count = `${v.capped ? 'more than ' : ''}${v.open}${v.duoPending > 0 ? ` (${v.duoPending} waiting for Duo)` : ''}`;
  const oldest = v.oldest
    .map(
      (o) =>
        `• ${mention(o.engineerKey)} · ${o.callCount} call(s) · open ${age(o.createdAt, now)} · escalates ${slackDate(o.deadline, '{time}')}${o.state === 'DUO_PENDING' ? ' · Duo push out' : ''}`,
    )
    .join('\n');
  return `*Open verifications:* ${count}; oldest first:\n${oldest}`;
}

function alertsText(r: StatusReport, now: Date): string {
  if (!r.alerts.ok) return unreadable('Open alerts', r.alerts);
  const a = r.alerts.value;
  if (a.open === 0 && a.acknowledged === 0) return '*Open alerts:* none';
  const pages = a.pagesPending > 0 ? ` · ${a.pagesPending} page(s) not yet delivered :warning:` : '';
  const oldest = a.oldestOpen
    ? ` · oldest unacknowledged ${age(a.oldestOpen.createdAt, now)} old (${a.oldestOpen.severity})`
    : '';
  return `*Open alerts:* ${a.capped ? 'more than ' : ''}${a.open} unacknowledged, ${a.acknowledged} acknowledged${oldest}${pages}`;
}

function silencesText(r: StatusReport, now: Date): string {
  if (!r.silences.ok) return unreadable('Silences', r.silences);
  const s = r.silences.value;
  if (s.active === 0) return '*Silences:* none active';
  return `*Silences:* ${s.active} active, ${s.absorbed} call(s) absorbed${s.nextExpiry ? ` · next ends in ${remaining(s.nextExpiry, now)}` : ''} (\`/secbot silences\`)`;
}

function rulesText(r: StatusReport): string {
  const w = r.rules.warnings;
  if (w.length === 0) return `*Rules:* ${r.rules.count} loaded, no warnings`;
  const listed = w
    .slice(0, LISTED_WARNINGS)
    .map((i) => `• ${cloudtrail(formatRuleIssue(i), 280)}`)
    .join('\n');
  const more = w.length > LISTED_WARNINGS ? `\n…and ${w.length - LISTED_WARNINGS} more` : '';
  return `*Rules:* ${r.rules.count} loaded, ${w.length} warning(s):\n${listed}${more}`;
}

/** Accounts listed in status before "and N more" (late heartbeats come first). */
export const LISTED_ACCOUNTS = 40;
const ACCOUNTS_PER_BLOCK = 12;

function quantile(q: QuantileEstimate | undefined): string {
  if (!q) return '–';
  return q.atLeast ? `over ${span(q.ms)}` : `≈ ${span(q.ms)}`;
}

/** One account: last heartbeat, last call, lag p50 / p95. */
export function accountLine(a: AccountRow, now: Date): string {
  const name = `${cloudtrail(a.account, 20)}${a.alias ? ` (${inert(a.alias, 64)})` : ''}`;
  const hb = a.lastHeartbeatAt
    ? `heartbeat ${age(a.lastHeartbeatAt, now)} ago${a.lastHeartbeatRegion ? ` (${inert(a.lastHeartbeatRegion, 30)})` : ''}${a.heartbeatLate ? ' :warning: late' : ''}`
    : 'no heartbeat yet';
  const ev = a.lastEventAt ? `last call ${age(a.lastEventAt, now)} ago` : 'no call decided yet';
  const lag =
    a.lag.p50 || a.lag.p95
      ? ` · lag p50 ${quantile(a.lag.p50)}, p95 ${quantile(a.lag.p95)} (${a.lag.p50?.samples ?? 0} calls)`
      : '';
  return `• ${name} · ${hb} · ${ev}${lag}`;
}

/** Account rows in sections of at most ACCOUNTS_PER_BLOCK, LISTED_ACCOUNTS in all. */
export function accountBlocks(accounts: Part<AccountRow[]> | undefined, now: Date): KnownBlock[] {
  if (!accounts) return [];
  if (!accounts.ok) return [{ type: 'section', text: md(unreadable('Accounts', accounts)) }];
  const all = accounts.value;
  if (all.length === 0)
    return [{ type: 'section', text: md('*Accounts:* none heard from yet (no heartbeat, no call)') }];
  const late = all.filter((a) => a.heartbeatLate).length;
  const shown = all.slice(0, LISTED_ACCOUNTS);
  const blocks: KnownBlock[] = [];
  for (let i = 0; i < shown.length; i += ACCOUNTS_PER_BLOCK) {
    const head =
      i === 0
        ? `*Accounts:* ${all.length}${late > 0 ? `, ${late} with a late heartbeat :warning:` : ''} (lag = eventTime → decision, today and yesterday UTC, approximate)\n`
        : '';
    const rows = shown.slice(i, i + ACCOUNTS_PER_BLOCK).map((a) => accountLine(a, now));
    blocks.push({ type: 'section', text: md(head + rows.join('\n')) });
  }
  if (all.length > shown.length)
    blocks.push({ type: 'context', elements: [md(`…and ${all.length - shown.length} more accounts`)] });
  return blocks;
}

const INCIDENT_WORDS: Record<Incident['kind'], string> = {
  heartbeat: 'heartbeat late',
  queue_age: 'queue behind',
  dead_letter: 'dead letters',
  drain_failing: 'drain failing',
};

function watchdogText(w: Part<Incident[]>, now: Date): string {
  if (!w.ok) return unreadable('Watchdog', w);
  if (w.value.length === 0) return '*Watchdog:* :white_check_mark: no open incident';
  const rows = w.value
    .slice(0, 10)
    .map(
      (i) =>
        `• ${INCIDENT_WORDS[i.kind]}${i.subject ? ` ${cloudtrail(i.subject, 20)}` : ''} · since ${age(i.openedAt, now)} ago${i.state === 'RECOVERING' ? ' · recovered, follow-up pending' : ''}`,
    );
  return `*Watchdog:* ${w.value.length} open incident(s) :warning:\n${rows.join('\n')}${w.value.length > 10 ? `\n…and ${w.value.length - 10} more` : ''}`;
}

/**
 * The status answer.
 *
 * @example const { text, blocks } = statusMessage(await gatherStatus(deps, user));
 */
export function statusMessage(r: StatusReport): SlackMessage {
  const now = new Date(r.at);
  const mode = r.shadow.on
    ? `:ghost: *Shadow mode* (${inert(r.shadow.reason ?? 'on', 120)}): deciding and recording, sending nothing`
    : '*Mode:* live';
  const blocks: KnownBlock[] = [
    { type: 'header', text: plain('secbot status', SLACK_LIMITS.header) },
    { type: 'section', text: md(queueText(r)) },
    { type: 'section', text: md(drainText(r, now)) },
    { type: 'section', text: md(verificationsText(r, now)) },
    { type: 'section', text: md(alertsText(r, now)) },
    { type: 'section', text: md(silencesText(r, now)) },
    { type: 'section', text: md(rulesText(r)) },
    ...(r.watchdog ? [{ type: 'section' as const, text: md(watchdogText(r.watchdog, now)) }] : []),
    ...accountBlocks(r.accounts, now),
    {
      type: 'section',
      text: md(
        `*Integrations*\nSlack: ${healthText(r.integrations.slack)}\nDuo: ${healthText(r.integrations.duo)}\nPagerDuty: ${healthText({ ok: true, value: r.integrations.pagerDuty })}`,
      ),
    },
    {
      type: 'context',
      elements: [md(`${mode} · version ${inert(r.version, 40)} · as of ${slackDate(r.at, '{time_secs}')}`)],
    },
  ];
  return { text: 'secbot status', blocks };
}
