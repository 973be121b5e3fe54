/** The App Home over Slack's Web API (`views.publish`), and the Slack part of `/secbot status`. */
import type { WebClient } from '@slack/web-api';
import type { HomePublisher } from '../handlers/home.js';
import type { Health } from '../handlers/status.js';
import { homeView } from '../views/home.js';

export function createSlackHomePublisher(opts: {
  client: WebClient;
  ruleTitles?: ReadonlyMap<string, string>;
}): HomePublisher {
  return {
    async publish(userId, content) {
      await opts.client.views.publish({
        user_id: userId,
        view: homeView(content, { ruleTitles: opts.ruleTitles }),
      });
    },
  };
}

/**
 * Slack's health for status: the bot token still works (`auth.test`), and the alert channel took the
 * last alert (a channel the bot was removed from shows here before anyone misses an alert).
 */
export function slackHealth(opts: {
  client: WebClient;
  alertChannel?: string;
  alertChannelProblem: () => string | undefined;
}): () => Promise<Health> {
  return async () => {
    let auth: Awaited<ReturnType<WebClient['auth']['test']>>;
    try {
      auth = await opts.client.auth.test();
    } catch (err) {
      const code = (err as { data?: { error?: string } }).data?.error ?? (err as Error).message;
      return { state: 'problem', detail: `auth.test failed: ${code}` };
    }
    const who = `connected as @${auth.user ?? auth.user_id ?? '?'} to ${auth.team ?? auth.team_id ?? '?'}`;
    if (!opts.alertChannel) return { state: 'problem', detail: `${who}; SECBOT_ALERT_CHANNEL is not set` };
    const problem = opts.alertChannelProblem();
    if (problem)
      return { state: 'problem', detail: `${who}; the alert channel refused the last alert: ${problem}` };
    return { state: 'ok', detail: `${who}; alert channel ${opts.alertChannel}` };
  };
}
