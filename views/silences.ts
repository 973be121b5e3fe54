/** Answers to `/secbot silence`, `silences` and `unsilence`, and the silence line the App Home reuses. */
import type { KnownBlock } from '@slack/types';
import { formatDuration } from '../lib/duration.js';
import type { Silence } from '../store/types.js';
import { cloudtrail, inert, md, mention, plain, SLACK_LIMITS, slackDate } from './format.js';
import type { SlackMessage } from './question.js';

/** Silences listed in one answer (Slack allows 50 blocks a message). */
export const LISTED_SILENCES = 40;

/** `event:CreateUser` as inert text (selector values are staff input, but may be any glob). */
export const selectorLabel = (s: Silence): string =>
  cloudtrail(`${s.selector.kind}:${s.selector.value}`, 200);

/** Time left, in the largest whole unit that is not zero ("3h", "45m", "20s"). */
export function remaining(expiresAt: string, now: Date): string {
  const ms = Math.max(0, Date.parse(expiresAt) - now.getTime());
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
  ] as const) {
    if (ms >= size) return `${Math.floor(ms / size)}${unit}`;
  }
  return `${Math.ceil(ms / 1000)}s`;
}

/** One silence in words: id, selector, who, until when, absorbed calls, why. */
export function silenceLine(s: Silence, now: Date): string {
  const absorbed = s.hits === 1 ? '1 call absorbed' : `${s.hits} calls absorbed`;
  return `${cloudtrail(s.id, 40)} ${selectorLabel(s)} by ${mention(s.createdBy)} · until ${slackDate(s.expiresAt)} (${remaining(s.expiresAt, now)} left) · ${absorbed}\n>${inert(s.reason, 500)}`;
}

export function silenceCreatedMessage(s: Silence, durationMs: number): SlackMessage {
  const text = `Silenced ${s.selector.kind}:${s.selector.value} for ${formatDuration(durationMs)} as ${s.id}`;
  return {
    text: inert(text, 300),
    blocks: [
      {
        type: 'section',
        text: md(
          `:shushing_face: Silence ${cloudtrail(s.id, 40)} is on: ${selectorLabel(s)} for ${formatDuration(durationMs)}, until ${slackDate(s.expiresAt)}.\n>${inert(s.reason, 500)}`,
        ),
      },
      {
        type: 'context',
        elements: [
          md(
            `Matching calls are decided as *log* from the next drain run, with the silence named in the audit trail; none is dropped. End it early with \`/secbot unsilence ${inert(s.id, 40)}\`.`,
          ),
        ],
      },
    ],
  };
}

export function silencesMessage(silences: readonly Silence[], now: Date): SlackMessage {
  if (silences.length === 0) {
    return {
      text: 'No active silences.',
      blocks: [{ type: 'section', text: md('No active silences. Every rule decides as written.') }],
    };
  }
  const blocks: KnownBlock[] = [
    { type: 'header', text: plain(`Active silences (${silences.length})`, SLACK_LIMITS.header) },
  ];
  for (const s of silences.slice(0, LISTED_SILENCES)) {
    blocks.push({ type: 'section', text: md(silenceLine(s, now)) });
  }
  if (silences.length > LISTED_SILENCES) {
    blocks.push({
      type: 'context',
      elements: [md(`…and ${silences.length - LISTED_SILENCES} more (the App Home lists them too).`)],
    });
  }
  blocks.push({ type: 'context', elements: [md('End one with `/secbot unsilence <id>`.')] });
  return { text: `${silences.length} active silence(s)`, blocks };
}

export function silenceEndedMessage(s: Silence): SlackMessage {
  return {
    text: inert(`Ended silence ${s.id}`, 100),
    blocks: [
      {
        type: 'section',
        text: md(
          `:loud_sound: Silence ${cloudtrail(s.id, 40)} (${selectorLabel(s)}) is over; it absorbed ${s.hits} call(s). Matching calls are decided as written again from the next drain run.`,
        ),
      },
    ],
  };
}

/** A refusal or failure as a one-line ephemeral answer (the text is already inert mrkdwn). */
export function noticeMessage(text: string): SlackMessage {
  return { text, blocks: [{ type: 'section', text: md(text) }] };
}
