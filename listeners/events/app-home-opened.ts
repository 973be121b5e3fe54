import type { AllMiddlewareArgs, SlackEventMiddlewareArgs } from '@slack/bolt';
import type { ListenerDeps } from '../deps.js';

/** The Home tab was opened: publish it (staff or engineer view) and keep it fresh while they look. */
export const appHomeOpened =
  (deps: ListenerDeps) =>
  async ({ event }: SlackEventMiddlewareArgs<'app_home_opened'> & AllMiddlewareArgs) => {
    if (event.tab !== 'home') return; // the Messages tab is secbot's DMs
    try {
      await deps.home.opened(event.user);
    } catch (err) {
      deps.logger.warn({ err }, `could not publish the App Home of ${event.user}`);
    }
  };
