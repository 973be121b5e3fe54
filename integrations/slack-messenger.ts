/** The Messenger over Slack's Web API: the question DM, its updates, and the channel alert. */
import type { WebClient } from '@slack/web-api';
import type { Logger } from 'pino';
import type { Messenger, Question } from '../handlers/ports.js';
import { SecbotError } from '../lib/errors.js';
import type { AlertItem, MessageRef } from '../store/types.js';
import { alertMessage } from '../views/alert.js';
import { questionMessage } from '../views/question.js';
import type { RemediationViewOptions } from '../views/remediation.js';

/** Slack refused or could not take a message; `slackError` is Slack's own code when it gave one. */
export class MessengerError extends SecbotError {
  readonly code = 'slack_delivery_failed';
  constructor(
    message: string,
    readonly slackError?: string,
    cause?: unknown,
  ) {
    super(message, { cause });
  }
}

export interface SlackMessengerOptions {
  client: WebClient;
  alertChannel?: string;
  logger: Logger;
  ruleTitles?: ReadonlyMap<string, string>;
  accountAliases?: Readonly<Record<string, string>>;
  /** How alerts offer remediations to staff (set when secbot can run them). */
  remediation?: RemediationViewOptions;
}

const slackErrorOf = (err: unknown) => (err as { data?: { error?: string } }).data?.error;

/** Metadata on every question, so a message sent just before a crash can be found again. */
export const QUESTION_EVENT_TYPE = 'secbot_verification';

export function createSlackMessenger(opts: SlackMessengerOptions): Messenger & {
  /** Whether the alert channel answered the last post (for status). */
  alertChannelProblem(): string | undefined;
} {
  let channelProblem: string | undefined;
  const render = (q: Question) =>
    questionMessage({ ...q, ruleTitles: opts.ruleTitles, accountAliases: opts.accountAliases });
  const wrap = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      const code = slackErrorOf(err);
      throw new MessengerError(`Slack ${what} failed: ${code ?? (err as Error).message}`, code, err);
    }
  };

  return {
    async askEngineer(q) {
      const user = q.verification.engineerKey;
      const msg = render(q);
      // Posted to the user id: Slack delivers it in the app's DM with them and answers with that DM's
      // channel id, so no conversations.open call is needed (one Web API call per question).
      const posted = await wrap('chat.postMessage', () =>
        opts.client.chat.postMessage({
          channel: user,
          text: msg.text,
          blocks: msg.blocks,
          unfurl_links: false,
          unfurl_media: false,
          metadata: {
            event_type: QUESTION_EVENT_TYPE,
            event_payload: { verification_id: q.verification.id },
          },
        }),
      );
      const channel = posted.channel;
      if (!posted.ts || !channel)
        throw new MessengerError(`Slack chat.postMessage to ${user} returned no ts or channel`);
      return { channel, ts: posted.ts };
    },
    async findQuestion(v) {
      const open = await wrap('conversations.open', () =>
        opts.client.conversations.open({ users: v.engineerKey }),
      );
      const channel = open.channel?.id;
      if (!channel)
        throw new MessengerError(`Slack conversations.open returned no channel for ${v.engineerKey}`);
      // Newest first, from a minute before the verification was opened (clock skew), a few pages at most.
      const created = Date.parse(v.createdAt);
      const oldest = Number.isFinite(created) ? String(Math.floor(created / 1000) - 60) : undefined;
      let cursor: string | undefined;
      for (let page = 0; page < 5; page++) {
        const history = await wrap('conversations.history', () =>
          opts.client.conversations.history({
            channel,
            include_all_metadata: true,
            limit: 200,
            ...(oldest ? { oldest } : {}),
            ...(cursor ? { cursor } : {}),
          }),
        );
        for (const m of history.messages ?? []) {
          const payload = m.metadata?.event_payload as { verification_id?: unknown } | undefined;
          if (m.metadata?.event_type === QUESTION_EVENT_TYPE && payload?.verification_id === v.id && m.ts) {
            return { channel, ts: m.ts };
          }
        }
        cursor = history.response_metadata?.next_cursor || undefined;
        if (!history.has_more || !cursor) break;
      }
      return undefined;
    },
    async updateQuestion(q) {
      const dm = q.verification.dm;
      if (!dm) return;
      const msg = render(q);
      await wrap('chat.update', () =>
        opts.client.chat.update({ channel: dm.channel, ts: dm.ts, text: msg.text, blocks: msg.blocks }),
      );
    },
    async postAlert(alert: AlertItem): Promise<MessageRef | undefined> {
      if (!opts.alertChannel) {
        channelProblem = 'SECBOT_ALERT_CHANNEL is not set';
        throw new MessengerError('no alert channel configured (SECBOT_ALERT_CHANNEL)');
      }
      const channel = opts.alertChannel;
      const msg = alertMessage({ alert, ruleTitles: opts.ruleTitles, remediation: opts.remediation });
      try {
        if (alert.channelMessage) {
          const ref = alert.channelMessage;
          await wrap('chat.update', () =>
            opts.client.chat.update({ channel: ref.channel, ts: ref.ts, text: msg.text, blocks: msg.blocks }),
          );
          channelProblem = undefined;
          return ref;
        }
        const posted = await wrap('chat.postMessage', () =>
          opts.client.chat.postMessage({
            channel,
            text: msg.text,
            blocks: msg.blocks,
            unfurl_links: false,
            unfurl_media: false,
          }),
        );
        channelProblem = undefined;
        return { channel: posted.channel ?? channel, ts: posted.ts ?? '' };
      } catch (err) {
        channelProblem = (err as Error).message;
        opts.logger.error({ err }, `slack: cannot post in the alert channel ${channel}: ${channelProblem}`);
        throw err;
      }
    },
    async postFollowUp(text: string, thread?: MessageRef): Promise<MessageRef | undefined> {
      const channel = thread?.channel ?? opts.alertChannel;
      if (!channel) throw new MessengerError('no alert channel configured (SECBOT_ALERT_CHANNEL)');
      const blocks = [{ type: 'section' as const, text: { type: 'mrkdwn' as const, text, verbatim: true } }];
      const common = { channel, text, blocks, unfurl_links: false, unfurl_media: false };
      const posted = await wrap('chat.postMessage', () =>
        thread
          ? opts.client.chat.postMessage({ ...common, thread_ts: thread.ts, reply_broadcast: true })
          : opts.client.chat.postMessage(common),
      );
      return { channel: posted.channel ?? channel, ts: posted.ts ?? '' };
    },
    alertChannelProblem: () => channelProblem,
  };
}
