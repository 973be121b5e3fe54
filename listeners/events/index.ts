import type { App } from '@slack/bolt';
import type { ListenerDeps } from '../deps.js';
import { appHomeOpened } from './app-home-opened.js';

export const register = (app: App, deps: ListenerDeps) => {
  app.event('app_home_opened', appHomeOpened(deps));
};
