/**
 * Making text safe for Slack. Every value that came from CloudTrail goes through `cloudtrail()`:
 * `&`, `<` and `>` become entities (so `<!channel>`, `<@U…>` and `<https://x|y>` are shown, not
 * parsed), and the value is set in a code span (so `*`, `_` and `~` do not format), with any backtick
 * replaced so it cannot close the span. Texts are truncated within Slack's limits.
 */
import type { MrkdwnElement, PlainTextElement } from '@slack/types';

/** Slack's limits for the parts we build. */
export const SLACK_LIMITS = {
  text: 3000,
  blocksPerMessage: 50,
  blocksPerView: 100,
  header: 150,
  buttonText: 75,
} as const;

/** Escape the three characters mrkdwn reserves. */
export function escapeMrkdwn(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Cut a string to `max` characters (with an ellipsis), by code points so no surrogate is split. */
export function truncate(s: string, max: number): string {
  if (s.length <= max) return s;
  const points = Array.from(s);
  return points.length <= max ? s : `${points.slice(0, max - 1).join('')}…`;
}

/**
 * A CloudTrail-derived value as inert mrkdwn: escaped, in a code span, one line, at most `max` characters.
 *
 * @example cloudtrail('<!channel> *now*') // "`&lt;!channel&gt; *now*`"
 */
export function cloudtrail(value: unknown, max = 200): string {
  const raw =
    value === undefined || value === null || value === ''
      ? '-'
      : typeof value === 'string'
        ? value
        : JSON.stringify(value);
  const oneLine = truncate(raw.replace(/[\r\n\t]+/g, ' '), max).replace(/`/g, 'ˋ');
  return `\`${escapeMrkdwn(oneLine)}\``;
}

/**
 * A plain-text value for fallbacks and button labels: escaped, formatting characters removed. An underscore
 * inside a word is kept (Slack only formats `_` at a word's edge), so `channel_not_found` and
 * `SECBOT_ALERT_CHANNEL` stay readable while `_x_` cannot italicise.
 */
export function inert(value: string, max = 200): string {
  return escapeMrkdwn(
    truncate(
      value
        .replace(/[\r\n\t]+/g, ' ')
        .replace(/[*~`]/g, '')
        .replace(/(?<![\p{L}\p{N}])_+|_+(?![\p{L}\p{N}])/gu, ''),
      max,
    ),
  );
}

/** A mrkdwn text object that Slack will not auto-link (verbatim), truncated to the 3000-character limit. */
export function md(text: string): MrkdwnElement {
  return { type: 'mrkdwn', text: truncateMrkdwn(text, SLACK_LIMITS.text), verbatim: true };
}

/**
 * Cut mrkdwn to `max` characters without breaking what keeps CloudTrail values inert: a cut inside a code
 * span would leave the rest of that value outside it (its `*` and `_` formatting), so the span is closed;
 * a half entity (`&am…`) or half token (`<!date^…`) is dropped.
 */
export function truncateMrkdwn(text: string, max: number): string {
  if (text.length <= max) return text;
  let cut = truncate(text, max - 1)
    .replace(/&[a-z]{0,4}…$/, '…')
    .replace(/<[^<>]*…$/, '…');
  if (((cut.match(/`/g)?.length ?? 0) & 1) === 1) cut += '`';
  return cut;
}

export function plain(text: string, max: number = SLACK_LIMITS.text): PlainTextElement {
  return { type: 'plain_text', text: truncate(text, max), emoji: true };
}

/** Slack's date token: shown in the reader's time zone, with a fallback for old clients. */
export function slackDate(iso: string, format = '{date_short_pretty} {time}'): string {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return cloudtrail(iso);
  return `<!date^${Math.floor(ms / 1000)}^${format}|${new Date(ms).toISOString().replace('T', ' ').slice(0, 16)} UTC>`;
}

/** A Slack user mention, only for ids we resolved ourselves (never from CloudTrail). */
export function mention(slackUserId: string): string {
  return /^[UW][A-Z0-9]+$/.test(slackUserId) ? `<@${slackUserId}>` : cloudtrail(slackUserId);
}
