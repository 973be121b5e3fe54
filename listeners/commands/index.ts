import type { App } from '@slack/bolt';
import type { ListenerDeps } from '../deps.js';
import { secbotCommand } from './secbot.js';

export const register = (app: App, deps: ListenerDeps) => {
  app.command('/secbot', secbotCommand(deps));
};
